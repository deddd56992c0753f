"""The ``quality_scores`` asset on the bundled real registry exports and the real reference tables, through real
Dagster runs against a temporary working DuckDB: concrete outcomes that follow from the rubric, the checks,
re-scoring on a policy change without re-ingesting, and a failed run that leaves the table as it was."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml

from assets import ingest, scoring
from assets.resources import PipelineSettings
from pipeline.policy import load_policy
from pipeline.quality.engine import score_project_vintages
from pipeline.quality.reference import load_reference
from pipeline.registries import REGISTRY_KEYS
from pipeline.settings import REPO_ROOT
from tests.conftest import make_settings

ASSETS = [ingest.registry_tables, ingest.warehouse, scoring.quality_scores]
AS_OF = "2026-06-30"


def write_policy(path: Path, **scoring_changes) -> Path:
    """The repository's policy with the assessment date pinned (deterministic vintage ages) and ``changes``."""
    policy = yaml.safe_load((REPO_ROOT / "data" / "policy.yaml").read_text(encoding="utf-8"))
    policy["scoring"]["as_of_date"] = AS_OF
    for dotted, value in scoring_changes.items():
        section, key = dotted.split("__")
        policy["scoring"][section][key] = value
    path.write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    return path


def changed(settings: PipelineSettings, **fields: str) -> PipelineSettings:
    """The same instance with some paths replaced (a new resource: resources are immutable)."""
    names = ("raw_dir", "curated_db", "work_db", "ledger_db", "policy_file", "reference_dir")
    return PipelineSettings(**{name: fields.get(name, getattr(settings, name)) for name in names})


def materialize_scores(settings, raise_on_error: bool = True):
    return dg.materialize(
        ASSETS,
        selection=dg.AssetSelection.assets("quality_scores"),
        resources={"settings": settings},
        raise_on_error=raise_on_error,
    )


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    """The bundled exports ingested once into a private work DB, then scored with the pinned policy."""
    tmp = tmp_path_factory.mktemp("scoring")
    settings = changed(make_settings(tmp), policy_file=str(write_policy(tmp / "policy.yaml")))
    for registry in REGISTRY_KEYS:
        dg.materialize(
            ASSETS,
            selection=dg.AssetSelection.assets("registry_tables"),
            partition_key=registry,
            resources={"settings": settings},
        )
    warehouse = dg.AssetSelection.assets("projects").required_multi_asset_neighbors()
    dg.materialize(ASSETS, selection=warehouse, resources={"settings": settings})
    result = materialize_scores(settings)
    return settings, result


def scores_table(settings) -> pd.DataFrame:
    with duckdb.connect(settings.work_db, read_only=True) as conn:
        return conn.sql("SELECT * FROM quality_scores").df()


def test_every_issued_project_vintage_is_scored_and_every_check_passes(instance):
    settings, result = instance
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {
        "scores_contract": True,
        "every_low_score_explained": True,
        "every_ineligible_row_justified": True,
    }, f"quality_scores checks on the bundled data: {checks}"
    with duckdb.connect(settings.work_db, read_only=True) as conn:
        expected = conn.execute(
            "SELECT count(DISTINCT (project_id, vintage)) FROM credits "
            "WHERE transaction_type = 'issuance' AND vintage IS NOT NULL"
        ).fetchone()[0]
        scored = conn.execute("SELECT count(*) FROM quality_scores").fetchone()[0]
        reason_type = conn.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'quality_scores' "
            "AND column_name = 'reasons'"
        ).fetchone()[0]
    assert scored == expected > 300, f"{scored} scored rows for {expected} issued project-vintages"
    assert reason_type == 'STRUCT(code VARCHAR, criterion VARCHAR, message VARCHAR, "source" VARCHAR[])[]'


def test_legacy_project_baseline_redd_is_never_high(instance):
    scores = scores_table(instance[0])
    legacy = scores[scores["protocol"].isin(["vm0007", "vm0009", "vm0015"])]
    assert len(legacy) >= 3, "the bundled Verra sample has VM0007/VM0015 vintages (e.g. VCS1340 Bale Mountains)"
    assert (legacy["quality_tier"] != "high").all(), legacy[["project_id", "vintage", "quality_tier"]].to_string()
    assert legacy["gates_failed"].map(lambda gates: "G4" in gates).all(), "the default buyer policy gates them (G4)"


def test_grid_connected_renewables_are_never_eligible(instance):
    scores = scores_table(instance[0])
    grid = scores[scores["protocol"] == "acm0002"]
    assert len(grid) >= 10, "the bundled Verra and Gold Standard samples carry ACM0002 hydro/wind vintages"
    assert not grid["is_eligible"].any(), grid.loc[grid["is_eligible"], ["project_id", "vintage"]].to_string()
    assert (grid["additionality_score"] == 1).all(), "ICVCM rejected the category on additionality: score 1"
    assert grid["gates_failed"].map(lambda gates: "G4" in gates).all(), "an ICVCM rejection fails G4"


