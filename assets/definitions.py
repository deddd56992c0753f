"""The code location that ``workspace.yaml`` loads: every asset, check, job, schedule and sensor."""

import dagster as dg

from assets import automation, buyers, downloads, ingest, market, publish, report, scoring
from assets.resources import PipelineSettings

ASSET_MODULES = [downloads, ingest, market, scoring, publish, buyers, report]

defs = dg.Definitions(
    assets=dg.load_assets_from_modules(ASSET_MODULES),
    asset_checks=dg.load_asset_checks_from_modules(ASSET_MODULES),
    jobs=automation.jobs,
    schedules=automation.schedules,
    sensors=automation.sensors,
    resources={"settings": PipelineSettings.from_env(), "downloads": downloads.RegistryDownloads.from_env()},
)
