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
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.csv_files import write_csv
from pipeline.publish.dictionary import TABLES, describe
from pipeline.settings import Paths
from pipeline.sql import identifier


@dataclass(frozen=True)
class Export:
    name: str
    """The file's name, and the relation whose column descriptions apply (:mod:`pipeline.publish.dictionary`)."""
    query: str
    """The rows, in a stable order, read from the published file."""
    description: str = ""
    """What the file holds, when it is not a published relation as it stands."""

    @property
    def title(self) -> str:
        return self.description or TABLES[self.name]


EXPORTS = (
    Export("eligible_inventory", "SELECT * FROM eligible_inventory ORDER BY registry, project_id, vintage"),
    Export("quality_scores", "SELECT * FROM quality_scores ORDER BY registry, project_id, vintage"),
    Export(
        "quality_score_reasons",
        "SELECT project_id, registry, vintage, reason.* FROM "
        "(SELECT project_id, registry, vintage, unnest(reasons) AS reason FROM quality_scores) "
        "ORDER BY registry, project_id, vintage",
        "quality_scores.reasons one row each: every finding behind a project-vintage's verdict.",
    ),
    Export(
        "data_dictionary",
        """
        SELECT c.table_name AS relation, r.kind, r.description AS relation_description,
               c.column_name AS "column", c.data_type, c.comment AS description
        FROM duckdb_columns() AS c
        JOIN (SELECT table_name AS name, 'table' AS kind, comment AS description, database_name, schema_name
              FROM duckdb_tables()
              UNION ALL
              SELECT view_name, 'view', comment, database_name, schema_name FROM duckdb_views() WHERE NOT internal)
          AS r ON r.database_name = c.database_name AND r.schema_name = c.schema_name AND r.name = c.table_name
        WHERE c.database_name = current_database() AND c.schema_name = 'main' AND NOT c.internal
        ORDER BY relation, c.column_index
        """,
        "Every published table, view and column, with its type and description.",
    ),
)


def export_published(curated_db: Path) -> list[Path]:
    """Write every dataset of :data:`EXPORTS` as Parquet and CSV next to ``curated_db``; returns the paths.

    Reads the published file read-only, so it runs while analysts and publishes do."""
    curated_db = Path(curated_db)
    if not curated_db.exists():
        raise FileNotFoundError(f"no published inventory at {curated_db}: publish before exporting")
    written = []
    with duckdb.connect(str(curated_db), read_only=True) as conn:
        comments = _column_comments(conn)
        for export in EXPORTS:
            parquet = curated_db.parent / f"{export.name}.parquet"
            _atomic(parquet, lambda tmp, e=export: _write_parquet(conn, e, comments, tmp))
            csv = write_csv(conn, _flat_query(conn, export), curated_db.parent / f"{export.name}.csv")
            written += [parquet, csv]
    return written


def _column_comments(conn: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    rows = conn.execute(
        "SELECT table_name, column_name, comment FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'main' AND coalesce(comment, '') <> ''"
    ).fetchall()
    return {(table, column): comment for table, column, comment in rows}


def _description(export: Export, column: str, comments: dict[tuple[str, str], str]) -> str | None:
    return comments.get((export.name, column)) or describe(export.name, column)


def _write_parquet(
    conn: duckdb.DuckDBPyConnection, export: Export, comments: dict[tuple[str, str], str], target: Path
) -> None:
    """Stream the rows into Parquet with each column's description as field metadata."""
    reader = conn.sql(export.query).to_arrow_reader()
    fields = []
    for field in reader.schema:
        text = _description(export, field.name, comments)
        fields.append(field.with_metadata({"description": text}) if text else field)
    schema = pa.schema(fields, metadata={"description": export.title})
    with pq.ParquetWriter(target, schema, compression="zstd") as writer:
        for batch in reader:
            writer.write_batch(pa.RecordBatch.from_arrays(batch.columns, schema=schema))


def _flat_query(conn: duckdb.DuckDBPyConnection, export: Export) -> str:
    """The export's rows for CSV: lists of values joined with '; '; lists of records left out (their rows are
    in a long export)."""
    relation = conn.sql(export.query)
    columns = []
    for name, dtype in zip(relation.columns, relation.dtypes, strict=True):
        kind, quoted = str(dtype), identifier(name)
        if kind.endswith("[]") and kind.startswith(("STRUCT", "MAP")):
            continue
        columns.append(f"array_to_string({quoted}, '; ') AS {quoted}" if kind.endswith("[]") else quoted)
    return f"SELECT {', '.join(columns)} FROM ({export.query})"


def _atomic(target: Path, write: Callable[[Path], None]) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


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
