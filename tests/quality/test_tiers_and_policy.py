"""Golden tests for the final classification (framework 7.8), external ratings, badges, the version-scoped
methodology join, policy overrides and the policy file's validation."""

from __future__ import annotations

import pandas as pd
import pydantic
import pytest

from pipeline.policy import load_policy
from pipeline.quality.policy import ScoringPolicy
from pipeline.settings import REPO_ROOT
from tests.quality.builders import Case, codes, issuance, methodology, policy, project, row


def score_one(case: Case, project_id: str = "VCS5001", vintage: int = 2024):
    return row(case.score(), project_id, vintage)


# --- tiers by the limiting factor ------------------------------------------------------------------------------


def test_one_weak_criterion_is_not_averaged_away():
    # additionality 5 (label), permanence 4, leakage 2: the mean is 3.7, the limiting factor is 2
    case = Case(
        methodologies=[methodology(leakage_approach="activity_shifting_only")], credits=[issuance(ccp_label=True)]
    )
    scored = score_one(case)
    assert (scored["additionality_score"], scored["permanence_score"], scored["leakage_score"]) == (5, 4, 2)
    assert scored["limiting_score"] == 2 and scored["limiting_criteria"] == "leakage"
    assert scored["quality_tier"] == "ineligible", "the minimum, not the average, decides"
    assert "TIER_LIMITING_SCORE" in codes(scored, "tier")


def test_high_needs_limiting_4_and_the_ccp_label_or_an_approved_methodology():
    approved = score_one(Case())
    assert approved["quality_tier"] == "high", "limiting 4 with an approved methodology (label pending) is high"
    pending = score_one(Case(methodologies=[methodology(ccp_status="under_assessment")]))
    assert pending["quality_tier"] == "eligible", "limiting 4 without label or approval is only eligible"
    assert "TIER_NOT_HIGH_NO_CCP" in codes(pending, "tier")


def test_policy_can_require_the_label_on_the_issuance_for_high():
    strict = policy(tiers={"high_requires_ccp": "label"})
    assert score_one(Case(policy=strict))["quality_tier"] == "eligible", "approval alone is not enough"
    labelled = Case(credits=[issuance(ccp_label=True)], policy=strict)
    assert score_one(labelled)["quality_tier"] == "high", "the label on the issuance makes it high"


def test_limiting_3_is_eligible_not_high():
    scored = score_one(Case(methodologies=[methodology(reversal_mechanism="pooled_buffer_flat")]))
    assert scored["limiting_score"] == 3
    assert (scored["quality_tier"], scored["is_eligible"]) == ("eligible", True)


def test_watchlist_flag_holds_an_otherwise_high_vintage_back():
    flag = {
        "project_id": "VCS5001",
        "flag": "controversy",
        "effect": "watchlist",
        "description": "press report under review",
        "flagged_on": "2026-01-15",
        "source_url": "https://example.org/report",
        "as_of": "2026-08-17",
    }
    scored = score_one(Case(flags=[flag]))
    assert scored["quality_tier"] == "watchlist", "a watchlist flag moves an eligible row to watchlist"
    assert not scored["is_eligible"], "watchlist rows wait for review by default (tiers.watchlist_is_eligible)"
    assert list(scored["gates_failed"]) == [], "a watchlist flag is not a gate failure"
    assert "TIER_WATCHLIST_FLAG" in codes(scored, "tier")
    lenient = Case(flags=[flag], policy=policy(tiers={"watchlist_is_eligible": True}))
    assert score_one(lenient)["is_eligible"], "the policy may let watchlist rows into the inventory"


def ratings(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["agency", "project_id", "vintage", "rating", "rating_date"])


def test_external_rating_at_or_below_threshold_moves_to_watchlist():
    case = Case(external_ratings=ratings(("BeZero", "VCS5001", None, "BB", "2026-03-01")))
    scored = score_one(case)
    assert scored["quality_tier"] == "watchlist", "BeZero BB is at the BB threshold"
    assert (scored["ext_rating_agency"], scored["ext_rating"]) == ("bezero", "BB")
    assert "EXT_RATING_WATCHLIST" in codes(scored, "tier")


def test_latest_vintage_specific_rating_wins():
    case = Case(
        external_ratings=ratings(
            ("bezero", "VCS5001", None, "B", "2025-01-01"),
            ("bezero", "VCS5001", 2024, "BB", "2025-06-01"),
            ("bezero", "VCS5001", 2024, "A", "2026-02-01"),
        )
    )
    scored = score_one(case)
    assert scored["ext_rating"] == "A", "the latest vintage-specific rating applies"
    assert scored["quality_tier"] == "high", "an A rating does not move the row"


def test_unknown_rating_agency_is_a_clear_error():
    case = Case(external_ratings=ratings(("Renoster", "VCS5001", None, "3", "2026-01-01")))
    with pytest.raises(ValueError, match="renoster"):
        case.score()


