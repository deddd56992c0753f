"""Permanence score 1-5 (framework section 7.5): reversibility, the project's commitment period (its facts over
the methodology's program minimum, ``inputs.project_commitment``) and the reversal mechanism, then the buffer
share observed in the registry's issuance records."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.quality.policy import PermanencePolicy
from pipeline.quality.reasons import FRAMEWORK, ReasonLog, Shown, methodology_source

CRITERION = "permanence"
AF_9_1 = f"{FRAMEWORK} 4.6, 7.5, 8; ICVCM AF 9.1 (https://icvcm.org/assessment-framework/)"


def score_permanence(pv: pd.DataFrame, policy: PermanencePolicy, log: ReasonLog) -> np.ndarray:
    """Permanence score per row. Non-reversible activities score ``not_reversible`` (5); reversible ones are
    scored by commitment and mechanism, minus a step when the observed buffer is below the minimum."""
    reversible = pv["is_reversible"].to_numpy(dtype=bool)
    found = pv["methodology_found"].to_numpy(dtype=bool)
    mechanism = pv["reversal_mechanism"]
    commitment = pv["commitment_years"].astype(float)
    years = commitment.fillna(0).to_numpy()
    risk_based = mechanism.isin(policy.risk_based_mechanisms).to_numpy()

    unassessed = reversible & ~found
    no_mechanism = reversible & found & (mechanism == "none").to_numpy()
    unknown = reversible & found & ~no_mechanism & pv["commitment_unknown"].to_numpy(dtype=bool)
    known = reversible & found & ~no_mechanism & ~unknown
    below_min = known & (years < policy.min_commitment_years)
    below_ccp = known & ~below_min & (years < policy.ccp_commitment_years)
    meets_ccp = known & (years >= policy.ccp_commitment_years)
    permanent = meets_ccp & risk_based & (years >= policy.permanent_commitment_years)
    risk_40 = meets_ccp & risk_based & ~permanent
    flat = meets_ccp & ~risk_based
    score = np.select(
        [~reversible, unassessed, no_mechanism, unknown, below_min, below_ccp, permanent, risk_40, flat],
        [policy.not_reversible, policy.unassessed, policy.no_mechanism, policy.unknown_commitment,
         policy.below_min_commitment, policy.short_commitment, policy.permanent_risk_based, policy.risk_based,
         policy.flat_or_unproven],
    ).astype(int)  # fmt: skip
    source = methodology_source(pv, AF_9_1)

    log.add(unassessed, "PERM_UNASSESSED", CRITERION,
            ("permanence ", score, ": reversible activity under protocol '", pv["protocol"], "', which has no "
             "methodology reference row"), f"{FRAMEWORK} 7.2 methodology_ref")  # fmt: skip
    log.add(no_mechanism, "PERM_NO_MECHANISM", CRITERION,
            ("permanence ", score, ": reversible activity with no reversal mechanism (no buffer, no insurance)"),
            source)  # fmt: skip
    period = commitment.round().astype("Int64").astype("string") + " years"
    log.add(unknown, "UNKNOWN_COMMITMENT", CRITERION,
            ("permanence ", score, " (unknown, held for review): no program rule gives the commitment period under ",
             pv["methodology_id"], " (ICVCM: ", pv["methodology_ccp_status"].str.replace("_", " "), "), and no "
             f"project fact reaches {policy.ccp_commitment_years} years (crediting period: ",
             Shown(period, "not exported"), "; no CCP label)"), source)  # fmt: skip
    stated = ("commitment ", commitment, " years (", pv["commitment_basis"], ")")
    log.add(below_min, "PERM_COMMITMENT_LT_MIN", CRITERION,
            ("permanence ", score, ": ", *stated, f" < {policy.min_commitment_years}"), source)  # fmt: skip
    log.add(below_ccp, "PERM_COMMITMENT_LT_CCP", CRITERION,
            ("permanence ", score, ": ", *stated, f" < {policy.ccp_commitment_years} required"), source)  # fmt: skip
    log.add(risk_40 & (score < 5), "PERM_RISK_BASED_40", CRITERION,
            ("permanence ", score, ": ", *stated, f" >= {policy.ccp_commitment_years} with a risk-based pooled "
             f"buffer, but < {policy.permanent_commitment_years} years"),
            methodology_source(pv, f"{AF_9_1}; ICVCM AF 9.4"))  # fmt: skip
    log.add(flat & (score < 5), "PERM_FLAT_OR_UNPROVEN", CRITERION,
            ("permanence ", score, ": ", *stated, f" >= {policy.ccp_commitment_years}, but reversal mechanism '",
             mechanism, "' is flat or unproven"), source)  # fmt: skip

    observed = pv["buffer_pct_observed"].astype(float)
    minimum = pv["min_buffer_pct"].astype(float)
    shortfall = reversible & (observed < minimum).to_numpy() & (policy.buffer_shortfall_penalty > 0)
    log.add(shortfall, "PERM_BUFFER_BELOW_MIN", CRITERION,
            (f"permanence -{policy.buffer_shortfall_penalty}: observed buffer ", observed, "% of issuance < ",
             minimum, "% methodology minimum"),
            ("credits.buffer_quantity (", pv["registry"], " export); ",
             *methodology_source(pv, f"{FRAMEWORK} 7.5 extra check")))  # fmt: skip
    score = score - np.where(shortfall, policy.buffer_shortfall_penalty, 0)
    return np.clip(score, 1, 5).astype(int)
