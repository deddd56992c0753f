"""Materialization metadata that a person reads at a glance in the UI."""

import re

import dagster as dg
import duckdb
import pandas as pd

from pipeline.publish.dictionary import describe


def markdown_table(frame: pd.DataFrame, rows: int = 20) -> dg.MetadataValue:
    """The first ``rows`` rows of ``frame`` as a markdown table; ``_none_`` when it is empty."""
    if frame.empty:
        return dg.MetadataValue.md("_none_")
    return dg.MetadataValue.md(frame.head(rows).to_markdown(index=False))


def table_metadata(conn: duckdb.DuckDBPyConnection, table: str) -> dict[str, object]:
    """``dagster/table_name`` and ``dagster/column_schema`` of ``table`` in ``conn``'s database: every column
    with its DuckDB type and its data-dictionary description (what analysts read in the published file)."""
    database = conn.execute("SELECT current_database()").fetchone()[0]
    columns = conn.execute(
        "SELECT column_name, data_type, comment FROM duckdb_columns() "
        "WHERE database_name = ? AND schema_name = 'main' AND table_name = ? ORDER BY column_index",
        [database, table],
    ).fetchall()
    return {
        "dagster/table_name": f"{database}.main.{table}",
        "dagster/column_schema": dg.TableSchema(
            columns=[
                dg.TableColumn(name, data_type, description=describe(table, name, comment))
                for name, data_type, comment in columns
            ]
        ),
    }


_ROLE = re.compile(r":(?:func|class|data|mod|meth|attr|obj):`~?([^`]+)`")


def as_markdown(docstring: str | None) -> str | None:
    """A docstring written for Python readers (reStructuredText ``literals`` and :func:`roles`) as the
    Markdown the UI renders: `literals` only."""
    return _ROLE.sub(r"`\1`", docstring).replace("``", "`") if docstring else docstring
