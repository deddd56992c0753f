"""``make run``'s entry point: runs of the named jobs in the Dagster instance, and failures told in full."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets import run
from assets.definitions import defs
from pipeline.registries import REGISTRY_KEYS
from pipeline.settings import REPO_ROOT
from tests.conftest import BUNDLED_RAW


@pytest.mark.slow
def test_make_run_records_re_executable_runs_of_the_named_jobs(tmp_path: Path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    shutil.copytree(BUNDLED_RAW, tmp_path / "raw")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("CREDIT_QUALITY_RAW_DIR", str(tmp_path / "raw"))
    monkeypatch.setenv("CREDIT_QUALITY_CURATED_DB", str(tmp_path / "curated" / "inventory.duckdb"))

    assert run.main([]) == 0, "make run failed on the bundled data"

    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
    jobs = Counter(r.job_name for r in runs)
    assert jobs == {"registry_refresh": len(REGISTRY_KEYS), "inventory_refresh": 1}, (
        f"make run must launch the named jobs (one registry_refresh per registry, one inventory_refresh), "
        f"the instance holds {dict(jobs)}"
    )
    partitions = sorted(r.tags.get("dagster/partition") for r in runs if r.job_name == "registry_refresh")
    assert partitions == sorted(REGISTRY_KEYS), f"registry runs by partition: {partitions}"
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), [(r.job_name, r.status) for r in runs]
    for name in jobs:
        assert defs.resolve_job_def(name), f"{name} is not a job of the code location: the UI cannot re-execute it"
    assert (tmp_path / "curated" / "inventory.duckdb").exists(), "make run published nothing"


def test_a_failed_step_is_reported_with_its_whole_message_and_where_it_was_raised():
    @dg.asset
    def broken_query() -> None:
        """Runs a query with a syntax error."""
        duckdb.connect().execute("SELEC 1")

    result = dg.materialize([broken_query], raise_on_error=False)
    message = run._failure(result)

    assert "Parser Error" in message and "LINE 1: SELEC 1" in message, f"the DuckDB message was cut: {message!r}"
    query, caret = message.splitlines()[-3:-1]
    assert set(caret.strip()) == {"^"} and query[caret.index("^") :].startswith("SELEC"), (
        f"the caret line must stay under the error in the query: {message!r}"
    )
    assert "tests/pipeline_run/test_run.py:" in message and "broken_query" in message, (
        f"the failure must name the file, line and function that raised it: {message!r}"
    )
