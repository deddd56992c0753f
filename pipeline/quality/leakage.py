"""Leakage score 1-5 (framework section 7.6), driven by the methodology's leakage approach, and the IFM
market-leakage haircut for risk-adjusted tonnes (report only, not a gate)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.quality.policy import LeakagePolicy
from pipeline.quality.reasons import FRAMEWORK, ReasonLog, Upper, methodology_source

CRITERION = "leakage"
APPROACH_WORDING = {
    "national_accounting": "national-scale accounting",
    "jurisdictional_deduction": "jurisdictional accounting with a leakage deduction",
    "jurisdictional_plus_belt": "a jurisdictional baseline with a leakage belt and market leakage",
    "displaced_agriculture": "displaced-agriculture leakage accounting",
    "wetland_blue_carbon": "wetland/blue-carbon leakage accounting",
    "ifm_market_deduction": "an IFM market-leakage deduction",
    "soil_not_modelled": "no model of yield-loss displacement (soil/ALM)",
    "activity_shifting_only": "activity-shifting leakage only, no market leakage",
    "none": "no leakage accounting",
    "not_applicable": "no leakage pathway",
}


def score_leakage(pv: pd.DataFrame, policy: LeakagePolicy, log: ReasonLog) -> np.ndarray:
    """Leakage score per row. An IFM deduction that is not recorded is unknown, not 0%: the row is held for
    review (``inputs.leakage_deduction``), unless the issuance's CCP label attests the approval's condition."""
    approach = pv["leakage_approach"]
    assessed = pv["methodology_found"] & approach.isin(list(policy.score_by_approach))
    deduction = pv["default_market_leakage_pct"].astype(float)
    ifm_deduction = assessed & (approach == "ifm_market_deduction")
    unknown = ifm_deduction & pv["leakage_deduction_unknown"]
    attested = ifm_deduction & pv["leakage_attested_by_label"]
    below_floor = ifm_deduction & (deduction < policy.ifm_market_leakage_floor_pct)
    meets_floor = ifm_deduction & (deduction >= policy.ifm_market_leakage_floor_pct)
    score = approach.map(policy.score_by_approach).where(assessed, policy.unassessed)
    score = score.where(~below_floor, policy.ifm_below_floor).where(~unknown, policy.ifm_unknown_deduction).astype(int)
    source = methodology_source(pv, f"{FRAMEWORK} 7.6")
    floor = f"{policy.ifm_market_leakage_floor_pct:g}%"

    log.add(assessed & ~ifm_deduction & (score < 5), ("LEAK_", Upper(approach)), CRITERION,
            ("leakage ", score, ": ", pv["methodology_id"], " uses ", approach.map(APPROACH_WORDING)),
            source)  # fmt: skip
    log.add(meets_floor & (score < 5), "LEAK_IFM_DEDUCTION", CRITERION,
            ("leakage ", score, ": IFM market-leakage deduction ", deduction, f"% >= {floor} floor (ARB), but CCQI "
             "finds IFM leakage underestimated"), source)  # fmt: skip
    log.add(below_floor, "LEAK_IFM_BELOW_FLOOR", CRITERION,
            ("leakage ", score, ": IFM market-leakage deduction ", deduction, f"% < {floor} floor (ARB)"),
            source)  # fmt: skip
    log.add(attested & (score < 5), "LEAK_IFM_CCP_CONDITION", CRITERION,
            ("leakage ", score, ": the IFM market-leakage deduction is not recorded for ", pv["methodology_id"],
             ", but the issuance carries the CCP label of an approved methodology (its leakage conditions met)"),
            methodology_source(pv, f"{FRAMEWORK} 7.6, 4.8, 8 (the label is evidence)"))  # fmt: skip
    log.add(unknown, "UNKNOWN_LEAKAGE_DEDUCTION", CRITERION,
            ("leakage ", score, " (unknown, held for review): ", pv["methodology_id"], " relies on an IFM "
             "market-leakage deduction that no program rule recorded here; a blank is missing evidence, not 0%"),
            methodology_source(pv, f"{FRAMEWORK} 7.6, 8 (unknown is not none)"))  # fmt: skip
    log.add(~assessed, "LEAK_UNASSESSED", CRITERION,
            ("leakage ", score, ": protocol '", pv["protocol"], "' has no methodology reference row with a known "
             "leakage approach"), f"{FRAMEWORK} 7.2 methodology_ref")  # fmt: skip
    return score.to_numpy().astype(int)


def leakage_haircut_pct(pv: pd.DataFrame, policy: LeakagePolicy, log: ReasonLog) -> np.ndarray:
    """IFM: max(0, floor - the protocol's own market-leakage deduction), in percent of issued tonnes; where the
    deduction is not recorded, the whole floor, and the reason says so (risk-adjusted tonnes stay conservative)."""
    ifm = (pv["activity"] == "IFM").fillna(False).to_numpy(dtype=bool)
    own = pv["default_market_leakage_pct"].astype(float)
    recorded = own.notna().to_numpy()
    floor = policy.ifm_market_leakage_floor_pct
    haircut = np.where(ifm, np.maximum(0.0, floor - own.fillna(0.0).to_numpy()), 0.0)
    log.add((haircut > 0) & recorded, "HAIRCUT_IFM_LEAKAGE", "haircut",
            ("risk haircut ", haircut, f"%: IFM market-leakage floor {floor:g}% minus the protocol's own deduction ",
             own, "%"), f"{FRAMEWORK} 7.6 optional haircut, 4.8 (ARB 20%)")  # fmt: skip
    log.add((haircut > 0) & ~recorded, "HAIRCUT_IFM_LEAKAGE", "haircut",
            (f"risk haircut {floor:g}%: IFM market-leakage floor; the protocol's own deduction is not recorded"),
            f"{FRAMEWORK} 7.6 optional haircut, 4.8 (ARB 20%)")  # fmt: skip
    return haircut
