"""Per-buyer statements: what was retired for each buyer, from which projects, at which quality.

The statement is a view over the ledger tables (``retirements`` and ``registry_recognitions``), so it works
both in the ledger DB and in the published analyst file once those tables are copied there; and an export,
one CSV per buyer.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.buyers.ledger import RECOGNITIONS, RETIREMENTS
from pipeline.csv_files import write_csv

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
                f"SELECT * FROM {STATEMENT_VIEW} WHERE buyer_id = $buyer ORDER BY {STATEMENT_ORDER}",
                out_dir / _file_name(buyer_id),
                params={"buyer": buyer_id},
                timestamp_format="%Y-%m-%dT%H:%M:%S",
            )
    return written
