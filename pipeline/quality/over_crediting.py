"""Over-crediting (baseline) score 1-5 (framework section 7.7, reported, not gating in v1) and the empirical
over-crediting haircut used only for the sensitivity column."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.quality.policy import OverCreditingPolicy
from pipeline.quality.reasons import FRAMEWORK, ReasonLog, Upper, methodology_source

CRITERION = "over_crediting"
BASELINE_WORDING = {
    "jurisdictional_allocated": "a jurisdictional baseline allocated to the project",
    "dynamic": "a dynamic baseline (re-estimated over the crediting period)",
    "static_project_reference": "a static project-chosen reference region",
    "regional_common_practice": "a regional common-practice baseline",
    "not_applicable": "no nature-based baseline class (not assessed for over-crediting)",
}


def score_over_crediting(pv: pd.DataFrame, policy: OverCreditingPolicy, log: ReasonLog) -> np.ndarray:
    """Over-crediting score per row, from the methodology's baseline class."""
    baseline = pv["baseline_class"]
    assessed = pv["methodology_found"] & baseline.isin(list(policy.score_by_baseline_class))
    score = baseline.map(policy.score_by_baseline_class).where(assessed, policy.unassessed).astype(int)
    log.add(assessed & (score < 5), ("OVER_", Upper(baseline)), CRITERION,
            ("over-crediting ", score, ": ", pv["methodology_id"], " uses ", baseline.map(BASELINE_WORDING)),
            methodology_source(pv, f"{FRAMEWORK} 7.7, 4.3-4.4"))  # fmt: skip
    log.add(~assessed, "OVER_UNASSESSED", CRITERION,
            ("over-crediting ", score, ": protocol '", pv["protocol"], "' has no methodology reference row with a "
             "known baseline class"), f"{FRAMEWORK} 7.2 methodology_ref")  # fmt: skip
    return score.to_numpy().astype(int)


def sensitivity_haircut_pct(pv: pd.DataFrame, policy: OverCreditingPolicy) -> np.ndarray:
    """Empirical over-crediting by baseline class (REDD legacy 75-94%, California IFM ~30%), in percent."""
    return pv["baseline_class"].map(policy.sensitivity_haircut_pct).astype(float).fillna(0.0).to_numpy()