def test_without_external_ratings_there_are_no_rating_columns():
    assert "ext_rating" not in Case().score().columns, "ratings are optional and never required"


# --- badges and risk-adjusted tonnes -----------------------------------------------------------------------------


def test_badges_are_carried_through():
    case = Case(
        credits=[
            issuance(
                ccp_label=True,
                corsia_phase="first",
                corresponding_adjustment=True,
                additional_certifications="CCB-Gold; SD VISta",
            ),
            issuance(transaction_type="retirement", corsia_phase="pilot", quantity=10),
        ]
    )
    scored = score_one(case)
    assert scored["ccp_label"] and scored["corresponding_adjustment"]
    assert scored["corsia_phase"] == "pilot;first", "CORSIA phases from any transaction of the vintage"
    assert list(scored["co_benefit_labels"]) == ["CCB", "SD VISta"]
    assert scored["issued"] == 1000, "issued counts issuances only, not the retirement"


def test_gold_standard_vintages_carry_the_sdg_label():
    case = Case(projects=[project("GLD7001")], credits=[issuance("GLD7001", product_type="VER")])
    assert "Gold Standard SDG" in list(score_one(case, "GLD7001")["co_benefit_labels"])


# --- version-scoped methodology join -------------------------------------------------------------------------


def vm0042_rows():
    common = {"protocol": "vm0042", "methodology_id": "VM0042", "activity": "ALM"}
    return [
        methodology(**common, version_min="2.0", version_max="2.1", ccp_status="withdrawn"),
        methodology(**common, version_min="2.2", version_max="2.2", ccp_status="approved"),
    ]


def alm_case(version: str | None) -> Case:
    return Case(
        projects=[project(protocol="vm0042", activity="ALM", name="Regenerative grazing")],
        credits=[issuance(methodology_version=version, ccp_label=True)],
        methodologies=vm0042_rows(),
    )


def test_methodology_row_is_chosen_by_the_issuance_version():
    scored = score_one(alm_case("Version 2.2"))
    assert scored["ccp_status"] == "approved", "VM0042 v2.2 is CCP-approved"
    assert "UNKNOWN_METHODOLOGY_VERSION" not in codes(scored)
    assert score_one(alm_case("v2.1"))["ccp_status"] == "withdrawn", "v2.0-2.1 was withdrawn"


def test_unknown_version_with_disagreeing_rows_waits_for_review():
    """Issue 14 item 4: no version reported for any vintage, and VM0042's rows disagree (withdrawn / approved):
    the strictest row's scores are shown, but the verdict waits for the version instead of assuming it."""
    scored = score_one(alm_case(None))
    assert scored["ccp_status"] == "withdrawn", "the scores shown are the strictest row's"
    assert "UNKNOWN_METHODOLOGY_VERSION" in codes(scored, "methodology")
    assert scored["quality_tier"] == "needs_review" and not scored["is_eligible"], scored["quality_tier"]


def test_missing_version_is_inferred_from_the_projects_other_vintages():
    """Issue 14 item 4 (ART102-2021's blank Standard Version fell back to TREES v1.0): a vintage without a
    version takes the version the project reported for its nearest other vintage, and says so."""
    case = alm_case(None)
    case.credits = [issuance(vintage=2023, methodology_version="Version 2.2", ccp_label=True),
                    issuance(vintage=2024, methodology_version=None, ccp_label=True)]  # fmt: skip
    scored = score_one(case)
    assert scored["methodology_version"] == "Version 2.2" and scored["ccp_status"] == "approved"
    assert "METHODOLOGY_VERSION_INFERRED" in codes(scored, "methodology")
    assert "2023" in next(r["message"] for r in scored["reasons"] if r["code"] == "METHODOLOGY_VERSION_INFERRED")


def test_registry_program_row_is_preferred():
    rows = [
        methodology(protocol="acm0002", program="gs", methodology_id="ACM0002", ccp_status="under_assessment"),
        methodology(protocol="acm0002", program="vcs", methodology_id="ACM0002", ccp_status="rejected"),
    ]
    case = Case(projects=[project(protocol="acm0002")], methodologies=rows)
    assert score_one(case)["ccp_status"] == "rejected", "a Verra project reads the vcs row of its protocol"


# --- policy ------------------------------------------------------------------------------------------------------


def test_methodology_override_replaces_a_reference_value_and_is_traced():
    case = Case(policy=policy(methodology_overrides={"vm0047": {"commitment_years": 100}}))
    scored = score_one(case)
    assert scored["commitment_years"] == 100 and scored["permanence_score"] == 5, "override to 100 years"
    assert "commitment_years=100" in next(r["message"] for r in scored["reasons"] if r["code"] == "POLICY_OVERRIDE")


def test_override_of_an_unknown_protocol_is_an_error():
    with pytest.raises(ValueError, match="vm9999"):
        Case(policy=policy(methodology_overrides={"vm9999": {"commitment_years": 100}})).score()


