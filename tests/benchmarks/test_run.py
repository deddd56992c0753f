"""Smoke test: the benchmark harness runs end to end at the smallest scale (no timing assertions)."""

from __future__ import annotations

import pandas as pd
import pytest

from benchmarks.generate import Scale
from benchmarks.run import benchmark

SMOKE = Scale(projects=40, transactions=1_500)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    """One run of ours and the three floors (the peer needs the package registry: not in the test suite)."""
    root = tmp_path_factory.mktemp("bench")
    results_path = root / "RESULTS.md"
    results = benchmark(
        {"smoke": SMOKE},
        runs=1,
        contenders=("ours", "duckdb", "pandas", "pyarrow"),
        install_peer=False,
        data_dir=root / "data",
        results_path=results_path,
    )
    return results["smoke"], results_path, root / "data" / SMOKE.name


def test_floors_read_every_record_of_every_file(outcome):
    measurements, _, raw_dir = outcome
    expected = sum(len(pd.read_csv(path, dtype=str)) for path in raw_dir.rglob("*.csv"))
    for floor in ("duckdb", "pandas", "pyarrow"):
        m = measurements[floor]
        assert m.ok, f"{floor} floor failed: {m.failures}"
        rows = sum(stage["rows"] for stage in m.runs[0]["stages"])
        assert rows == expected, f"{floor} read {rows} records, the files hold {expected}"


def test_our_pipeline_is_measured_stage_by_stage(outcome):
    measurements, _, _ = outcome
    ours = measurements["ours"]
    assert ours.ok, f"our pipeline failed under the benchmark harness: {ours.failures}"
    ingest = [n for n in ours.stage_names() if n.startswith("ingest ")]
    assert len(ingest) == 5, f"expected one ingest stage per registry, got {ingest}"
    measured = [n for n in ingest if ours.stage_seconds(n) is not None]
    assert measured, f"no ingest stage ran: {[ours.stage_note(n) for n in ingest]}"
    rows_read = sum(s["rows"] for s in ours.runs[0]["stages"] if s["name"] in measured)
    assert rows_read > 0, "ingest stages ran but report no rows read"


def test_results_file_has_the_tables_and_the_targets(outcome):
    _, results_path, _ = outcome
    text = results_path.read_text()
    for needle in ("| cores |", "| memory |", "## Whole run per contender", "## Our stages", "## Targets"):
        assert needle in text, f"RESULTS.md lacks {needle!r}"
    for contender in ("ours", "duckdb", "pandas", "pyarrow"):
        assert f"| smoke | {contender}" in text, f"RESULTS.md has no row for {contender}"
