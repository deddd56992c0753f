"""Exports of the published file for people without DuckDB: Parquet and CSV next to the database.

``python -m pipeline.publish.exports`` (``make export``) writes them from the published file alone, without
loading the Dagster code location. Each dataset is written as ``<name>.parquet`` and ``<name>.csv``:

- ``eligible_inventory``: what can be offered;
- ``quality_scores``: every scored project-vintage, with its reason trail (a list in Parquet);
- ``quality_score_reasons``: the same reasons one row each (project-vintage, code, criterion, message, source),
  for spreadsheets;
- ``data_dictionary``: every published relation and column with its type and description.

Every Parquet column carries its description (the data dictionary's, as published in the file's comments) as
Arrow field metadata ``description``, and each file the relation's description as schema metadata. CSV has no
lists: a list of values is joined with ``"; "``, and a list of records (``reasons``) is left to the long
``quality_score_reasons`` file; the CSV is written by :func:`pipeline.csv_files.write_csv`, which keeps a text
cell from being evaluated as a spreadsheet formula (the Parquet keeps every value as published). Each file is
written to a temporary name and renamed into place, so a reader never sees half a file.

The two score exports are sorted a window of projects at a time, several windows at once: sorting all of them in
one statement holds every reason in memory (over 1.3 GB at a million credits), a window only its share.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.atomic import replace_file
from pipeline.csv_files import write_csv
from pipeline.publish.dictionary import TABLES, describe
from pipeline.settings import Paths
from pipeline.sql import column_comments, each_result, identifier, literal

WINDOW_ROWS = 20_000
"""Project-vintages per window of the score exports."""


@dataclass(frozen=True)
class Export:
    name: str
    """The file's name, and the relation whose column descriptions apply (:mod:`pipeline.publish.dictionary`)."""
    query: str
    """The rows, read from the published file. A ``{window}`` in it is a condition on ``registry`` and
    ``project_id``: the query is then run once per window of ``quality_scores``, in key order."""
    order: str
    """The columns the rows are sorted by: a stable order."""
    description: str = ""
    """What the file holds, when it is not a published relation as it stands."""

    @property
    def title(self) -> str:
        return self.description or TABLES[self.name]

    def queries(self, windows: list[str]) -> list[str]:
        """The query once per window when it takes one, else once."""
        return [self.query.format(window=w) for w in windows] if "{window}" in self.query else [self.query]


SCORE_ORDER = "registry, project_id, vintage"

EXPORTS = (
    Export("eligible_inventory", "SELECT * FROM eligible_inventory", SCORE_ORDER),
    Export("quality_scores", "SELECT * FROM quality_scores WHERE {window}", SCORE_ORDER),
    Export(
        "quality_score_reasons",
        "SELECT project_id, registry, vintage, position, reason.* FROM (SELECT project_id, registry, vintage, "
        "generate_subscripts(reasons, 1) AS position, unnest(reasons) AS reason FROM quality_scores WHERE {window})",
        f"{SCORE_ORDER}, position",
        "quality_scores.reasons one row each: every finding behind a project-vintage's verdict.",
    ),
    Export(
        "data_dictionary",
        """
        SELECT c.table_name AS relation, r.kind, r.description AS relation_description,
               c.column_name AS "column", c.column_index AS position, c.data_type, c.comment AS description
        FROM duckdb_columns() AS c
        JOIN (SELECT table_name AS name, 'table' AS kind, comment AS description, database_name, schema_name
              FROM duckdb_tables()
              UNION ALL
              SELECT view_name, 'view', comment, database_name, schema_name FROM duckdb_views() WHERE NOT internal)
          AS r ON r.database_name = c.database_name AND r.schema_name = c.schema_name AND r.name = c.table_name
        WHERE c.database_name = current_database() AND c.schema_name = 'main' AND NOT c.internal
        """,
        "relation, position",
        "Every published table, view and column, with its type and description.",
    ),
)


