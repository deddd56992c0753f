"""The Dagster layer: real materializations of the inventory, publish and export assets and their checks."""

from __future__ import annotations

import datetime as dt
import hashlib

import dagster as dg
import duckdb

from assets.publish import (
    DICTIONARY_CHECK,
    RECONCILIATION_CHECK,
    REJECTED_SHARE_CHECK,
    SHRUNK_FILE_CHECK,
    TONNES_REMOVED_CHECK,
    available_reconciles_with_credits,
    eligible_inventory,
    inventory_exports,
    published_inventory,
)
from assets.resources import PipelineSettings
from tests.publish.conftest import append_ledger
from tests.publish.scenario import first_snapshot, second_snapshot

ASSETS = [eligible_inventory, available_reconciles_with_credits, published_inventory, inventory_exports]


def materialize(settings, selection=None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        ASSETS, selection=selection, resources={"settings": settings}, raise_on_error=False
    )  # fmt: skip


def evaluations(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_inventory_publish_and_exports_materialize_with_passing_checks(settings):
    first_snapshot().write(settings.paths.work_db)
    result = materialize(settings)
    assert result.success, "the inventory, publish and export assets must materialize"
    checks = evaluations(result)
    assert {name: e.passed for name, e in checks.items()} == {
        RECONCILIATION_CHECK: True,
        TONNES_REMOVED_CHECK: True,
        REJECTED_SHARE_CHECK: True,
        SHRUNK_FILE_CHECK: True,
        DICTIONARY_CHECK: True,
    }
    published = result.asset_materializations_for_node("published_inventory")[0].metadata
    assert published["publish_id"].value == 1 and published["as_of"].value == "2026-04-14"
    assert published["available_tonnes"].value == 9_038_519 + 58_985 + 4_933 + 2_563
    assert "ART102" in published["biggest_changes"].value, "the change table names the projects"
    paths = settings.paths
    assert (paths.curated_dir / "eligible_inventory.parquet").exists() and (
        paths.curated_dir / "eligible_inventory.csv"
    ).exists(), "inventory_exports writes Parquet and CSV next to the database"


def test_alerts_surface_as_failed_warning_checks_with_details(settings):
    first_snapshot().write(settings.paths.work_db)
    assert materialize(settings).success
    second_snapshot().write(settings.paths.work_db)
    result = materialize(settings)
    assert result.success, "alerts warn, they never fail the run"
    jump = evaluations(result)[REJECTED_SHARE_CHECK]
    assert not jump.passed and jump.severity == dg.AssetCheckSeverity.WARN
    assert "climate-action-reserve" in jump.metadata["details"].value, "the check names the registry"


def test_reconciliation_check_fails_loudly_on_a_hand_broken_inventory(settings):
    first_snapshot().write(settings.paths.work_db)
    assert materialize(settings).success
    with duckdb.connect(str(settings.paths.work_db)) as conn:
        conn.execute("UPDATE eligible_inventory SET available = available - 7, available_net = available_net - 7 "
                     "WHERE project_id = 'ACR701'")  # fmt: skip

    check_only = dg.AssetSelection.checks(available_reconciles_with_credits)
    result = materialize(settings, selection=check_only)
    check = evaluations(result)[RECONCILIATION_CHECK]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR, "a broken inventory must fail"
    assert check.metadata["mismatches"].value >= 1
    assert "ACR701" in check.metadata["mismatch_details"].value, "the failure names the broken project-vintage"


def test_a_failing_publish_run_leaves_the_published_file_untouched(settings):
    first_snapshot().write(settings.paths.work_db)
    assert materialize(settings).success
    before = hashlib.sha256(settings.paths.curated_db.read_bytes()).hexdigest()
    with duckdb.connect(str(settings.paths.work_db)) as conn:
        conn.execute("UPDATE eligible_inventory SET cancelled = cancelled + 1 WHERE project_id = 'ART102'")

    result = materialize(settings, selection=dg.AssetSelection.assets(published_inventory))
    assert not result.success, "publishing a broken inventory must fail the run"
    assert hashlib.sha256(settings.paths.curated_db.read_bytes()).hexdigest() == before


def test_paths_with_an_apostrophe_and_a_space_publish(tmp_path, monkeypatch):
    folder = tmp_path / "analyst's files"
    monkeypatch.setenv("CREDIT_QUALITY_CURATED_DB", str(folder / "O'Brien inventory.duckdb"))
    monkeypatch.setenv("CREDIT_QUALITY_WORK_DB", str(folder / "work" / "pipeline's work.duckdb"))
    settings = PipelineSettings.from_env()
    paths = settings.paths
    assert paths.ledger_db.parent == folder, "the ledger defaults to the curated folder, apostrophe included"
    first_snapshot().write(paths.work_db)
    append_ledger(paths, [("O-1", "B-1", "CAR1745", 2025, 1_000, dt.datetime(2026, 4, 20))])

    for publish_id in (1, 2):  # the second publish also attaches the first as the previous file
        result = materialize(settings)
        assert result.success, f"publish {publish_id} must succeed with an apostrophe and a space in every path"
    with duckdb.connect(str(paths.curated_db), read_only=True) as conn:
        assert conn.execute("SELECT max(publish_id) FROM publishes").fetchone() == (2,)
        assert conn.execute(
            "SELECT retired_for_buyers FROM eligible_inventory WHERE project_id = 'CAR1745'"
        ).fetchone() == (1_000,), "the ledger at a path with an apostrophe is read and netted"
    assert (folder / "eligible_inventory.csv").exists() and (folder / "eligible_inventory.parquet").exists()
