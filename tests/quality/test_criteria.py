"""Golden tests for the additionality, permanence, leakage and over-crediting rules (framework 7.4-7.7):
one small hand-built case per rule, asserting the score and the reason code."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.quality.builders import Case, codes, issuance, methodology, policy, project, row


def score_one(case: Case, project_id: str = "VCS5001", vintage: int = 2024):
    return row(case.score(), project_id, vintage)


def message(scored, code: str) -> str:
    found = [r["message"] for r in scored["reasons"] if r["code"] == code]
    assert found, f"no reason {code}; reasons: {codes(scored)}"
    return found[0]


# --- additionality (7.4) -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("additionality_class", "expected"),
    [
        ("dynamic_benchmark", 4),
        ("jurisdictional", 4),
        ("standardized_positive_list", 4),
        ("project_specific_legacy", 3),
        ("none", 2),
        ("rejected_category", 1),
    ],
)
def test_additionality_base_by_class(additionality_class, expected):
    scored = score_one(Case(methodologies=[methodology(additionality_class=additionality_class)]))
    assert scored["additionality_score"] == expected, f"{additionality_class} should score {expected}"
    assert f"ADD_CLASS_{additionality_class.upper()}" in codes(scored, "additionality")


def test_standardized_test_without_ccp_approval_scores_3():
    case = Case(
        methodologies=[methodology(additionality_class="standardized_positive_list", ccp_status="not_submitted")]
    )
    scored = score_one(case)
    assert scored["additionality_score"] == 3, "a positive list that is not CCP-approved should score 3"
    assert "ADD_STANDARDIZED_NOT_APPROVED" in codes(scored, "additionality")


def test_ccp_label_lifts_dynamic_benchmark_to_5():
    scored = score_one(Case(credits=[issuance(ccp_label=True)]))
    assert scored["additionality_score"] == 5, "dynamic benchmark (ex-post evidence) + CCP label should reach 5"
    assert "ADD_CCP_LABEL" in codes(scored, "additionality")


def test_ccp_label_is_capped_at_4_without_ex_post_evidence():
    case = Case(methodologies=[methodology(additionality_class="jurisdictional")], credits=[issuance(ccp_label=True)])
    scored = score_one(case)
    assert scored["additionality_score"] == 4, "jurisdictional 4 + label stays at the cap of 4"
    assert "ADD_CCP_LABEL_CAPPED" in codes(scored, "additionality")


def test_ccp_label_lifts_legacy_test_from_3_to_4():
    case = Case(
        methodologies=[methodology(additionality_class="project_specific_legacy")], credits=[issuance(ccp_label=True)]
    )
    assert score_one(case)["additionality_score"] == 4, "legacy 3 + CCP label on an approved methodology = 4"


def test_ccp_label_needs_an_approved_methodology():
    case = Case(methodologies=[methodology(ccp_status="under_assessment")], credits=[issuance(ccp_label=True)])
    scored = score_one(case)
    assert scored["additionality_score"] == 4, "no bonus when the methodology is not CCP-approved"
    assert "ADD_CCP_LABEL" not in codes(scored)


def test_crediting_gap_of_three_years_lowers_later_vintages():
    case = Case(
        credits=[issuance(vintage=2017), issuance(vintage=2021), issuance(vintage=2022)],
        policy=policy(gates={"max_vintage_age_years": None}),
    )
    scored = case.score()
    before, after, later = (row(scored, vintage=v) for v in (2017, 2021, 2022))
    assert before["additionality_score"] == 4, "the vintage before the gap keeps its score"
    assert after["additionality_score"] == 3, "2018-2020 without issuance (3 years) then 2021: -1"
    assert later["additionality_score"] == 3, "every vintage after the gap carries the -1"
    assert "2018-2020 (3 years >= 3)" in message(after, "ADD_CREDITING_GAP")


def test_two_year_gap_is_not_penalised():
    case = Case(credits=[issuance(vintage=2021), issuance(vintage=2024)])
    scored = row(case.score(), vintage=2024)
    assert scored["additionality_score"] == 4, "2022-2023 is a 2-year gap, below the 3-year rule"
    assert "ADD_CREDITING_GAP" not in codes(scored)


def test_commercial_plantation_arr_loses_a_step():
    case = Case(projects=[project(name="Teak plantation in Ghana")])
    scored = score_one(case)
    assert scored["project_type_key"] == "ARR_commercial", "a 'plantation' ARR should match ARR_commercial"
    assert scored["additionality_score"] == 3, "harvest revenue: 4 - 1"
    assert "ADD_HARVEST_REVENUE" in codes(scored, "additionality")


def test_acr_arr_outside_natural_forest_establishment_loses_a_step():
    acr_arr = methodology(
        protocol="acr-affor-refor",
        program="acr",
        methodology_id="ACR A&R Degraded Lands",
        additionality_class="project_specific_legacy",
        version_min="1.0",
        version_max="1.2",
    )
    unspecified = Case(
        projects=[project("ACR801", protocol="acr-affor-refor", name="Mississippi A&R")],
        credits=[issuance("ACR801")],
        methodologies=[acr_arr],
    )
    natural = Case(
        projects=[project("ACR801", protocol="acr-affor-refor", name="Native forest restoration")],
        credits=[issuance("ACR801")],
        methodologies=[acr_arr],
    )
    scored = score_one(unspecified, "ACR801")
    assert scored["additionality_score"] == 2, "ACR ARR not identified as natural forest: 3 - 1"
    assert "ADD_ACR_ARR_NOT_NATURAL" in codes(scored, "additionality")
    assert score_one(natural, "ACR801")["additionality_score"] == 3, "natural forest establishment keeps 3"


def test_ifm_harvest_deferral_on_common_practice_baseline_loses_a_step():
    ifm = methodology(
        protocol="car-forest",
        program="car",
        methodology_id="CAR U.S. Forest",
        activity="IFM",
        additionality_class="project_specific_legacy",
        baseline_class="regional_common_practice",
        leakage_approach="ifm_market_deduction",
        default_market_leakage_pct=20.0,
        version_min="",
        version_max="",
        commitment_years=100.0,
    )
    case = Case(
        projects=[project("CAR1001", protocol="car-forest", activity="IFM", name="Deferred harvest forest")],
        credits=[issuance("CAR1001")],
        methodologies=[ifm],
    )
    scored = score_one(case, "CAR1001")
    assert scored["additionality_score"] == 2, "IFM harvest deferral on a common-practice baseline: 3 - 1"
    assert "ADD_IFM_COMMON_PRACTICE" in codes(scored, "additionality")
    assert scored["over_crediting_score"] == 2, "regional common-practice baseline scores over-crediting 2"


def test_soil_project_crediting_long_before_registration_loses_a_step():
    alm = methodology(
        protocol="vm0042",
        methodology_id="VM0042",
        activity="ALM",
        additionality_class="dynamic_benchmark",
        leakage_approach="soil_not_modelled",
        version_min="2.2",
        version_max="2.2",
    )
    case = Case(
        projects=[
            project(
                protocol="vm0042",
                activity="ALM",
                name="Soil carbon farms",
                crediting_period_start="2016-01-01",
                registration_date="2022-01-01",
            )
        ],
        methodologies=[alm],
    )
    scored = score_one(case)
    assert scored["additionality_score"] == 3, "crediting began 6 years before registration: 4 - 1"
    assert "ADD_SOIL_EARLY_START" in codes(scored, "additionality")


# --- permanence (7.5) ----------------------------------------------------------------------------------------


def test_non_reversible_activity_scores_5_without_reason():
    case = Case(methodologies=[methodology(is_reversible=False, reversal_mechanism="not_applicable")])
    scored = score_one(case)
    assert scored["permanence_score"] == 5, "a non-reversible reduction is permanent"
    assert codes(scored, "permanence") == [], "a 5 needs no explanation"


def test_car_reversible_flag_on_the_credit_overrides_the_reference():
    case = Case(
        methodologies=[methodology(is_reversible=False, reversal_mechanism="not_applicable")],
        credits=[issuance(is_reversible=True)],
    )
    assert score_one(case)["is_reversible"], "CAR's Reversible flag on the issuance wins over the reference"


def test_commitment_30_years_scores_2_with_the_af_rule():
    scored = score_one(Case(methodologies=[methodology(commitment_years=30.0)]))
    assert scored["permanence_score"] == 2, "a 30-year commitment is below the 40 years of ICVCM AF 9.1"
    assert message(scored, "PERM_COMMITMENT_LT_CCP") == (
        "permanence 2: commitment 30 years (Verra NPRT longevity floor for the registration date) < 40 required"
    )
    source = next(r["source"] for r in scored["reasons"] if r["code"] == "PERM_COMMITMENT_LT_CCP")
    assert any(c.startswith("ICVCM AF 9.1") for c in source), f"the AF rule must be one of the citations: {source}"


def test_commitment_below_20_years_scores_1():
    # an ACR project: Verra's NPRT floor (30 years) would lift a Verra project
    case = Case(projects=[project("ACR5001")], credits=[issuance("ACR5001")],
                methodologies=[methodology(program="acr", commitment_years=10.0)])  # fmt: skip
    scored = score_one(case, "ACR5001")
    assert scored["permanence_score"] == 1, "a 10-year commitment scores 1"
    assert "PERM_COMMITMENT_LT_MIN" in codes(scored, "permanence")


def test_unknown_commitment_is_held_for_review_not_ineligible():
    """Issue 14 item 2: no program minimum and no project fact reaching 40 years (a 30-year crediting period is
    only a lower bound): the permanence input is unknown, the row waits for review."""
    case = Case(
        projects=[project("ACR5001", crediting_period_end=pd.Timestamp("2051-01-01"))],
        credits=[issuance("ACR5001")],
        methodologies=[methodology(program="acr", commitment_years=None)],
    )
    scored = score_one(case, "ACR5001")
    assert "UNKNOWN_COMMITMENT" in codes(scored, "permanence")
    assert "crediting period: 30 years" in message(scored, "UNKNOWN_COMMITMENT"), message(scored, "UNKNOWN_COMMITMENT")
    assert scored["quality_tier"] == "needs_review" and not scored["is_eligible"]
    assert "TIER_NEEDS_REVIEW" in codes(scored, "tier")


def test_100_year_commitment_with_risk_based_buffer_scores_5():
    scored = score_one(Case(methodologies=[methodology(commitment_years=100.0)]))
    assert scored["permanence_score"] == 5, "100 years + risk-based pooled buffer scores 5"


def test_40_years_with_flat_buffer_scores_3():
    scored = score_one(Case(methodologies=[methodology(reversal_mechanism="pooled_buffer_flat")]))
    assert scored["permanence_score"] == 3, "a flat buffer (GS 20%) scores 3 even at 40+ years"
    assert "PERM_FLAT_OR_UNPROVEN" in codes(scored, "permanence")


def test_observed_buffer_below_minimum_loses_a_step():
    case = Case(credits=[issuance(quantity=9_400, buffer_quantity=600)])
    scored = score_one(case)
    assert scored["buffer_pct_observed"] == pytest.approx(6.0), "600 of 10,000 issued went to the buffer"
    assert scored["permanence_score"] == 3, "6% observed < 10% minimum: 4 - 1"
    assert message(scored, "PERM_BUFFER_BELOW_MIN") == (
        "permanence -1: observed buffer 6% of issuance < 10% methodology minimum"
    )


def test_observed_buffer_at_minimum_keeps_the_score():
    scored = score_one(Case(credits=[issuance(quantity=9_000, buffer_quantity=1_000)]))
    assert scored["permanence_score"] == 4, "10% observed meets the 10% minimum"


# --- leakage (7.6) -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("approach", "expected"),
    [
        ("national_accounting", 5),
        ("jurisdictional_deduction", 4),
        ("jurisdictional_plus_belt", 4),
        ("displaced_agriculture", 4),
        ("wetland_blue_carbon", 4),
        ("soil_not_modelled", 3),
        ("activity_shifting_only", 2),
        ("none", 1),
    ],
)
def test_leakage_by_approach(approach, expected):
    scored = score_one(Case(methodologies=[methodology(leakage_approach=approach)]))
    assert scored["leakage_score"] == expected, f"{approach} should score leakage {expected}"
    if expected < 5:
        assert f"LEAK_{approach.upper()}" in codes(scored, "leakage")


def ifm_case(deduction: float | None) -> Case:
    ifm = methodology(
        protocol="acr-ifm-nonfed",
        program="acr",
        methodology_id="ACR IFM Non-Federal",
        activity="IFM",
        leakage_approach="ifm_market_deduction",
        default_market_leakage_pct=deduction,
        version_min="2.1",
        version_max="2.1",
    )
    return Case(
        projects=[project("ACR701", protocol="acr-ifm-nonfed", activity="IFM")],
        credits=[issuance("ACR701", quantity=10_000)],
        methodologies=[ifm],
    )


def test_ifm_with_20_percent_market_deduction_scores_3_and_no_haircut():
    scored = score_one(ifm_case(20.0), "ACR701")
    assert scored["leakage_score"] == 3, "IFM with a >= 20% market-leakage deduction scores 3"
    assert "LEAK_IFM_DEDUCTION" in codes(scored, "leakage")
    assert scored["haircut_pct"] == 0, "no haircut when the protocol's deduction meets the 20% floor"
    assert scored["risk_adjusted_issued"] == 10_000


def test_ifm_below_the_floor_scores_2_and_is_haircut_to_the_floor():
    scored = score_one(ifm_case(10.0), "ACR701")
    assert scored["leakage_score"] == 2, "IFM with a 10% deduction is below the 20% floor"
    assert "LEAK_IFM_BELOW_FLOOR" in codes(scored, "leakage")
    assert scored["haircut_pct"] == pytest.approx(10.0), "haircut = 20% - 10% own deduction"
    assert scored["risk_adjusted_issued"] == 9_000, "10,000 issued less a 10% haircut"
    assert "HAIRCUT_IFM_LEAKAGE" in codes(scored, "haircut")


def test_ifm_with_no_recorded_deduction_is_unknown_not_none():
    """Issue 12 item 14 / issue 14 item 2: a blank market-leakage deduction is missing evidence. It neither
    passes the 20% floor ("deduction nan% >= 20%") nor reads as 0% ("deduction none%"): the row is held for
    review with UNKNOWN_LEAKAGE_DEDUCTION, and the risk haircut takes the whole floor, saying why."""
    scored = score_one(ifm_case(None), "ACR701")
    assert codes(scored, "leakage") == ["UNKNOWN_LEAKAGE_DEDUCTION"], codes(scored, "leakage")
    assert scored["leakage_score"] == 2, "the policy's ifm_unknown_deduction score is shown"
    assert scored["quality_tier"] == "needs_review" and not scored["is_eligible"], scored["quality_tier"]
    texts = " ".join(r["message"] for r in scored["reasons"])
    assert "nan" not in texts and "none%" not in texts, texts
    assert scored["haircut_pct"] == pytest.approx(20.0) and scored["risk_adjusted_issued"] == 8_000
    assert "not recorded" in message(scored, "HAIRCUT_IFM_LEAKAGE")


def test_ifm_blank_deduction_with_the_ccp_label_of_an_approved_version_meets_the_condition():
    """Issue 14 items 2-3: ACR IFM v2.1 is approved on condition of a leakage deduction where wood-product
    output falls; a CCP-labelled issuance attests the condition was met for it."""
    case = ifm_case(None)
    case.methodologies = [{**case.methodologies[0], "ccp_status": "approved_conditional"}]
    case.credits = [issuance("ACR701", quantity=10_000, methodology_version="2.1", ccp_label=True)]
    scored = score_one(case, "ACR701")
    assert scored["ccp_status"] == "approved" and scored["methodology_ccp_status"] == "approved_conditional"
    assert "CCP_LABEL_MEETS_CONDITIONS" in codes(scored, "methodology")
    assert codes(scored, "leakage") == ["LEAK_IFM_CCP_CONDITION"] and scored["leakage_score"] == 3
    assert scored["quality_tier"] in ("eligible", "high"), scored["quality_tier"]
    assert "not approved" not in " ".join(r["message"] for r in scored["reasons"])


# --- over-crediting (7.7) ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "expected", "sensitivity"),
    [
        ("jurisdictional_allocated", 4, 0.0),
        ("dynamic", 4, 0.0),
        ("static_project_reference", 1, 75.0),
        ("regional_common_practice", 2, 30.0),
    ],
)
def test_over_crediting_by_baseline_class(baseline, expected, sensitivity):
    scored = score_one(Case(methodologies=[methodology(baseline_class=baseline)]))
    assert scored["over_crediting_score"] == expected, f"{baseline} should score over-crediting {expected}"
    assert f"OVER_{baseline.upper()}" in codes(scored, "over_crediting")
    assert scored["sensitivity_haircut_pct"] == sensitivity, f"{baseline}: sensitivity haircut {sensitivity}%"
    assert scored["sensitivity_adjusted_issued"] == int(1000 * (1 - sensitivity / 100))


def test_over_crediting_is_reported_not_gating():
    scored = score_one(Case(methodologies=[methodology(baseline_class="static_project_reference")]))
    assert scored["over_crediting_score"] == 1
    assert scored["is_eligible"], "v1 reports over-crediting but does not gate on it"