def test_art_trees_jurisdictional_vintages_score_leakage_at_least_4(instance):
    scores = scores_table(instance[0])
    trees = scores[scores["protocol"] == "art-trees"]
    assert len(trees) >= 5, "Guyana (ART102) has TREES vintages 2016-2023 in the bundled export"
    assert (trees["leakage_score"] >= 4).all(), trees[["project_id", "vintage", "leakage_score"]].to_string()


def test_art_trees_vintage_with_the_ccp_label_scores_leakage_at_least_4_and_high(instance):
    """The bundled ART export carries no CCP label yet; label Guyana's 2023 issuance as ART's export does for
    labelled units and re-score the real rows with the real reference tables."""
    settings, _ = instance
    with duckdb.connect(settings.work_db, read_only=True) as conn:
        projects, credits = conn.execute("SELECT * FROM projects").df(), conn.execute("SELECT * FROM credits").df()
    labelled = (credits["project_id"] == "ART102") & (credits["vintage"] == 2023)
    assert labelled.any(), "ART102 vintage 2023 is in the bundled ART issuances"
    credits.loc[labelled, "ccp_label"] = True
    policy = load_policy(settings.paths.policy)
    scores = score_project_vintages(
        projects, credits, load_reference(settings.paths.reference_dir), policy.scoring, policy.policy_version
    )
    guyana = scores[(scores["project_id"] == "ART102") & (scores["vintage"] == 2023)].iloc[0]
    assert guyana["ccp_label"], "the label is carried through as a badge"
    assert guyana["leakage_score"] >= 4, f"TREES jurisdictional leakage deduction: {guyana['leakage_score']}"
    assert guyana["quality_tier"] == "high", f"limiting 4 + CCP label should be high: {list(guyana['reasons'])}"


def test_eligible_rows_are_nature_based_and_pass_every_gate(instance):
    scores = scores_table(instance[0])
    eligible = scores[scores["is_eligible"]]
    assert len(eligible) >= 1, "Guyana's recent TREES vintages should be eligible under the default policy"
    assert eligible["activity"].notna().all(), "the default policy makes the eligible inventory nature-based only"
    assert (eligible["gates_failed"].map(len) == 0).all(), "an eligible row cannot have failed a gate"
    assert (eligible["limiting_score"] >= 3).all(), "an eligible row has a limiting score of at least 3"


def test_a_real_reason_trail_names_values_rules_and_sources(instance):
    scores = scores_table(instance[0])
    bale = scores[(scores["project_id"] == "VCS1340") & (scores["vintage"] == 2020)]
    assert len(bale) == 1, "VCS1340 (Bale Mountains REDD+, VM0015) vintage 2020 is in the Verra sample"
    reasons = {r["code"]: r for r in bale.iloc[0]["reasons"]}
    assert {"G4_LEGACY_REDD", "LEAK_ACTIVITY_SHIFTING_ONLY", "OVER_STATIC_PROJECT_REFERENCE"} <= set(reasons), (
        f"expected the legacy-REDD trail, got {sorted(reasons)}"
    )
    assert "VM0015" in reasons["G4_LEGACY_REDD"]["message"], reasons["G4_LEGACY_REDD"]
    source = list(reasons["G4_LEGACY_REDD"]["source"])
    row = pd.read_csv(REPO_ROOT / "data" / "reference" / "methodologies.csv")
    cited = row.loc[row["protocol"] == "vm0015", "source_url"].iloc[0].split(" ; ")
    assert source[0].startswith("data/reference/quality-framework.md 7.3 G4"), f"the rule comes first: {source}"
    assert source[1:] == ["methodologies.csv vm0015", *cited], (
        f"then the reference row and each of the {len(cited)} sources it cites, one per item: {source}"
    )


def test_a_policy_change_rescores_without_reingesting(instance, tmp_path):
    settings, _ = instance
    with duckdb.connect(settings.work_db, read_only=True) as conn:
        credits_before = conn.sql("SELECT * FROM credits ORDER BY ALL").df()
    before = scores_table(settings).set_index(["project_id", "vintage"])
    assert not before.loc[("ART102", 2019), "is_eligible"], "2019 is older than 5 years at 2026-06-30 (G5)"

    relaxed = write_policy(tmp_path / "policy.yaml", gates__max_vintage_age_years=None)
    result = materialize_scores(changed(settings, policy_file=str(relaxed)))
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"quality_scores"}, f"only the scores should be rebuilt, got {materialized}"
    after = scores_table(settings).set_index(["project_id", "vintage"])
    assert after.loc[("ART102", 2019), "is_eligible"], "without the 5-year age limit, Guyana 2019 is eligible"
    with duckdb.connect(settings.work_db, read_only=True) as conn:
        credits_after = conn.sql("SELECT * FROM credits ORDER BY ALL").df()
    pd.testing.assert_frame_equal(credits_before, credits_after, obj="credits (must not be re-ingested)")
    materialize_scores(settings)  # back to the module's policy for the other tests


