"""Permanence score 1-5 (framework section 7.5): reversibility, the methodology's commitment period and
reversal mechanism, then the buffer share observed in the registry's issuance records."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.quality.policy import PermanencePolicy
from pipeline.quality.reasons import FRAMEWORK, ReasonLog, methodology_source, text

CRITERION = "permanence"
ICVCM_9_1 = "ICVCM AF 9.1 (https://icvcm.org/assessment-framework/)"


def score_permanence(pv: pd.DataFrame, policy: PermanencePolicy, log: ReasonLog) -> np.ndarray:
    """Permanence score per row. Non-reversible activities score ``not_reversible`` (5); reversible ones are
    scored by commitment and mechanism, minus a step when the observed buffer is below the minimum."""
    reversible = pv["is_reversible"].to_numpy(dtype=bool)
    found = pv["methodology_found"].to_numpy(dtype=bool)
    mechanism = pv["reversal_mechanism"]
    commitment = pv["commitment_years"].astype(float)
    risk_based = mechanism.isin(policy.risk_based_mechanisms).to_numpy()

    no_mechanism = reversible & found & mechanism.isin(["none"]).to_numpy()
    unknown = reversible & found & ~no_mechanism & commitment.isna().to_numpy()
    known = reversible & found & ~no_mechanism & ~unknown
    c = commitment.fillna(0).to_numpy()
    cases = [
        ~reversible,
        reversible & ~found,
        no_mechanism,
        unknown,
        known & (c < policy.min_commitment_years),
        known & (c < policy.ccp_commitment_years),
        known & risk_based & (c >= policy.permanent_commitment_years),
        known & risk_based,
    ]
    choices = [
        policy.not_reversible,
        policy.unassessed,
        policy.no_mechanism,
        policy.unknown_commitment,
        policy.below_min_commitment,
        policy.short_commitment,
        policy.permanent_risk_based,
        policy.risk_based,
    ]
    score = np.select(cases, choices, default=policy.flat_or_unproven).astype(int)
    shown = text(pd.Series(score))
    years = text(commitment)

    log.add(
        reversible & ~found,
        "PERM_UNASSESSED",
        CRITERION,
        "permanence " + shown + ": reversible activity under "
        "protocol '" + text(pv["protocol"]) + "', which has no methodology reference row",
        f"{FRAMEWORK} 7.2 methodology_ref",
    )
    log.add(
        no_mechanism,
        "PERM_NO_MECHANISM",
        CRITERION,
        "permanence " + shown + ": reversible activity with no reversal mechanism (no buffer, no insurance)",
        methodology_source(pv, f"{FRAMEWORK} 7.5; " + ICVCM_9_1),
    )
    log.add(
        unknown,
        "PERM_COMMITMENT_UNKNOWN",
        CRITERION,
        "permanence "
        + shown
        + ": the commitment period of "
        + text(pv["methodology_id"])
        + " is not recorded, so 40 years (ICVCM AF 9.1) cannot be confirmed",
        methodology_source(pv, f"{FRAMEWORK} 7.5; " + ICVCM_9_1),
    )
    log.add(
        cases[4],
        "PERM_COMMITMENT_LT_MIN",
        CRITERION,
        "permanence " + shown + ": commitment " + years + f" years < {policy.min_commitment_years}",
        methodology_source(pv, f"{FRAMEWORK} 7.5; " + ICVCM_9_1),
    )
    log.add(
        cases[5] & ~cases[4],
        "PERM_COMMITMENT_LT_CCP",
        CRITERION,
        "permanence " + shown + ": commitment " + years + f" years < {policy.ccp_commitment_years} required",
        methodology_source(pv, f"{FRAMEWORK} 7.5; " + ICVCM_9_1),
    )
    risk_40 = known & risk_based & (c >= policy.ccp_commitment_years) & (c < policy.permanent_commitment_years)
    log.add(
        risk_40 & (score < 5),
        "PERM_RISK_BASED_40",
        CRITERION,
        "permanence "
        + shown
        + ": commitment "
        + years
        + f" years >= {policy.ccp_commitment_years} with a risk-based pooled buffer, but < "
        f"{policy.permanent_commitment_years} years",
        methodology_source(pv, f"{FRAMEWORK} 7.5; " + ICVCM_9_1 + "; ICVCM AF 9.4"),
    )
    flat = known & ~risk_based & (c >= policy.ccp_commitment_years)
    log.add(
        flat & (score < 5),
        "PERM_FLAT_OR_UNPROVEN",
        CRITERION,
        "permanence "
        + shown
        + ": commitment "
        + years
        + f" years >= {policy.ccp_commitment_years}, but reversal mechanism '"
        + text(mechanism)
        + "' is flat or unproven",
        methodology_source(pv, f"{FRAMEWORK} 7.5; " + ICVCM_9_1),
    )

    observed = pv["buffer_pct_observed"].astype(float)
    minimum = pv["min_buffer_pct"].astype(float)
    shortfall = (reversible & (observed < minimum).fillna(False).to_numpy()) & (policy.buffer_shortfall_penalty > 0)
    log.add(
        shortfall,
        "PERM_BUFFER_BELOW_MIN",
        CRITERION,
        f"permanence -{policy.buffer_shortfall_penalty}: observed"
        " buffer " + text(observed) + "% of issuance < " + text(minimum) + "% methodology minimum",
        "credits.buffer_quantity ("
        + text(pv["registry"])
        + " export); "
        + methodology_source(pv, f"{FRAMEWORK} 7.5 extra check"),
    )
    score = score - np.where(shortfall, policy.buffer_shortfall_penalty, 0)
    return np.clip(score, 1, 5).astype(int)
