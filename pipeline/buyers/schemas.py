"""Pandera models for the buyer program: the two input CSVs and the three tables it writes.

Inputs (``data/raw/buyers/``, documented in its README): :class:`BuyersSchema`, :class:`OrdersSchema`.
Outputs: :class:`BuyerEligibilitySchema` (work DB ``buyer_eligibility``), :class:`OrderAllocationsSchema`
(work DB ``order_allocations``), :class:`OrderAllocationLinesSchema` (work DB ``order_allocation_lines``) and
:class:`RetirementsSchema` (ledger DB ``retirements``).

List-valued inputs (scopes, activities, countries, registries, evidence URLs) stay ``;``-joined strings, as in
the CSV, so that a row reads the same in the file, the table and an error message.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from pipeline.buyers.policy import DISCLOSURE_CADENCES, SCIENCE_TARGET_STATUSES
from pipeline.ingest.schemas import NATURE_ACTIVITIES
from pipeline.registries import REGISTRY_KEYS

RELATIONSHIPS = ("supplier", "partner", "pledge_signatory")
ORDER_STATUSES = ("filled", "partially_filled", "refused", "conflict")


def _list_pattern(values: tuple[str, ...]) -> str:
    item = "|".join(values)
    return rf"^({item})(;({item}))*$"


class BuyersSchema(pa.DataFrameModel):
    """One row per buyer (``data/raw/buyers/buyers.csv``)."""

    buyer_id: Series[str] = pa.Field(unique=True, str_matches=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    name: Series[str] = pa.Field(str_length={"min_value": 1})
    relationship: Series[str] = pa.Field(isin=RELATIONSHIPS)
    net_zero_target_year: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=2000, le=2100)
    net_zero_scopes: Series[str] = pa.Field(nullable=True, str_matches=_list_pattern(("1", "2", "3")))
    """Scopes the net-zero target covers, e.g. ``1;2;3``."""
    last_disclosure_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    disclosure_cadence: Series[str] = pa.Field(isin=DISCLOSURE_CADENCES)
    science_target_status: Series[str] = pa.Field(isin=SCIENCE_TARGET_STATUSES)
    science_target_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    evidence_urls: Series[str] = pa.Field(nullable=True, str_matches=r"^https://\S+(;https://\S+)*$")
    is_fictional: Series[bool]
    """True for the bundled made-up examples; real buyers say false."""
    source_line: Series[int] = pa.Field(ge=2)

    class Config:
        strict = True
        coerce = True


class OrdersSchema(pa.DataFrameModel):
    """One row per buyer order (``data/raw/buyers/orders.csv``)."""

    order_id: Series[str] = pa.Field(unique=True, str_matches=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    buyer_id: Series[str]
    ordered_at: Series[pd.Timestamp]
    tonnes: Series[int] = pa.Field(ge=1)
    activities: Series[str] = pa.Field(nullable=True, str_matches=_list_pattern(NATURE_ACTIVITIES))
    """Accepted activities in order of preference (first is preferred); empty = any nature-based activity."""
    min_tier: Series[str] = pa.Field(nullable=True)
    vintage_floor: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=1990, le=2100)
    countries: Series[str] = pa.Field(nullable=True, str_matches=r"^[A-Z]{2}(;[A-Z]{2})*$")
    registries: Series[str] = pa.Field(nullable=True, str_matches=_list_pattern(REGISTRY_KEYS))
    latest_delivery_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    is_fictional: Series[bool]
    source_line: Series[int] = pa.Field(ge=2)

    class Config:
        strict = True
        coerce = True


class BuyerEligibilitySchema(pa.DataFrameModel):
    """One row per buyer: the three conditions, each with its input value, verdict and plain reason."""

    buyer_id: Series[str] = pa.Field(unique=True)
    name: Series[str]
    relationship: Series[str] = pa.Field(isin=RELATIONSHIPS)
    is_eligible: Series[bool]
    net_zero_pass: Series[bool]
    net_zero_target_year: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    net_zero_scopes: Series[str] = pa.Field(nullable=True)
    net_zero_reason: Series[str]
    disclosure_pass: Series[bool]
    last_disclosure_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    disclosure_cadence: Series[str]
    disclosure_reason: Series[str]
    science_target_pass: Series[bool]
    science_target_status: Series[str]
    science_target_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    science_target_reason: Series[str]
    reason: Series[str]
    """The failing conditions' reasons joined with ``; ``, or ``meets all three conditions``."""
    evidence_urls: Series[str] = pa.Field(nullable=True)
    is_fictional: Series[bool]
    screened_as_of: Series[pd.Timestamp]
    policy_version: Series[str]

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check
    def eligible_means_all_three_pass(cls, df: pd.DataFrame) -> Series[bool]:
        return df["is_eligible"] == (df["net_zero_pass"] & df["disclosure_pass"] & df["science_target_pass"])


