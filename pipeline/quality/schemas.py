"""The ``quality_scores`` contract: one row per issued project-vintage, validated by pandera before it is
written, plus the trail checks the asset runs on the stored table."""

from __future__ import annotations

import duckdb
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from pipeline.ingest.schemas import PROJECT_ID_PATTERN, str_matches_distinct, text
from pipeline.ingest.supply import SOURCES
from pipeline.quality.tiers import TIERS
from pipeline.registries import REGISTRY_KEYS

SCORE_COLUMNS = ("additionality_score", "permanence_score", "leakage_score", "over_crediting_score")
CRITERION_OF_SCORE = {
    "additionality_score": "additionality",
    "permanence_score": "permanence",
    "leakage_score": "leakage",
    "over_crediting_score": "over_crediting",
}
STRING_COLUMNS = (
    "project_id", "registry", "activity", "protocol", "quality_tier", "corsia_phase", "policy_version", "source",
)  # fmt: skip
"""Declared ``string[pyarrow]`` (as the ingest contract's text): pandera checks the dtype once instead of ``isinstance``
on every value, and the scores reach DuckDB through Arrow without a copy of each string."""


class QualityScoresSchema(pa.DataFrameModel):
    """One scored project-vintage (table ``quality_scores``). ``gates_failed``, ``reasons`` (list of
    ``{code, criterion, message, source}``, ``source`` a list of citations) and ``co_benefit_labels`` are list
    columns."""

    project_id: Series[pd.StringDtype] = text()
    registry: Series[pd.StringDtype] = text(isin=REGISTRY_KEYS)
    vintage: Series[int] = pa.Field(ge=1990, le=2100)
    activity: Series[pd.StringDtype] = text(nullable=True)
    protocol: Series[pd.StringDtype] = text(nullable=True)
    additionality_score: Series[int] = pa.Field(ge=1, le=5)
    permanence_score: Series[int] = pa.Field(ge=1, le=5)
    leakage_score: Series[int] = pa.Field(ge=1, le=5)
    over_crediting_score: Series[int] = pa.Field(ge=1, le=5)
    limiting_score: Series[int] = pa.Field(ge=1, le=5)
    quality_tier: Series[pd.StringDtype] = text(isin=TIERS)
    is_eligible: Series[bool]
    haircut_pct: Series[float] = pa.Field(ge=0, le=100)
    issued: Series[int] = pa.Field(ge=0)
    risk_adjusted_issued: Series[int] = pa.Field(ge=0)
    sensitivity_haircut_pct: Series[float] = pa.Field(ge=0, le=100)
    sensitivity_adjusted_issued: Series[int] = pa.Field(ge=0)
    buffer_pct_observed: Series[float] = pa.Field(nullable=True, ge=0, le=100)
    ccp_label: Series[bool]
    corsia_phase: Series[pd.StringDtype] = text(nullable=True, isin=["pilot", "first", "pilot;first"])
    corresponding_adjustment: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    policy_version: Series[pd.StringDtype] = text()
    source: Series[pd.StringDtype] = text(isin=SOURCES)
    """Where the project-vintage's credits come from (``pipeline/ingest/supply.py``): a registry export or Berkeley's
    VROD."""
    supplied: Series[bool]
    """False for a VROD vintage whose credits the project's registry export supplies under other vintage years."""

    class Config:
        strict = False
        coerce = False

    @pa.check("project_id", name="str_matches_project_id_pattern")
    def project_id_format(cls, ids: Series[str]) -> Series[bool]:
        return str_matches_distinct(ids, pattern=PROJECT_ID_PATTERN)

    # ignore_na=False: these checks yield no missing value, and pandera's NA pass-through would scan every column.
    @pa.dataframe_check(ignore_na=False)
    def one_row_per_project_vintage(cls, df: pd.DataFrame) -> Series[bool]:
        return ~df.duplicated(["project_id", "vintage"], keep=False)

    @pa.dataframe_check(ignore_na=False)
    def limiting_is_min_of_core_scores(cls, df: pd.DataFrame) -> Series[bool]:
        core = df[["additionality_score", "permanence_score", "leakage_score"]].min(axis=1)
        return df["limiting_score"] == core

    @pa.dataframe_check(ignore_na=False)
    def risk_adjusted_never_exceeds_issued(cls, df: pd.DataFrame) -> Series[bool]:
        return df["risk_adjusted_issued"] <= df["issued"]

    @pa.dataframe_check(ignore_na=False)
    def eligible_rows_pass_every_gate(cls, df: pd.DataFrame) -> Series[bool]:
        return ~df["is_eligible"] | (df["gates_failed"].list.len() == 0)


def unexplained_scores(conn: duckdb.DuckDBPyConnection, table: str = "quality_scores") -> pd.DataFrame:
    """Scores below 5 without a reason of their criterion (should be empty)."""
    branches = " UNION ALL ".join(
        f"""SELECT project_id, vintage, '{column}' AS score, {column} AS value FROM {table}
            WHERE {column} < 5 AND len(list_filter(reasons, lambda r: r.criterion = '{criterion}')) = 0"""
        for column, criterion in CRITERION_OF_SCORE.items()
    )
    return conn.sql(branches + " ORDER BY project_id, vintage, score").df()


def unjustified_ineligible(
    conn: duckdb.DuckDBPyConnection, eligible_min_score: int, table: str = "quality_scores"
) -> pd.DataFrame:
    """Ineligible rows with neither a failed gate nor a core score below the eligibility threshold."""
    return conn.sql(
        f"""SELECT project_id, vintage, quality_tier, limiting_score, gates_failed FROM {table}
            WHERE quality_tier = 'ineligible' AND len(gates_failed) = 0 AND limiting_score >= {int(eligible_min_score)}
            ORDER BY project_id, vintage"""
    ).df()
