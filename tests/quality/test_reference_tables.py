"""The bundled reference tables: valid, cited, and covering every nature-based protocol of the bundled data."""

from __future__ import annotations

import json
from functools import cache

import pandas as pd
import pytest

from pipeline.ingest.load import load_registry
from pipeline.ingest.normalize import PROTOCOL_ACTIVITY, protocols
from pipeline.quality.inputs import project_type_columns
from pipeline.quality.reference import Reference, load_reference, version_bounds, version_key
from pipeline.registries import REGISTRY_KEYS
from pipeline.settings import REPO_ROOT, Paths
from tests.conftest import BUNDLED_RAW

REFERENCE_DIR = REPO_ROOT / "data" / "reference"

MAJOR_PROTOCOLS = (
    # the major nature-based methodologies the rubric names (issue 3)
    "vm0007", "vm0048", "vm0009", "vm0015", "vm0006", "vm0037", "vm0047", "ar-acm0003", "ar-ams0007", "vm0042",
    "vm0033", "vm0045", "vm0010", "vm0012", "acr-ifm-nonfed", "acr-affor-refor", "car-forest", "car-forest-mx",
    "arb-forest", "art-trees", "gs-reforest",
    # the non-nature ones the rubric must still judge
    "acm0002", "ams-i-d", "acm0001", "car-landfill", "gs-tpddtec",
)  # fmt: skip


@pytest.fixture(scope="module")
def reference() -> Reference:
    return load_reference(REFERENCE_DIR)


@cache
def bundled_projects(registry: str) -> pd.DataFrame:
    load = load_registry(registry, BUNDLED_RAW)
    assert load is not None, f"bundled data has no {registry} folder under {BUNDLED_RAW}"
    return load.projects


@cache
def bundled_credits(registry: str) -> pd.DataFrame:
    return load_registry(registry, BUNDLED_RAW).credits


def test_every_table_loads_and_every_row_is_sourced_and_dated(reference: Reference):
    for name in ("methodologies", "project_types", "project_flags"):
        table = getattr(reference, name)
        assert len(table) > 0, f"{name}.csv is empty"
        assert table["source_url"].notna().all(), f"{name}.csv has rows without source_url"
        # 2026-11-29: the framework copy was read; 2026-12-04: the expert-review corrections (issue 14)
        assert (table["as_of"] <= pd.Timestamp("2026-12-04")).all(), f"{name}.csv has an as_of after the reading date"
    assumed = reference.methodologies[reference.methodologies["is_assumption"]]
    assert assumed["assumption_note"].str.len().gt(20).all(), "an assumption row's note does not say what is unverified"


def test_the_decisions_file_is_the_icvcm_table(reference: Reference):
    assert reference.icvcm_decisions["source"]["url"] == "https://icvcm.org/assessment-status/"
    assert len(reference.icvcm_decisions["rows"]) == reference.icvcm_decisions["counts"]["rows"], (
        "icvcm-decisions.json row count differs from its own header: the copy is not verbatim"
    )


def test_major_methodologies_have_rows(reference: Reference):
    missing = sorted(set(MAJOR_PROTOCOLS) - set(reference.methodologies["protocol"]))
    assert not missing, f"methodologies.csv lacks rows for the major protocols {missing}"


def test_protocol_keys_are_the_ones_ingest_produces(reference: Reference):
    mapping = json.loads((REFERENCE_DIR / "protocol-mapping.json").read_text(encoding="utf-8"))
    ingest_keys = set(mapping) | set(PROTOCOL_ACTIVITY) | {"fcpf-carbon-fund"}  # ART reader's FCPF key
    table = reference.methodologies
    from_official_id, _ = protocols(table["methodology_id"])  # what ingest maps the official id to
    known = table["protocol"].isin(ingest_keys) | (from_official_id == table["protocol"])
    unknown = sorted(set(table.loc[~known, "protocol"]))
    assert not unknown, f"methodologies.csv protocols that ingest never produces (typos?): {unknown}"


@pytest.mark.parametrize("registry", REGISTRY_KEYS)
def test_every_bundled_nature_based_protocol_has_a_row(reference: Reference, registry: str):
    projects = bundled_projects(registry)
    nature = projects[projects["is_nature_based"] & projects["protocol"].notna() & (projects["protocol"] != "unknown")]
    assert len(nature) > 0, f"bundled {registry} data has no nature-based project with a known protocol"
    missing = sorted(set(nature["protocol"]) - set(reference.methodologies["protocol"]))
    assert not missing, f"{registry}: nature-based protocols without a methodologies.csv row: {missing}"