class AllocationLinesSchema(pa.DataFrameModel):
    """Tonnes taken from one project-vintage for one order (becomes one ledger row)."""

    order_id: Series[str]
    buyer_id: Series[str]
    project_id: Series[str]
    vintage: Series[int]
    tonnes: Series[int] = pa.Field(ge=1)

    class Config:
        strict = False
        coerce = True
        unique = ["order_id", "project_id", "vintage"]


class OrderAllocationLinesSchema(pa.DataFrameModel):
    """One row per order and project-vintage it received (work DB table ``order_allocation_lines``): the
    executed orders' ledger retirements and the made-up example orders' simulated lines (``dry_run``). Per
    order, ``tonnes`` add up to ``order_allocations.tonnes_allocated``."""

    order_id: Series[str]
    buyer_id: Series[str]
    project_id: Series[str]
    registry: Series[str] = pa.Field(isin=REGISTRY_KEYS)
    vintage: Series[int]
    tonnes: Series[int] = pa.Field(ge=1)
    quality_tier: Series[str]
    """Quality tier of the project-vintage when it was allocated."""
    dry_run: Series[bool]

    class Config:
        strict = True
        coerce = True
        unique = ["order_id", "project_id", "vintage"]


class OrderAllocationsSchema(pa.DataFrameModel):
    """One row per order: what it received and why (work DB table ``order_allocations``).

    ``refused`` orders received nothing and say why; ``filled`` and ``partially_filled`` orders were retired
    (the lines are ledger rows) unless ``dry_run``; ``conflict`` marks an executed order whose CSV row changed
    afterwards."""

    order_id: Series[str] = pa.Field(unique=True)
    buyer_id: Series[str]
    status: Series[str] = pa.Field(isin=ORDER_STATUSES)
    tonnes_ordered: Series[int] = pa.Field(ge=1)
    tonnes_allocated: Series[int] = pa.Field(ge=0)
    tonnes_unfilled: Series[int] = pa.Field(ge=0)
    reason: Series[str] = pa.Field(str_length={"min_value": 1})
    allocations: Series[str] = pa.Field(nullable=True)
    """``project_id vintage: tonnes`` per line, ``; ``-joined: a summary to read; query the lines in
    ``order_allocation_lines``."""
    executed_at: Series[pd.Timestamp] = pa.Field(nullable=True)
    executed_this_run: Series[bool]
    dry_run: Series[bool]
    """A made-up example order that was only simulated: its ``allocations`` were not retired."""
    policy_version: Series[str]

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check
    def tonnes_add_up(cls, df: pd.DataFrame) -> Series[bool]:
        return df["tonnes_allocated"] + df["tonnes_unfilled"] == df["tonnes_ordered"]

    @pa.dataframe_check
    def status_matches_tonnes(cls, df: pd.DataFrame) -> Series[bool]:
        expected = pd.Series("partially_filled", index=df.index)
        expected[df["tonnes_allocated"] == 0] = "refused"
        expected[df["tonnes_unfilled"] == 0] = "filled"
        return (df["status"] == expected) | (df["status"] == "conflict")


class RetirementsSchema(pa.DataFrameModel):
    """One row per retirement made on a buyer's behalf (ledger DB table ``retirements``, append-only)."""

    retirement_id: Series[str] = pa.Field(unique=True, str_matches=r"^CQR-[0-9a-f]{16}$")
    idempotency_key: Series[str] = pa.Field(unique=True)
    order_id: Series[str]
    buyer_id: Series[str]
    beneficiary: Series[str]
    project_id: Series[str]
    registry: Series[str] = pa.Field(isin=REGISTRY_KEYS)
    vintage: Series[int]
    tonnes: Series[int] = pa.Field(ge=1)
    retired_at: Series[pd.Timestamp]
    policy_version: Series[str]
    quality_tier: Series[str]
    activity: Series[str] = pa.Field(nullable=True)
    country_code: Series[str] = pa.Field(nullable=True)
    additionality_score: Series[float] = pa.Field(nullable=True)
    permanence_score: Series[float] = pa.Field(nullable=True)
    leakage_score: Series[float] = pa.Field(nullable=True)
    over_crediting_score: Series[float] = pa.Field(nullable=True)
    limiting_score: Series[float] = pa.Field(nullable=True)
    scores_policy_version: Series[str] = pa.Field(nullable=True)
    """The policy version the inventory's scores were computed under."""

    class Config:
        strict = True
        coerce = True
