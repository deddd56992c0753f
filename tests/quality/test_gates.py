"""Golden tests for gates G1-G7: one hand-built project-vintage per rule, asserting the gate and reason code."""

from __future__ import annotations

import pytest

from tests.quality.builders import Case, codes, issuance, methodology, policy, project, row


def gates_of(case: Case, project_id: str = "VCS5001", vintage: int = 2024):
    scored = row(case.score(), project_id, vintage)
    return scored, list(scored["gates_failed"])


def test_baseline_case_passes_every_gate():
    scored, gates = gates_of(Case())
    assert gates == [], f"the reference ARR vintage should pass every gate, failed {gates}: {codes(scored)}"
    assert scored["is_eligible"], "a gate-clean vintage with scores >= 3 should be eligible"


def test_g1_program_outside_policy_fails():
    case = Case(policy=policy(gates={"programs": ["art-trees"]}))
    scored, gates = gates_of(case)
    assert gates == ["G1"], f"a Verra vintage under a policy accepting only ART should fail G1, got {gates}"
    assert "G1_PROGRAM" in codes(scored, "gate")
    assert not scored["is_eligible"], "a failed gate must make the row ineligible"


@pytest.mark.parametrize("status", ["on_hold", "withdrawn", "under_validation", "listed"])
def test_g2_status_not_registered_fails(status):
    scored, gates = gates_of(Case(projects=[project(status=status)]))
    assert gates == ["G2"], f"status {status} should fail G2 only, got {gates}"
    assert "G2_STATUS" in codes(scored, "gate"), f"expected reason G2_STATUS, got {codes(scored)}"
    assert status in next(r["message"] for r in scored["reasons"] if r["code"] == "G2_STATUS")


def test_g2_project_missing_from_registry_export_fails():
    case = Case(projects=[project("VCS9999")], credits=[issuance(project_known=False)])
    scored, gates = gates_of(case)
    assert "G2" in gates, f"a vintage whose project is not in the projects export should fail G2, got {gates}"
    assert "G2_PROJECT_UNKNOWN" in codes(scored, "gate")


def test_g2_flag_list_entry_fails_with_its_source():
    flag = {
        "project_id": "VCS5001",
        "flag": "over_crediting_finding",
        "effect": "ineligible",
        "description": "15.2M excess credits acknowledged",
        "flagged_on": "2023-10-27",
        "source_url": "https://verra.org/verra-acts-on-kariba",
        "as_of": "2026-08-17",
    }
    scored, gates = gates_of(Case(flags=[flag]))
    assert gates == ["G2"], f"a project on the flag list (effect ineligible) should fail G2, got {gates}"
    reason = next(r for r in scored["reasons"] if r["code"] == "G2_FLAGGED")
    assert "https://verra.org/verra-acts-on-kariba" in reason["source"], f"the flag's URL is a citation: {reason}"


def test_g3_gold_standard_per_is_forward_and_fails():
    case = Case(
        projects=[project("GLD7001")],
        credits=[issuance("GLD7001", product_type="VER"), issuance("GLD7001", quantity=500, product_type="PER")],
    )
    scored, gates = gates_of(case, "GLD7001")
    assert gates == ["G3"], f"a vintage with PER issuance should fail G3 (ex-post only), got {gates}"
    assert "G3_FORWARD_PRODUCT" in codes(scored, "gate")


def test_g3_vintage_issued_before_its_year_fails():
    case = Case(credits=[issuance(vintage=2025, transaction_date="2024-06-01")])
    scored, gates = gates_of(case, vintage=2025)
    assert gates == ["G3"], f"vintage 2025 issued in 2024 is a forward credit and should fail G3, got {gates}"
    assert "G3_VINTAGE_AHEAD" in codes(scored, "gate")


def test_g4_ccp_rejected_methodology_fails():
    case = Case(methodologies=[methodology(ccp_status="rejected")])
    scored, gates = gates_of(case)
    assert gates == ["G4"], f"an ICVCM-rejected methodology should fail G4, got {gates}"
    assert "G4_CCP_REJECTED" in codes(scored, "gate")


def test_g4_superseded_methodology_fails_only_after_its_transition_deadline():
    past = Case(methodologies=[methodology(inactive_or_superseded=True, transition_deadline="2025-01-01")])
    future = Case(methodologies=[methodology(inactive_or_superseded=True, transition_deadline="2027-01-01")])
    scored, gates = gates_of(past)
    assert gates == ["G4"], f"a superseded methodology past its deadline should fail G4, got {gates}"
    assert "G4_SUPERSEDED" in codes(scored, "gate")
    _, gates = gates_of(future)
    assert gates == [], f"a superseded methodology before its transition deadline should pass G4, got {gates}"


