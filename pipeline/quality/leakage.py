"""Leakage score 1-5 (framework section 7.6), driven by the methodology's leakage approach, and the IFM
market-leakage haircut for risk-adjusted tonnes (report only, not a gate)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.quality.policy import LeakagePolicy
from pipeline.quality.reasons import FRAMEWORK, ReasonLog, Shown, Upper, methodology_source

CRITERION = "leakage"
APPROACH_WORDING = {
    "national_accounting": "national-scale accounting",
    "jurisdictional_deduction": "jurisdictional accounting with a leakage deduction",
    "jurisdictional_plus_belt": "a jurisdictional baseline with a leakage belt and market leakage",
    "displaced_agriculture": "displaced-agriculture leakage (VMD0054)",
    "wetland_blue_carbon": "wetland/blue-carbon leakage accounting",
    "ifm_market_deduction": "an IFM market-leakage deduction",
    "soil_not_modelled": "no model of yield-loss displacement (soil/ALM)",
    "activity_shifting_only": "activity-shifting leakage only, no market leakage",
    "none": "no leakage accounting",
    "not_applicable": "no leakage pathway",
}


def score_leakage(pv: pd.DataFrame, policy: LeakagePolicy, log: ReasonLog) -> np.ndarray:
    """Leakage score per row."""
    approach = pv["leakage_approach"]
    assessed = pv["methodology_found"] & approach.isin(list(policy.score_by_approach))
    deduction = pv["default_market_leakage_pct"].astype(float)
    ifm_deduction = assessed & (approach == "ifm_market_deduction")
    below_floor = ifm_deduction & ~(deduction >= policy.ifm_market_leakage_floor_pct)
    score = approach.map(policy.score_by_approach).where(assessed, policy.unassessed)
    score = score.where(~below_floor, policy.ifm_below_floor).astype(int)
    source = methodology_source(pv, f"{FRAMEWORK} 7.6")
    floor = f"{policy.ifm_market_leakage_floor_pct:g}%"

    log.add(assessed & ~ifm_deduction & (score < 5), ("LEAK_", Upper(approach)), CRITERION,
            ("leakage ", score, ": ", pv["methodology_id"], " uses ", approach.map(APPROACH_WORDING)),
            source)  # fmt: skip
    log.add(ifm_deduction & ~below_floor & (score < 5), "LEAK_IFM_DEDUCTION", CRITERION,
            ("leakage ", score, ": IFM market-leakage deduction ", deduction, f"% >= {floor} floor (ARB), but CCQI "
             "finds IFM leakage underestimated"), source)  # fmt: skip
    log.add(below_floor, "LEAK_IFM_BELOW_FLOOR", CRITERION,
            ("leakage ", score, ": IFM market-leakage deduction ", Shown(deduction, "none"),
             f"% < {floor} floor (ARB)"),
            source)  # fmt: skip
    log.add(~assessed, "LEAK_UNASSESSED", CRITERION,
            ("leakage ", score, ": protocol '", pv["protocol"], "' has no methodology reference row with a known "
             "leakage approach"), f"{FRAMEWORK} 7.2 methodology_ref")  # fmt: skip
    return score.to_numpy().astype(int)


def leakage_haircut_pct(pv: pd.DataFrame, policy: LeakagePolicy, log: ReasonLog) -> np.ndarray:
    """IFM: max(0, floor - the protocol's own market-leakage deduction), in percent of issued tonnes."""
    ifm = (pv["activity"] == "IFM").fillna(False).to_numpy(dtype=bool)
    own = pv["default_market_leakage_pct"].astype(float).fillna(0.0)
    haircut = np.where(ifm, np.maximum(0.0, policy.ifm_market_leakage_floor_pct - own.to_numpy()), 0.0)
    log.add(haircut > 0, "HAIRCUT_IFM_LEAKAGE", "haircut",
            ("risk haircut ", haircut, f"%: IFM market-leakage floor {policy.ifm_market_leakage_floor_pct:g}% minus "
             "the protocol's own deduction ", own, "%"),
            f"{FRAMEWORK} 7.6 optional haircut, 4.8 (ARB 20%)")  # fmt: skip
    return haircut
