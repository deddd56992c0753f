"""Policy section for buyer screening and allocation (issue 6): the ``buyers:`` section of data/policy.yaml."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

DISCLOSURE_CADENCES = ("quarterly", "semiannual", "annual", "biennial", "irregular", "none")
SCIENCE_TARGET_STATUSES = ("validated", "committed", "commitment_removed", "expired", "none")


class BuyerPolicy(BaseModel):
    """Who qualifies as a buyer, and how eligible credits are shared among their orders."""

    model_config = ConfigDict(extra="forbid")

    net_zero_latest_year: int = Field(default=2050, ge=2025, le=2100)
    """Condition 1: the buyer's net-zero target year must be no later than this."""
    net_zero_required_scopes: list[int] = Field(default=[1, 2, 3], min_length=1)
    """Condition 1: the GHG Protocol scopes the net-zero target must cover."""

    disclosure_max_age_months: int = Field(default=18, ge=1)
    """Condition 2: the latest public emissions disclosure must be at most this many months old."""
    disclosure_cadences: list[str] = Field(default=["quarterly", "semiannual", "annual"], min_length=1)
    """Condition 2: disclosure cadences that count as measuring and disclosing regularly."""

    science_target_statuses: list[str] = Field(default=["validated", "committed"], min_length=1)
    """Condition 3: science-based target statuses accepted (SBTi dashboard wording)."""
    science_target_commitment_max_age_months: int = Field(default=24, ge=1)
    """Condition 3: a ``committed`` status counts only this long after its date (SBTi gives committed
    companies 24 months to get targets validated before removing the commitment)."""

    tier_order: list[str] = Field(default=["high", "eligible"], min_length=1)
    """Quality tiers that may be allocated, best first. Inventory rows of any other tier are never allocated."""
    default_min_tier: str = "eligible"
    """The lowest tier an order accepts when it names none."""

    retire_fictional_orders: bool = False
    """Orders marked ``is_fictional`` (the bundled made-up examples) are only simulated (``dry_run``): they are
    allocated from what real orders leave, shown in ``order_allocations``, and never written to the ledger,
    the system of record. Set true only with a throwaway ledger (demos, tests)."""

    @model_validator(mode="after")
    def _known_values(self) -> BuyerPolicy:
        unknown_scopes = sorted(set(self.net_zero_required_scopes) - {1, 2, 3})
        if unknown_scopes:
            raise ValueError(f"net_zero_required_scopes: unknown scope(s) {unknown_scopes}; scopes are 1, 2, 3")
        unknown_cadences = sorted(set(self.disclosure_cadences) - set(DISCLOSURE_CADENCES))
        if unknown_cadences:
            raise ValueError(f"disclosure_cadences: unknown {unknown_cadences}; known: {list(DISCLOSURE_CADENCES)}")
        unknown_statuses = sorted(set(self.science_target_statuses) - set(SCIENCE_TARGET_STATUSES))
        if unknown_statuses:
            raise ValueError(
                f"science_target_statuses: unknown {unknown_statuses}; known: {list(SCIENCE_TARGET_STATUSES)}"
            )
        if self.default_min_tier not in self.tier_order:
            raise ValueError(f"default_min_tier {self.default_min_tier!r} is not in tier_order {self.tier_order}")
        return self
