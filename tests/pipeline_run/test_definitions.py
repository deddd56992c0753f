"""The code location loads, and the UI lists the assets and checks analysts and operators rely on."""

from __future__ import annotations

import dagster as dg

from assets.definitions import defs

EXPECTED_ASSETS = {
    "registry_snapshot",
    "registry_tables",
    "projects",
    "credits",
    "rejected_rows",
    "load_audit",
    "quality_scores",
    "eligible_inventory",
    "buyer_eligibility",
    "order_allocations",
    "retirement_ledger",
    "published_inventory",
    "inventory_exports",
    "inventory_report",
}

EXPECTED_CHECKS = {
    ("registry_tables", "rows_conserved"),
    ("registry_tables", "transactions_have_known_projects"),
    ("projects", "projects_contract"),
    ("credits", "credits_contract"),
    ("credits", "credits_with_unknown_project"),
    ("load_audit", "rows_conserved"),
}


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)


def asset_keys() -> set[str]:
    graph = defs.resolve_asset_graph()
    return {key.to_user_string() for key in graph.get_all_asset_keys() if graph.get(key).is_materializable}


def check_keys() -> set[tuple[str, str]]:
    graph = defs.resolve_asset_graph()
    return {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys}


def test_every_pipeline_stage_is_an_asset():
    missing = EXPECTED_ASSETS - asset_keys()
    assert not missing, f"assets missing from the code location: {sorted(missing)}"


def test_ingest_checks_are_listed():
    missing = EXPECTED_CHECKS - check_keys()
    assert not missing, f"asset checks missing from the code location: {sorted(missing)}"


def test_every_asset_and_check_is_documented():
    graph = defs.resolve_asset_graph()
    undocumented = [
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if graph.get(key).is_materializable and not (graph.get(key).description or "").strip()
    ]
    assert not undocumented, f"assets without a description (shown in the UI): {undocumented}"
    checks_without_description = [
        f"{spec.asset_key.to_user_string()}:{spec.name}"
        for assets_def in defs.assets or []
        if isinstance(assets_def, dg.AssetsDefinition)
        for spec in assets_def.check_specs
        if not (spec.description or "").strip()
    ]
    assert not checks_without_description, f"checks without a description: {checks_without_description}"