def _versions_in_ranges(reference: Reference, versions: pd.DataFrame, what: str) -> None:
    numbers = versions.assign(number=versions["version"].str.extract(r"(\d+(?:\.\d+)*)\s*$", expand=False))
    numbers = numbers.dropna(subset=["number"]).drop_duplicates(["protocol", "number"])
    assert len(numbers) > 0, f"{what}: no stated methodology versions to check"
    table = reference.methodologies
    for protocol, number in numbers[["protocol", "number"]].itertuples(index=False):
        rows = table[table["protocol"] == protocol]
        key = version_key(number)
        spans = (version_bounds(lo, hi) for lo, hi in zip(rows["version_min"], rows["version_max"], strict=True))
        hits = sum(lo <= key <= hi for lo, hi in spans)
        assert hits == 1, f"{what}: {protocol} version {number} falls in {hits} methodologies.csv rows (want 1)"


@pytest.mark.parametrize("registry", ["climate-action-reserve", "art-trees"])
def test_bundled_methodology_versions_fall_in_one_listed_range(reference: Reference, registry: str):
    """CAR/ART issuances state the version; each must land in exactly one row of its protocol (ICVCM
    decisions are version-scoped, so an unlisted version would lose its status)."""
    projects = bundled_projects(registry)[["project_id", "protocol", "is_nature_based"]]
    credits = bundled_credits(registry).merge(projects, on="project_id")
    nature = credits.loc[credits["is_nature_based"], ["protocol", "methodology_version"]].dropna()
    _versions_in_ranges(reference, nature.rename(columns={"methodology_version": "version"}), registry)


def test_bundled_acr_forest_versions_fall_in_one_listed_range(reference: Reference):
    """ACR's sample issuances name IFM versions 1.3, 2.0 and 2.1 (of projects outside its 50-row project
    sample), so protocol and version are read from the issuance rows themselves."""
    raw = pd.read_csv(BUNDLED_RAW / "american-carbon-registry" / "issuances.csv", dtype=str)
    protocol, _ = protocols(raw["Project Methodology/Protocol"])
    versions = pd.DataFrame({"protocol": protocol, "version": raw["Methodology/Protocol Version"]})
    forest = versions[versions["protocol"].isin(["acr-ifm-nonfed", "acr-affor-refor"])].dropna()
    assert set(forest["version"]) >= {"Version 1.3", "Version 2.0", "Version 2.1"}, "ACR sample versions changed"
    _versions_in_ranges(reference, forest, "american-carbon-registry issuances")


def test_legacy_project_baseline_redd_is_exactly_the_framework_list(reference: Reference):
    table = reference.methodologies
    legacy = set(table.loc[table["legacy_project_baseline_redd"], "protocol"])
    assert legacy == {"vm0006", "vm0007", "vm0009", "vm0015", "vm0037"}, f"legacy REDD flags: {sorted(legacy)}"
    inactive = set(table.loc[table["inactive_or_superseded"], "protocol"])
    assert {"vm0009", "vm0037"} <= inactive, "VM0009 and VM0037 were inactivated by Verra (framework 4.5)"
    vm0048 = table[table["protocol"] == "vm0048"].iloc[0]
    assert (vm0048["baseline_class"], vm0048["leakage_approach"]) == (
        "jurisdictional_allocated",
        "jurisdictional_plus_belt",
    )


def test_cited_permanence_values(reference: Reference):
    arb = reference.methodologies[reference.methodologies["protocol"] == "arb-forest"].iloc[0]
    assert (arb["commitment_years"], arb["default_market_leakage_pct"]) == (100, 20), (
        "ARB forest: 100-year design horizon, 20% secondary-effects leakage (framework 4.2, 4.3)"
    )
    gs = reference.methodologies[reference.methodologies["protocol"] == "gs-reforest"]
    assert (gs["reversal_mechanism"] == "pooled_buffer_flat").all() and (gs["min_buffer_pct"] == 20).all(), (
        "Gold Standard land-use projects give a flat 20% to the compliance buffer (framework 4.9)"
    )
    legacy_redd = reference.methodologies[reference.methodologies["legacy_project_baseline_redd"]]
    assert (legacy_redd["commitment_years"] == 30).all(), "pre-2024 Verra longevity threshold is 30 years (NPRT)"
    table = reference.methodologies
    vcs_afolu = table[(table["program"] == "vcs") & table["is_nature_based"] & table["is_reversible"]]
    assert (vcs_afolu["commitment_years"] == 30).all(), (
        "every VCS AFOLU row carries Verra's program minimum (NPRT, 30 years before 2024); the engine applies the "
        "project's facts (registration from 2024, crediting period, CCP label), never the ICVCM status (issue 14)"
    )
    car = table[table["protocol"].isin(["car-forest", "car-forest-mx", "car-grassland", "car-soil"])]
    assert (car["commitment_years"] == 100).all(), "the Reserve defines permanence as 100 years (program manual 2.10)"


def test_each_vcs_row_cites_its_own_methodology_page_first(reference: Reference):
    vcs = reference.methodologies[reference.methodologies["program"] == "vcs"]
    first = vcs["source_url"].str.split(" ; ").str[0]
    page = first.str.extract(r"verra\.org/methodolog(?:y|ies)/(vm\d{4})", expand=False).str.upper()
    cited = vcs.assign(first=first, page=page)
    wrong = cited[cited["page"].notna() & (cited["page"] != cited["methodology_id"])]
    assert wrong.empty, f"VCS rows citing another methodology's page first:\n{wrong[['protocol', 'first']]}"


