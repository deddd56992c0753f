"""Names in SQL text, the catalog's relations, columns and comments, transactions, and queries run side by side.
Values (paths, ids) are passed as parameters; a catalog, schema, table or column name cannot be, so it is quoted
here, the one place that knows DuckDB's rule: wrap in double quotes, double any inside."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import TypeVar

import duckdb

Item = TypeVar("Item")
Result = TypeVar("Result")


def identifier(*parts: str) -> str:
    """``catalog.schema.table`` (any number of parts), each part quoted: ``identifier('a"b')`` -> ``"a""b"``."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts)


def literal(text: str) -> str:
    """A string constant, for the statements that take no parameters (``COMMENT ON``)."""
    return "'" + text.replace("'", "''") + "'"


def relations(conn: duckdb.DuckDBPyConnection, schema: str = "main", catalog: str | None = None) -> dict[str, str]:
    """The tables and views of ``catalog.schema`` (default catalog: the current database's): name -> ``'TABLE'``
    or ``'VIEW'``."""
    catalog = catalog or conn.execute("SELECT current_database()").fetchone()[0]
    rows = conn.execute(
        "SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE database_name = $db AND schema_name = $schema "
        "UNION ALL SELECT view_name, 'VIEW' FROM duckdb_views() WHERE database_name = $db AND schema_name = $schema "
        "AND NOT internal",
        {"db": catalog, "schema": schema},
    ).fetchall()
    return dict(rows)


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """``with transaction(conn):`` the statements inside commit together, or roll back together on any error
    (readers see the old state or the new one, never half of it)."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def each_result(
    conn: duckdb.DuckDBPyConnection, items: Sequence[Item], work: Callable[[duckdb.DuckDBPyConnection, Item], Result]
) -> Iterator[Result]:
    """``work(cursor, item)`` for each item, results in the items' order, as many at once as DuckDB has threads, each
    on its own cursor of ``conn`` (which sees its tables, not what is registered on it): a query over a slice of a
    table keeps fewer threads busy than one over all of it, and only that many results are held at a time."""
    at_once = int(conn.execute("SELECT current_setting('threads')").fetchone()[0])
    running: deque[tuple[duckdb.DuckDBPyConnection, Future[Result]]] = deque()
    with ThreadPoolExecutor(at_once) as pool:
        try:
            for item in items:
                cursor = conn.cursor()
                running.append((cursor, pool.submit(work, cursor, item)))
                if len(running) == at_once:
                    yield _finished(*running.popleft())
            while running:
                yield _finished(*running.popleft())
        finally:  # a failed item or consumer: stop the queries still running, then close their cursors
            for cursor, result in running:
                cursor.interrupt()
                wait([result])
                cursor.close()


def _finished(cursor: duckdb.DuckDBPyConnection, result: Future[Result]) -> Result:
    try:
        return result.result()
    finally:
        cursor.close()


def columns(
    conn: duckdb.DuckDBPyConnection, table: str, schema: str = "main", catalog: str | None = None
) -> dict[str, str]:
    """The columns of the table or view ``catalog.schema.table`` (default catalog: the current database's), in
    their order: name -> DuckDB type; empty when there is no such relation."""
    rows = conn.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = coalesce($db, current_database()) "
        "AND schema_name = $schema AND table_name = $table ORDER BY column_index",
        {"db": catalog, "schema": schema, "table": table},
    ).fetchall()
    return dict(rows)


def column_comments(
    conn: duckdb.DuckDBPyConnection, schema: str = "main", catalog: str | None = None
) -> dict[tuple[str, str], str]:
    """``(table, column) -> comment`` of every commented column of ``catalog.schema`` (default catalog: the current
    database's)."""
    rows = conn.execute(
        "SELECT table_name, column_name, comment FROM duckdb_columns() "
        "WHERE database_name = coalesce($db, current_database()) AND schema_name = $schema "
        "AND coalesce(comment, '') <> ''",
        {"db": catalog, "schema": schema},
    ).fetchall()
    return {(table, column): comment for table, column, comment in rows}
