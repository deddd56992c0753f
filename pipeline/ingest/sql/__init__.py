"""Harmonizing raw registry files in DuckDB SQL: the shared field rules (``rules.sql``), one script of views per
registry format, and the CSV reader that puts a raw file into DuckDB (:mod:`pipeline.ingest.sql.read`)."""

from __future__ import annotations

from importlib import resources

import duckdb


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the shared field rules (``rules.sql``) defined."""
    conn = duckdb.connect()
    run(conn, "rules")
    return conn


def run(conn: duckdb.DuckDBPyConnection, script: str) -> None:
    """Define the views and macros of ``script`` (``verra_transactions`` ...) on ``conn``."""
    conn.execute(resources.files(__package__).joinpath(f"{script}.sql").read_text(encoding="utf-8"))
