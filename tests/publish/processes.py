"""Separate processes for the concurrency tests: an analyst session and a publisher that can crash.

Run as ``python -m tests.publish.processes <command> ...`` from the repository root:

- ``reader DB``: opens DB read-only and answers each stdin line with ``<as_of> <rows>`` from that one
  connection (``as_of`` of the latest publish, rows of eligible_inventory); prints ``READY`` first.
- ``as-of DB``: a fresh process's new connection prints ``<as_of> <rows>``.
- ``publish WORK_DB CURATED_DB LEDGER_DB POLICY CRASH_AT``: publishes and, when the step named CRASH_AT
  completes, kills itself with SIGKILL (a real crash: no cleanup, no exception handling runs).
- ``write-and-die DB SQL``: runs SQL on a read-write connection, then kills itself with SIGKILL before
  DuckDB checkpoints, so the committed change is only in DB's write-ahead log.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import duckdb

QUERY = (
    "SELECT (SELECT as_of FROM publishes ORDER BY publish_id DESC LIMIT 1)::VARCHAR, "
    "(SELECT count(*) FROM eligible_inventory)"
)


def reader(db: str) -> None:
    conn = duckdb.connect(db, read_only=True)
    print("READY", flush=True)
    for _line in sys.stdin:
        as_of, rows = conn.execute(QUERY).fetchone()
        print(f"{as_of} {rows}", flush=True)
    conn.close()


def as_of(db: str) -> None:
    with duckdb.connect(db, read_only=True) as conn:
        value, rows = conn.execute(QUERY).fetchone()
    print(f"{value} {rows}", flush=True)


def publish(work_db: str, curated_db: str, ledger_db: str, policy_file: str, crash_at: str) -> None:
    from pipeline.policy import load_policy
    from pipeline.settings import Paths
    from tests.publish.conftest import publish_under

    paths = Paths(
        raw_dir=Path(work_db).parent,
        curated_db=Path(curated_db),
        work_db=Path(work_db),
        ledger_db=Path(ledger_db),
        policy=Path(policy_file),
        reference_dir=Path(work_db).parent,
    )

    def progress(step: str) -> None:
        print(f"STEP {step}", flush=True)
        if step == crash_at:
            os.kill(os.getpid(), signal.SIGKILL)

    with duckdb.connect(work_db, read_only=True) as conn:
        publish_under(conn, paths, load_policy(paths.policy), progress=progress)
    print("PUBLISHED", flush=True)


def write_and_die(db: str, sql: str) -> None:
    conn = duckdb.connect(db)
    conn.execute(sql)
    print("WRITTEN", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"reader": reader, "as-of": as_of, "publish": publish, "write-and-die": write_and_die}[command](*args)
