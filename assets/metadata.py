"""Materialization metadata that a person reads at a glance in the UI."""

import re

import dagster as dg
import duckdb
import pandas as pd

from pipeline.publish.dictionary import describe
from pipeline.sql import column_comments, columns


def markdown_table(frame: pd.DataFrame, rows: int = 20) -> dg.MetadataValue:
    """The first ``rows`` rows of ``frame`` as a markdown table; ``_none_`` when it is empty."""
    if frame.empty:
        return dg.MetadataValue.md("_none_")
    return dg.MetadataValue.md(frame.head(rows).to_markdown(index=False))


def table_metadata(conn: duckdb.DuckDBPyConnection, table: str) -> dict[str, object]:
    """``dagster/table_name`` and ``dagster/column_schema`` of ``table`` in ``conn``'s database: every column
    with its DuckDB type and its data-dictionary description (what analysts read in the published file)."""
    database = conn.execute("SELECT current_database()").fetchone()[0]
    comments = column_comments(conn)
    return {
        "dagster/table_name": f"{database}.main.{table}",
        "dagster/column_schema": dg.TableSchema(
            columns=[
                dg.TableColumn(name, data_type, description=describe(table, name, comments.get((table, name))))
                for name, data_type in columns(conn, table).items()
            ]
        ),
    }


_ROLE = re.compile(r":(?:func|class|data|mod|meth|attr|obj):`~?([^`]+)`")


def as_markdown(docstring: str | None) -> str | None:
    """A docstring written for Python readers (reStructuredText ``literals`` and :func:`roles`) as the
    Markdown the UI renders: `literals` only."""
    return _ROLE.sub(r"`\1`", docstring).replace("``", "`") if docstring else docstring
