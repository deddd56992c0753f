"""Statements: what was retired for each buyer, from which projects, at which quality.

The per-buyer statement is a view over the ledger tables (``retirements`` and ``registry_recognitions``), so
it works both in the ledger DB and in the published analyst file once those tables are copied there; and an
export, one CSV per buyer. The retirement statement is the document a buyer keeps, one per executed order
(HTML and CSV): buyer, beneficiary, each project-vintage and its tonnes, the registry's serial numbers and
transaction date once the registry export shows the retirement (else our reference, to find it there), the
quality tier, scores and policy versions at retirement, and the registry page to verify it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.atomic import replace_file
from pipeline.buyers.ledger import RECOGNITIONS, RETIREMENTS
from pipeline.csv_files import write_csv
from pipeline.registries import project_page_sql
from pipeline.rendering import environment
from pipeline.sql import columns

STATEMENT_VIEW = "buyer_statements"
SUMMARY_VIEW = "buyer_statement_summary"
STATEMENT_ORDER = "buyer_id, retired_at, order_id, project_id, vintage"


def buyer_statement_view_sql(temporary: bool = False) -> str:
    """``CREATE OR REPLACE VIEW buyer_statements ...; ... buyer_statement_summary``: run it on a database holding
    the ``retirements`` and ``registry_recognitions`` tables (``temporary`` for a read-only connection)."""
    kind = "TEMP VIEW" if temporary else "VIEW"
    return f"""
    CREATE OR REPLACE {kind} {STATEMENT_VIEW} AS
    SELECT r.buyer_id, r.beneficiary AS buyer_name, r.order_id, r.retirement_id, r.retired_at,
           r.project_id, r.registry, r.vintage, r.activity, r.country_code, r.tonnes,
           r.quality_tier, r.additionality_score, r.permanence_score, r.leakage_score,
           r.over_crediting_score, r.limiting_score, r.scores_policy_version, r.policy_version,
           CASE WHEN g.retirement_id IS NULL THEN 'pending in registry' ELSE 'shown in registry' END
               AS registry_status,
           g.registry_transaction_date, g.matched_by AS registry_matched_by
    FROM {RETIREMENTS} AS r LEFT JOIN {RECOGNITIONS} AS g USING (retirement_id);

    CREATE OR REPLACE {kind} {SUMMARY_VIEW} AS
    SELECT buyer_id, any_value(buyer_name ORDER BY retired_at DESC) AS buyer_name,
           sum(tonnes)::BIGINT AS tonnes_retired,
           count(DISTINCT order_id) AS orders,
           count(DISTINCT project_id) AS projects,
           coalesce(sum(tonnes) FILTER (quality_tier = 'high'), 0)::BIGINT AS tonnes_high_tier,
           round(sum(limiting_score * tonnes) / sum(tonnes), 2) AS tonne_weighted_limiting_score,
           coalesce(sum(tonnes) FILTER (registry_status = 'pending in registry'), 0)::BIGINT
               AS tonnes_pending_in_registry,
           min(retired_at) AS first_retired_at, max(retired_at) AS last_retired_at
    FROM {STATEMENT_VIEW}
    GROUP BY buyer_id;
    """


def buyer_statements(ledger_db_path: Path, buyer_id: str | None = None) -> pd.DataFrame:
    """The statement rows (one per retirement) for one buyer, or all buyers, from the ledger (read-only)."""
    path = Path(ledger_db_path)
    if not path.exists():
        return pd.DataFrame()
    with duckdb.connect(str(path), read_only=True) as conn:
        conn.execute(buyer_statement_view_sql(temporary=True))
        where = "WHERE buyer_id = ?" if buyer_id is not None else ""
        return conn.execute(
            f"SELECT * FROM {STATEMENT_VIEW} {where} ORDER BY {STATEMENT_ORDER}",
            [buyer_id] if buyer_id is not None else [],
        ).df()


def _file_name(buyer_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", buyer_id) + ".csv"


def write_buyer_statements(ledger_db_path: Path, out_dir: Path) -> dict[str, Path]:
    """Write ``<buyer_id>.csv`` per buyer with retirements into ``out_dir`` with
    :func:`pipeline.csv_files.write_csv` (replaced atomically, text cells never evaluated as spreadsheet
    formulas). Returns buyer_id -> path."""
    path, out_dir = Path(ledger_db_path), Path(out_dir)
    if not path.exists():
        return {}
    written = {}
    with duckdb.connect(str(path), read_only=True) as conn:
        conn.execute(buyer_statement_view_sql(temporary=True))
        buyers = [b for (b,) in conn.execute(f"SELECT DISTINCT buyer_id FROM {STATEMENT_VIEW} ORDER BY 1").fetchall()]
        for buyer_id in buyers:
            out_dir.mkdir(parents=True, exist_ok=True)
            written[buyer_id] = write_csv(
                conn,
                f"SELECT * FROM {STATEMENT_VIEW} WHERE buyer_id = $buyer",
                out_dir / _file_name(buyer_id),
                params={"buyer": buyer_id},
                timestamp_format="%Y-%m-%dT%H:%M:%S",
                order_by=STATEMENT_ORDER,
            )
    return written


ORDER_STATEMENT_COLUMNS = (
    "order_id", "buyer_id", "beneficiary", "retirement_id", "retired_at", "project_id", "project_name", "registry",
    "country_code", "activity", "vintage", "tonnes", "quality_tier", "additionality_score", "permanence_score",
    "leakage_score", "over_crediting_score", "limiting_score", "scores_policy_version", "policy_version",
    "registry_status", "registry_transaction_date", "registry_serial_numbers", "registry_matched_by",
    "verification_url",
)  # fmt: skip
"""The columns of a retirement statement's CSV, one row per project-vintage retired for the order."""


