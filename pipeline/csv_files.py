"""The one writer of the CSV files the pipeline hands out (inventory export, buyer statements).

**Spreadsheet formula injection** (OWASP "CSV Injection"): a spreadsheet evaluates a cell that starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return as a formula when the file is opened, and registry exports
are third-party text (a project named ``=HYPERLINK("...","click")`` would become a live link). Every *text* cell
starting with one of these is written with a leading single quote, which spreadsheets display but never
evaluate. Numbers (negative ones included), dates and booleans are written as they are; the DuckDB files and
the Parquet export keep every value untouched.

Each file is written to a temporary name and renamed into place: a reader never sees half a file.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.atomic import replace_file
from pipeline.sql import identifier, literal

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet treat a cell as a formula (OWASP)."""

_TRIGGERS_SQL = "[" + ", ".join(map(literal, FORMULA_TRIGGERS)) + "]"


def neutralised(column: str) -> str:
    """SQL for the text ``column`` as a spreadsheet cell that is never evaluated as a formula."""
    name = identifier(column)
    return f"CASE WHEN list_contains({_TRIGGERS_SQL}, left({name}, 1)) THEN '''' || {name} ELSE {name} END AS {name}"


def write_csv(
    conn: duckdb.DuckDBPyConnection,
    query: str,
    target: Path,
    params: dict | None = None,
    timestamp_format: str | None = None,
    header: bool = True,
    order_by: str | None = None,
) -> Path:
    """Write the rows of ``query`` (with ``params``), sorted by ``order_by`` (columns of ``query``), to ``target`` as
    CSV, text cells neutralised. The sort is the written query's own: DuckDB may reorder the rows of a sorted
    subquery under a projection (seen at a million rows)."""
    relation = conn.sql(query, params=params)
    columns = [
        neutralised(name) if str(kind) == "VARCHAR" else identifier(name)
        for name, kind in zip(relation.columns, relation.types, strict=True)
    ]
    written = conn.sql(
        f"SELECT {', '.join(columns)} FROM ({query})" + (f" ORDER BY {order_by}" if order_by else ""), params=params
    )
    return replace_file(
        target, lambda tmp: written.write_csv(str(tmp), header=header, timestamp_format=timestamp_format)
    )
