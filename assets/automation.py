"""Unattended operation: jobs, the daily full refresh and the new-raw-snapshot sensor.

A refresh is one run per registry partition (``registry_snapshot`` -> ``registry_tables``) followed by one
run of everything else (the Berkeley VROD snapshot, warehouse -> scoring -> inventory -> buyers -> publish ->
exports, report).
Separate runs per registry mean one registry's bad day (a failed download, an unreadable file) fails only
its own run, with the reason, while the others refresh; the downstream run then publishes with the failed
registry's previous slice. The downstream run is queued with a lower priority, so the instance's run queue
(``dagster.yaml``: one run at a time, because DuckDB allows one writer) starts it after the registry runs.
"""

import dagster as dg

from assets.resources import PipelineSettings
from pipeline.ingest.snapshots import snapshot_fingerprint
from pipeline.ingest.vrod import SOURCE as VROD
from pipeline.registries import REGISTRY_KEYS

REGISTRY_ASSETS = dg.AssetSelection.assets("registry_snapshot", "registry_tables")
DOWNSTREAM_ASSETS = dg.AssetSelection.all() - REGISTRY_ASSETS
"""Everything but the per-registry snapshot and ingest (the market-wide VROD snapshot included); all
unpartitioned, so they run together in one run."""

DOWNSTREAM_PRIORITY = {"dagster/priority": "-1"}
"""Queued runs start by priority, then age: the downstream run waits for the registry runs queued with it."""

full_refresh_job = dg.define_asset_job(
    "full_refresh",
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    description="Every asset. Launched by the daily schedule and the new-snapshot sensor as one run per "
    "registry partition plus one downstream run; steps run one after another in one process because "
    "they share DuckDB files.",
)
registry_refresh_job = dg.define_asset_job(
    "registry_refresh",
    selection=REGISTRY_ASSETS,
    executor_def=dg.in_process_executor,
    description="Snapshot and ingest one registry (pick a partition, or backfill several).",
)
inventory_refresh_job = dg.define_asset_job(
    "inventory_refresh",
    selection=DOWNSTREAM_ASSETS,
    executor_def=dg.in_process_executor,
    description="Rebuild everything downstream of the registry ingest: the VROD snapshot, warehouse, scores, "
    "inventory, buyers, publish, exports and the HTML report.",
)


def _downstream_keys(repository_def: dg.RepositoryDefinition) -> list[dg.AssetKey]:
    return sorted(DOWNSTREAM_ASSETS.resolve(repository_def.asset_graph), key=lambda k: k.to_user_string())


def _registry_keys(repository_def: dg.RepositoryDefinition) -> list[dg.AssetKey]:
    return sorted(REGISTRY_ASSETS.resolve(repository_def.asset_graph), key=lambda k: k.to_user_string())


def refresh_requests(
    repository_def: dg.RepositoryDefinition, run_keys: dict[str, str], downstream_run_key: str, tags: dict[str, str]
) -> list[dg.RunRequest]:
    """One run per registry partition (``run_keys``: registry -> run key), then one downstream run. Dagster
    never launches the same run key twice for a schedule or sensor, so a tick cannot repeat a refresh."""
    requests = [
        dg.RunRequest(
            run_key=run_key,
            partition_key=registry,
            asset_selection=_registry_keys(repository_def),
            tags=tags,
        )
        for registry, run_key in run_keys.items()
    ]
    downstream = _downstream_keys(repository_def)
    if downstream:
        requests.append(
            dg.RunRequest(
                run_key=downstream_run_key,
                asset_selection=downstream,
                tags=tags | DOWNSTREAM_PRIORITY,
            )
        )
    return requests


@dg.schedule(
    job=full_refresh_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def daily_full_refresh(context: dg.ScheduleEvaluationContext):
    """Every day at 06:00 UTC: snapshot (downloading when online) and ingest each registry in its own run,
    then rebuild scores, inventory and the published file in one downstream run."""
    day = context.scheduled_execution_time.date().isoformat()
    run_keys = {registry: f"{registry}:{day}" for registry in REGISTRY_KEYS}
    return refresh_requests(context.repository_def, run_keys, f"inventory:{day}", {"refresh/trigger": "daily_schedule"})


def recorded_fingerprint(instance: dg.DagsterInstance, registry: str | None) -> str | None:
    """The snapshot fingerprint the latest ``registry_snapshot`` materialization of ``registry`` recorded, or
    with ``registry`` None, the latest ``vrod_tables`` materialization (VROD is read downstream)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("registry_snapshot"), asset_partitions=[registry])
        if registry
        else dg.AssetRecordsFilter(asset_key=dg.AssetKey("vrod_tables")),
        limit=1,
    ).records
    if not records or records[0].asset_materialization is None:
        return None
    value = records[0].asset_materialization.metadata.get("fingerprint")
    return getattr(value, "value", None)


@dg.sensor(
    job=full_refresh_job,
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def new_raw_snapshot(context: dg.SensorEvaluationContext, settings: PipelineSettings):
    """Starts a refresh when a registry's raw data differs from what the pipeline last snapshotted: a new
    dated folder in ``data/raw/<registry>/`` or a file replaced in place. One run per changed registry, then
    one downstream run; a new Berkeley VROD file (``data/raw/berkeley-vrod/``, read downstream) starts the
    downstream run alone. On a fresh instance every source with raw files counts as new."""
    changed = {}
    for registry in REGISTRY_KEYS:
        fingerprint = snapshot_fingerprint(settings.paths.raw_dir, registry)
        if fingerprint is not None and fingerprint != recorded_fingerprint(context.instance, registry):
            changed[registry] = fingerprint
    vrod = snapshot_fingerprint(settings.paths.raw_dir, VROD)
    vrod_changed = vrod is not None and vrod != recorded_fingerprint(context.instance, None)
    if not changed and not vrod_changed:
        return dg.SkipReason("no registry or VROD file has raw data newer than what the pipeline last read")
    context.log.info(f"new raw data: {changed}" + (f", {VROD} {vrod}" if vrod_changed else ""))
    return refresh_requests(
        context.repository_def,
        {registry: f"{registry}@{fingerprint}" for registry, fingerprint in changed.items()},
        "inventory:" + ",".join([*sorted(changed.values()), *([f"{VROD}@{vrod}"] if vrod_changed else [])]),
        {"refresh/trigger": "new_raw_snapshot"},
    )


jobs: list = [full_refresh_job, registry_refresh_job, inventory_refresh_job]
schedules: list = [daily_full_refresh]
sensors: list = [new_raw_snapshot]
