"""The harmonized warehouse in the pipeline's working DuckDB.

Each registry's load lands in its own staging tables (``staging.<table>_<registry>``), replaced in one
transaction, so one registry's failed run never touches another's rows and a crash mid-write leaves the
previous slice intact. :func:`build_warehouse` then defines the contract relations ``projects``, ``credits``,
``rejected_rows`` and ``load_audit`` as views that union the slices (``UNION ALL BY NAME``, so a reader that
gains a column does not break older slices), and :func:`contract_failures` checks them against the pandera
contract in DuckDB (every row of every registry, without loading the tables into pandas).

Why views: DuckDB's cost is writing compressed columns to disk, and a physical union would write every credit
a second time per run only for the publish step to write it a third time into the analyst file. Each slice is
stored in the warehouse's key order (:data:`SLICE_ORDER`) and the views list the slices in registry order, so
a plain scan returns every relation in ``registry, <key>`` order without sorting a million rows; the publish
step copies them into the analyst file in that order. The views read the latest slices: re-ingesting a
registry changes what they return, and the ``warehouse`` asset re-checks the contract.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from pipeline.ingest import sql_contract, supply
from pipeline.ingest.load import RegistryLoad
from pipeline.ingest.schemas import (
    CreditsSchema,
    LoadAuditSchema,
    ProjectsSchema,
    RejectedRowsSchema,
    empty_frame,
)
from pipeline.sql import columns, relations, transaction

SCHEMAS = {
    "projects": ProjectsSchema,
    "credits": CreditsSchema,
    "rejected_rows": RejectedRowsSchema,
    "load_audit": LoadAuditSchema,
}
WAREHOUSE_TABLES = tuple(SCHEMAS)

SLICE_ORDER = {
    "projects": ["project_id"],
    "credits": ["project_id", "vintage", "transaction_type", "source_file", "source_line"],
    "rejected_rows": ["dataset", "source_line"],
    "load_audit": ["dataset"],
}
"""The order rows are stored in within a registry's slice (the warehouse order is ``registry`` first, then this):
ascending, missing values last, as DuckDB's ``ORDER BY``."""


STAGING_SCHEMA = supply.STAGING
"""The schema of the per-registry slices, ``<table>_<registry>`` (dashes as underscores)."""


def _slice_table(table: str, registry: str) -> str:
    return f"{table}_{registry.replace('-', '_')}"


def slice_name(table: str, registry: str) -> str:
    """The qualified name of ``registry``'s slice of the warehouse ``table`` (its own load, nothing else)."""
    return f'{STAGING_SCHEMA}."{_slice_table(table, registry)}"'


def slice_of(table_name: str) -> tuple[str, str] | None:
    """``(warehouse table, registry)`` of a slice's table name such as ``credits_gold_standard``; None for
    any other name."""
    for table in WAREHOUSE_TABLES:
        if table_name.startswith(f"{table}_"):
            return table, table_name.removeprefix(f"{table}_").replace("_", "-")
    return None


def replace_registry_slice(conn: duckdb.DuckDBPyConnection, load: RegistryLoad) -> None:
    """Atomically replace ``load.registry``'s staging tables with this load, each in :data:`SLICE_ORDER`."""
    frames = {
        "projects": load.projects,
        "credits": load.credits,
        "rejected_rows": load.rejected,
        "load_audit": load.audit,
    }
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {STAGING_SCHEMA}")
    with transaction(conn):
        for table, frame in frames.items():
            conn.register("incoming", frame)
            name = slice_name(table, load.registry)
            order = ", ".join(f"{key} ASC NULLS LAST" for key in SLICE_ORDER[table])
            conn.execute(
                f"CREATE OR REPLACE TABLE {name} AS SELECT * REPLACE ($registry AS registry) FROM incoming "
                f"ORDER BY {order}",
                {"registry": load.registry},
            )
            conn.unregister("incoming")
            _type_all_null_columns(conn, table, load.registry)


def _type_all_null_columns(conn: duckdb.DuckDBPyConnection, table: str, registry: str) -> None:
    """A column with no value in this registry's export arrives untyped (DuckDB type NULL); make it VARCHAR so
    the slices union cleanly with registries that do fill it."""
    for column, kind in columns(conn, _slice_table(table, registry), STAGING_SCHEMA).items():
        if kind == '"NULL"':
            conn.execute(f'ALTER TABLE {slice_name(table, registry)} ALTER COLUMN "{column}" TYPE VARCHAR')


def clear_registry_slice(conn: duckdb.DuckDBPyConnection, registry: str) -> bool:
    """Drop a registry's staging tables (its raw folder is gone); True if there was anything to drop. Contract
    views already defined are redefined over the remaining slices, so they never name a dropped table."""
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {STAGING_SCHEMA}")
    existed = registry in loaded_registries(conn)
    with transaction(conn):
        for table in WAREHOUSE_TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {slice_name(table, registry)}")
        if existed and "credits" in relations(conn):
            _define_relations(conn, loaded_registries(conn))
    return existed


def loaded_registries(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """The registries with a slice in the current database's staging schema."""
    return sorted(slice_of(name)[1] for name in relations(conn, STAGING_SCHEMA) if name.startswith("load_audit_"))


def build_warehouse(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """(Re)define the four contract relations over every registry's staging slice; returns row counts.

    Each is a view listing the slices in registry order (see the module docstring); with nothing loaded yet it
    is an empty table with the contract's columns, so downstream stages still find it."""
    with transaction(conn):
        _define_relations(conn, loaded_registries(conn))
        counts = {t: conn.execute(f"SELECT count(*) FROM main.{t}").fetchall()[0][0] for t in WAREHOUSE_TABLES}
    return counts


def _define_relations(conn: duckdb.DuckDBPyConnection, registries: list[str]) -> None:
    supply.ensure_vrod_tables(conn)
    for table in WAREHOUSE_TABLES:
        kind = relations(conn).get(table)
        if kind:
            conn.execute(f"DROP {kind} main.{table}")
        if table == "projects":
            continue  # by precedence over the registries' and VROD's projects, below
        # VROD's rows of a registry follow its slice, so a plain scan stays in (registry, <key>) order.
        sources = [
            source
            for registry in sorted({*registries, *supply.vrod_registries(conn)})
            for source in ([slice_name(table, registry)] if registry in registries else [])
            + supply.vrod_rows(table, registry)
        ]
        if sources:
            conn.execute(f"CREATE VIEW main.{table} AS {_union(sources)}")
        else:
            conn.register(f"empty_{table}", empty_frame(SCHEMAS[table]))
            conn.execute(f"CREATE TABLE main.{table} AS SELECT * FROM empty_{table}")
            conn.unregister(f"empty_{table}")
    registry_projects = [slice_name("projects", r) for r in registries]
    supply.define_views(conn, _union(registry_projects) if registry_projects else None)


def _union(tables: list[str]) -> str:
    return " UNION ALL BY NAME ".join(f"SELECT * FROM {table}" for table in tables)


def contract_failures(conn: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    """The contract checks the built ``table`` fails, across all registries (see
    :func:`pipeline.ingest.sql_contract.contract_failures`); empty when it passes. Cross-registry properties
    such as a ``project_id`` that is unique over every registry are only visible here."""
    return sql_contract.contract_failures(conn, table, SCHEMAS[table])