def test_policy_rejects_unknown_keys_and_out_of_range_scores():
    with pytest.raises(pydantic.ValidationError, match="min_vintag"):
        ScoringPolicy.model_validate({"gates": {"min_vintag": 2016}})
    with pytest.raises(pydantic.ValidationError, match="1-5"):
        ScoringPolicy.model_validate({"leakage": {"score_by_approach": {"none": 7}}})
    with pytest.raises(pydantic.ValidationError, match="unknown keys"):
        ScoringPolicy.model_validate({"leakage": {"score_by_approach": {"leakage_belt": 4}}})
    with pytest.raises(pydantic.ValidationError, match="cannot override"):
        ScoringPolicy.model_validate({"methodology_overrides": {"vm0047": {"source_url": "x"}}})


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"gates": {"min_vintage": -2016}}, r"gates\.min_vintage\n.*greater than or equal to 1990"),
        ({"gates": {"min_vintage": 3000}}, r"gates\.min_vintage\n.*less than or equal to 2100"),
        ({"gates": {"max_vintage_age_years": -1}}, r"gates\.max_vintage_age_years\n.*greater than or equal to 0"),
        (
            {"tiers": {"eligible_min_score": 4, "high_min_score": 3}},
            r"tiers\n.*high_min_score \(3\) must be at least eligible_min_score \(4\)",
        ),
        (
            {"over_crediting": {"sensitivity_haircut_pct": {"static_project_reference": 150}}},
            r"sensitivity_haircut_pct\n.*haircuts are percentages, 0-100; got \{'static_project_reference': 150",
        ),
        (
            {"over_crediting": {"sensitivity_haircut_pct": {"regional_common_practice": -30}}},
            r"sensitivity_haircut_pct\n.*0-100; got \{'regional_common_practice': -30",
        ),
        (
            {"methodology_overrides": {"vm0047": {"commitment_years": "forever"}}},
            r"methodology_overrides\[vm0047\]\.commitment_years must be a number > 0, or null, as in "
            r"methodologies\.csv; got 'forever'",
        ),
        (
            {"methodology_overrides": {"vm0047": {"min_buffer_pct": -10}}},
            r"methodology_overrides\[vm0047\]\.min_buffer_pct must be a number >= 0 and <= 100, or null",
        ),
        (
            {"methodology_overrides": {"vm0047": {"is_reversible": "no"}}},
            r"methodology_overrides\[vm0047\]\.is_reversible must be true or false",
        ),
        (
            {"methodology_overrides": {"vm0047": {"leakage_approach": "belt"}}},
            r"methodology_overrides\[vm0047\]\.leakage_approach must be one of \('national_accounting'",
        ),
    ],
)
def test_policy_values_out_of_their_range_are_errors_naming_key_and_range(section, message):
    with pytest.raises(pydantic.ValidationError, match=message):
        ScoringPolicy.model_validate(section)


def test_policy_overrides_within_the_reference_contract_are_accepted():
    given = {"min_buffer_pct": 12, "commitment_years": 100, "is_reversible": True, "transition_deadline": "2026-06-30"}
    assert ScoringPolicy.model_validate({"methodology_overrides": {"vm0047": given}}).methodology_overrides == {
        "vm0047": given
    }


def test_a_key_stated_twice_in_the_policy_file_is_an_error(tmp_path):
    text = (REPO_ROOT / "data" / "policy.yaml").read_text(encoding="utf-8")
    twice = text.replace("    min_vintage: 2016", "    min_vintage: 2016\n    min_vintage: 2010", 1)
    assert twice != text, "the repository policy file should state gates.min_vintage"
    first = text[: text.index("    min_vintage: 2016")].count("\n") + 1
    path = tmp_path / "policy.yaml"
    path.write_text(twice, encoding="utf-8")
    with pytest.raises(ValueError, match=rf"key 'min_vintage' appears twice: on line {first} and line {first + 1}"):
        load_policy(path)


def test_repository_policy_file_spells_out_the_defaults():
    loaded = load_policy(REPO_ROOT / "data" / "policy.yaml").scoring
    assert loaded == ScoringPolicy(), "data/policy.yaml's scoring section should state the v1 defaults"


def test_a_policy_states_only_the_scores_it_changes():
    changed = ScoringPolicy.model_validate({"leakage": {"score_by_approach": {"activity_shifting_only": 1}}})
    assert changed.leakage.score_by_approach["activity_shifting_only"] == 1
    assert changed.leakage.score_by_approach["national_accounting"] == 5, "unstated approaches keep their default"


def test_policy_version_is_stamped_on_every_row():
    scores = Case(credits=[issuance(vintage=2023), issuance(vintage=2024)]).score()
    assert (scores["policy_version"] == "test-v1").all()


def test_no_issuance_gives_an_empty_table_with_every_column():
    scores = Case(credits=[issuance(transaction_type="retirement")]).score()
    assert scores.empty, "retirements alone are not a scored project-vintage"
    assert {"reasons", "quality_tier", "gates_failed", "risk_adjusted_issued"} <= set(scores.columns)
