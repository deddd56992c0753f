"""Where each project and each project-vintage's credits come from: the registry exports or Berkeley's VROD.

Two sources describe the same market (``docs/sources.md``): the registries' own exports (``projects``,
``credits``: read per registry) and Berkeley's Voluntary Registry Offsets Database (one file for the five
registries, read by :mod:`pipeline.ingest.vrod` into the ``staging.vrod_*`` tables). The rules that combine them
are written once, here, as the SQL of the warehouse's views:

- **projects** (:func:`projects_sql`): a registry's own projects export wins; VROD fills what it leaves empty
  (Berkeley's type, the registration date, and any VROD column the export also has, such as the listing date)
  and adds its own columns (reduction/removal, methodology version, buffer deposits and reversals, credit
  totals, retirements of unknown year); projects no export lists come from VROD.
- **supply per project-vintage** (:func:`supply_sql`, the view :data:`SUPPLY_VIEW`): a registry's transaction
  export supplies the project-vintages whose issuances it holds; VROD supplies the rest, except for a project
  whose vintages the two sources label differently. VROD files a vintage period under its end year, the Verra
  reader under its start year (VCS641: the VCU export's 2010/2011/2012 are VROD's 2011/2012/2013, same
  quantities), so filling the vintages the export lacks would count one period twice. A project whose export
  holds a vintage period spanning two calendar years, or a vintage VROD does not list, is therefore supplied by
  its export alone. Each project-vintage comes from one source and no period from both: no tonne is counted twice.
- **reconciliation** (:func:`reconciliation_sql`): per project-vintage of every project both sources hold, the
  export's issued and retired beside VROD's, the differences and whether they are within the policy's tolerance.

Every row says its ``source`` (:data:`REGISTRY_EXPORT` or :data:`VROD`) and that source's ``source_as_of`` date.
"""

from __future__ import annotations

import duckdb
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from pipeline.ingest.schemas import LoadAuditSchema, RejectedRowsSchema, empty_frame
from pipeline.ingest.vrod import DATASET, SOURCE, VrodLoad, VrodProjectsSchema, VrodVintagesSchema
from pipeline.sql import identifier, relations, transaction

REGISTRY_EXPORT = "registry-export"
VROD = SOURCE
SOURCES = (REGISTRY_EXPORT, VROD)

SUPPLY_VIEW = "project_vintage_supply"
RECONCILIATION_TABLE = "supply_reconciliation"
STAGING = "staging"
"""The warehouse's staging schema (``warehouse.STAGING_SCHEMA``): the registries' slices and VROD's tables."""
VROD_VINTAGES = "vrod_vintages"
"""VROD's issued and remaining per project-vintage (in :data:`STAGING`)."""
VROD_TABLES = {
    "vrod_projects": VrodProjectsSchema,
    VROD_VINTAGES: VrodVintagesSchema,
    "vrod_rejected_rows": RejectedRowsSchema,
    "vrod_load_audit": LoadAuditSchema,
}
"""VROD's staging tables (schema :data:`STAGING`); empty when no VROD file is read, so every view has its columns."""
VROD_EXTRA_ROWS = {"rejected_rows": "vrod_rejected_rows", "load_audit": "vrod_load_audit"}
"""Warehouse relations that list VROD's rows beside the registries' slices."""
VROD_FILLS = ("project_type", "registration_date")
"""``projects`` columns a registry export may leave empty and VROD fills."""
VROD_ADDS = (
    "scope", "reduction_removal", "methodology_version", "listed_date", "date_added", "first_vintage",
    "total_issued", "total_retired", "total_remaining", "retired_year_unknown", "buffer_deposits",
    "reversals_covered", "reversals_not_covered", "buffer_released",
)  # fmt: skip
"""VROD's columns of ``projects`` (null for a project VROD does not list)."""


