"""The harmonized warehouse in the pipeline's working DuckDB.

Each registry's load lands in its own staging tables (``staging.<table>_<registry>``), replaced in one
transaction, so one registry's failed run never touches another's rows and a crash mid-write leaves the
previous slice intact. :func:`build_warehouse` then unions the slices into the contract tables ``projects``,
``credits``, ``rejected_rows`` and ``load_audit`` (``UNION ALL BY NAME``, so a reader that gains a column
does not break older slices), and :func:`contract_failures` checks the union against the pandera contract in
DuckDB (every row of every registry, without loading the tables into pandas).
"""

from __future__ import annotations

import duckdb
import pandas as pd

from pipeline.ingest import sql_contract
from pipeline.ingest.load import RegistryLoad
from pipeline.ingest.schemas import (
    CreditsSchema,
    LoadAuditSchema,
    ProjectsSchema,
    RejectedRowsSchema,
    empty_frame,
)

SCHEMAS = {
    "projects": ProjectsSchema,
    "credits": CreditsSchema,
    "rejected_rows": RejectedRowsSchema,
    "load_audit": LoadAuditSchema,
}
WAREHOUSE_TABLES = tuple(SCHEMAS)

TABLE_ORDER = {
    "projects": "registry, project_id",
    "credits": "registry, project_id, vintage, transaction_type, source_file, source_line",
    "rejected_rows": "registry, dataset, source_line",
    "load_audit": "registry, dataset",
}


def _staging_name(table: str, registry: str) -> str:
    return f'staging."{table}_{registry.replace("-", "_")}"'


def replace_registry_slice(conn: duckdb.DuckDBPyConnection, load: RegistryLoad) -> None:
    """Atomically replace ``load.registry``'s staging tables with this load."""
    frames = {
        "projects": load.projects,
        "credits": load.credits,
        "rejected_rows": load.rejected,
        "load_audit": load.audit,
    }
    conn.execute("CREATE SCHEMA IF NOT EXISTS staging")
    conn.execute("BEGIN TRANSACTION")
    try:
        for table, frame in frames.items():
            conn.register("incoming", frame.assign(registry=load.registry))
            name = _staging_name(table, load.registry)
            conn.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM incoming")
            conn.unregister("incoming")
            _type_all_null_columns(conn, table, load.registry)
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise


def _type_all_null_columns(conn: duckdb.DuckDBPyConnection, table: str, registry: str) -> None:
    """A column with no value in this registry's export arrives untyped (DuckDB type NULL); make it VARCHAR so
    the slices union cleanly with registries that do fill it."""
    untyped = conn.execute(
        "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'staging' AND table_name = ? "
        "AND data_type = '\"NULL\"'",
        [f"{table}_{registry.replace('-', '_')}"],
    ).fetchall()
    for (column,) in untyped:
        conn.execute(f'ALTER TABLE {_staging_name(table, registry)} ALTER COLUMN "{column}" TYPE VARCHAR')


def clear_registry_slice(conn: duckdb.DuckDBPyConnection, registry: str) -> bool:
    """Drop a registry's staging tables (its raw folder is gone); True if there was anything to drop."""
    conn.execute("CREATE SCHEMA IF NOT EXISTS staging")
    existed = registry in loaded_registries(conn)
    conn.execute("BEGIN TRANSACTION")
    for table in WAREHOUSE_TABLES:
        conn.execute(f"DROP TABLE IF EXISTS {_staging_name(table, registry)}")
    conn.execute("COMMIT")
    return existed


def loaded_registries(conn: duckdb.DuckDBPyConnection) -> list[str]:
    rows = conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'staging' AND table_name LIKE 'load_audit_%'"
    ).fetchall()
    return sorted(name.removeprefix("load_audit_").replace("_", "-") for (name,) in rows)


def build_warehouse(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """(Re)build the four contract tables from every registry's staging slice; returns row counts."""
    registries = loaded_registries(conn)
    counts = {}
    conn.execute("BEGIN TRANSACTION")
    try:
        for table in WAREHOUSE_TABLES:
            if registries:
                union = " UNION ALL BY NAME ".join(f"SELECT * FROM {_staging_name(table, r)}" for r in registries)
            else:  # nothing loaded yet: the contract tables still exist, empty, for downstream stages
                conn.register(f"empty_{table}", empty_frame(SCHEMAS[table]))
                union = f"SELECT * FROM empty_{table}"
            conn.execute(
                f"CREATE OR REPLACE TABLE main.{table} AS SELECT * FROM ({union}) ORDER BY {TABLE_ORDER[table]}"
            )
            counts[table] = conn.execute(f"SELECT count(*) FROM main.{table}").fetchall()[0][0]
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    return counts


CONTRACT_CHECKED = ("projects", "credits", "rejected_rows")
"""The tables whose whole-table contract :func:`contract_failures` checks (``load_audit``'s row conservation is
a cross-column rule, checked by the ``rows_conserved`` asset check)."""


def contract_failures(conn: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    """The contract checks the built ``table`` fails, across all registries (see
    :func:`pipeline.ingest.sql_contract.contract_failures`); empty when it passes. Cross-registry properties
    such as a ``project_id`` that is unique over every registry are only visible here."""
    return sql_contract.contract_failures(conn, table, SCHEMAS[table])


def read_table(conn: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    return conn.execute(f"SELECT * FROM main.{table}").df()
