"""The engine's output on the bundled real exports equals a saved run, value for value: every score, tier, gate,
badge, tonnage and every reason's code, criterion, message and source, in order. The saved run was produced by
the row-wise pandas engine before the scoring was moved to DuckDB aggregation and Arrow reason rendering, so
this pins that restructuring (and any later one) to the rubric's exact behaviour. After an intended rubric,
reference-table or policy-default change, rewrite it with ``python -m tests.quality.golden.regenerate``."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.quality.engine import score_project_vintages, score_warehouse
from pipeline.quality.reference import load_reference
from pipeline.settings import REPO_ROOT
from tests.quality.builders import POLICY_VERSION, policy
from tests.quality.golden.regenerate import CREDITS, PROJECTS, SCORES


@pytest.fixture(scope="module")
def saved() -> pd.DataFrame:
    return pq.read_table(SCORES).to_pandas(ignore_metadata=True)  # list columns as plain Python values


@pytest.fixture(scope="module")
def reference():
    return load_reference(REPO_ROOT / "data" / "reference")


LIST_COLUMNS = ("gates_failed", "reasons", "co_benefit_labels")


def plain(value):
    """Nested lists as Python lists (a reason's ``source`` list reads back from Parquet as a numpy array)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(v) for v in value]
    return value


def same(saved_value, value, is_list: bool) -> bool:
    if is_list:
        return plain(saved_value) == plain(value)
    return saved_value == value or (pd.isna(saved_value) and pd.isna(value))


def assert_same_scores(saved: pd.DataFrame, scored: pd.DataFrame) -> None:
    assert list(scored.columns) == list(saved.columns), "the output columns (or their order) changed"
    assert len(scored) == len(saved), f"{len(scored)} project-vintages scored, the saved run has {len(saved)}"
    for column in saved.columns:
        expected, got = saved[column].tolist(), scored[column].tolist()
        pairs = zip(expected, got, strict=True)
        differing = [i for i, pair in enumerate(pairs) if not same(*pair, column in LIST_COLUMNS)]
        assert not differing, (
            f"{column} differs from the saved run on {len(differing)} project-vintage(s); first: "
            f"{saved.loc[differing[0], ['project_id', 'vintage']].tolist()} saved {expected[differing[0]]!r}, "
            f"now {got[differing[0]]!r}"
        )


def test_frames_engine_reproduces_the_saved_run(saved, reference):
    scored = score_project_vintages(
        pd.read_parquet(PROJECTS), pd.read_parquet(CREDITS), reference, policy(), POLICY_VERSION
    )
    assert_same_scores(saved, scored)


def test_work_db_engine_reproduces_the_saved_run(saved, reference, tmp_path):
    """The asset's path: credits and projects as tables of a DuckDB file, aggregated there."""
    with duckdb.connect(str(tmp_path / "work.duckdb")) as conn:
        conn.execute(f"CREATE TABLE credits AS SELECT * FROM read_parquet('{CREDITS}')")
        conn.execute(f"CREATE TABLE projects AS SELECT * FROM read_parquet('{PROJECTS}')")
        scored = score_warehouse(conn, reference, policy(), POLICY_VERSION)
    assert_same_scores(saved, scored)


def test_saved_run_exercises_the_rubric(saved):
    """The comparison means something only if the saved run covers gates, low scores and eligible rows."""
    codes = {reason["code"] for reasons in saved["reasons"] for reason in reasons}
    assert saved["is_eligible"].any() and (~saved["is_eligible"]).any(), "saved run lacks eligible or ineligible rows"
    assert {"G5_VINTAGE", "G7_NOT_NATURE_BASED", "TIER_LIMITING_SCORE"} <= codes, f"saved run reasons: {sorted(codes)}"
    assert len(codes) >= 15, f"only {len(codes)} distinct reason codes in the saved run"
