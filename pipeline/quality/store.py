"""``quality_scores`` in the working DuckDB: replaced whole, in one transaction, only after validation."""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa

from pipeline.quality.schemas import SCORE_COLUMNS

TABLE = "quality_scores"


def write_quality_scores(conn: duckdb.DuckDBPyConnection, scores: pd.DataFrame, table: str = TABLE) -> int:
    """Replace ``table`` with ``scores`` (reasons as ``STRUCT(code, criterion, message, source)[]``); the old
    table stays if anything fails."""
    incoming = pa.Table.from_pandas(scores, preserve_index=False)
    casts = ", ".join(f"CAST({c} AS INTEGER) AS {c}" for c in (*SCORE_COLUMNS, "limiting_score"))
    # The engine returns rows by project and vintage already; sorting a million reasons again costs seconds.
    in_order = pd.MultiIndex.from_frame(scores[["project_id", "vintage"]]).is_monotonic_increasing
    order = "" if in_order else " ORDER BY project_id, vintage"
    conn.register("incoming_quality_scores", incoming)
    # The reasons are most of the table's bytes and each writer thread holds a whole row group of them: one
    # writer keeps the peak at one row group (about 300 MB less at a million credits) for the same time.
    threads = conn.execute("SELECT current_setting('threads')").fetchone()[0]
    conn.execute("SET threads = 1")
    try:
        conn.execute("BEGIN TRANSACTION")
        conn.execute(
            f"CREATE OR REPLACE TABLE {table} AS SELECT * REPLACE ({casts}, CAST(assessed_on AS DATE) AS assessed_on)"
            f" FROM incoming_quality_scores{order}"
        )
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute(f"SET threads = {int(threads)}")
        conn.unregister("incoming_quality_scores")
    return len(scores)


def tier_distribution(conn: duckdb.DuckDBPyConnection, table: str = TABLE) -> pd.DataFrame:
    """Project-vintages per registry and activity (non-nature-based as ``other``) and tier, with eligible tonnes."""
    return conn.sql(
        f"""SELECT registry, coalesce(activity, 'other') AS activity,
                   count(*) FILTER (quality_tier = 'high') AS high,
                   count(*) FILTER (quality_tier = 'eligible') AS eligible,
                   count(*) FILTER (quality_tier = 'watchlist') AS watchlist,
                   count(*) FILTER (quality_tier = 'ineligible') AS ineligible,
                   coalesce(sum(issued) FILTER (is_eligible), 0)::BIGINT AS eligible_issued
            FROM {table} GROUP BY ALL ORDER BY registry, activity"""
    ).df()


def top_reasons(conn: duckdb.DuckDBPyConnection, limit: int = 15, table: str = TABLE) -> pd.DataFrame:
    """The most frequent reason codes among ineligible project-vintages."""
    return conn.sql(
        f"""SELECT r.code, r.criterion, count(*) AS project_vintages
            FROM (SELECT unnest(reasons) AS r FROM {table} WHERE quality_tier = 'ineligible')
            GROUP BY ALL ORDER BY project_vintages DESC, r.code LIMIT {int(limit)}"""
    ).df()
