"""``quality_scores`` in the working DuckDB: replaced whole, in one transaction, only after validation.

Most project-vintages share their reasons (a million reasons, about ten thousand distinct at a million credits),
so each distinct reason is stored once, in ``reason_catalog``, and ``quality_scores_compact`` holds each row's
reason ids. ``quality_scores`` is the view analysts query: the compact rows with each id replaced by its reason,
the same columns, types and values as a table holding the reasons themselves.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa

from pipeline.quality.reasons import split_catalog
from pipeline.quality.schemas import SCORE_COLUMNS
from pipeline.sql import relations, transaction

TABLE = "quality_scores"
COMPACT_TABLE = "quality_scores_compact"
CATALOG_TABLE = "reason_catalog"
STORED_TABLES = (COMPACT_TABLE, CATALOG_TABLE)
"""What the ``quality_scores`` view reads: published with it."""

VIEW_SQL = f"""
CREATE OR REPLACE VIEW {TABLE} AS
SELECT s.* REPLACE (list_select(c.reasons, s.reasons) AS reasons)
FROM {COMPACT_TABLE} AS s, (
    SELECT coalesce(list(struct_pack(code, criterion, message, source) ORDER BY reason_id), []) AS reasons
    FROM {CATALOG_TABLE}
) AS c
"""
"""Reason ids are 1, 2, ... in catalog order: an id is its reason's position in the catalog's list."""


def write_quality_scores(conn: duckdb.DuckDBPyConnection, scores: pd.DataFrame) -> int:
    """Replace ``quality_scores`` (its catalog, compact rows and view) with ``scores``; the old ones stay if
    anything fails."""
    incoming = pa.Table.from_pandas(scores, preserve_index=False)
    catalog, ids = split_catalog(incoming["reasons"])
    incoming = incoming.set_column(incoming.schema.get_field_index("reasons"), "reasons", ids)
    casts = ", ".join(f"CAST({c} AS INTEGER) AS {c}" for c in (*SCORE_COLUMNS, "limiting_score"))
    # The engine returns rows by project and vintage already; sorting them again costs time.
    in_order = pd.MultiIndex.from_frame(scores[["project_id", "vintage"]]).is_monotonic_increasing
    order = "" if in_order else " ORDER BY project_id, vintage"
    conn.register("incoming_quality_scores", incoming)
    conn.register("incoming_reason_catalog", catalog)
    try:
        with transaction(conn):
            if relations(conn).get(TABLE) == "TABLE":  # a work DB from before the catalog
                conn.execute(f"DROP TABLE {TABLE}")
            conn.execute(f"CREATE OR REPLACE TABLE {CATALOG_TABLE} AS FROM incoming_reason_catalog")
            conn.execute(
                f"CREATE OR REPLACE TABLE {COMPACT_TABLE} AS SELECT * REPLACE ({casts}, "
                f"CAST(assessed_on AS DATE) AS assessed_on) FROM incoming_quality_scores{order}"
            )
            conn.execute(VIEW_SQL)
    finally:
        conn.unregister("incoming_quality_scores")
        conn.unregister("incoming_reason_catalog")
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
