"""Project facts over methodology constants (issue 14): the commitment a project is held to, the nature-based
scope of gate G7 and placeholder registration dates, on hand-built cases (real rows: test_real_data_scoring)."""

from __future__ import annotations

import pandas as pd

from pipeline.ingest.gold_standard import read_projects
from pipeline.quality.engine import score_project_vintages
from pipeline.quality.reference import load_reference
from pipeline.settings import REPO_ROOT
from tests.conftest import SHARED_DATA, requires_shared_data
from tests.quality.builders import (
    POLICY_VERSION,
    Case,
    codes,
    credits_frame,
    issuance,
    methodology,
    policy,
    project,
    row,
)


def scored(case: Case, project_id: str = "VCS5001", vintage: int = 2024) -> pd.Series:
    return row(case.score(), project_id, vintage)


def reason(scored_row: pd.Series, code: str) -> str:
    found = [r["message"] for r in scored_row["reasons"] if r["code"] == code]
    assert found, f"no reason {code}; reasons: {codes(scored_row)}"
    return found[0]


# --- commitment is a project fact (item 1) ------------------------------------------------------------------

PRE_2024_ROW = methodology(ccp_status="not_submitted", commitment_years=30.0)


def test_crediting_period_of_100_years_is_a_100_year_commitment():
    """A 2016-2116 ARR project under a 30-year (program minimum) methodology row scored permanence 2."""
    case = Case(
        projects=[project(crediting_period_start=pd.Timestamp("2016-01-01"),
                          crediting_period_end=pd.Timestamp("2116-01-01"))],
        methodologies=[PRE_2024_ROW],
    )  # fmt: skip
    result = scored(case)
    assert result["commitment_years"] == 100 and result["permanence_score"] == 5, result[["commitment_years"]]


def test_verra_registration_from_2024_raises_the_floor_to_40_and_before_stays_30():
    def registered(day: str) -> pd.Series:
        return scored(Case(projects=[project(registration_date=pd.Timestamp(day))], methodologies=[PRE_2024_ROW]))

    before, after = registered("2023-11-30"), registered("2024-02-01")
    assert (before["commitment_years"], before["permanence_score"]) == (30, 2), "NPRT: 30 years before 2024"
    assert (after["commitment_years"], after["permanence_score"]) == (40, 4), "NPRT: >= 40 years from 2024"
    assert "NPRT" in reason(after, "PERM_RISK_BASED_40")


def test_an_approved_methodology_row_no_longer_lends_40_years_to_a_2023_project():
    """The reverse error: a 30-year VM0047 project registered in 2023 came out `high` on the row's 40."""
    row_30 = methodology(commitment_years=30.0)  # VM0047 (approved), program minimum: NPRT before 2024
    result = scored(Case(projects=[project(registration_date=pd.Timestamp("2023-06-01"))], methodologies=[row_30]))
    assert result["permanence_score"] == 2 and result["quality_tier"] == "ineligible", result["quality_tier"]


def test_the_ccp_label_on_the_issuance_implies_40_years():
    result = scored(Case(credits=[issuance(ccp_label=True)], methodologies=[PRE_2024_ROW]))
    assert result["commitment_years"] == 40 and result["permanence_score"] == 4
    assert "CCP label" in reason(result, "PERM_RISK_BASED_40")


def test_a_crediting_period_reaching_40_years_settles_an_unknown_program_minimum():
    case = Case(
        projects=[project("GLD5001", crediting_period_end=pd.Timestamp("2071-01-01"))],
        credits=[issuance("GLD5001")],
        methodologies=[methodology(program="gs", commitment_years=None)],
    )
    result = scored(case, "GLD5001")
    assert result["commitment_years"] == 50 and "UNKNOWN_COMMITMENT" not in codes(result)


# --- scope gate G7 (item 5) -----------------------------------------------------------------------------------


