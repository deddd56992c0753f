"""Analyst views of the published file: inventory totals by dimension, ineligible projects, latest changes,
and the buyers stage's per-buyer statements when the ledger is published.

Views are created with the published catalog as the current database, so their SQL names tables without a
catalog and keeps working whatever name an analyst attaches the file under.
"""

from __future__ import annotations

import duckdb

from pipeline.buyers.statement import STATEMENT_VIEW, SUMMARY_VIEW, buyer_statement_view_sql
from pipeline.inventory.inventory import list_expression
from pipeline.sql import columns, identifier

STATEMENT_TABLES = ("retirements", "registry_recognitions")
"""Ledger tables the buyers stage's statement views read (``pipeline/buyers/statement.py``)."""

_TOTALS = """
    count(*) AS project_vintages,
    count(DISTINCT project_id) AS projects,
    sum(issued)::BIGINT AS issued_tonnes,
    sum(available_net)::BIGINT AS available_tonnes,
    sum(risk_adjusted_available)::BIGINT AS risk_adjusted_tonnes
"""

BY_DIMENSION = {
    "inventory_by_activity": "activity",
    "inventory_by_country": "country, country_code",
    "inventory_by_registry": "registry",
    "inventory_by_tier": "quality_tier",
}


def first_failed_reason_sql(conn: duckdb.DuckDBPyConnection, catalog: str, alias: str) -> str:
    """SQL for the first failed reason (a code/criterion/message/source struct) of a quality_scores row: the
    first reason of a failed gate (the engine's codes name their gate: ``G2_STATUS`` for gate ``G2``), else the
    first tier reason (limiting score too low, needs review, watchlist), else the first reason; null when
    eligible."""
    reasons_type = columns(conn, "quality_scores", catalog=catalog).get("reasons", "")
    if not (reasons_type.startswith("STRUCT") and reasons_type.endswith("[]")):
        return "NULL"
    gates = list_expression(conn, "quality_scores", "gates_failed", alias, catalog=catalog)
    return (
        f"CASE WHEN {alias}.is_eligible THEN NULL ELSE coalesce("
        f"list_filter({alias}.reasons, lambda r: list_contains({gates}, split_part(r.code, '_', 1)))[1], "
        f"list_filter({alias}.reasons, lambda r: r.criterion = 'tier')[1], {alias}.reasons[1]) END"
    )


def format_reason_sql(conn: duckdb.DuckDBPyConnection, catalog: str, struct_sql: str) -> str:
    """'<code>: <message> (<citation>; <citation> ...)' for a reason struct of ``catalog``'s quality_scores,
    null-safe. A file published before ``source`` became a list holds it as one string: read either."""
    reasons_type = columns(conn, "quality_scores", catalog=catalog).get("reasons", "").replace('"', "")
    source = f"({struct_sql}).source"
    if "source VARCHAR[]" in reasons_type:
        source = f"array_to_string({source}, '; ')"
    return (
        f"CASE WHEN ({struct_sql}) IS NULL THEN NULL ELSE concat_ws('', ({struct_sql}).code, ': ', "
        f"({struct_sql}).message, ' (', {source}, ')') END"
    )


def create_views(conn: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    """Create the analyst views in ``catalog``; returns their names."""
    created = []
    current = conn.execute("SELECT current_database()").fetchone()[0]
    conn.execute(f"USE {identifier(catalog)}")
    try:
        for view, dimension in BY_DIMENSION.items():
            conn.execute(
                f"CREATE OR REPLACE VIEW {view} AS SELECT {dimension}, {_TOTALS} FROM eligible_inventory "
                f"GROUP BY ALL ORDER BY available_tonnes DESC"
            )
            created.append(view)

        first = first_failed_reason_sql(conn, catalog, "s")
        gates = list_expression(conn, "quality_scores", "gates_failed", "s", catalog=catalog)
        conn.execute(
            f"""
            CREATE OR REPLACE VIEW ineligible_projects AS
            SELECT project_id, registry, vintage, name, country, activity, is_nature_based, protocol, issued,
                   limiting_score, quality_tier, gates_failed, first_failed.code AS first_failed_code,
                   first_failed.criterion AS first_failed_criterion, first_failed.message AS first_failed_reason,
                   first_failed.source AS first_failed_source
            FROM (
                SELECT s.project_id, s.registry, s.vintage, p.name, p.country, s.activity,
                       s.is_nature_based, s.protocol, s.issued,
                       s.limiting_score, s.quality_tier, {gates} AS gates_failed, {first} AS first_failed
                FROM quality_scores AS s LEFT JOIN projects AS p USING (project_id)
                WHERE NOT coalesce(s.is_eligible, false)
            )
            ORDER BY registry, project_id, vintage
            """
        )
        created.append("ineligible_projects")

        conn.execute(
            """
            CREATE OR REPLACE VIEW latest_changes AS
            SELECT c.*, p.name, p.country
            FROM inventory_changes AS c LEFT JOIN projects AS p USING (project_id)
            WHERE c.publish_id = (SELECT max(publish_id) FROM publishes)
            ORDER BY abs(c.tonnes_delta) DESC, c.project_id, c.vintage
            """
        )
        created.append("latest_changes")

        has = {t: "retirement_id" in columns(conn, t, catalog=catalog) for t in STATEMENT_TABLES}
        if all(has.values()):
            conn.execute(buyer_statement_view_sql())
            created += [STATEMENT_VIEW, SUMMARY_VIEW]
    finally:
        conn.execute(f"USE {identifier(current)}")
    return created
