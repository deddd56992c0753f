"""Per-buyer statements: what was retired for each buyer, from which projects, at which quality.

The statement is a view over the ledger tables (``retirements`` and ``registry_recognitions``), so it works
both in the ledger DB and in the published analyst file once those tables are copied there; and an export,
one CSV per buyer.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.buyers.ledger import RECOGNITIONS, RETIREMENTS

STATEMENT_VIEW = "buyer_statements"
SUMMARY_VIEW = "buyer_statement_summary"


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
            f"SELECT * FROM {STATEMENT_VIEW} {where} ORDER BY buyer_id, retired_at, order_id, project_id, vintage",
            [buyer_id] if buyer_id is not None else [],
        ).df()


def _file_name(buyer_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", buyer_id) + ".csv"


def write_buyer_statements(ledger_db_path: Path, out_dir: Path) -> dict[str, Path]:
    """Write ``<buyer_id>.csv`` per buyer with retirements into ``out_dir``; each file is replaced atomically,
    so a reader sees the old statement or the new one, never half of one. Returns buyer_id -> path."""
    out_dir = Path(out_dir)
    statements = buyer_statements(ledger_db_path)
    if statements.empty:
        return {}
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for buyer_id, rows in statements.groupby("buyer_id", sort=True):
        target = out_dir / _file_name(buyer_id)
        partial = target.with_suffix(".csv.partial")
        rows.to_csv(partial, index=False, date_format="%Y-%m-%dT%H:%M:%S")
        os.replace(partial, target)
        written[buyer_id] = target
    return written
