"""History that survives every republish: ``publishes``, ``inventory_history``, ``inventory_changes``.

**Where history lives.** It is carried forward from the previous published file: each publish attaches the
file analysts currently see (read-only), copies its history tables into the new file and appends the new
publish. The published file is therefore self-contained (one file to back up or hand over), and its
history is exactly what analysts were shown. If the previous file cannot be read, the publish fails
instead of silently restarting history; moving the file away deliberately starts a new history.

**Changes** compare the new inventory with the previous publish's, per project-vintage: ``entered``,
``left`` or ``tier_changed``, each with a machine-readable ``reason_code`` and a plain-words ``reason``
(the failed rule and its source when a project-vintage became ineligible). Re-publishing the same inputs
under the same policy adds a ``publishes`` row and a history copy but no change rows.
"""

from __future__ import annotations

import duckdb

from pipeline.ingest.supply import SUPPLY_VIEW
from pipeline.publish.views import first_failed_reason_sql, format_reason_sql
from pipeline.sql import relations

CHANGES_DDL = """
    publish_id BIGINT, previous_publish_id BIGINT, project_id VARCHAR, registry VARCHAR, vintage BIGINT,
    change VARCHAR, reason_code VARCHAR, reason VARCHAR, previous_tier VARCHAR, new_tier VARCHAR,
    previous_available_net BIGINT, new_available_net BIGINT, tonnes_delta BIGINT
"""

PUBLISHES_DDL = """
    publish_id BIGINT, published_at TIMESTAMP, as_of DATE, policy_version VARCHAR, policy_sha256 VARCHAR,
    inputs_fingerprint VARCHAR,
    input_files STRUCT(registry VARCHAR, dataset VARCHAR, file VARCHAR, file_sha256 VARCHAR)[],
    row_counts MAP(VARCHAR, BIGINT), eligible_project_vintages BIGINT, eligible_tonnes BIGINT,
    entered BIGINT, "left" BIGINT, tier_changed BIGINT, alerts BIGINT
"""


def has_table(conn: duckdb.DuckDBPyConnection, catalog: str | None, table: str) -> bool:
    """Whether ``catalog`` (None = no previous file) has the relation, table or view: the warehouse relations
    (``load_audit``, ``credits``, ...) are views in every published file."""
    return catalog is not None and table in relations(conn, catalog=catalog)


def previous_publish_id(conn: duckdb.DuckDBPyConnection, prev: str | None) -> int | None:
    if not has_table(conn, prev, "publishes"):
        return None
    return conn.execute(f"SELECT max(publish_id) FROM {prev}.main.publishes").fetchone()[0]


def carry_forward(conn: duckdb.DuckDBPyConnection, pub: str, prev: str | None, table: str, ddl: str | None) -> None:
    """Create ``pub.table`` holding the previous file's rows (empty with ``ddl`` when there are none)."""
    if has_table(conn, prev, table):
        conn.execute(f"CREATE TABLE {pub}.main.{table} AS SELECT * FROM {prev}.main.{table}")
    elif ddl is not None:
        conn.execute(f"CREATE TABLE {pub}.main.{table} ({ddl})")


def append_inventory_history(conn: duckdb.DuckDBPyConnection, pub: str, prev: str | None, publish_id: int) -> None:
    """``inventory_history`` = the previous file's history + this publish's inventory."""
    current = f"SELECT {publish_id}::BIGINT AS publish_id, * FROM {pub}.main.eligible_inventory"
    if has_table(conn, prev, "inventory_history"):
        conn.execute(
            f"CREATE TABLE {pub}.main.inventory_history AS "
            f"SELECT * FROM {prev}.main.inventory_history UNION ALL BY NAME {current}"
        )
    else:
        conn.execute(f"CREATE TABLE {pub}.main.inventory_history AS {current}")


def _scores_sql(conn: duckdb.DuckDBPyConnection, catalog: str | None) -> str:
    if not has_table(conn, catalog, "quality_scores"):
        return ("SELECT NULL::VARCHAR AS project_id, NULL::BIGINT AS vintage, NULL::BOOLEAN AS is_eligible, "
                "NULL::VARCHAR AS failed WHERE false")  # fmt: skip
    first = format_reason_sql(conn, catalog, first_failed_reason_sql(conn, catalog, "s"))
    return (
        f"SELECT s.project_id, s.vintage::BIGINT AS vintage, s.is_eligible, {first} AS failed "
        f"FROM {catalog}.main.quality_scores AS s"
    )


def _inventory_sql(conn: duckdb.DuckDBPyConnection, catalog: str | None) -> str:
    if not has_table(conn, catalog, "eligible_inventory"):
        return ("SELECT NULL::VARCHAR AS project_id, NULL::VARCHAR AS registry, NULL::BIGINT AS vintage, "
                "NULL::VARCHAR AS quality_tier, NULL::INTEGER AS limiting_score, NULL::BIGINT AS available_net "
                "WHERE false")  # fmt: skip
    return (
        "SELECT project_id, registry, vintage::BIGINT AS vintage, quality_tier, limiting_score, available_net "
        f"FROM {catalog}.main.eligible_inventory"
    )


