"""Allocation: which eligible tonnes each open order receives. Pure and deterministic; no I/O.

**The rule.** Orders are served first come, first served: by ``ordered_at``, then ``order_id``. An order is
refused, with the reason, when its buyer is unknown or does not qualify (``buyer_eligibility``), when its
latest delivery date is before the run date, or when it names a minimum tier the policy does not know.
Otherwise it may take from every project-vintage that matches all its preferences (activities, minimum tier,
vintage floor, countries, registries) and takes, in this order:

1. the highest quality tier first (policy ``tier_order``; VCMI: allocate high quality first);
2. then the buyer's preferred activity (the order's ``activities`` list is in order of preference);
3. then the oldest vintage (older stock is the hardest to sell and ages out of buyers' vintage floors first);
4. ties by ``project_id``.

Each order takes what it needs from the first project-vintage, then the next, until it is filled or the
matching supply is exhausted (a partial fill, with the shortfall as reason). No project-vintage ever gives
more than its ``remaining`` tonnes, and tonnes an order takes are gone for every later order.
``remaining`` is computed by the caller (see :mod:`pipeline.buyers.ledger`): registry availability minus
every retirement in our ledger that the registry does not show yet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.buyers.policy import BuyerPolicy
from pipeline.buyers.schemas import AllocationLinesSchema

SUPPLY_COLUMNS = ("project_id", "registry", "vintage", "activity", "country_code", "quality_tier", "remaining")
DECISION_COLUMNS = (
    "order_id", "buyer_id", "status", "tonnes_ordered", "tonnes_allocated", "tonnes_unfilled", "reason",
)  # fmt: skip


@dataclass(frozen=True)
class Allocation:
    """``lines``: order_id, buyer_id, project_id, vintage, tonnes (one per order and project-vintage taken).
    ``decisions``: one row per order with status (filled / partially_filled / refused) and a plain reason."""

    lines: pd.DataFrame
    decisions: pd.DataFrame


def _split(value) -> list[str]:
    return [] if value is None or pd.isna(value) else [v for v in str(value).split(";") if v]


def _preferences(order, policy: BuyerPolicy) -> str:
    parts = []
    if activities := _split(order.activities):
        parts.append("activities " + ", ".join(activities))
    parts.append(f"tier {order.min_tier or policy.default_min_tier} or better")
    if pd.notna(order.vintage_floor):
        parts.append(f"vintage {int(order.vintage_floor)} or later")
    if countries := _split(order.countries):
        parts.append("countries " + ", ".join(countries))
    if registries := _split(order.registries):
        parts.append("registries " + ", ".join(registries))
    return "; ".join(parts)


def _refusals(orders: pd.DataFrame, eligibility: pd.DataFrame, policy: BuyerPolicy, as_of: pd.Timestamp):
    """The reason each order is refused before looking at supply, or NA."""
    verdict = orders[["buyer_id"]].merge(
        eligibility[["buyer_id", "is_eligible", "reason"]], on="buyer_id", how="left", validate="many_to_one"
    )
    verdict.index = orders.index
    unknown_buyer = verdict["is_eligible"].isna()
    not_eligible = verdict["is_eligible"].eq(False)
    deadline = pd.to_datetime(orders["latest_delivery_date"])
    late = (deadline < as_of).fillna(False)
    tier = orders["min_tier"].fillna(policy.default_min_tier)
    bad_tier = ~tier.isin(policy.tier_order)
    reason = np.select(
        [unknown_buyer, not_eligible, late, bad_tier],
        [
            "buyer " + orders["buyer_id"] + " is not in the buyers file",
            "buyer " + orders["buyer_id"] + " does not qualify: " + verdict["reason"].fillna(""),
            "latest delivery date " + deadline.dt.strftime("%Y-%m-%d").fillna("") + f" is before the run date "
            f"{as_of:%Y-%m-%d}",
            "minimum tier '" + tier + "' is not one of " + ", ".join(policy.tier_order),
        ],
        default="",
    )
    return pd.Series(reason, index=orders.index).replace("", pd.NA)


def allocate(
    orders: pd.DataFrame,
    eligibility: pd.DataFrame,
    supply: pd.DataFrame,
    policy: BuyerPolicy,
    as_of: pd.Timestamp,
) -> Allocation:
    """Allocate ``supply`` (columns :data:`SUPPLY_COLUMNS`, one row per project-vintage, ``remaining`` >= 0)
    to the open ``orders`` (:class:`~pipeline.buyers.schemas.OrdersSchema`) by the module's rule.

    ``eligibility`` is the screening result (buyer_id, is_eligible, reason); ``as_of`` the run date."""
    as_of = pd.Timestamp(as_of).normalize()
    orders = orders.sort_values(["ordered_at", "order_id"], kind="stable").reset_index(drop=True)
    supply = supply.loc[:, list(SUPPLY_COLUMNS)].reset_index(drop=True)
    if supply.duplicated(["project_id", "vintage"]).any():
        raise ValueError("supply has more than one row for a project-vintage")
    if (supply["remaining"] < 0).any():
        raise ValueError("supply has negative remaining tonnes")

    tier_rank = supply["quality_tier"].map({t: i for i, t in enumerate(policy.tier_order)}).to_numpy(float)
    vintage = supply["vintage"].to_numpy(np.int64)
    project_rank = supply["project_id"].rank(method="dense").to_numpy()
    activity = supply["activity"].astype("string").fillna("").to_numpy(object)
    country = supply["country_code"].astype("string").fillna("").to_numpy(object)
    registry = supply["registry"].to_numpy(object)
    initial = supply["remaining"].to_numpy(np.int64)
    remaining = initial.copy()
    refusal = _refusals(orders, eligibility, policy, as_of)

    line_parts: list[pd.DataFrame] = []
    decisions = []
    # Orders are served one after the other because each order sees what the previous ones left;
    # within an order the work is vectorized over the supply.
    for position, order in enumerate(orders.itertuples(index=False)):
        wanted = int(order.tonnes)
        if pd.notna(refusal.iat[position]):
            decisions.append((order.order_id, order.buyer_id, "refused", wanted, 0, wanted, refusal.iat[position]))
            continue
        min_rank = policy.tier_order.index(order.min_tier or policy.default_min_tier)
        match = tier_rank <= min_rank  # NaN (a tier outside the policy) never matches
        preferred = _split(order.activities)
        if preferred:
            match &= np.isin(activity, preferred)
        if pd.notna(order.vintage_floor):
            match &= vintage >= int(order.vintage_floor)
        if countries := _split(order.countries):
            match &= np.isin(country, countries)
        if registries := _split(order.registries):
            match &= np.isin(registry, registries)

        candidates = np.flatnonzero(match & (remaining > 0))
        preference = {a: i for i, a in enumerate(preferred)}
        preference_rank = np.fromiter((preference.get(a, 0) for a in activity[candidates]), int, len(candidates))
        order_of_take = candidates[
            np.lexsort((project_rank[candidates], vintage[candidates], preference_rank, tier_rank[candidates]))
        ]
        available = remaining[order_of_take]
        before = np.cumsum(available) - available
        take = np.minimum(available, np.maximum(wanted - before, 0))
        remaining[order_of_take] -= take
        taken = int(take.sum())

        if taken:
            chosen = order_of_take[take > 0]
            line_parts.append(
                pd.DataFrame(
                    {
                        "order_id": order.order_id,
                        "buyer_id": order.buyer_id,
                        "project_id": supply["project_id"].to_numpy()[chosen],
                        "vintage": vintage[chosen],
                        "tonnes": take[take > 0],
                    }
                )  # fmt: skip
            )
        matching_at_start = int(initial[match].sum())
        preferences = _preferences(order, policy)
        if taken == wanted:
            status, reason = "filled", f"filled from {int((take > 0).sum())} project-vintage(s) matching {preferences}"
        elif matching_at_start == 0:
            status, reason = "refused", f"no eligible credits match {preferences}"
        elif taken == 0:
            status = "refused"
            reason = f"all {matching_at_start} t matching {preferences} went to earlier orders or retirements"
        else:
            status = "partially_filled"
            reason = f"short supply: {taken} of {wanted} t available matching {preferences}"
        decisions.append((order.order_id, order.buyer_id, status, wanted, taken, wanted - taken, reason))

    lines = (
        pd.concat(line_parts, ignore_index=True)
        if line_parts
        else pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                           {"order_id": str, "buyer_id": str, "project_id": str, "vintage": "int64",
                            "tonnes": "int64"}.items()})
    )  # fmt: skip
    return Allocation(
        lines=AllocationLinesSchema.validate(lines, lazy=True),
        decisions=pd.DataFrame(decisions, columns=list(DECISION_COLUMNS)),
    )
