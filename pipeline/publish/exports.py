"""Exports of the published inventory for people without DuckDB: Parquet and CSV next to the database.

Each export is written to a temporary name and renamed into place, so a reader never sees half a file.
The CSV joins ``badges`` with ``"; "`` (CSV has no lists) and is written by :func:`pipeline.csv_files.write_csv`,
which keeps a text cell from being evaluated as a spreadsheet formula; the Parquet keeps every value as published.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from pipeline.csv_files import write_csv

EXPORTED_TABLE = "eligible_inventory"


def export_paths(curated_db: Path) -> tuple[Path, Path]:
    """Where :func:`export_inventory` writes: ``eligible_inventory.parquet`` and ``.csv`` beside the DB."""
    folder = Path(curated_db).parent
    return folder / f"{EXPORTED_TABLE}.parquet", folder / f"{EXPORTED_TABLE}.csv"


def export_inventory(curated_db: Path) -> list[Path]:
    """Write the published ``eligible_inventory`` as Parquet and CSV next to ``curated_db``; returns the paths.

    Reads the published file read-only, so it runs while analysts and publishes do."""
    curated_db = Path(curated_db)
    if not curated_db.exists():
        raise FileNotFoundError(f"no published inventory at {curated_db}: publish before exporting")
    parquet, csv = export_paths(curated_db)
    ordered = f"SELECT * FROM {EXPORTED_TABLE} ORDER BY registry, project_id, vintage"
    flat = f"SELECT * REPLACE (array_to_string(badges, '; ') AS badges) FROM ({ordered})"
    with duckdb.connect(str(curated_db), read_only=True) as conn:
        tmp = parquet.with_name(f".{parquet.name}.{os.getpid()}.tmp")
        try:
            conn.execute(f"COPY ({ordered}) TO $path (FORMAT parquet, COMPRESSION zstd)", {"path": str(tmp)})
            os.replace(tmp, parquet)
        finally:
            tmp.unlink(missing_ok=True)
        write_csv(conn, flat, csv)
    return [parquet, csv]
