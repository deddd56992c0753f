"""Final classification (framework section 7.8): by the limiting factor, the minimum of additionality,
permanence and leakage, never an average that lets one strength hide a failure."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.quality.policy import GatePolicy, TierPolicy
from pipeline.quality.reasons import FRAMEWORK, ReasonLog, Shown

TIERS = ("high", "eligible", "watchlist", "needs_review", "ineligible")
"""``needs_review``: every gate and every known criterion passes, but evidence the verdict needs is missing
(``UNKNOWN_<FIELD>`` reasons); held out of the inventory like ``watchlist``, never judged ineligible on it."""
UNKNOWN_EVIDENCE = {
    "permanence": "commitment_unknown",
    "leakage": "leakage_deduction_unknown",
}
"""Criterion -> the scoring-frame mask where its input is unknown (``inputs.project_commitment`` ...)."""
CORE_CRITERIA = ("additionality", "permanence", "leakage")


def classify(
    pv: pd.DataFrame,
    scores: dict[str, np.ndarray],
    gates_failed: pd.DataFrame,
    rating_watchlist: np.ndarray,
    policy: TierPolicy,
    gates: GatePolicy,
    log: ReasonLog,
) -> pd.DataFrame:
    """``limiting_score``, ``limiting_criteria``, ``quality_tier`` and ``is_eligible`` per row."""
    core = np.column_stack([scores[c] for c in CORE_CRITERIA])
    limiting = core.min(axis=1)
    at_min = core == limiting[:, None]
    # The criteria at the minimum, named once per combination (3 criteria: 8 combinations) and looked up per row.
    combination = at_min.astype(int) @ (1 << np.arange(len(CORE_CRITERIA)))
    named = np.array(
        [",".join(c for i, c in enumerate(CORE_CRITERIA) if k >> i & 1) for k in range(1 << len(CORE_CRITERIA))],
        dtype=object,
    )
    limiting_criteria = pd.Series(named[combination])

    gate_failed = gates_failed.any(axis=1).to_numpy()
    low = limiting < policy.eligible_min_score
    # Unknown is not "none": a criterion whose input is missing does not count against the row; if every gate
    # and every known criterion passes, the row waits for review. An unknown methodology version leaves every
    # criterion unknown (the reference row is not known).
    version_unknown = pv["methodology_version_unknown"].to_numpy(dtype=bool)
    unknown = {c: pv[column].to_numpy(dtype=bool) | version_unknown for c, column in UNKNOWN_EVIDENCE.items()}
    unknown["additionality"] = version_unknown
    known_core = np.column_stack([np.where(unknown[c], 5, scores[c]) for c in CORE_CRITERIA])
    missing = np.column_stack(list(unknown.values())).any(axis=1)
    review = missing & ~gate_failed & (known_core.min(axis=1) >= policy.eligible_min_score)
    ineligible = (gate_failed | low) & ~review
    ccp_ok = pv["ccp_label"].to_numpy(dtype=bool)
    if policy.high_requires_ccp == "label_or_approved_methodology":
        ccp_ok = ccp_ok | (pv["ccp_status"] == "approved").to_numpy(dtype=bool)
    flag_watch = pv["flag_effect"].eq("watchlist").to_numpy(dtype=bool) & (
        "watchlist" not in gates.flag_effects_failing
    )
    watch = ~ineligible & ~review & (flag_watch | rating_watchlist)
    high = ~ineligible & ~review & ~watch & (limiting >= policy.high_min_score) & ccp_ok
    tier = np.select(
        [ineligible, review, watch, high], ["ineligible", "needs_review", "watchlist", "high"], default="eligible"
    )
    eligible = (tier == "high") | (tier == "eligible") | ((tier == "watchlist") & policy.watchlist_is_eligible)

    log.add(review, "TIER_NEEDS_REVIEW", "tier",
            ("needs review: every gate and every known criterion passes (known minimum ", known_core.min(axis=1),
             "), but evidence the verdict needs is missing (the UNKNOWN_ reasons); held out of the inventory"),
            f"{FRAMEWORK} 8 (unknown is not none)")  # fmt: skip
    log.add(low & ~review, "TIER_LIMITING_SCORE", "tier",
            ("ineligible: limiting score ", limiting, " (", limiting_criteria,
             f") < {policy.eligible_min_score} required"), f"{FRAMEWORK} 7.8")  # fmt: skip
    log.add(watch & flag_watch, "TIER_WATCHLIST_FLAG", "tier",
            ("watchlist: project flagged '", pv["flag"], "' on ", pv["flagged_on"], ": ",
             Shown(pv["flag_description"], "")),
            ("project_flags.csv | ", Shown(pv["flag_source_url"], "")))  # fmt: skip
    not_high = ~ineligible & ~review & ~watch & (limiting >= policy.high_min_score) & ~ccp_ok
    log.add(not_high, "TIER_NOT_HIGH_NO_CCP", "tier",
            ("eligible, not high: limiting score ", limiting, " but neither a CCP label on the issuance nor an "
             "approved methodology (ICVCM status '", pv["ccp_status"], "')"), f"{FRAMEWORK} 7.8")  # fmt: skip
    return pd.DataFrame(
        {
            "limiting_score": limiting.astype(int),
            "limiting_criteria": limiting_criteria.to_numpy(dtype=object),
            "quality_tier": tier.astype(object),
            "is_eligible": eligible.astype(bool),
        },
        index=pv.index,
    )