class SourcesPolicy(BaseModel):
    """Policy section ``sources``: how the registry exports and VROD are compared."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reconciliation_tolerance_pct: float = Field(default=1.0, ge=0, le=100)
    """Issued and retired of a project-vintage agree when they differ by at most this share of the larger figure."""


# --------------------------------------------------------------------------------------------------------------
# Registry exports: totals and as-of dates
# --------------------------------------------------------------------------------------------------------------


CREDIT_TOTALS_SQL = """
    SELECT project_id, vintage::BIGINT AS vintage, any_value(registry)::VARCHAR AS registry,
           coalesce(sum(quantity) FILTER (transaction_type = 'issuance'), 0)::BIGINT AS issued,
           coalesce(sum(quantity) FILTER (transaction_type = 'retirement'), 0)::BIGINT AS retired,
           coalesce(sum(quantity) FILTER (transaction_type = 'cancellation'), 0)::BIGINT AS cancelled,
           (sum(buffer_quantity) FILTER (transaction_type = 'issuance'))::BIGINT AS buffer
    FROM credits
    WHERE vintage IS NOT NULL
    GROUP BY project_id, vintage
"""
"""Per project-vintage totals straight from the registry exports' ``credits``."""

REGISTRY_AS_OF_SQL = rf"""
    SELECT registry, coalesce(max(snapshot_date), max(latest_transaction)) AS as_of
    FROM (
        SELECT registry,
               try_strptime(regexp_extract(file, '(\d{{4}}-\d{{2}}-\d{{2}})[/\\][^/\\]+$', 1), '%Y-%m-%d')::DATE
                   AS snapshot_date,
               NULL::DATE AS latest_transaction
        FROM load_audit
        WHERE dataset <> '{DATASET}'
        UNION ALL
        SELECT registry, NULL, max(transaction_date)::DATE FROM credits GROUP BY registry
    )
    GROUP BY registry
"""
"""Snapshot date per registry export: the dated raw folder if any, else the latest transaction."""

EXPORT_ISSUED_SQL = """
    SELECT DISTINCT project_id, vintage::BIGINT AS vintage FROM credits
    WHERE transaction_type = 'issuance' AND vintage IS NOT NULL AND project_id IS NOT NULL
"""
"""Project-vintages whose issuances a registry's transaction export holds: the export supplies them."""


# --------------------------------------------------------------------------------------------------------------
# The VROD staging tables
# --------------------------------------------------------------------------------------------------------------


def _staged(table: str) -> str:
    return identifier(STAGING, table)


def replace_vrod_slice(conn: duckdb.DuckDBPyConnection, load: VrodLoad | None) -> None:
    """Atomically replace VROD's staging tables with ``load`` (None: empty them: no VROD file is read)."""
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {identifier(STAGING)}")
    with transaction(conn):
        _write_vrod_tables(conn, load)


STAGING_ORDER = {
    "vrod_projects": "registry, project_id",
    "vrod_vintages": "project_id, vintage",
    "vrod_rejected_rows": "source_line",
    "vrod_load_audit": "registry",
}


def _write_vrod_tables(conn: duckdb.DuckDBPyConnection, load: VrodLoad | None) -> None:
    frames = (
        dict(zip(VROD_TABLES, (load.projects, load.vintages, load.rejected, load.audit), strict=True)) if load else {}
    )
    for table, schema in VROD_TABLES.items():
        incoming = frames.get(table, empty_frame(schema))
        dated = table in ("vrod_projects", "vrod_vintages")
        conn.register("incoming", incoming)
        as_of = ", $as_of::DATE AS source_as_of" if dated else ""
        conn.execute(
            f"CREATE OR REPLACE TABLE {_staged(table)} AS SELECT *{as_of} FROM incoming "
            f"ORDER BY {STAGING_ORDER[table]}",
            {"as_of": load.as_of if load else None} if dated else None,
        )
        conn.unregister("incoming")


def ensure_vrod_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Create VROD's staging tables, empty, where a warehouse has never read VROD."""
    if not set(VROD_TABLES) <= set(relations(conn, STAGING)):
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {identifier(STAGING)}")
        _write_vrod_tables(conn, None)


