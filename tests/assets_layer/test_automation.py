"""The daily schedule, the new-raw-snapshot sensor and the instance's run concurrency."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import pytest

from assets import automation
from assets.definitions import defs
from assets.downloads import RegistryDownloads, registry_snapshot
from assets.market import vrod_tables
from pipeline.registries import REGISTRY_KEYS
from pipeline.settings import REPO_ROOT

REGISTRY_ASSETS = {"registry_snapshot", "registry_tables"}


@pytest.fixture(scope="module")
def repository():
    return defs.get_repository_def()


def _keys(request: dg.RunRequest) -> set[str]:
    return {k.to_user_string() for k in request.asset_selection}


def test_schedule_and_sensor_start_running(repository):
    schedule = repository.get_schedule_def("daily_full_refresh")
    sensor = repository.get_sensor_def("new_raw_snapshot")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING, "the daily schedule must be on by default"
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING, "the snapshot sensor must be on by default"
    assert schedule.cron_schedule == "0 6 * * *" and schedule.execution_timezone == "UTC"
    for name in ("full_refresh", "registry_refresh", "inventory_refresh"):
        assert defs.resolve_job_def(name) is not None, f"job {name} missing"


def test_daily_schedule_runs_each_registry_separately_then_downstream(repository):
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance,
            repository_def=repository,
            scheduled_execution_time=dt.datetime(2026, 3, 1, 6, tzinfo=dt.UTC),
        )
        requests = automation.daily_full_refresh.evaluate_tick(context).run_requests
    partitioned = [r for r in requests if r.partition_key]
    assert [r.partition_key for r in partitioned] == list(REGISTRY_KEYS), "one run per registry partition"
    assert all(_keys(r) == REGISTRY_ASSETS for r in partitioned), "registry runs snapshot and ingest only"
    (downstream,) = [r for r in requests if not r.partition_key]
    assert requests[-1] is downstream, "the downstream run must be requested last"
    assert downstream.tags.get("dagster/priority") == "-1", "the downstream run must queue behind registry runs"
    assert not _keys(downstream) & REGISTRY_ASSETS and "published_inventory" in _keys(downstream), (
        f"downstream run must rebuild what follows ingest, selected: {_keys(downstream)}"
    )
    assert len({r.run_key for r in requests}) == len(requests), "run keys must be unique within a tick"
    assert all("2026-03-01" in r.run_key for r in requests), "run keys must carry the day (one refresh per day)"


def _sensor_tick(repository, instance, settings):
    context = dg.build_sensor_context(instance=instance, repository_def=repository, resources={"settings": settings})
    return automation.new_raw_snapshot.evaluate_tick(context)


def test_sensor_requests_runs_only_for_registries_with_new_raw_data(repository, settings):
    raw = Path(settings.raw_dir)
    shutil.rmtree(raw / "gold-standard")  # a registry without raw files is never requested
    with dg.instance_for_test() as instance:
        first = _sensor_tick(repository, instance, settings)
        assert {r.partition_key for r in first.run_requests} == set(REGISTRY_KEYS) - {"gold-standard", None} | {None}, (
            "on a fresh instance every registry with raw files is new"
        )
        for registry in set(REGISTRY_KEYS) - {"gold-standard"}:
            dg.materialize(
                [registry_snapshot],
                partition_key=registry,
                instance=instance,
                resources={"settings": settings, "downloads": RegistryDownloads()},
            )
        dg.materialize([vrod_tables], instance=instance, resources={"settings": settings})
        quiet = _sensor_tick(repository, instance, settings)
        assert not quiet.run_requests and quiet.skip_message, "nothing new since the last snapshot: no runs"

        new = raw / "verra" / "2026-03-02"
        new.mkdir()
        shutil.copy2(raw / "verra" / "projects.csv", new / "projects.csv")
        after = _sensor_tick(repository, instance, settings)
    requested = [r.partition_key for r in after.run_requests]
    assert requested == ["verra", None], f"only verra and the downstream refresh should run, got {requested}"
    assert "2026-03-02" in after.run_requests[0].run_key, "the run key must name the new snapshot"


def test_a_new_vrod_file_starts_the_downstream_refresh_alone(repository, settings):
    raw = Path(settings.raw_dir)
    with dg.instance_for_test() as instance:
        for registry in REGISTRY_KEYS:
            dg.materialize(
                [registry_snapshot],
                partition_key=registry,
                instance=instance,
                resources={"settings": settings, "downloads": RegistryDownloads()},
            )
        first = _sensor_tick(repository, instance, settings)
        assert [r.partition_key for r in first.run_requests] == [None], "VROD never read: the downstream run reads it"
        dg.materialize([vrod_tables], instance=instance, resources={"settings": settings})
        assert not _sensor_tick(repository, instance, settings).run_requests, "VROD read: nothing new"

        new = raw / "berkeley-vrod" / "2026-02-28"
        new.mkdir()
        shutil.copy2(raw / "berkeley-vrod" / "projects.parquet", new / "projects.parquet")
        after = _sensor_tick(repository, instance, settings)
    assert [r.partition_key for r in after.run_requests] == [None], "a new VROD release refreshes downstream only"
    assert "berkeley-vrod@2026-02-28" in after.run_requests[0].run_key, after.run_requests[0].run_key


def test_instance_config_never_overlaps_runs(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        config = instance.get_concurrency_config()
        assert config.run_queue_config.max_concurrent_runs == 1, "DuckDB has one writer: one run at a time"
        assert config.pool_config.default_pool_limit == 1, "pooled steps must run one at a time"
    finally:
        instance.dispose()
