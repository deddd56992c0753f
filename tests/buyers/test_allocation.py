"""Allocation: the documented order of taking, short supply, competing orders, refusals, and a property test."""

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.buyers.allocation import allocate
from pipeline.buyers.screening import screen_buyers
from pipeline.policy import load_policy
from pipeline.settings import REPO_ROOT
from tests.buyers.scenario import AS_OF, POLICY_VERSION, buyers_frame, orders_frame

POLICY = load_policy(REPO_ROOT / "data" / "policy.yaml").buyers
ELIGIBILITY = screen_buyers(buyers_frame({}, {"net_zero_target_year": 2051}), POLICY, AS_OF, POLICY_VERSION)


def supply(*rows) -> pd.DataFrame:
    """Rows of (project_id, vintage, activity, tier, remaining[, country, registry])."""
    records = []
    for row in rows:
        pid, vintage, activity, tier, remaining, *rest = row
        country, registry = rest or ("MX", "climate-action-reserve")
        records.append({"project_id": pid, "registry": registry, "vintage": vintage, "activity": activity,
                        "country_code": country, "quality_tier": tier, "remaining": remaining})  # fmt: skip
    return pd.DataFrame(records)


def lines_of(result, order_id: str) -> list[tuple]:
    lines = result.lines.loc[result.lines["order_id"] == order_id]
    return list(zip(lines["project_id"], lines["vintage"], lines["tonnes"], strict=True))


def decision(result, order_id: str) -> pd.Series:
    return result.decisions.set_index("order_id").loc[order_id]


def test_highest_tier_then_preferred_activity_then_oldest_vintage_then_project_id():
    stock = supply(
        ("CAR9", 2019, "ARR", "eligible", 100),
        ("CAR5", 2022, "IFM", "high", 100),
        ("CAR4", 2021, "ARR", "high", 100),
        ("CAR3", 2020, "ARR", "high", 100),
        ("CAR2", 2020, "ARR", "high", 100),
    )
    result = allocate(orders_frame({"order_id": "O1", "tonnes": 450, "activities": "ARR;IFM"}), ELIGIBILITY, stock,
                      POLICY, AS_OF)  # fmt: skip
    assert lines_of(result, "O1") == [
        ("CAR2", 2020, 100),
        ("CAR3", 2020, 100),
        ("CAR4", 2021, 100),
        ("CAR5", 2022, 100),
        ("CAR9", 2019, 50),
    ], "expected high tier first, ARR (preferred) before IFM, oldest vintage first, ties by project_id"


def test_short_supply_gives_a_partial_fill_with_the_shortfall():
    result = allocate(
        orders_frame({"order_id": "O1", "tonnes": 500}),
        ELIGIBILITY,
        supply(("CAR1", 2020, "ARR", "high", 120), ("CAR2", 2021, "ARR", "high", 80)),
        POLICY,
        AS_OF,
    )
    row = decision(result, "O1")
    assert (row["status"], row["tonnes_allocated"], row["tonnes_unfilled"]) == ("partially_filled", 200, 300), (
        f"500 t ordered against 200 t of supply should be a 200 t partial fill, got {row.to_dict()}"
    )
    assert row["reason"].startswith("short supply: 200 of 500 t available"), row["reason"]


def test_competing_orders_for_the_same_vintage_first_come_first_served():
    stock = supply(("CAR1745", 2025, "ARR", "high", 4933))
    orders = orders_frame(
        {"order_id": "LATE", "ordered_at": "2026-10-02", "tonnes": 3000},
        {"order_id": "EARLY", "ordered_at": "2026-10-01", "tonnes": 3000},
        {"order_id": "LAST", "ordered_at": "2026-10-03", "tonnes": 10},
    )
    result = allocate(orders, ELIGIBILITY, stock, POLICY, AS_OF)
    assert lines_of(result, "EARLY") == [("CAR1745", 2025, 3000)], "the earlier order is served in full first"
    assert lines_of(result, "LATE") == [("CAR1745", 2025, 1933)], "the later order gets only what is left"
    assert decision(result, "LAST")["status"] == "refused", "nothing is left for the third order"
    assert "went to earlier orders" in decision(result, "LAST")["reason"], decision(result, "LAST")["reason"]
    assert result.lines["tonnes"].sum() == 4933, "the vintage must not give more than its 4933 t"


def test_refusals_carry_their_reason():
    orders = orders_frame(
        {"order_id": "INELIGIBLE", "buyer_id": "B2"},
        {"order_id": "UNKNOWN", "buyer_id": "NOBODY"},
        {"order_id": "LATE", "latest_delivery_date": "2026-11-28"},
        {"order_id": "TIER", "min_tier": "platinum"},
        {"order_id": "NOMATCH", "countries": "BR"},
        {"order_id": "OK", "latest_delivery_date": "2026-11-29"},
    )
    result = allocate(orders, ELIGIBILITY, supply(("CAR1", 2020, "ARR", "high", 1000)), POLICY, AS_OF)
    reasons = result.decisions.set_index("order_id")["reason"]
    assert reasons["INELIGIBLE"] == "buyer B2 does not qualify: net-zero target 2051 is later than 2050"
    assert reasons["UNKNOWN"] == "buyer NOBODY is not in the buyers file"
    assert reasons["LATE"] == "latest delivery date 2026-11-28 is before the run date 2026-11-29"
    assert reasons["TIER"] == "minimum tier 'platinum' is not one of high, eligible"
    assert reasons["NOMATCH"].startswith("no eligible credits match") and "countries BR" in reasons["NOMATCH"]
    assert decision(result, "OK")["status"] == "filled", "a delivery date equal to the run date is still open"
    refused = result.decisions.loc[result.decisions["order_id"] != "OK"]
    assert (refused["status"] == "refused").all() and (refused["tonnes_allocated"] == 0).all()


