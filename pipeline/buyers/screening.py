"""Buyer screening: does each buyer meet the three conditions of the buyer program?

1. **Net zero**: a net-zero target year no later than ``net_zero_latest_year`` (2050) covering every scope in
   ``net_zero_required_scopes`` (1, 2 and 3).
2. **Disclosure**: a public emissions disclosure dated within ``disclosure_max_age_months`` (18) of the
   screening date, on a cadence in ``disclosure_cadences`` (annual or more often).
3. **Science-based target**: a status in ``science_target_statuses``; a ``committed`` status counts only
   within ``science_target_commitment_max_age_months`` (24) of its date, SBTi's deadline for validation.

Each condition gets its own pass/fail column next to the input value and a plain reason; a buyer is eligible
only when all three pass. Windows are calendar months back from the screening date, inclusive: screened on
2026-11-29 with 18 months, a disclosure of 2025-05-29 passes and one of 2025-05-28 does not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.buyers.policy import BuyerPolicy
from pipeline.buyers.schemas import BuyerEligibilitySchema, BuyersSchema

ELIGIBLE_REASON = "meets all three conditions"


def _join(items: list) -> str:
    words = [str(i) for i in items]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _text(series: pd.Series) -> pd.Series:
    return series.astype("string").fillna("")


def _net_zero(buyers: pd.DataFrame, policy: BuyerPolicy) -> tuple[pd.Series, pd.Series]:
    year = buyers["net_zero_target_year"].astype("Int64")
    scopes = _text(buyers["net_zero_scopes"])
    covered = pd.DataFrame(
        {s: scopes.str.contains(rf"(?:^|;){s}(?:;|$)", regex=True) for s in policy.net_zero_required_scopes}
    )
    missing_text = pd.Series("", index=buyers.index, dtype="string")
    for scope in policy.net_zero_required_scopes:
        missing_text += np.where(covered[scope], "", f"scope {scope}, ")
    missing_text = missing_text.str.removesuffix(", ")
    year_text = year.astype("string").fillna("")
    latest = policy.net_zero_latest_year
    no_year = year.isna()
    too_late = (year > latest).fillna(False)
    scopes_short = ~covered.all(axis=1)
    reason = pd.Series(
        np.select(
            [no_year, too_late & scopes_short, too_late, scopes_short],
            [
                "no net-zero target year",
                "net-zero target " + year_text + f" is later than {latest} and does not cover " + missing_text,
                "net-zero target " + year_text + f" is later than {latest}",
                "net-zero target " + year_text + " does not cover " + missing_text,
            ],
            default="net-zero target "
            + year_text
            + f" is no later than {latest} and covers scopes {_join(policy.net_zero_required_scopes)}",
        ),
        index=buyers.index,
    )
    return ~(no_year | too_late | scopes_short), reason


def _disclosure(buyers: pd.DataFrame, policy: BuyerPolicy, as_of: pd.Timestamp) -> tuple[pd.Series, pd.Series]:
    months = policy.disclosure_max_age_months
    cutoff = as_of - pd.DateOffset(months=months)
    date = pd.to_datetime(buyers["last_disclosure_date"])
    date_text = date.dt.strftime("%Y-%m-%d").astype("string").fillna("")
    cadence = buyers["disclosure_cadence"].astype("string")
    no_date = date.isna()
    stale = (date < cutoff).fillna(False)
    future = (date > as_of).fillna(False)
    irregular = ~cadence.isin(policy.disclosure_cadences)
    cadence_reason = "disclosure cadence '" + cadence + f"' is not one of {', '.join(policy.disclosure_cadences)}"
    window = f"the {months}-month policy window (cutoff {cutoff:%Y-%m-%d})"
    reason = pd.Series(
        np.select(
            [no_date, future, stale & irregular, stale, irregular],
            [
                "no public emissions disclosure date",
                "last disclosure " + date_text + f" is after the screening date {as_of:%Y-%m-%d}",
                "last disclosure " + date_text + f" is older than {window}; " + cadence_reason,
                "last disclosure " + date_text + f" is older than {window}",
                cadence_reason,
            ],
            default="last disclosure " + date_text + f" is within {window}, cadence " + cadence,
        ),
        index=buyers.index,
    )
    return ~(no_date | future | stale | irregular), reason


def _science_target(buyers: pd.DataFrame, policy: BuyerPolicy, as_of: pd.Timestamp) -> tuple[pd.Series, pd.Series]:
    months = policy.science_target_commitment_max_age_months
    cutoff = as_of - pd.DateOffset(months=months)
    status = buyers["science_target_status"].astype("string")
    date = pd.to_datetime(buyers["science_target_date"])
    date_text = date.dt.strftime("%Y-%m-%d").astype("string").fillna("")
    not_accepted = ~status.isin(policy.science_target_statuses)
    no_date = date.isna() & ~not_accepted
    lapsed = (status == "committed") & (date < cutoff).fillna(False)
    accepted = "one of " + ", ".join(policy.science_target_statuses)
    reason = pd.Series(
        np.select(
            [not_accepted, no_date, lapsed],
            [
                "science-based target status '" + status + f"' is not {accepted}",
                "science-based target status '" + status + "' has no date",
                "science-based target committed on " + date_text + f", more than {months} months ago "
                f"(cutoff {cutoff:%Y-%m-%d}) without validation",
            ],
            default="science-based target " + status + " on " + date_text,
        ),
        index=buyers.index,
    )
    return ~(not_accepted | no_date | lapsed), reason


def screen_buyers(buyers: pd.DataFrame, policy: BuyerPolicy, as_of: pd.Timestamp, policy_version: str) -> pd.DataFrame:
    """One row per buyer with the three conditions' verdicts and reasons; passes :class:`BuyerEligibilitySchema`.

    ``buyers`` passes :class:`BuyersSchema`; ``as_of`` is the screening date the windows count back from."""
    buyers = BuyersSchema.validate(buyers.copy(), lazy=True)
    as_of = pd.Timestamp(as_of).normalize()
    net_zero_pass, net_zero_reason = _net_zero(buyers, policy)
    disclosure_pass, disclosure_reason = _disclosure(buyers, policy, as_of)
    target_pass, target_reason = _science_target(buyers, policy, as_of)

    failing = pd.concat(
        [net_zero_reason.where(~net_zero_pass), disclosure_reason.where(~disclosure_pass),
         target_reason.where(~target_pass)], axis=1,
    )  # fmt: skip
    reason = failing.stack().groupby(level=0).agg("; ".join).reindex(buyers.index)
    is_eligible = net_zero_pass & disclosure_pass & target_pass
    result = pd.DataFrame(
        {
            "buyer_id": buyers["buyer_id"],
            "name": buyers["name"],
            "relationship": buyers["relationship"],
            "is_eligible": is_eligible,
            "net_zero_pass": net_zero_pass,
            "net_zero_target_year": buyers["net_zero_target_year"],
            "net_zero_scopes": buyers["net_zero_scopes"],
            "net_zero_reason": net_zero_reason,
            "disclosure_pass": disclosure_pass,
            "last_disclosure_date": buyers["last_disclosure_date"],
            "disclosure_cadence": buyers["disclosure_cadence"],
            "disclosure_reason": disclosure_reason,
            "science_target_pass": target_pass,
            "science_target_status": buyers["science_target_status"],
            "science_target_date": buyers["science_target_date"],
            "science_target_reason": target_reason,
            "reason": reason.fillna(ELIGIBLE_REASON).where(~is_eligible, ELIGIBLE_REASON),
            "evidence_urls": buyers["evidence_urls"],
            "is_fictional": buyers["is_fictional"],
            "screened_as_of": as_of,
            "policy_version": policy_version,
        }
    )
    return BuyerEligibilitySchema.validate(result.reset_index(drop=True), lazy=True)