def test_a_third_party_type_does_not_make_an_energy_methodology_nature_based():
    """AMS-I.B solar pumps typed 'improved irrigation management' by Berkeley came out eligible nature-based ALM."""
    energy = methodology(protocol="ams-i-b", methodology_id="AMS-I.B", activity="", is_nature_based=False,
                         is_reversible=False, reversal_mechanism="not_applicable")  # fmt: skip
    solar = project(protocol="ams-i-b", activity="ALM", is_nature_based=True, afolu_activities=None,
                    project_type="improved irrigation management", project_type_source="berkeley")  # fmt: skip
    result = scored(Case(projects=[solar], methodologies=[energy]))
    assert not result["is_nature_based"] and "G7" in result["gates_failed"], result["gates_failed"]
    afolu = {**solar, "afolu_activities": "ALM"}
    assert scored(Case(projects=[afolu], methodologies=[energy]))["is_nature_based"], "the registry's AFOLU activity"


# --- placeholder registration dates (item 9) ---------------------------------------------------------------


def test_verra_migration_date_is_flagged_and_drives_no_date_rule():
    soil = methodology(protocol="vm0042", methodology_id="VM0042", activity="ALM", leakage_approach="soil_not_modelled")
    migrated = project(protocol="vm0042", activity="ALM", crediting_period_start=pd.Timestamp("2012-01-01"),
                       registration_date=pd.Timestamp("2020-04-06"))  # fmt: skip
    result = scored(Case(projects=[migrated], methodologies=[soil]))
    assert "REGISTRATION_DATE_PLACEHOLDER" in codes(result, "data")
    assert "ADD_SOIL_EARLY_START" not in codes(result), "8 years 'before registration' is the migration artefact"
    real = scored(Case(projects=[{**migrated, "registration_date": pd.Timestamp("2020-04-07")}], methodologies=[soil]))
    assert "ADD_SOIL_EARLY_START" in codes(real), "a real registration date still drives the rule"


# --- Gold Standard A/R with a blank Methodology (item 6) --------------------------------------------------


@requires_shared_data
def test_gold_standard_ar_projects_without_methodology_are_scored_under_gs_ar():
    """Real rows of the 2026-06 GS export: GLD23527 (Katunguru Restoration Project, type A/R, Methodology blank)
    failed G4 'no methodology row'; its project type identifies the GS A/R methodology. Issuances are hand-built
    (the bundled GS issuances do not cover these projects)."""
    export = SHARED_DATA / "gold-standard-projects-export" / "GSF Registry Projects Export 2026-06-04.csv"
    frame = read_projects(export).accepted
    ar = frame[frame["activity"] == "ARR"]
    assert len(ar) >= 170 and ar["protocol"].isna().sum() >= 147, "most GS A/R projects leave Methodology blank"
    katunguru = frame[frame["project_id"] == "GLD23527"]
    assert katunguru["protocol"].isna().all() and (katunguru["project_type_raw"] == "A/R").all()
    scores = score_project_vintages(
        katunguru, credits_frame([issuance("GLD23527", 2024)]), load_reference(REPO_ROOT / "data" / "reference"),
        policy(), POLICY_VERSION,
    )  # fmt: skip
    result = row(scores, "GLD23527", 2024)
    assert result["protocol"] == "gs-reforest" and "METHODOLOGY_FROM_PROJECT_TYPE" in codes(result, "methodology")
    assert "G4" not in result["gates_failed"], result["gates_failed"]


def test_soil_early_start_reads_the_first_issued_vintage_when_the_crediting_start_is_missing():
    """VROD-scale finding (VCS3115, VM0017: vintages from 2017, registered 2025-09-26, no crediting dates in the
    source) came out eligible: a vintage cannot precede the crediting period, so 2017 bounds its start."""
    soil = methodology(protocol="vm0017", methodology_id="VM0017", activity="ALM", leakage_approach="soil_not_modelled",
                       additionality_class="project_specific_legacy", ccp_status="not_submitted")  # fmt: skip
    farms = project(protocol="vm0017", activity="ALM", crediting_period_start=None,
                    registration_date=pd.Timestamp("2025-09-26"))  # fmt: skip
    credits = [issuance(vintage=v) for v in (2017, 2019, 2021, 2022)]  # no crediting gap
    result = scored(Case(projects=[farms], credits=credits, methodologies=[soil]), vintage=2022)
    assert "ADD_SOIL_EARLY_START" in codes(result, "additionality"), codes(result)
    assert result["additionality_score"] == 2 and result["quality_tier"] == "ineligible"