def order_statement_sql(conn: duckdb.DuckDBPyConnection, ledger: str) -> str:
    """One row per retirement of every executed order, from the ledger attached as ``ledger`` on ``conn`` (the
    work DB): the registry's serial numbers come from the ``credits`` row the recognition matched, the project
    name from ``projects`` (when the work DB has them)."""
    credits = "serial_number" in columns(conn, "credits")
    projects = "name" in columns(conn, "projects")
    serials = "c.serial_number" if credits else "NULL::VARCHAR"
    return f"""
    SELECT r.order_id, r.buyer_id, r.beneficiary, r.retirement_id, r.retired_at, r.project_id,
           {"p.name" if projects else "NULL::VARCHAR"} AS project_name, r.registry, r.country_code, r.activity,
           r.vintage, r.tonnes, r.quality_tier, r.additionality_score, r.permanence_score, r.leakage_score,
           r.over_crediting_score, r.limiting_score, r.scores_policy_version, r.policy_version,
           CASE WHEN g.retirement_id IS NULL THEN 'pending in registry' ELSE 'shown in registry' END
               AS registry_status,
           g.registry_transaction_date, {serials} AS registry_serial_numbers, g.matched_by AS registry_matched_by,
           {project_page_sql("r.registry", "r.project_id")} AS verification_url
    FROM {ledger}.main.{RETIREMENTS} AS r
    LEFT JOIN {ledger}.main.{RECOGNITIONS} AS g USING (retirement_id)
    {
        "LEFT JOIN credits AS c ON c.source_file = g.registry_source_file AND c.source_line = g.registry_source_line"
        if credits
        else ""
    }
    {"LEFT JOIN projects AS p ON p.project_id = r.project_id" if projects else ""}
    ORDER BY r.order_id, r.project_id, r.vintage
    """


def order_statements(work_conn: duckdb.DuckDBPyConnection, ledger_db_path: Path) -> pd.DataFrame:
    """The retirement statement rows of every executed order (empty without a ledger)."""
    path = Path(ledger_db_path)
    if not path.exists():
        return pd.DataFrame(columns=list(ORDER_STATEMENT_COLUMNS))
    work_conn.execute("ATTACH ? AS statement_ledger (READ_ONLY)", [str(path)])
    try:
        if "retirement_id" not in columns(work_conn, RETIREMENTS, catalog="statement_ledger"):
            return pd.DataFrame(columns=list(ORDER_STATEMENT_COLUMNS))
        return work_conn.execute(order_statement_sql(work_conn, "statement_ledger")).df()
    finally:
        work_conn.execute("DETACH statement_ledger")


def render_order_statement(lines: pd.DataFrame, generated_at: datetime) -> str:
    """One executed order's retirement statement as a self-contained HTML page."""
    first = lines.iloc[0]
    return (
        environment()
        .get_template("statement.html.j2")
        .render(
            order=first, lines=lines.to_dict("records"), tonnes=int(lines["tonnes"].sum()), generated_at=generated_at
        )
    )


def write_order_statements(
    work_conn: duckdb.DuckDBPyConnection, ledger_db_path: Path, out_dir: Path, now: datetime | None = None
) -> dict[str, tuple[Path, Path]]:
    """Write ``<order_id>.html`` and ``<order_id>.csv`` per executed order into ``out_dir`` (each replaced
    atomically); returns order_id -> (html, csv)."""
    statements = order_statements(work_conn, ledger_db_path)
    if statements.empty:
        return {}
    now = now or datetime.now(UTC)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for order_id, lines in statements.groupby("order_id", sort=True):
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", order_id)
        page, table = out_dir / f"{stem}.html", out_dir / f"{stem}.csv"
        html = render_order_statement(lines, now)
        replace_file(page, lambda p, html=html: p.write_text(html, encoding="utf-8"))
        work_conn.register("statement_rows", lines[list(ORDER_STATEMENT_COLUMNS)])
        try:
            write_csv(work_conn, "SELECT * FROM statement_rows", table, timestamp_format="%Y-%m-%dT%H:%M:%S")
        finally:
            work_conn.unregister("statement_rows")
        written[order_id] = (page, table)
    return written
