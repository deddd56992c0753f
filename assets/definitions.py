"""The code location that ``workspace.yaml`` loads: every asset, check, job, schedule and sensor."""

import dagster as dg

from assets import automation, buyers, downloads, ingest, market, publish, report, scoring
from assets.metadata import as_markdown
from assets.resources import PipelineSettings

ASSET_MODULES = [downloads, ingest, market, scoring, publish, buyers, report]

OWNERS = {
    "raw": "team:data-engineering",
    "ingest": "team:data-engineering",
    "warehouse": "team:data-engineering",
    "scoring": "team:credit-quality",
    "inventory": "team:credit-quality",
    "buyers": "team:buyer-program",
    "publish": "team:data-engineering",
}
"""Who answers for each group's assets (shown and filterable in the UI)."""
DEFAULT_OWNER = "team:data-engineering"

STORAGE = {"raw": "raw-files", "publish": "published-file"}
STORAGE_OF_ASSET = {"retirement_ledger": "ledger", "inventory_exports": "export-files", "inventory_report": "report"}
"""Where an asset's data lives (tag ``storage``); the private working DuckDB unless said here."""


def _catalogued(spec: dg.AssetSpec, freshness: dg.FreshnessPolicy) -> dg.AssetSpec:
    """Owner and ``storage`` tag by group, the description as the Markdown the UI renders, and the published
    file's ``freshness`` policy."""
    name = spec.key.to_user_string()
    storage = STORAGE_OF_ASSET.get(name) or STORAGE.get(spec.group_name, "work-db")
    return spec.replace_attributes(
        owners=[OWNERS.get(spec.group_name, DEFAULT_OWNER)],
        tags={**spec.tags, "storage": storage},
        description=as_markdown(spec.description),
        freshness_policy=freshness if name == "published_inventory" else spec.freshness_policy,
    )


def definitions(settings: PipelineSettings | None = None) -> dg.Definitions:
    """The code location's definitions, on ``settings`` (default: from the environment)."""
    settings = settings or PipelineSettings.from_env()
    freshness = publish.freshness(settings)
    return dg.Definitions(
        assets=dg.map_asset_specs(
            lambda spec: _catalogued(spec, freshness), dg.load_assets_from_modules(ASSET_MODULES)
        ),
        asset_checks=dg.load_asset_checks_from_modules(ASSET_MODULES),
        jobs=automation.jobs,
        schedules=automation.schedules,
        sensors=automation.sensors,
        resources={
            "settings": settings,
            "downloads": downloads.RegistryDownloads.from_env(),
        },
    )


defs = definitions()