def export_published(curated_db: Path, window_rows: int = WINDOW_ROWS) -> list[Path]:
    """Write every dataset of :data:`EXPORTS` as Parquet and CSV next to ``curated_db``; returns the paths.

    Reads the published file read-only, so it runs while analysts and publishes do."""
    curated_db = Path(curated_db)
    if not curated_db.exists():
        raise FileNotFoundError(f"no published inventory at {curated_db}: publish before exporting")
    written = []
    with duckdb.connect(str(curated_db), read_only=True) as conn:
        comments = column_comments(conn)
        windows = _score_windows(conn, window_rows)
        for export in EXPORTS:
            queries = export.queries(windows)
            parquet = curated_db.parent / f"{export.name}.parquet"
            replace_file(parquet, lambda tmp, e=export, q=queries: _write_parquet(conn, e, q, comments, tmp))
            csv = curated_db.parent / f"{export.name}.csv"
            replace_file(csv, lambda tmp, e=export, q=queries: _write_csv_in_parts(conn, e, q, tmp))
            written += [parquet, csv]
    return written


def _score_windows(conn: duckdb.DuckDBPyConnection, rows: int) -> list[str]:
    """Conditions that split ``quality_scores`` into windows of about ``rows`` project-vintages, in key order: a
    registry's projects from one id to another, which DuckDB applies while it scans (a condition on the whole key
    would read every row for every window)."""
    windows = conn.execute(
        f"""SELECT registry, min(project_id), max(project_id)
            FROM (SELECT *, sum(n) OVER (PARTITION BY registry ORDER BY project_id) - n AS before
                  FROM (SELECT registry, project_id, count(*) AS n FROM quality_scores GROUP BY ALL))
            GROUP BY registry, before // {int(rows)} ORDER BY registry, 2"""
    ).fetchall()
    return [
        f"registry = {literal(registry)} AND project_id BETWEEN {literal(first)} AND {literal(last)}"
        for registry, first, last in windows
    ] or ["true"]


def _description(export: Export, column: str, comments: dict[tuple[str, str], str]) -> str | None:
    return comments.get((export.name, column)) or describe(export.name, column)


def _write_parquet(
    conn: duckdb.DuckDBPyConnection,
    export: Export,
    queries: Sequence[str],
    comments: dict[tuple[str, str], str],
    target: Path,
) -> None:
    """The rows of each query in turn as one Parquet file, each column's description as field metadata."""
    writer = None
    try:
        for rows in each_result(
            conn, queries, lambda cursor, query: cursor.sql(f"{query} ORDER BY {export.order}").to_arrow_table()
        ):
            if writer is None:
                fields = []
                for field in rows.schema:
                    text = _description(export, field.name, comments)
                    fields.append(field.with_metadata({"description": text}) if text else field)
                schema = pa.schema(fields, metadata={"description": export.title})
                writer = pq.ParquetWriter(target, schema, compression="zstd")
            writer.write_table(rows.cast(schema))
    finally:
        if writer is not None:
            writer.close()


def _write_csv_in_parts(conn: duckdb.DuckDBPyConnection, export: Export, queries: Sequence[str], target: Path) -> None:
    """The rows of each query in turn as one CSV file under the first one's header (:func:`write_csv`)."""
    parts = [target.with_name(f"{target.name}.{index}") for index in range(len(queries))]

    def write_part(cursor: duckdb.DuckDBPyConnection, index: int) -> Path:
        flat = _flat_query(cursor, queries[index])
        return write_csv(cursor, flat, parts[index], header=index == 0, order_by=export.order)

    try:
        for _ in each_result(conn, range(len(queries)), write_part):
            pass
        with target.open("wb") as out:
            for part in parts:
                with part.open("rb") as rows:
                    shutil.copyfileobj(rows, out)
    finally:
        for part in parts:
            part.unlink(missing_ok=True)


def _flat_query(conn: duckdb.DuckDBPyConnection, query: str) -> str:
    """``query``'s rows for CSV: lists of values joined with '; '; lists of records left out (their rows are
    in a long export)."""
    relation = conn.sql(query)
    columns = []
    for name, dtype in zip(relation.columns, relation.dtypes, strict=True):
        kind, quoted = str(dtype), identifier(name)
        if kind.endswith("[]") and kind.startswith(("STRUCT", "MAP")):
            continue
        columns.append(f"array_to_string({quoted}, '; ') AS {quoted}" if kind.endswith("[]") else quoted)
    return f"SELECT {', '.join(columns)} FROM ({query})"


def main() -> int:
    """``make export``: export the published file named by ``CREDIT_QUALITY_CURATED_DB`` (default
    ``data/curated/inventory.duckdb``)."""
    try:
        for path in export_published(Paths.from_env().curated_db):
            print(f"wrote {path}")
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