def vrod_registries(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """The registries VROD's load audit names (none when no VROD file was read)."""
    return [r for (r,) in conn.execute(f"SELECT DISTINCT registry FROM {_staged('vrod_load_audit')}").fetchall()]


def vrod_rows(table: str, registry: str) -> list[str]:
    """The relation holding VROD's rows of ``registry`` in warehouse relation ``table`` (``rejected_rows``,
    ``load_audit``; none for the others), in stored order."""
    if table not in VROD_EXTRA_ROWS:
        return []
    return [f"(SELECT * FROM {_staged(VROD_EXTRA_ROWS[table])} WHERE registry = '{registry}')"]


# --------------------------------------------------------------------------------------------------------------
# The precedence views
# --------------------------------------------------------------------------------------------------------------


def projects_sql(registry_projects: str | None, registry_columns: set[str] = frozenset()) -> str:
    """``projects`` by precedence over ``registry_projects`` (the SELECT of every registry export's projects, whose
    columns are ``registry_columns``; None when no registry is loaded) and VROD's projects."""
    vrod = _staged("vrod_projects")
    only_vrod = f"""
        SELECT v.*, '{VROD}' AS source FROM {vrod} AS v
        {"ANTI JOIN registry_projects AS r USING (project_id)" if registry_projects else ""}
    """
    if registry_projects is None:
        return only_vrod
    # A column both have: the export's value, else VROD's. A column only VROD has: VROD's.
    fills = ", ".join(
        f"coalesce(r.{name}, v.{name}) AS {name}" for name in (*VROD_FILLS, *VROD_ADDS) if name in registry_columns
    )
    adds = "".join(f", v.{name}" for name in VROD_ADDS if name not in registry_columns)
    return f"""
    WITH registry_projects AS ({registry_projects}),
    as_of AS ({REGISTRY_AS_OF_SQL})
    SELECT r.* REPLACE ({fills}){adds}, '{REGISTRY_EXPORT}' AS source, as_of.as_of AS source_as_of
    FROM registry_projects AS r
    LEFT JOIN {vrod} AS v USING (project_id)
    LEFT JOIN as_of ON as_of.registry = r.registry
    UNION ALL BY NAME
    {only_vrod}
    """


def supply_sql(credits_columns: set[str]) -> str:
    """One row per project-vintage of the market, from exactly one source (see the module docstring);
    ``credits_columns`` are the columns of the ``credits`` relation (Verra's carry the vintage period)."""
    spanning = ""
    if {"vintage_start", "vintage_end"} <= credits_columns:
        spanning = """
        UNION SELECT project_id FROM credits
        WHERE transaction_type = 'issuance' AND year(vintage_start::DATE) <> year(vintage_end::DATE)"""
    vrod = _staged(VROD_VINTAGES)
    return f"""
    WITH export_issued AS ({EXPORT_ISSUED_SQL}),
    misaligned AS (
        SELECT project_id FROM export_issued
        WHERE project_id IN (SELECT project_id FROM {vrod})
          AND (project_id, vintage) NOT IN (SELECT (project_id, vintage) FROM {vrod}){spanning}
    ),
    as_of AS ({REGISTRY_AS_OF_SQL}),
    exported AS (
        SELECT t.*, (t.issued - t.retired - t.cancelled)::BIGINT AS export_available, v.remaining AS vrod_remaining
        FROM ({CREDIT_TOTALS_SQL}) AS t
        SEMI JOIN export_issued USING (project_id, vintage)
        LEFT JOIN {vrod} AS v USING (project_id, vintage)
    )
    -- A sample export may hold some of a vintage's transactions and not others: where VROD also counts the
    -- vintage year, the lesser of the two availabilities is offered, never the greater (understated, never
    -- oversold), even where the two file a period under different years.
    SELECT t.project_id, t.registry, t.vintage, t.issued, t.retired, t.cancelled, t.buffer,
           CASE WHEN t.vrod_remaining < t.export_available THEN greatest(t.vrod_remaining, 0)
                ELSE t.export_available END::BIGINT AS available,
           coalesce(t.vrod_remaining < t.export_available, false) AS available_capped_by_vrod,
           '{REGISTRY_EXPORT}' AS source, as_of.as_of AS source_as_of
    FROM exported AS t
    LEFT JOIN as_of ON as_of.registry = t.registry
    UNION ALL
    SELECT v.project_id::VARCHAR, v.registry::VARCHAR, v.vintage, v.issued, v.retired, 0::BIGINT AS cancelled,
           NULL::BIGINT AS buffer, v.remaining AS available, false AS available_capped_by_vrod, '{VROD}' AS source,
           v.source_as_of
    FROM {vrod} AS v
    ANTI JOIN export_issued USING (project_id, vintage)
    WHERE v.project_id NOT IN (SELECT project_id FROM misaligned)
    """


def define_views(conn: duckdb.DuckDBPyConnection, registry_projects: str | None) -> None:
    """(Re)define ``projects`` and :data:`SUPPLY_VIEW` on ``conn`` (inside the caller's transaction); the
    ``credits`` and ``load_audit`` relations must exist."""
    ensure_vrod_tables(conn)
    existing = relations(conn)
    for name in ("projects", SUPPLY_VIEW):
        if name in existing:
            conn.execute(f"DROP {existing[name]} main.{name}")
    columns = set()
    if registry_projects:
        columns = {row[0] for row in conn.execute(f"DESCRIBE {registry_projects}").fetchall()}
    projects = f"SELECT * FROM ({projects_sql(registry_projects, columns)}) ORDER BY registry, project_id"
    # Nothing to read yet: an empty table with every column, as the warehouse's other empty relations.
    empty = registry_projects is None and not vrod_registries(conn)
    conn.execute(f"CREATE {'TABLE' if empty else 'VIEW'} main.projects AS {projects}")
    credits_columns = {row[0] for row in conn.execute("DESCRIBE main.credits").fetchall()}
    conn.execute(f"CREATE VIEW main.{SUPPLY_VIEW} AS {supply_sql(credits_columns)}")


def scoring_facts_sql(conn: duckdb.DuckDBPyConnection, facts: str) -> str:
    """``facts`` (the registry exports' facts per issued project-vintage) with every issued VROD project-vintage no
    export holds, each row with its ``source``, ``source_as_of`` and ``supplied``: whether its credits are in
    :data:`SUPPLY_VIEW` (false for the vintages of a project whose export labels its vintages differently: scored,
    never offered, because the export supplies those credits under its own vintage years). VROD reports no
    transaction-level facts: no CCP label, CORSIA phase or certification, no buffer per vintage; the methodology
    version is the project's (VROD's version also fills a registry export's missing one). Without the supply view
    (scores computed from frames) the facts are the registry exports'."""
    if SUPPLY_VIEW not in relations(conn):
        return f"SELECT *, '{REGISTRY_EXPORT}' AS source, NULL::DATE AS source_as_of, true AS supplied FROM {facts}"
    vrod_projects = _staged("vrod_projects")
    return f"""
    SELECT f.* REPLACE (coalesce(f.methodology_version, p.methodology_version) AS methodology_version),
           '{REGISTRY_EXPORT}' AS source, s.source_as_of, true AS supplied
    FROM {facts} AS f
    LEFT JOIN {SUPPLY_VIEW} AS s USING (project_id, vintage)
    LEFT JOIN {vrod_projects} AS p USING (project_id)
    UNION ALL BY NAME
    SELECT v.project_id::VARCHAR AS project_id, v.vintage, v.registry::VARCHAR AS registry, v.issued,
           0::BIGINT AS buffer_issued, false AS buffer_reported, p.methodology_version, false AS ccp_label,
           false AS pilot, false AS first, false AS has_ccb, false AS has_sd_vista, false AS has_social_carbon,
           '{VROD}' AS source, v.source_as_of, s.source IS NOT NULL AS supplied
    FROM {_staged(VROD_VINTAGES)} AS v
    ANTI JOIN {facts} USING (project_id, vintage)
    LEFT JOIN {SUPPLY_VIEW} AS s USING (project_id, vintage)
    LEFT JOIN {vrod_projects} AS p USING (project_id)
    WHERE v.issued > 0
    """


# --------------------------------------------------------------------------------------------------------------
# Reconciliation
# --------------------------------------------------------------------------------------------------------------


def reconciliation_sql(tolerance_pct: float) -> str:
    """Per project-vintage of every project that both a registry export (issuances or retirements) and VROD list:
    issued and retired (retirements + cancellations) in each, the differences (export - VROD), whether each is
    within ``tolerance_pct`` of the larger figure, and which source supplies the project-vintage. A vintage only one
    source holds has zeros on the other side (VROD and the Verra reader file a vintage period under different
    years, so such rows come in pairs). ``vrod_retired_year_unknown`` is VROD's project-level count of
    retirements without a retirement year, repeated on each of the project's rows."""
    tolerance = float(tolerance_pct)
    return f"""
    WITH export AS (SELECT project_id, vintage, registry, issued, retired + cancelled AS retired
                    FROM ({CREDIT_TOTALS_SQL})),
    vrod AS (SELECT project_id::VARCHAR AS project_id, vintage, registry::VARCHAR AS registry, issued, retired
             FROM {_staged(VROD_VINTAGES)}),
    both_sources AS (SELECT project_id FROM export INTERSECT SELECT project_id FROM vrod),
    paired AS (
        SELECT project_id, vintage, coalesce(e.registry, v.registry) AS registry,
               coalesce(e.issued, 0)::BIGINT AS export_issued, coalesce(v.issued, 0)::BIGINT AS vrod_issued,
               coalesce(e.retired, 0)::BIGINT AS export_retired, coalesce(v.retired, 0)::BIGINT AS vrod_retired
        FROM (SELECT * FROM export SEMI JOIN both_sources USING (project_id)) AS e
        FULL OUTER JOIN (SELECT * FROM vrod SEMI JOIN both_sources USING (project_id)) AS v
            USING (project_id, vintage)
    )
    SELECT p.project_id, p.registry, p.vintage, p.export_issued, p.vrod_issued,
           p.export_issued - p.vrod_issued AS issued_difference,
           p.export_retired, p.vrod_retired, p.export_retired - p.vrod_retired AS retired_difference,
           coalesce(vp.retired_year_unknown, 0)::BIGINT AS vrod_retired_year_unknown,
           abs(p.export_issued - p.vrod_issued) <= {tolerance} / 100 * greatest(p.export_issued, p.vrod_issued)
               AS issued_within_tolerance,
           abs(p.export_retired - p.vrod_retired) <= {tolerance} / 100 * greatest(p.export_retired, p.vrod_retired)
               AS retired_within_tolerance,
           s.source AS supplied_by, {tolerance}::DOUBLE AS tolerance_pct
    FROM paired AS p
    LEFT JOIN {_staged("vrod_projects")} AS vp USING (project_id)
    LEFT JOIN {SUPPLY_VIEW} AS s USING (project_id, vintage)
    ORDER BY p.registry, p.project_id, p.vintage
    """


def write_reconciliation(conn: duckdb.DuckDBPyConnection, tolerance_pct: float) -> pd.DataFrame:
    """(Re)build the :data:`RECONCILIATION_TABLE` table; returns its rows outside the tolerance."""
    ensure_vrod_tables(conn)
    conn.execute(f"CREATE OR REPLACE TABLE {RECONCILIATION_TABLE} AS {reconciliation_sql(tolerance_pct)}")
    return conn.execute(
        f"SELECT * FROM {RECONCILIATION_TABLE} WHERE NOT (issued_within_tolerance AND retired_within_tolerance)"
    ).df()