def test_preferences_filter_tier_vintage_country_registry():
    stock = supply(
        ("ACR701", 2025, "IFM", "eligible", 100, "US", "american-carbon-registry"),
        ("CAR1", 2015, "IFM", "high", 100, "US", "climate-action-reserve"),
        ("CAR2", 2020, "IFM", "high", 100, "MX", "climate-action-reserve"),
        ("ART102", 2023, "JREDD", "high", 100, "GY", "art-trees"),
        ("CAR3", 2021, "IFM", "high", 100, "US", "climate-action-reserve"),
        ("CAR4", 2021, "IFM", "watchlist", 100, "US", "climate-action-reserve"),
    )
    order = {"order_id": "O1", "tonnes": 1000, "activities": "IFM", "min_tier": "high", "vintage_floor": 2016,
             "countries": "US", "registries": "climate-action-reserve;american-carbon-registry"}  # fmt: skip
    result = allocate(orders_frame(order), ELIGIBILITY, stock, POLICY, AS_OF)
    assert lines_of(result, "O1") == [("CAR3", 2021, 100)], (
        "only CAR3 is IFM, high tier, 2016 or later, in the US and in an accepted registry"
    )


@st.composite
def market(draw):
    tiers = ["high", "eligible", "watchlist"]
    activities = ["ARR", "IFM", "REDD", "JREDD"]
    n_supply = draw(st.integers(0, 12))
    stock = supply(*[
        (f"CAR{i}", draw(st.integers(2015, 2025)), draw(st.sampled_from(activities)), draw(st.sampled_from(tiers)),
         draw(st.integers(0, 1000)), draw(st.sampled_from(["US", "MX"])), "climate-action-reserve")
        for i in range(1, n_supply + 1)
    ])  # fmt: skip
    if stock.empty:
        stock = pd.DataFrame(
            columns=["project_id", "registry", "vintage", "activity", "country_code", "quality_tier", "remaining"]
        ).astype({"vintage": "int64", "remaining": "int64"})
    orders = []
    for i in range(draw(st.integers(1, 8))):
        preferred = draw(st.lists(st.sampled_from(activities), unique=True, max_size=3))
        orders.append({
            "order_id": f"O{i}", "buyer_id": draw(st.sampled_from(["B1", "B2", "B3"])),
            "ordered_at": f"2026-10-{draw(st.integers(1, 5)):02d}", "tonnes": draw(st.integers(1, 2500)),
            "activities": ";".join(preferred) or None, "min_tier": draw(st.sampled_from([None, "high", "eligible"])),
            "vintage_floor": draw(st.sampled_from([None, 2018, 2022])),
            "countries": draw(st.sampled_from([None, "US", "MX;US"])),
        })  # fmt: skip
    return stock, orders_frame(*orders)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(market())
def test_property_never_beyond_availability_and_every_order_decided(case):
    stock, orders = case
    result = allocate(orders, ELIGIBILITY, stock, POLICY, AS_OF)
    taken = result.lines.groupby(["project_id", "vintage"])["tonnes"].sum()
    available = stock.set_index(["project_id", "vintage"])["remaining"]
    over = taken[taken > available.reindex(taken.index).fillna(0)]
    assert over.empty, f"allocated beyond availability: {over.to_dict()}"

    decisions = result.decisions.set_index("order_id")
    assert sorted(decisions.index) == sorted(orders["order_id"]), "every order must get exactly one decision"
    assert decisions["status"].isin(["filled", "partially_filled", "refused"]).all(), decisions["status"].unique()
    assert decisions["reason"].str.len().gt(0).all(), "every decision must carry a reason"
    per_order = result.lines.groupby("order_id")["tonnes"].sum().reindex(decisions.index).fillna(0)
    assert (per_order == decisions["tonnes_allocated"]).all(), "decisions must add up to their allocation lines"
    filled = decisions["status"] == "filled"
    assert (decisions.loc[filled, "tonnes_allocated"] == decisions.loc[filled, "tonnes_ordered"]).all()
    assert (decisions.loc[decisions["status"] == "refused", "tonnes_allocated"] == 0).all()
    partial = decisions["status"] == "partially_filled"
    assert (decisions.loc[partial, "tonnes_allocated"].between(1, decisions.loc[partial, "tonnes_ordered"] - 1)).all()
    assert not result.lines.merge(stock.loc[stock["quality_tier"] == "watchlist"], on=["project_id", "vintage"]).shape[
        0
    ], "a tier outside the policy's tier_order must never be allocated"
    assert set(result.lines["buyer_id"]) <= {"B1"}, "only the qualifying buyer B1 may receive credits"

    shuffled = allocate(orders.sample(frac=1, random_state=7), ELIGIBILITY, stock.sample(frac=1, random_state=3),
                        POLICY, AS_OF)  # fmt: skip
    assert (
        shuffled.lines.sort_values(["order_id", "project_id"])
        .reset_index(drop=True)
        .equals(result.lines.sort_values(["order_id", "project_id"]).reset_index(drop=True))
    ), "allocation must not depend on input row order"
