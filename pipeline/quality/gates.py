"""Gates G1-G7 (framework section 7.3, plus the nature-based scope gate): pass or fail, any failure means
ineligible whatever the scores. ``gates_failed`` lists the gate codes; the reasons name the exact rule."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from pipeline.quality.inputs import ISSUED_BY_PRODUCT_PREFIX
from pipeline.quality.policy import GatePolicy
from pipeline.quality.reasons import FRAMEWORK, ReasonLog, methodology_source, text

GATE_CODES = ("G1", "G2", "G3", "G4", "G5", "G6", "G7")
GATE_NAMES = {
    "G1": "program",
    "G2": "status",
    "G3": "ex-post only",
    "G4": "methodology",
    "G5": "vintage floor",
    "G6": "reversal mechanism",
    "G7": "nature-based scope",
}
ICVCM_AF = "https://icvcm.org/assessment-framework/"


def evaluate_gates(pv: pd.DataFrame, policy: GatePolicy, as_of: dt.date, log: ReasonLog) -> pd.DataFrame:
    """One boolean column per gate code, True where the gate fails; reasons added to ``log``."""
    failed = pd.DataFrame(False, index=pv.index, columns=list(GATE_CODES))
    protocol = text(pv["protocol"])
    project_source = (
        "projects export " + text(pv["project_source_file"], "(none)") + ":" + text(pv["project_source_line"], "-")
    )

    # G1 program
    g1 = ~pv["registry"].isin(policy.programs)
    log.add(
        g1,
        "G1_PROGRAM",
        "gate",
        "G1: registry " + text(pv["registry"]) + f" is not an accepted program ({', '.join(policy.programs)})",
        f"{FRAMEWORK} 7.3 G1; CCP-Eligible programs ({ICVCM_AF})",
    )
    failed["G1"] = g1

    # G2 status and flag list
    unknown_project = ~pv["project_known"]
    bad_status = pv["project_known"] & ~pv["status"].isin(policy.eligible_statuses)
    flagged = pv["flag_effect"].isin(policy.flag_effects_failing)
    log.add(
        unknown_project,
        "G2_PROJECT_UNKNOWN",
        "gate",
        "G2: project " + pv["project_id"] + " is missing from the registry's projects export, so its status is unknown",
        f"{FRAMEWORK} 7.3 G2; credits.project_known",
    )
    log.add(
        bad_status,
        "G2_STATUS",
        "gate",
        "G2: project status '" + text(pv["status"]) + "' is not one of " + ", ".join(policy.eligible_statuses),
        f"{FRAMEWORK} 7.3 G2 | " + project_source,
    )
    log.add(
        flagged,
        "G2_FLAGGED",
        "gate",
        "G2: project flagged '"
        + text(pv["flag"])
        + "' on "
        + text(pv["flagged_on"])
        + ": "
        + text(pv["flag_description"], ""),
        "project_flags.csv: " + text(pv["flag_source_url"], ""),
    )
    failed["G2"] = unknown_project | bad_status | flagged

    # G3 ex-post only
    forward_columns = [f"{ISSUED_BY_PRODUCT_PREFIX}{t}" for t in policy.forward_product_types]
    forward_qty = sum((pv[c] for c in forward_columns if c in pv.columns), pd.Series(0, index=pv.index))
    forward_product = forward_qty > 0
    log.add(
        forward_product,
        "G3_FORWARD_PRODUCT",
        "gate",
        "G3: " + text(forward_qty) + " credits of this vintage"
        f" were issued as {'/'.join(policy.forward_product_types)} (forward, ex-ante credits)",
        f"{FRAMEWORK} 7.3 G3, 4.9 (Gold Standard PERs); credits.product_type",
    )
    ahead = pd.Series(False, index=pv.index)
    if policy.exclude_vintage_after_issuance:
        ahead = (pv["vintage"] > pv["first_issued_year"]).fillna(False).astype(bool)
    log.add(
        ahead,
        "G3_VINTAGE_AHEAD",
        "gate",
        "G3: vintage "
        + text(pv["vintage"])
        + " was issued in "
        + text(pv["first_issued_year"])
        + ", before the vintage year (forward credit)",
        f"{FRAMEWORK} 7.3 G3; credits.transaction_date",
    )
    failed["G3"] = forward_product | ahead

    # G4 methodology
    found = pv["methodology_found"]
    unassessed = ~found & policy.exclude_unassessed_methodology
    rejected = found & pv["ccp_status"].isin(policy.rejected_ccp_statuses)
    deadline = pv["transition_deadline"]
    superseded = (
        found
        & pv["inactive_or_superseded"].fillna(False).astype(bool)
        & (deadline.isna() | (deadline < pd.Timestamp(as_of)))
    )
    legacy = found & pv["legacy_project_baseline_redd"].fillna(False).astype(bool) & policy.exclude_legacy_redd
    methodology = text(pv["methodology_id"]) + " " + text(pv["version_min"], "") + "-" + text(pv["version_max"], "")
    log.add(
        unassessed,
        "G4_UNASSESSED",
        "gate",
        "G4: protocol '" + protocol + "' has no row in the methodology reference table, so no rule can vouch for it",
        f"{FRAMEWORK} 7.2 methodology_ref",
    )
    log.add(
        rejected,
        "G4_CCP_REJECTED",
        "gate",
        "G4: ICVCM decision for " + methodology.str.strip("- ") + " is '" + text(pv["ccp_status"]) + "'",
        methodology_source(pv, f"{FRAMEWORK} 7.3 G4"),
    )
    log.add(
        superseded,
        "G4_SUPERSEDED",
        "gate",
        "G4: methodology "
        + text(pv["methodology_id"])
        + " is inactive or superseded and its transition deadline ("
        + text(deadline.dt.date, "none")
        + f") has passed on {as_of}",
        methodology_source(pv, f"{FRAMEWORK} 7.3 G4, 4.5"),
    )
    log.add(
        legacy,
        "G4_LEGACY_REDD",
        "gate",
        "G4: " + text(pv["methodology_id"]) + " is a legacy project-baseline"
        " REDD methodology, excluded by the buyer policy (gates.exclude_legacy_redd)",
        methodology_source(pv, f"{FRAMEWORK} 7.3 G4, 4.4 (West et al. 2023)"),
    )
    failed["G4"] = unassessed | rejected | superseded | legacy

    # G5 vintage floor
    floor = policy.min_vintage
    if policy.max_vintage_age_years is not None:
        floor = max(floor, as_of.year - policy.max_vintage_age_years)
    too_old = pv["vintage"] < floor
    rule = f"min_vintage {policy.min_vintage}" + (
        f", vintage age <= {policy.max_vintage_age_years} years at {as_of}"
        if policy.max_vintage_age_years is not None
        else ""
    )
    log.add(
        too_old,
        "G5_VINTAGE",
        "gate",
        "G5: vintage " + text(pv["vintage"]) + f" < floor {floor} ({rule})",
        f"{FRAMEWORK} 7.3 G5 (CORSIA pilot cut-off 2016)",
    )
    failed["G5"] = too_old

    # G6 reversible without a reversal mechanism
    no_mechanism = (
        pv["is_reversible"] & found & pv["reversal_mechanism"].isin(["none"]) & policy.require_reversal_mechanism
    )
    log.add(
        no_mechanism,
        "G6_NO_REVERSAL_MECHANISM",
        "gate",
        "G6: reversible activity under " + text(pv["methodology_id"]) + " has reversal mechanism 'none'",
        methodology_source(pv, f"{FRAMEWORK} 7.3 G6; ICVCM AF 9.1 ({ICVCM_AF})"),
    )
    failed["G6"] = no_mechanism

    # G7 nature-based scope
    outside = ~pv["is_nature_based"] & policy.nature_based_only
    log.add(
        outside,
        "G7_NOT_NATURE_BASED",
        "gate",
        "G7: protocol '" + protocol + "' is not a nature-based "
        "activity; the policy buys nature-based credits only (gates.nature_based_only)",
        "policy.yaml scoring.gates.nature_based_only",
    )
    failed["G7"] = outside
    return failed.astype(bool)


def gate_mask_to_codes(failed: pd.DataFrame) -> dict[str, np.ndarray]:
    """Gate code -> failure mask, in gate order (for the ``gates_failed`` list column)."""
    return {code: failed[code].to_numpy() for code in GATE_CODES}