def append_inventory_changes(
    conn: duckdb.DuckDBPyConnection, pub: str, prev: str | None, publish_id: int, previous_id: int | None
) -> int:
    """``inventory_changes`` = the previous file's change log + this publish's changes; returns how many."""
    carry_forward(conn, pub, prev, "inventory_changes", CHANGES_DDL)
    first_publish = "true" if previous_id is None else "false"
    prev_id = "NULL" if previous_id is None else str(previous_id)
    conn.execute(
        f"""
        INSERT INTO {pub}.main.inventory_changes BY NAME
        WITH cur AS ({_inventory_sql(conn, pub)}),
        old AS ({_inventory_sql(conn, prev)}),
        cur_scores AS ({_scores_sql(conn, pub)}),
        old_scores AS ({_scores_sql(conn, prev)}),
        gone AS (SELECT project_id, vintage FROM old ANTI JOIN cur USING (project_id, vintage)),
        cur_totals AS (  -- issued, retired and cancelled now, from the supply the inventory was built from
            SELECT * FROM {pub}.main.{SUPPLY_VIEW} SEMI JOIN gone USING (project_id, vintage)
        ),
        entered AS (
            SELECT c.project_id, c.registry, c.vintage, 'entered' AS change,
                   CASE WHEN {first_publish} THEN 'first_publish'
                        WHEN os.project_id IS NULL THEN 'new_in_registry_data'
                        WHEN NOT coalesce(os.is_eligible, false) THEN 'became_eligible'
                        ELSE 'credits_available' END AS reason_code,
                   CASE WHEN {first_publish} THEN 'first publish: no previous inventory to compare with'
                        WHEN os.project_id IS NULL THEN 'new project-vintage in the registry data'
                        WHEN NOT coalesce(os.is_eligible, false)
                            THEN 'became eligible (was: ' || coalesce(os.failed, 'ineligible') || ')'
                        ELSE 'credits available again: ' || c.available_net || ' tonnes' END AS reason,
                   NULL AS previous_tier, c.quality_tier AS new_tier,
                   NULL::BIGINT AS previous_available_net, c.available_net AS new_available_net
            FROM cur AS c
            LEFT JOIN old AS o USING (project_id, vintage)
            LEFT JOIN old_scores AS os USING (project_id, vintage)
            WHERE o.project_id IS NULL
        ),
        departed AS (
            SELECT o.project_id, o.registry, o.vintage, 'left' AS change,
                   CASE WHEN cs.project_id IS NULL THEN 'not_in_registry_data'
                        WHEN NOT coalesce(cs.is_eligible, false) THEN 'became_ineligible'
                        WHEN coalesce(t.issued - t.retired - t.cancelled, 0) <= 0 THEN 'no_credits_left_at_registry'
                        ELSE 'retired_for_our_buyers' END AS reason_code,
                   CASE WHEN cs.project_id IS NULL THEN 'no longer in the registry data (not scored)'
                        WHEN NOT coalesce(cs.is_eligible, false)
                            THEN 'no longer eligible: ' || coalesce(cs.failed, 'no reason recorded')
                        WHEN coalesce(t.issued - t.retired - t.cancelled, 0) <= 0
                            THEN 'no credits left at the registry: issued - retired - cancelled = '
                                 || coalesce(t.issued - t.retired - t.cancelled, 0)
                        ELSE 'the remaining credits were retired for our buyers (ledger)' END AS reason,
                   o.quality_tier AS previous_tier, NULL AS new_tier,
                   o.available_net AS previous_available_net, NULL::BIGINT AS new_available_net
            FROM old AS o
            LEFT JOIN cur AS c USING (project_id, vintage)
            LEFT JOIN cur_scores AS cs USING (project_id, vintage)
            LEFT JOIN cur_totals AS t USING (project_id, vintage)
            WHERE c.project_id IS NULL
        ),
        retiered AS (
            SELECT c.project_id, c.registry, c.vintage, 'tier_changed' AS change, 'tier_changed' AS reason_code,
                   'quality tier ' || o.quality_tier || ' -> ' || c.quality_tier || ' (limiting score '
                       || coalesce(o.limiting_score::VARCHAR, '?') || ' -> '
                       || coalesce(c.limiting_score::VARCHAR, '?') || ')' AS reason,
                   o.quality_tier AS previous_tier, c.quality_tier AS new_tier,
                   o.available_net AS previous_available_net, c.available_net AS new_available_net
            FROM cur AS c JOIN old AS o USING (project_id, vintage)
            WHERE c.quality_tier IS DISTINCT FROM o.quality_tier
        )
        SELECT {publish_id}::BIGINT AS publish_id, {prev_id}::BIGINT AS previous_publish_id, *,
               (coalesce(new_available_net, 0) - coalesce(previous_available_net, 0))::BIGINT AS tonnes_delta
        FROM (SELECT * FROM entered UNION ALL SELECT * FROM departed UNION ALL SELECT * FROM retiered)
        ORDER BY change, project_id, vintage
        """
    )
    return conn.execute(
        f"SELECT count(*) FROM {pub}.main.inventory_changes WHERE publish_id = ?", [publish_id]
    ).fetchone()[0]
