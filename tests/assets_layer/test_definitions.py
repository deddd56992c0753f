"""The code location loads, and the UI lists the assets and checks analysts and operators rely on."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta

import dagster as dg

from assets.definitions import definitions, defs
from pipeline.settings import REPO_ROOT
from tests.conftest import make_settings

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


def test_asset_descriptions_are_markdown_without_restructuredtext_markup():
    graph = defs.resolve_asset_graph()
    raw = {
        key.to_user_string(): graph.get(key).description
        for key in graph.get_all_asset_keys()
        if re.search(r"``|:(func|class|data|mod|meth|attr):`", graph.get(key).description or "")
    }
    assert not raw, f"descriptions with reStructuredText markup the UI shows raw: {sorted(raw)}"
    described = graph.get(dg.AssetKey("eligible_inventory")).description
    assert "`credits`" in described, f"literals stay code spans in Markdown: {described[:200]}"


def test_every_asset_has_an_owner_and_a_storage_tag():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_materializable:
            assert node.owners, f"{key.to_user_string()} has no owner"
            assert node.tags.get("storage"), f"{key.to_user_string()} has no storage tag"
    assert graph.get(dg.AssetKey("published_inventory")).tags["storage"] == "published-file"
    assert graph.get(dg.AssetKey("retirement_ledger")).tags["storage"] == "ledger"


def test_unused_dagster_integrations_are_not_dependencies():
    dependencies = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=\[ ]", d, maxsplit=1)[0] for d in dependencies}
    assert not names & {"dagster-duckdb", "dagster-pandera"}, "declared but unused Dagster integrations"
    assert "tabulate" in names, "pandas' to_markdown (the UI's metadata tables) needs tabulate"


def test_the_published_files_freshness_window_comes_from_the_settings_policy_file(tmp_path):
    policy = (REPO_ROOT / "data" / "policy.yaml").read_text()
    assert "max_published_age_hours: 36 " in policy, "the bundled policy's freshness window changed"
    edited = tmp_path / "policy.yaml"
    edited.write_text(policy.replace("max_published_age_hours: 36 ", "max_published_age_hours: 12 "))
    settings = make_settings(tmp_path, raw_dir=tmp_path / "raw").model_copy(update={"policy_file": str(edited)})
    freshness = definitions(settings).resolve_asset_graph().get(dg.AssetKey("published_inventory")).freshness_policy
    assert freshness.fail_window.to_timedelta() == timedelta(hours=12), (
        f"published_inventory's freshness window {freshness.fail_window} is not the settings' policy file's 12 h"
    )
