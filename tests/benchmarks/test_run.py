"""Smoke test: the benchmark harness runs end to end at the smallest scale (no timing assertions)."""

from __future__ import annotations

import pandas as pd
import pytest

from benchmarks.generate import Scale
from benchmarks.run import benchmark

SMOKE = Scale(projects=40, transactions=1_500)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    """One run of make run, the engine and the three floors (the peer needs the package registry: not in the
    test suite)."""
    root = tmp_path_factory.mktemp("bench")
    results_path = root / "RESULTS.md"
    results = benchmark(
        {"smoke": SMOKE},
        runs=1,
        contenders=("make-run", "engine", "duckdb", "pandas", "pyarrow"),
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


def test_the_engine_is_measured_stage_by_stage(outcome):
    measurements, _, _ = outcome
    engine = measurements["engine"]
    assert engine.ok, f"the engine failed under the benchmark harness: {engine.failures}"
    ingest = [n for n in engine.stage_names() if n.startswith("ingest ")]
    assert len(ingest) == 5, f"expected one ingest stage per registry, got {ingest}"
    measured = [n for n in ingest if engine.stage_seconds(n) is not None]
    assert measured, f"no ingest stage ran: {[engine.stage_note(n) for n in ingest]}"
    rows_read = sum(s["rows"] for s in engine.runs[0]["stages"] if s["name"] in measured)
    assert rows_read > 0, "ingest stages ran but report no rows read"


def test_make_run_is_measured_as_the_whole_command_and_publishes_what_the_engine_builds(outcome):
    measurements, _, _ = outcome
    make_run = measurements["make-run"]
    assert make_run.ok, f"python -m assets.run failed under the benchmark harness: {make_run.failures}"
    (stage,) = make_run.runs[0]["stages"]
    assert stage["name"] == "make run", f"make-run must be one whole-process stage, got {stage['name']!r}"
    assert stage["seconds"] > 0 and stage["cpu_seconds"] > 0 and stage["peak_mib"] > 0, (
        f"the child's wall time, CPU and peak memory must all be measured: {stage}"
    )
    (warehouse,) = [s for s in measurements["engine"].runs[0]["stages"] if s["name"] == "warehouse"]
    assert stage["rows"] == warehouse["rows"], (
        f"make run published {stage['rows']} credits + projects, the engine built {warehouse['rows']}"
    )
    parts = make_run.runs[0]["parts"]
    assert parts["runs"] >= 2, f"make run recorded {parts['runs']} Dagster runs (registries, then downstream)"
    split = ("start-up", "steps", "around the steps", "summary and exit")
    assert all(parts[name] >= 0 for name in split), f"the wall time split by run records is inconsistent: {parts}"
    steps = make_run.step_names()
    assert {"registry_tables", "quality_scores", "published_inventory"} <= set(steps), (
        f"the Dagster steps of make run must be reported from its run records: {steps}"
    )


def test_results_file_has_the_tables_and_the_targets(outcome):
    _, results_path, _ = outcome
    text = results_path.read_text()
    sections = ("## Whole run per contender", "## Engine stages", "## Targets (issue 16)")
    for needle in ("| cores |", "| memory |", *sections):
        assert needle in text, f"RESULTS.md lacks {needle!r}"
    for contender in ("make-run", "engine", "duckdb", "pandas", "pyarrow"):
        assert f"| smoke | {contender} |" in text, f"RESULTS.md has no row for {contender}"
    assert "| make-run / this | engine / this |" in text, "the ratio columns of make run and the engine are missing"
    (duckdb_row,) = [line for line in text.splitlines() if line.startswith("| smoke | duckdb |")]
    make_run_ratio, engine_ratio = duckdb_row.strip(" |").split(" | ")[-2:]
    assert make_run_ratio.endswith("x") and engine_ratio.endswith("x"), (
        f"the duckdb row must show make-run / duckdb and engine / duckdb: {duckdb_row}"
    )
    (target,) = [line for line in text.splitlines() if "DuckDB's bare read |" in line]
    assert target.count("met") == 2, f"the DuckDB target must be assessed for make-run and the engine: {target}"
