"""``pipeline.sql.each_result``: queries side by side on their own cursors, results in order, nothing left open."""

from __future__ import annotations

import threading
import time

import duckdb
import pytest

from pipeline.sql import each_result


def test_results_come_in_the_items_order_with_at_most_the_threads_running(tmp_path):
    running, most = 0, 0
    lock = threading.Lock()

    def work(cursor: duckdb.DuckDBPyConnection, n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.01 * (5 - n % 5))  # later items finish first
        value = cursor.execute("SELECT sum(x) FROM t WHERE x <= $n", {"n": n}).fetchone()[0]
        with lock:
            running -= 1
        return value

    with duckdb.connect(str(tmp_path / "db.duckdb")) as conn:
        conn.execute("SET threads = 3")
        conn.execute("CREATE TABLE t AS SELECT range + 1 AS x FROM range(20)")
        results = list(each_result(conn, range(1, 21), work))
    assert results == [n * (n + 1) // 2 for n in range(1, 21)], "one result per item, in the items' order"
    assert most == 3, f"as many items at once as DuckDB has threads, no more: {most}"


def test_a_failing_item_stops_the_rest_and_is_raised():
    started = []

    def work(cursor: duckdb.DuckDBPyConnection, n: int) -> int:
        started.append(n)
        if n == 2:
            raise ValueError("item 2 broke")
        return cursor.execute("SELECT $n", {"n": n}).fetchone()[0]

    with duckdb.connect() as conn:
        conn.execute("SET threads = 2")
        results = each_result(conn, range(10), work)
        assert [next(results), next(results)] == [0, 1]
        with pytest.raises(ValueError, match="item 2 broke"):
            next(results)
        results.close()
        assert conn.execute("SELECT 42").fetchone()[0] == 42, "the connection is still usable"
    assert max(started) <= 3, f"no item starts after the failure is seen: {started}"
