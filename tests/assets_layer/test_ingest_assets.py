"""The ingest assets, materialized with a real Dagster instance against a temporary DuckDB."""

from __future__ import annotations

import shutil

import dagster as dg
import duckdb
import pytest

from assets import ingest
from pipeline.registries import REGISTRY_KEYS
from tests.conftest import make_settings

INGEST_ASSETS = [ingest.registry_tables, ingest.warehouse]


def materialize_registry(settings, registry: str, raise_on_error: bool = True):
    return dg.materialize(
        INGEST_ASSETS,
        selection=dg.AssetSelection.assets("registry_tables"),
        partition_key=registry,
        resources={"settings": settings},
        raise_on_error=raise_on_error,
    )


def materialize_warehouse(settings):
    return dg.materialize(
        INGEST_ASSETS,
        selection=dg.AssetSelection.assets(*ingest.WAREHOUSE_DESCRIPTIONS),
        resources={"settings": settings},
    )


def test_bundled_data_loads_into_the_warehouse_with_every_row_accounted_for(settings):
    for registry in REGISTRY_KEYS:
        result = materialize_registry(settings, registry)
        checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
        assert checks["rows_conserved"], f"{registry}: rows read != accepted + rejected"
    result = materialize_warehouse(settings)
    assert result.success
    with duckdb.connect(settings.work_db, read_only=True) as conn:
        per_registry = dict(conn.execute("SELECT registry, count(*) FROM projects GROUP BY ALL").fetchall())
        assert set(per_registry) == set(REGISTRY_KEYS), f"registries with projects: {per_registry}"
        bad = conn.execute("SELECT file FROM load_audit WHERE rows_read <> rows_accepted + rows_rejected").fetchall()
        assert bad == [], f"files whose rows are not conserved: {bad}"
        rejected = conn.execute("SELECT count(*) FROM rejected_rows").fetchone()[0]
        audit_rejected = conn.execute("SELECT sum(rows_rejected) FROM load_audit").fetchone()[0]
        assert rejected == audit_rejected, "rejected_rows disagrees with load_audit"
        unknown = conn.execute("SELECT count(*) FROM credits WHERE NOT project_known").fetchone()[0]
        assert unknown > 0, "the ACR/CAR samples name projects outside the 50-row project files; they must be flagged"
    evaluations = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert evaluations["projects_contract"].passed
    assert evaluations["credits_contract"].passed
    assert not evaluations["credits_with_unknown_project"].passed, "unknown-project transactions must be reported"


def test_a_registry_without_raw_files_is_skipped_and_its_old_slice_removed(settings, tmp_path):
    materialize_registry(settings, "art-trees")
    shutil.rmtree(f"{settings.raw_dir}/art-trees")
    result = materialize_registry(settings, "art-trees")
    assert "skipped" in result.asset_materializations_for_node("registry_tables")[0].metadata["note"].value
    materialize_warehouse(settings)
    with duckdb.connect(settings.work_db, read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM projects WHERE registry = 'art-trees'").fetchone()[0] == 0


def test_an_unreadable_file_fails_only_its_registry_and_keeps_the_previous_slice(settings):
    materialize_registry(settings, "verra")
    materialize_registry(settings, "art-trees")
    with duckdb.connect(settings.work_db, read_only=True) as conn:
        before = conn.execute("SELECT count(*) FROM staging.projects_verra").fetchone()[0]
    with open(f"{settings.raw_dir}/verra/projects.csv", "w") as fh:
        fh.write("Identifier;Title;Whatever\n1;x;y\n")
    result = materialize_registry(settings, "verra", raise_on_error=False)
    assert not result.success, "a projects file with an unknown layout must fail the registry's run"
    failure = next(e for e in result.all_events if e.is_step_failure)
    reason = failure.step_failure_data.user_failure_data.description
    assert "projects.csv" in reason and "missing required column" in reason, reason
    with duckdb.connect(settings.work_db, read_only=True) as conn:
        after = conn.execute("SELECT count(*) FROM staging.projects_verra").fetchone()[0]
        art = conn.execute("SELECT count(*) FROM staging.projects_art_trees").fetchone()[0]
    assert after == before, "a failed load must leave the registry's previous slice intact"
    assert art > 0


@pytest.mark.parametrize("registry", ["gold-standard"])
def test_empty_raw_dir_builds_empty_contract_tables(tmp_path, registry):
    raw = tmp_path / "empty_raw"
    raw.mkdir()
    settings = make_settings(tmp_path, raw_dir=raw)
    materialize_registry(settings, registry)
    assert materialize_warehouse(settings).success
    with duckdb.connect(settings.work_db, read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM credits").fetchone()[0] == 0


def test_warehouse_contract_checks_fail_loudly_on_bad_rows_in_any_slice(settings):
    materialize_registry(settings, "art-trees")
    materialize_registry(settings, "climate-action-reserve")
    with duckdb.connect(settings.work_db) as conn:  # a slice written by a faulty reader, or tampered with
        conn.execute("UPDATE staging.credits_art_trees SET quantity = -7 WHERE source_line = 2")
        conn.execute(
            "INSERT INTO staging.projects_climate_action_reserve BY NAME "
            "SELECT project_id, 'climate-action-reserve' AS registry, status, is_nature_based, source_file, "
            "source_line FROM staging.projects_art_trees LIMIT 1"
        )
    result = dg.materialize(
        INGEST_ASSETS,
        selection=dg.AssetSelection.assets(*ingest.WAREHOUSE_DESCRIPTIONS),
        resources={"settings": settings},
        raise_on_error=False,
    )
    evaluations = {c.check_name: c for c in result.get_asset_check_evaluations()}
    credits = evaluations["credits_contract"]
    assert not credits.passed, "a negative quantity must fail the credits contract"
    assert "quantity" in credits.metadata["failure_cases"].value, credits.metadata["failure_cases"].value
    projects = evaluations["projects_contract"]
    assert not projects.passed, "a project id present in two registries must fail the projects contract"
    assert "field_uniqueness" in projects.metadata["failure_cases"].value, projects.metadata["failure_cases"].value
