"""Additionality score 1-5 (framework section 7.4): a base from the methodology's additionality class, then
the modifiers registry data supports: CCP label, crediting gaps, harvest revenue, IFM common-practice
baselines and early-start soil projects."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.quality.policy import AdditionalityPolicy
from pipeline.quality.reasons import FRAMEWORK, ReasonLog, Shown, Upper, methodology_source

CRITERION = "additionality"
CLASS_WORDING = {
    "dynamic_benchmark": "a dynamic performance benchmark",
    "jurisdictional": "a jurisdictional baseline and additionality test",
    "standardized_positive_list": "a standardized test or positive list",
    "project_specific_legacy": "a project-specific legacy test (CDM tool, VT0001, ACR three-prong)",
    "none": "no credible additionality test",
    "rejected_category": "a category ICVCM rejected on additionality",
}


def crediting_gaps(pv: pd.DataFrame, min_gap_years: int) -> pd.DataFrame:
    """For each project-vintage (sorted by project, vintage): whether it follows a run of ``min_gap_years`` or
    more vintages without issuance, and the latest such gap (first and last missing vintage)."""
    gap = pv["vintage"] - pv["prev_issued_vintage"] - 1
    opens = (gap >= min_gap_years).fillna(False)
    by_project = pv["project_id"]
    return pd.DataFrame(
        {
            "after_gap": opens.astype(int).groupby(by_project).cummax().astype(bool),
            "gap_from": (pv["prev_issued_vintage"] + 1).where(opens).groupby(by_project).ffill(),
            "gap_to": (pv["vintage"] - 1).where(opens).groupby(by_project).ffill(),
        }
    )


def score_additionality(pv: pd.DataFrame, policy: AdditionalityPolicy, log: ReasonLog) -> np.ndarray:
    """Additionality score per row; every step below 5 or changing the score is logged."""
    cls = pv["additionality_class"]
    assessed = pv["methodology_found"] & cls.isin(list(policy.base_by_class))
    approved = pv["ccp_status"].isin(policy.ccp_bonus_statuses)
    standardized_unapproved = assessed & (cls == "standardized_positive_list") & ~approved
    base = cls.map(policy.base_by_class).where(assessed, policy.unassessed)
    base = base.where(~standardized_unapproved, policy.standardized_without_approval).astype(int)
    score = base.to_numpy().copy()

    log.add(assessed & ~standardized_unapproved & (base < 5), ("ADD_CLASS_", Upper(cls)), CRITERION,
            ("additionality ", base, ": ", pv["methodology_id"], " uses ", cls.map(CLASS_WORDING)),
            methodology_source(pv, f"{FRAMEWORK} 7.4 base"))  # fmt: skip
    log.add(standardized_unapproved, "ADD_STANDARDIZED_NOT_APPROVED", CRITERION,
            ("additionality ", base, ": ", pv["methodology_id"], " uses a standardized test but its ICVCM status is '",
             pv["ccp_status"], "', not approved"), methodology_source(pv, f"{FRAMEWORK} 7.4 base"))  # fmt: skip
    log.add(~assessed, "ADD_UNASSESSED", CRITERION,
            ("additionality ", base, ": protocol '", pv["protocol"], "' has no methodology reference row with a "
             "known additionality class"), f"{FRAMEWORK} 7.2 methodology_ref")  # fmt: skip

    # +1 for the CCP label on an approved methodology, capped unless the class has ex-post evidence
    labelled = (assessed & approved & pv["ccp_label"]).to_numpy() & (policy.ccp_label_bonus > 0)
    cap = np.where(cls.isin(policy.ex_post_evidence_classes), 5, policy.ccp_bonus_cap)
    raised = np.where(labelled, np.maximum(score, np.minimum(score + policy.ccp_label_bonus, cap)), score)
    log.add(labelled & (raised > score), "ADD_CCP_LABEL", CRITERION,
            ("additionality +", raised - score, ": the issuance carries the ICVCM CCP label and the methodology is "
             "CCP-approved"), methodology_source(pv, f"{FRAMEWORK} 7.4 modifier (CCP label)"))  # fmt: skip
    log.add(labelled & (raised == score) & (score < 5), "ADD_CCP_LABEL_CAPPED", CRITERION,
            f"additionality +0: CCP label present, but the label alone never lifts a score above "
            f"{policy.ccp_bonus_cap} without independent ex-post evidence",
            f"{FRAMEWORK} 7.4 modifier cap, 2 (CarbonPlan landfill crediting gaps)")  # fmt: skip
    score = raised

    # -1 after a crediting gap of N+ years without issuance
    gaps = crediting_gaps(pv, policy.crediting_gap_years)
    after_gap = gaps["after_gap"].to_numpy() & (policy.crediting_gap_penalty > 0)
    log.add(after_gap, "ADD_CREDITING_GAP", CRITERION,
            (f"additionality -{policy.crediting_gap_penalty}: no issuance for vintages ", gaps["gap_from"], "-",
             gaps["gap_to"], " (", gaps["gap_to"] - gaps["gap_from"] + 1,
             f" years >= {policy.crediting_gap_years}) before issuance resumed"),
            f"{FRAMEWORK} 7.4 modifier, 2 and 5 (CarbonPlan crediting-gap finding); computed from credits")  # fmt: skip
    score = score - np.where(after_gap, policy.crediting_gap_penalty, 0)

    # -1 for ARR with harvest revenue, and for ACR ARR outside natural forest establishment
    arr = (pv["activity"] == "ARR").fillna(False).to_numpy(dtype=bool)
    harvest = arr & pv["harvest_revenue"].to_numpy(dtype=bool)
    natural = (pv["project_type_key"] == "ARR_natural").fillna(False) & pv["project_type_matched"]
    not_natural = ~natural.to_numpy(dtype=bool)
    acr_not_natural = arr & (pv["registry"] == "american-carbon-registry").to_numpy() & not_natural
    penalised = (harvest | acr_not_natural) & (policy.harvest_revenue_penalty > 0)
    log.add(penalised & harvest, "ADD_HARVEST_REVENUE", CRITERION,
            (f"additionality -{policy.harvest_revenue_penalty}: ARR project type ", pv["project_type_key"],
             " earns harvest revenue (commercial plantation)"),
            (f"{FRAMEWORK} 7.4 modifier, 1 (CCQI commercial afforestation) | project_types.csv | ",
             Shown(pv["project_type_source_url"], "")))  # fmt: skip
    log.add(penalised & ~harvest, "ADD_ACR_ARR_NOT_NATURAL", CRITERION,
            (f"additionality -{policy.harvest_revenue_penalty}: ACR ARR not identified as natural forest "
             "establishment (project type ", Shown(pv["project_type_key"], "unmatched"),
             "); ICVCM approved ACR ARR only for natural forest establishment"),
            methodology_source(pv, f"{FRAMEWORK} 7.4 modifier (ICVCM condition)"))  # fmt: skip
    score = score - np.where(penalised, policy.harvest_revenue_penalty, 0)

    # -1 for IFM harvest deferral / rotation extension on a regional common-practice baseline
    ifm_at_risk = (
        (pv["activity"] == "IFM").fillna(False)
        & pv["project_type_key"].isin(policy.ifm_baseline_risk_types).fillna(False)
        & (pv["baseline_class"] == "regional_common_practice")
    ).to_numpy(dtype=bool) & (policy.ifm_common_practice_penalty > 0)
    log.add(ifm_at_risk, "ADD_IFM_COMMON_PRACTICE", CRITERION,
            (f"additionality -{policy.ifm_common_practice_penalty}: IFM ", pv["project_type_key"],
             " credited against a regional common-practice baseline"),
            methodology_source(pv, f"{FRAMEWORK} 7.4 modifier, 4.3 (baselines at the floor)"))  # fmt: skip
    score = score - np.where(ifm_at_risk, policy.ifm_common_practice_penalty, 0)

    # -1 for soil/ALM whose crediting start predates registration by N+ years
    # Crediting started no later than the project's first issued vintage: where the export has no crediting
    # start (or a later one), the first vintage's 1 January bounds it, a fact from the credits themselves.
    first_vintage = pd.to_datetime(
        pv.groupby("project_id")["vintage"].transform("min").astype(str) + "-01-01", errors="coerce"
    )
    started = pv["crediting_period_start"].where(pv["crediting_period_start"] <= first_vintage, first_vintage)
    lead_years = (pv["registration_date"] - started).dt.days / 365.25
    early = (
        pv["activity"].isin(policy.soil_activities).fillna(False) & (lead_years >= policy.soil_early_start_years)
    ).to_numpy(dtype=bool) & (policy.soil_early_start_penalty > 0)
    log.add(early, "ADD_SOIL_EARLY_START", CRITERION,
            (f"additionality -{policy.soil_early_start_penalty}: crediting started by ", started,
             " (crediting period start or first issued vintage), ", lead_years,
             " years before registration on ", pv["registration_date"], f" (>= {policy.soil_early_start_years})"),
            f"{FRAMEWORK} 7.4 modifier, 5 (soil protocols credit practices adopted before registration)")  # fmt: skip
    score = score - np.where(early, policy.soil_early_start_penalty, 0)
    return np.clip(score, 1, 5).astype(int)
