"""Gates G1-G7 (framework section 7.3, plus the nature-based scope gate): pass or fail, any failure means
ineligible whatever the scores. ``gates_failed`` lists the gate codes; the reasons name the exact rule."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from pipeline.quality.inputs import ISSUED_BY_PRODUCT_PREFIX
from pipeline.quality.policy import GatePolicy
from pipeline.quality.reasons import FRAMEWORK, ReasonLog, Shown, methodology_source

GATE_CODES = ("G1", "G2", "G3", "G4", "G5", "G6", "G7")
ICVCM_AF = "ICVCM Assessment Framework (https://icvcm.org/assessment-framework/)"


def evaluate_gates(pv: pd.DataFrame, policy: GatePolicy, as_of: dt.date, log: ReasonLog) -> pd.DataFrame:
    """One boolean column per gate code, True where the gate fails; reasons added to ``log``."""
    failed = pd.DataFrame(False, index=pv.index, columns=list(GATE_CODES))
    failed["G1"] = _program(pv, policy, log)
    failed["G2"] = _status(pv, policy, log)
    failed["G3"] = _ex_post(pv, policy, log)
    failed["G4"] = _methodology(pv, policy, as_of, log)
    failed["G5"] = _vintage(pv, policy, as_of, log)
    failed["G6"] = _reversal_mechanism(pv, policy, log)
    failed["G7"] = _nature_based(pv, policy, log)
    return failed.astype(bool)


def _program(pv: pd.DataFrame, policy: GatePolicy, log: ReasonLog) -> pd.Series:
    outside = ~pv["registry"].isin(policy.programs)
    log.add(outside, "G1_PROGRAM", "gate",
            ("G1: registry ", pv["registry"], f" is not an accepted program ({', '.join(policy.programs)})"),
            f"{FRAMEWORK} 7.3 G1; CCP-Eligible programs, {ICVCM_AF}")  # fmt: skip
    return outside


def _status(pv: pd.DataFrame, policy: GatePolicy, log: ReasonLog) -> pd.Series:
    unknown_project = ~pv["project_known"]
    bad_status = pv["project_known"] & ~pv["status"].isin(policy.eligible_statuses)
    flagged = pv["flag_effect"].isin(policy.flag_effects_failing)
    log.add(unknown_project, "G2_PROJECT_UNKNOWN", "gate",
            ("G2: project ", pv["project_id"], " is missing from the registry's projects export, so its status is "
             "unknown"), f"{FRAMEWORK} 7.3 G2; credits.project_known")  # fmt: skip
    log.add(bad_status, "G2_STATUS", "gate",
            ("G2: project status '", pv["status"], f"' is not one of {', '.join(policy.eligible_statuses)}"),
            (f"{FRAMEWORK} 7.3 G2 | ", pv["registry"], " projects export ", pv["project_source_file"], ":",
             pv["project_source_line"], " (", pv["project_url"], ")"))  # fmt: skip
    log.add(flagged, "G2_FLAGGED", "gate",
            ("G2: project flagged '", pv["flag"], "' on ", pv["flagged_on"], ": ", Shown(pv["flag_description"], "")),
            (f"{FRAMEWORK} 7.3 G2 | project_flags.csv | ", Shown(pv["flag_source_url"], "")))  # fmt: skip
    return unknown_project | bad_status | flagged


def _ex_post(pv: pd.DataFrame, policy: GatePolicy, log: ReasonLog) -> pd.Series:
    forward_columns = [f"{ISSUED_BY_PRODUCT_PREFIX}{t}" for t in policy.forward_product_types]
    forward_qty = sum((pv[c] for c in forward_columns if c in pv.columns), pd.Series(0, index=pv.index))
    forward_product = forward_qty > 0
    ahead = pd.Series(False, index=pv.index)
    if policy.exclude_vintage_after_issuance:
        ahead = (pv["vintage"] > pv["first_issued_year"]).fillna(False).astype(bool)
    log.add(forward_product, "G3_FORWARD_PRODUCT", "gate",
            ("G3: ", forward_qty, f" credits of this vintage were issued as {'/'.join(policy.forward_product_types)}"
             " (forward, ex-ante credits)"),
            f"{FRAMEWORK} 7.3 G3, 4.9 (Gold Standard PERs); credits.product_type")  # fmt: skip
    log.add(ahead, "G3_VINTAGE_AHEAD", "gate",
            ("G3: vintage ", pv["vintage"], " was first issued in ", pv["first_issued_year"],
             ", before the vintage year (forward credit)"),
            f"{FRAMEWORK} 7.3 G3; credits.transaction_date")  # fmt: skip
    return forward_product | ahead


def _methodology(pv: pd.DataFrame, policy: GatePolicy, as_of: dt.date, log: ReasonLog) -> pd.Series:
    found = pv["methodology_found"]
    unassessed = ~found & policy.exclude_unassessed_methodology
    # A version-scoped decision needs the version: with none known and the rows disagreeing, the row waits for
    # review (tiers) instead of failing on the strictest row's decision.
    versioned = found & ~pv["methodology_version_unknown"]
    rejected = versioned & pv["ccp_status"].isin(policy.rejected_ccp_statuses)
    deadline = pv["transition_deadline"]
    superseded = (
        versioned
        & pv["inactive_or_superseded"].fillna(False).astype(bool)
        & (deadline.isna() | (deadline < pd.Timestamp(as_of)))
    )
    legacy = found & pv["legacy_project_baseline_redd"].fillna(False).astype(bool) & policy.exclude_legacy_redd
    log.add(unassessed, "G4_UNASSESSED", "gate",
            ("G4: protocol '", pv["protocol"], "' has no row in the methodology reference table, so no rule can "
             "vouch for it"), f"{FRAMEWORK} 7.2 methodology_ref")  # fmt: skip
    log.add(rejected, "G4_CCP_REJECTED", "gate",
            ("G4: ICVCM decision for ", pv["methodology_id"], " versions ", Shown(pv["version_min"], "any"), "-",
             Shown(pv["version_max"], "any"), " is '", pv["ccp_status"], "'"),
            methodology_source(pv, f"{FRAMEWORK} 7.3 G4"))  # fmt: skip
    log.add(superseded, "G4_SUPERSEDED", "gate",
            ("G4: methodology ", pv["methodology_id"], " is inactive or superseded (transition deadline: ",
             Shown(deadline, "none, inactivated outright"), f"; assessed as of {as_of})"),
            methodology_source(pv, f"{FRAMEWORK} 7.3 G4, 4.5"))  # fmt: skip
    # The evidence differs by REDD type: West et al.'s synthetic controls studied avoided unplanned deforestation
    # (AUD); for planned deforestation (APD) it is BCTP's finding on developer-chosen baselines and leakage.
    planned = (pv["project_type_key"] == "REDD_APD").fillna(False)
    evidence = pd.Series(
        np.where(planned, "4.4 (BCTP: developer-chosen baselines, leakage underestimated; APD), 4.5",
                 "4.4 (West et al. 2023: AUD over-crediting), 4.5"), index=pv.index)  # fmt: skip
    log.add(legacy, "G4_LEGACY_REDD", "gate",
            ("G4: ", pv["methodology_id"], " is a legacy project-baseline REDD methodology (",
             np.where(planned, "planned", "unplanned"), " deforestation), excluded by the buyer policy "
             "(gates.exclude_legacy_redd)"),
            methodology_source(pv, (f"{FRAMEWORK} 7.3 G4, ", evidence)))  # fmt: skip
    return unassessed | rejected | superseded | legacy


def vintage_floor(policy: GatePolicy, as_of: dt.date) -> int:
    """The earliest eligible vintage: the fixed floor, or the rolling age limit if it is later."""
    if policy.max_vintage_age_years is None:
        return policy.min_vintage
    return max(policy.min_vintage, as_of.year - policy.max_vintage_age_years)


def _vintage(pv: pd.DataFrame, policy: GatePolicy, as_of: dt.date, log: ReasonLog) -> pd.Series:
    floor = vintage_floor(policy, as_of)
    rule = f"min_vintage {policy.min_vintage}"
    if policy.max_vintage_age_years is not None:
        rule += f", vintage age <= {policy.max_vintage_age_years} years at {as_of}"
    too_old = pv["vintage"] < floor
    log.add(too_old, "G5_VINTAGE", "gate", ("G5: vintage ", pv["vintage"], f" < floor {floor} ({rule})"),
            f"{FRAMEWORK} 7.3 G5 (CORSIA pilot cut-off 2016)")  # fmt: skip
    return too_old


def _reversal_mechanism(pv: pd.DataFrame, policy: GatePolicy, log: ReasonLog) -> pd.Series:
    missing = pv["is_reversible"] & pv["methodology_found"] & (pv["reversal_mechanism"] == "none")
    missing = missing & policy.require_reversal_mechanism
    log.add(missing, "G6_NO_REVERSAL_MECHANISM", "gate",
            ("G6: reversible activity under ", pv["methodology_id"], " has reversal mechanism 'none'"),
            methodology_source(pv, f"{FRAMEWORK} 7.3 G6; {ICVCM_AF} 9.1"))  # fmt: skip
    return missing


def _nature_based(pv: pd.DataFrame, policy: GatePolicy, log: ReasonLog) -> pd.Series:
    outside = ~pv["is_nature_based"] & policy.nature_based_only
    log.add(outside, "G7_NOT_NATURE_BASED", "gate",
            ("G7: protocol '", pv["protocol"], "' is not a nature-based activity; the policy buys nature-based "
             "credits only (gates.nature_based_only)"), "policy.yaml scoring.gates.nature_based_only")  # fmt: skip
    return outside


def gate_mask_to_codes(failed: pd.DataFrame) -> dict[str, np.ndarray]:
    """Gate code -> failure mask, in gate order (for the ``gates_failed`` list column)."""
    return {code: failed[code].to_numpy() for code in GATE_CODES}
