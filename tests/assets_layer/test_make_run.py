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

TABLE_ASSETS = {
    "projects": "projects",
    "credits": "credits",
    "rejected_rows": "rejected_rows",
    "load_audit": "load_audit",
    "quality_scores": "quality_scores",
    "eligible_inventory": "eligible_inventory",
    "buyer_eligibility": "buyer_eligibility",
    "order_allocations": "order_allocations",
    "retirement_ledger": "retirements",
}
"""Each asset that is one table or view, and the relation it is (published under the same name)."""


@pytest.fixture(scope="module")
def make_run(tmp_path_factory) -> Path:
    """``make run``'s entry point on a copy of the bundled data, with its own DAGSTER_HOME; returns the root."""
    root = tmp_path_factory.mktemp("make_run")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    shutil.copytree(BUNDLED_RAW, root / "raw")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAGSTER_HOME", str(home))
        env.setenv("CREDIT_QUALITY_RAW_DIR", str(root / "raw"))
        env.setenv("CREDIT_QUALITY_CURATED_DB", str(root / "curated" / "inventory.duckdb"))
        assert run.main([]) == 0, "make run failed on the bundled data"
    return root


@pytest.fixture(scope="module")
def instance(make_run: Path):
    with dg.DagsterInstance.from_config(str(make_run / "dagster_home")) as instance:
        yield instance


@pytest.mark.slow
def test_make_run_records_re_executable_runs_of_the_named_jobs(instance, make_run):
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
    locations = {r.remote_job_origin.location_name if r.remote_job_origin else None for r in runs}
    assert locations == {"credit_quality"}, (
        f"every run must carry its job's origin in the workspace.yaml code location (the UI re-executes from it; "
        f"tests/assets_layer/test_ui.py re-executes one): {locations}"
    )
    assert (make_run / "curated" / "inventory.duckdb").exists(), "make run published nothing"


@pytest.mark.slow
def test_table_assets_carry_their_column_schema_and_table_name(instance, make_run):
    with duckdb.connect(str(make_run / "curated" / "inventory.duckdb"), read_only=True) as published:
        columns = published.execute(
            "SELECT table_name, list(column_name ORDER BY column_index) FROM duckdb_columns() "
            "WHERE schema_name = 'main' GROUP BY table_name"
        ).fetchall()
    published_columns = dict(columns)
    for asset, table in TABLE_ASSETS.items():
        event = instance.get_latest_materialization_event(dg.AssetKey(asset))
        assert event is not None, f"{asset} was not materialized"
        metadata = event.asset_materialization.metadata
        schema = metadata.get("dagster/column_schema")
        assert schema is not None, f"{asset}: no dagster/column_schema metadata"
        schema_columns = [c.name for c in schema.value.columns]
        assert schema_columns == published_columns[table], (
            f"{asset}: the column schema must list the columns of {table} as published: {schema_columns}"
        )
        undescribed = [c.name for c in schema.value.columns if not c.description]
        assert not undescribed, f"{asset}: columns without a data-dictionary description: {undescribed}"
        assert all(c.type for c in schema.value.columns), f"{asset}: columns without a type"
        assert metadata["dagster/table_name"].value.endswith(f".main.{table}"), metadata["dagster/table_name"]


@pytest.mark.slow
def test_the_unknown_project_warning_reports_a_count_the_ui_can_plot(instance):
    (downstream,) = instance.get_runs(filters=dg.RunsFilter(job_name="inventory_refresh"))
    evaluations = [
        event.dagster_event.event_specific_data
        for event in instance.all_logs(downstream.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    ]
    (unknown,) = [e for e in evaluations if e.check_name == "credits_with_unknown_project"]
    assert not unknown.passed, "the bundled ACR/CAR samples hold transactions of unlisted projects"
    count = unknown.metadata.get("transactions_with_unknown_project")
    assert isinstance(count, dg.IntMetadataValue) and count.value > 0, f"no numeric count: {unknown.metadata}"


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
    assert "tests/assets_layer/test_make_run.py:" in message and "broken_query" in message, (
        f"the failure must name the file, line and function that raised it: {message!r}"
    )
