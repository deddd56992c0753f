"""A read-only SQL shell on the published analyst file (``make sql``).

Nothing installs DuckDB's own command-line client, and the one on PyPI lags the library's storage format, so
this is the analysts' shell: statements end with ``;``, results print as DuckDB's boxed tables, ``.tables``
lists the published relations, ``.quit`` (or end of input) leaves. The connection is ``read_only``: it never
blocks a publish (the publish writes a new file and swaps it in), and it keeps the snapshot it opened.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

from pipeline.settings import Paths

TABLES = (
    "SELECT table_name AS name, 'table' AS kind, comment FROM duckdb_tables() WHERE schema_name = 'main' "
    "UNION ALL SELECT view_name, 'view', comment FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal "
    "ORDER BY name"
)


def run_statement(conn: duckdb.DuckDBPyConnection, sql: str, out=None) -> None:
    """Run each statement of ``sql`` and print its result (if it returns rows) or DuckDB's error, without
    leaving."""
    out = out or sys.stdout
    try:
        for statement in duckdb.extract_statements(sql):
            relation = conn.sql(statement.query)
            if relation is not None:
                print(relation, file=out)
    except duckdb.Error as error:
        print(f"Error: {error}", file=out)


def shell(conn: duckdb.DuckDBPyConnection, lines, out=None) -> None:
    """Read statements from ``lines`` until ``.quit`` or the end, running each once its ``;`` arrives."""
    pending: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not pending and stripped in (".quit", ".exit"):
            return
        if not pending and stripped == ".tables":
            run_statement(conn, TABLES, out)
            continue
        pending.append(line)
        if stripped.endswith(";"):
            run_statement(conn, "\n".join(pending), out)
            pending.clear()
    if "".join(pending).strip():
        run_statement(conn, "\n".join(pending), out)


def _interactive_lines(prompt: str, more: str):
    text = prompt
    while True:
        try:
            line = input(text)
        except EOFError:
            print()
            return
        yield line
        text = more if line.strip() and not line.strip().endswith(";") else prompt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Read-only SQL on the published inventory DuckDB file.")
    parser.add_argument("database", nargs="?", type=Path, help="default: CREDIT_QUALITY_CURATED_DB")
    parser.add_argument("-c", "--command", help="run these statements and exit")
    args = parser.parse_args(argv)
    database = args.database or Paths.from_env().curated_db
    if not database.is_file():
        print(f"{database}: no published inventory yet; run `make run` first", file=sys.stderr)
        return 1
    with duckdb.connect(str(database), read_only=True) as conn:
        if args.command is not None:
            shell(conn, args.command.splitlines())
        elif sys.stdin.isatty():
            print(f"{database} (read-only). End statements with ';'. .tables lists the relations, .quit leaves.")
            shell(conn, _interactive_lines("sql> ", "...> "))
        else:
            shell(conn, sys.stdin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