def test_a_broken_reference_table_fails_the_run_and_keeps_the_previous_scores(instance, tmp_path):
    settings, _ = instance
    before = scores_table(settings)
    broken = tmp_path / "reference"
    shutil.copytree(settings.paths.reference_dir, broken)
    table = broken / "methodologies.csv"
    table.write_text(table.read_text(encoding="utf-8").replace(",dynamic_benchmark,", ",very_dynamic,", 1))
    result = materialize_scores(changed(settings, reference_dir=str(broken)), raise_on_error=False)
    assert not result.success, "a malformed methodologies.csv must fail the scoring run"
    pd.testing.assert_frame_equal(before, scores_table(settings), obj="quality_scores after a failed run")


def _row(scores: pd.DataFrame, project_id: str, vintage: int) -> pd.Series:
    hit = scores[(scores["project_id"] == project_id) & (scores["vintage"] == vintage)]
    assert len(hit) == 1, f"{project_id} {vintage} is in the bundled exports"
    return hit.iloc[0]


def _codes(scored: pd.Series) -> list[str]:
    return [r["code"] for r in scored["reasons"]]


def test_art102_2021_takes_the_version_guyana_reported_not_trees_v1(instance):
    """Issue 14 item 4: ART102's 2021 issuance leaves Standard Version blank; it fell back to TREES v1.0 (not
    submitted, no commitment) and came out ineligible. Its other vintages report Version 2.0."""
    guyana = _row(scores_table(instance[0]), "ART102", 2021)
    assert guyana["methodology_version"] == "Version 2.0", guyana["methodology_version"]
    assert "METHODOLOGY_VERSION_INFERRED" in _codes(guyana)
    assert guyana["is_eligible"], _codes(guyana)
    # national programme (no sub-national jurisdiction listed): leakage at national scale (issue 14 item 7)
    assert guyana["leakage_score"] == 5 and "ACCOUNTING_AREA_NATIONAL" in _codes(guyana)


def test_fcpf_programmes_wait_for_review_with_a_reason_naming_their_icvcm_status(instance):
    """Issue 14 items 2 and 7: ART126/ART130 (FCPF Carbon Fund, not submitted to ICVCM) have no commitment period
    from any source: needs_review, not ineligible, and the reason says the framework was not submitted."""
    scores = scores_table(instance[0])
    for project_id, vintage in (("ART126", 2021), ("ART130", 2023)):
        fcpf = _row(scores, project_id, vintage)
        assert fcpf["quality_tier"] == "needs_review" and not fcpf["is_eligible"], fcpf["quality_tier"]
        unknown = next(r["message"] for r in fcpf["reasons"] if r["code"] == "UNKNOWN_COMMITMENT")
        assert "FCPF" in unknown and "not submitted" in unknown, unknown


def test_a_100_year_crediting_period_is_a_100_year_commitment(instance):
    """Issue 14 item 1: VCS2532 (AR-ACM0003, crediting 2016-11-01 to 2116-10-31) scored permanence 2 on the CDM
    row's 30 years; its crediting period is a 100-year commitment."""
    reforestation = _row(scores_table(instance[0]), "VCS2532", 2021)
    assert reforestation["commitment_years"] == 100 and reforestation["permanence_score"] == 5
    assert reforestation["is_eligible"], _codes(reforestation)


def test_verra_migration_dates_are_flagged_and_sources_cite_no_machine_path(instance):
    """Issue 14 items 9-10: VCS576 (registered '2020-04-06', Verra's registry migration) is flagged; no reason
    prints 'none%' or 'nan%', and no source embeds an absolute path of a raw file."""
    scores = scores_table(instance[0])
    assert "REGISTRATION_DATE_PLACEHOLDER" in _codes(_row(scores, "VCS576", 2021))
    reasons = [r for trail in scores["reasons"] for r in trail]
    assert not [r for r in reasons if "none%" in r["message"] or "nan%" in r["message"]]
    raw_dir = str(instance[0].paths.raw_dir)
    assert not [r["source"] for r in reasons if any(raw_dir in c or c.startswith("/") for c in r["source"])]
    assert not [r for r in reasons if r["code"] == "OVER_DYNAMIC" and "matched controls" in r["message"]]