def test_g4_inactive_methodology_without_deadline_fails():
    scored, gates = gates_of(Case(methodologies=[methodology(inactive_or_superseded=True)]))
    assert gates == ["G4"], f"an inactivated methodology (VM0009-style, no deadline) should fail G4, got {gates}"


def legacy_redd_case(**policy_gates) -> Case:
    redd = methodology(
        protocol="vm0015",
        methodology_id="VM0015",
        activity="REDD",
        version_min="",
        version_max="",
        ccp_status="not_submitted",
        additionality_class="project_specific_legacy",
        baseline_class="static_project_reference",
        leakage_approach="activity_shifting_only",
        legacy_project_baseline_redd=True,
        commitment_years=30.0,
    )
    return Case(
        projects=[project(protocol="vm0015", activity="REDD", name="Bale Mountains Eco-region REDD+ project")],
        methodologies=[redd],
        policy=policy(gates=policy_gates),
    )


def test_g4_legacy_project_baseline_redd_fails_under_default_buyer_policy():
    scored, gates = gates_of(legacy_redd_case())
    assert gates == ["G4"], f"legacy project-baseline REDD should fail G4 by default, got {gates}"
    assert "G4_LEGACY_REDD" in codes(scored, "gate")


def test_g4_legacy_redd_buyer_policy_can_be_switched_off():
    scored, gates = gates_of(legacy_redd_case(exclude_legacy_redd=False))
    assert "G4" not in gates, f"with exclude_legacy_redd off, legacy REDD should pass G4, got {gates}"
    assert scored["leakage_score"] == 2, "activity-shifting-only leakage should still score 2"
    assert scored["quality_tier"] == "ineligible", "its low leakage and permanence scores still exclude it"


def test_g4_protocol_without_reference_row_fails():
    case = Case(projects=[project(protocol="vm0033", activity="WRC")])
    scored, gates = gates_of(case)
    assert gates == ["G4"], f"a protocol missing from methodologies.csv should fail G4, got {gates}"
    assert "G4_UNASSESSED" in codes(scored, "gate")


def test_g5_vintage_before_floor_fails():
    case = Case(credits=[issuance(vintage=2015)], policy=policy(gates={"max_vintage_age_years": None}))
    scored, gates = gates_of(case, vintage=2015)
    assert gates == ["G5"], f"vintage 2015 < 2016 should fail G5, got {gates}"
    assert "G5_VINTAGE" in codes(scored, "gate")


def test_g5_rolling_vintage_age_is_relative_to_the_assessment_date():
    case = Case(credits=[issuance(vintage=2020), issuance(vintage=2021)])
    scored = case.score()
    assert list(row(scored, vintage=2020)["gates_failed"]) == ["G5"], "2020 is > 5 years before 2026-06-30"
    assert list(row(scored, vintage=2021)["gates_failed"]) == [], "2021 is within 5 years of 2026-06-30"


def test_g6_reversible_without_reversal_mechanism_fails():
    scored, gates = gates_of(Case(methodologies=[methodology(reversal_mechanism="none")]))
    assert gates == ["G6"], f"a reversible ARR with no reversal mechanism should fail G6, got {gates}"
    assert "G6_NO_REVERSAL_MECHANISM" in codes(scored, "gate")
    assert scored["permanence_score"] == 1, "no reversal mechanism also scores permanence 1"


def test_g7_non_nature_based_fails_under_default_policy():
    landfill = methodology(
        protocol="acm0001",
        methodology_id="ACM0001",
        activity="",
        is_nature_based=False,
        version_min="15.0",
        version_max="19.0",
        additionality_class="standardized_positive_list",
        baseline_class="not_applicable",
        leakage_approach="not_applicable",
        reversal_mechanism="not_applicable",
        is_reversible=False,
    )
    case = Case(
        projects=[project(protocol="acm0001", activity=None, is_nature_based=False, category="ghg-management")],
        methodologies=[landfill],
    )
    scored, gates = gates_of(case)
    assert gates == ["G7"], f"a landfill vintage should fail only the nature-based gate, got {gates}"
    assert "G7_NOT_NATURE_BASED" in codes(scored, "gate")
    assert scored["permanence_score"] == 5, "non-reversible reductions score permanence 5"