def test_every_reversible_methodology_names_a_reversal_mechanism(reference: Reference):
    table = reference.methodologies
    bad = table[table["is_reversible"] & table["reversal_mechanism"].isin(["none", "not_applicable"])]
    assert bad.empty, f"reversible methodologies without a mechanism (gate G6 would fail them): {list(bad.protocol)}"


def test_project_types_have_one_default_per_activity(reference: Reference):
    types = reference.project_types
    defaults = types[types["is_default_for_activity"]]
    assert sorted(defaults["activity"]) == sorted(set(types["activity"].dropna())), (
        f"each activity needs exactly one default profile, got {defaults[['activity', 'project_type_key']].values}"
    )
    last_per_activity = types.dropna(subset=["activity"]).groupby("activity")["project_type_key"].last()
    assert set(last_per_activity) == set(defaults["project_type_key"]), (
        "an activity's default row must come last for it, after its specific subtypes (rows match in file order)"
    )


def _project_type_of(reference: Reference, activity: str, project_type: str | None, name: str) -> str:
    frame = pd.DataFrame({"activity": [activity], "project_type": [project_type], "name": [name]})
    return project_type_columns(frame, reference.project_types)["project_type_key"].iloc[0]


@pytest.mark.parametrize(
    ("activity", "project_type", "name", "expected"),
    [
        ("ARR", "afforestation/reforestation", "Teak plantation on degraded pasture", "ARR_commercial"),
        ("ARR", "afforestation/reforestation", "Native forest restoration in the Atlantic Forest", "ARR_natural"),
        ("IFM", "improved forest management", "Conversion from logged to protected forest", "IFM_logged_to_protected"),
        ("IFM", "improved forest management", "Albion", "IFM_harvest_deferral"),
        ("REDD", "redd+", "Kariba REDD+ Project", "REDD_AUD"),
        ("JREDD", "redd+", "Guyana", "JREDD"),
        ("ALM", "sustainable agriculture", "AgriCapture US Rice Methane Project", "rice"),
        ("ALM", "sustainable agriculture", "Regenerative grazing on ranches", "ALM_soil"),
        ("AGC", "avoided grassland conversion", "54 Ranch", "AGC"),
        ("WRC", "wetland restoration", "Mangrove restoration", "WRC"),
    ],
)
def test_project_type_profiles_match_named_cases(reference: Reference, activity, project_type, name, expected):
    got = _project_type_of(reference, activity, project_type, name)
    assert got == expected, f"{activity} project {name!r} ({project_type}) matched {got}, expected {expected}"


def test_patterns_place_nearly_every_bundled_nature_based_project(reference: Reference):
    """Patterns, read the engine's way (first row of the project's activity in file order), place all but a
    few projects; the rest are multi-activity projects filed under another activity's words (Kariba is
    ``ARR; REDD``) and take their activity's default row (``is_default_for_activity``)."""
    frames = [bundled_projects(registry) for registry in REGISTRY_KEYS]
    projects = pd.concat([f[f["is_nature_based"]] for f in frames], ignore_index=True)
    # ACoGS (Verra's avoided conversion of grasslands and shrublands) is outside the reference activities.
    nature = projects[projects["activity"].isin(reference.project_types["activity"])]
    matched = nature.join(project_type_columns(nature, reference.project_types))
    unmatched = matched[matched["project_type_key"].isna()]
    share = 1 - len(unmatched) / len(matched)
    assert share >= 0.97, (
        f"only {share:.1%} of {len(matched)} bundled nature-based projects match a project_types.csv pattern, e.g. "
        f"{unmatched[['project_id', 'activity', 'project_type', 'name']].head(5).values.tolist()}"
    )
    defaults = reference.project_types.loc[reference.project_types["is_default_for_activity"], "activity"]
    assert set(unmatched["activity"]) <= set(defaults), "an unmatched project's activity has no default profile"


def test_flags_name_bundled_projects_with_dated_findings(reference: Reference):
    flags = reference.project_flags
    kariba = flags[flags["project_id"] == "VCS902"]
    assert set(kariba["flag"]) == {"over_crediting_finding", "registry_hold"}, "Kariba's finding and hold are listed"
    assert (kariba["effect"] == "ineligible").all(), "Kariba's excess crediting makes it ineligible"
    assert (flags["flagged_on"] <= flags["as_of"]).all(), "a flag cannot be dated after the source was read"
    verra_ids = set(bundled_projects("verra")["project_id"])
    assert set(flags["project_id"]) <= verra_ids, "every flagged project is in the bundled Verra export"


def test_reference_dir_setting_defaults_to_these_tables(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CREDIT_QUALITY_REFERENCE_DIR", raising=False)
    assert Paths.from_env().reference_dir == REFERENCE_DIR.resolve(), "Paths.reference_dir is not data/reference"
