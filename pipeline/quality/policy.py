"""Policy section for scoring (issue 3): the gates, thresholds, scores, modifiers and haircuts of the rubric.

Every number here is a product rule ([P] in ``data/reference/quality-framework.md`` section 7) or an unverified value
([U]); the defaults reproduce the v1 rubric and ``data/policy.yaml`` may override any of them. Reference-table
values (a methodology's minimum buffer, its commitment years ...) are overridden per protocol through
``methodology_overrides``, so an analyst who verifies a [U] value changes the policy file, not the code.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.ingest.parsing import VINTAGE_RANGE
from pipeline.ingest.schemas import PROJECT_STATUSES
from pipeline.quality.reference import (
    ADDITIONALITY_CLASSES,
    BASELINE_CLASSES,
    CCP_STATUSES,
    LEAKAGE_APPROACHES,
    MethodologiesSchema,
)
from pipeline.registries import REGISTRY_KEYS

OVERRIDABLE_METHODOLOGY_COLUMNS = (
    "ccp_status",
    "additionality_class",
    "baseline_class",
    "leakage_approach",
    "default_market_leakage_pct",
    "reversal_mechanism",
    "min_buffer_pct",
    "commitment_years",
    "monitoring_years",
    "is_reversible",
    "inactive_or_superseded",
    "transition_deadline",
    "legacy_project_baseline_redd",
)


_KINDS = {"float64": "a number", "bool": "true or false", "str": "text", "datetime64[ns]": "a date (YYYY-MM-DD)"}
_CHECK_WORDS = {
    "greater_than_or_equal_to": ">= {min_value}",
    "greater_than": "> {min_value}",
    "less_than_or_equal_to": "<= {max_value}",
    "isin": "one of {allowed_values}",
}


def _reference_values(column: str, value: object) -> str | None:
    """What ``methodologies.csv``'s ``column`` allows (its contract, :class:`MethodologiesSchema`, the one the
    reference loader enforces) when ``value`` is not such a value; None when it is."""
    spec = MethodologiesSchema.to_schema().columns[column]
    kind = str(spec.dtype)
    bounds = " and ".join(_CHECK_WORDS[check.name].format(**check.statistics) for check in spec.checks)
    allowed = bounds if kind == "str" and bounds else " ".join(filter(None, [_KINDS[kind], bounds]))
    allowed += ", or null" if spec.nullable else ""
    if value is None:
        return None if spec.nullable else allowed
    if kind == "bool":
        typed = isinstance(value, bool)
    elif kind == "float64":
        typed = isinstance(value, int | float) and not isinstance(value, bool) and value == value  # not NaN
    elif kind.startswith("datetime"):
        typed = isinstance(value, str | dt.date) and pd.notna(pd.to_datetime(value, errors="coerce"))
    else:
        typed = isinstance(value, str)
    if not typed or not all(bool(check(pd.Series([value])).check_passed) for check in spec.checks):
        return allowed
    return None


def _all_known(values: list[str], known: tuple[str, ...], what: str) -> list[str]:
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown {what} {unknown}; known: {list(known)}")
    return values


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _scores_in_range(values: dict[str, int]) -> dict[str, int]:
    bad = {key: value for key, value in values.items() if not 1 <= value <= 5}
    if bad:
        raise ValueError(f"scores must be 1-5, got {bad}")
    return values


def _score_table(given: dict[str, int], defaults: dict[str, int], known: tuple[str, ...]) -> dict[str, int]:
    """The defaults with the file's entries on top, so a policy states only the scores it changes."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ValueError(f"unknown keys {unknown}; known: {list(known)}")
    return _scores_in_range({**defaults, **given})


class GatePolicy(_Section):
    """Section 7.3: any failed gate makes a project-vintage ineligible, whatever its scores."""

    programs: list[str] = Field(default_factory=lambda: list(REGISTRY_KEYS))
    """G1: registries whose credits may be eligible (all five are CCP-Eligible programs)."""
    eligible_statuses: list[str] = Field(default_factory=lambda: ["registered", "completed"])
    """G2: harmonized project statuses that pass; a project missing from its registry's export is ``unknown``."""
    flag_effects_failing: list[Literal["ineligible", "watchlist"]] = Field(default_factory=lambda: ["ineligible"])
    """G2: entries of ``project_flags.csv`` with these effects fail the gate (the others move a row to watchlist)."""
    forward_product_types: list[str] = Field(default_factory=lambda: ["PER"])
    """G3: product types that are forward (ex-ante) credits: Gold Standard PERs."""
    exclude_vintage_after_issuance: bool = True
    """G3: a vintage later than the year it was issued is a forward credit."""
    rejected_ccp_statuses: list[str] = Field(default_factory=lambda: ["rejected"])
    """G4: ICVCM decisions that fail the methodology gate."""
    exclude_legacy_redd: bool = True
    """G4 buyer policy: all legacy project-baseline AUD REDD vintages (VM0006, VM0007 AUD, VM0009, VM0015, VM0037)."""
    exclude_unassessed_methodology: bool = True
    """G4: a protocol with no row in ``methodologies.csv`` cannot be traced to a rule, so it cannot be eligible."""
    min_vintage: int = Field(2016, ge=VINTAGE_RANGE[0], le=VINTAGE_RANGE[1])
    """G5: the CORSIA pilot cut-off (a year the ingest accepts as a vintage)."""
    max_vintage_age_years: int | None = Field(5, ge=0)
    """G5 (framework's default recommendation): vintage >= assessment year - this; null switches it off."""
    require_reversal_mechanism: bool = True
    """G6: a reversible project-vintage whose methodology has no reversal mechanism fails."""
    nature_based_only: bool = True
    """G7: the organisation buys nature-based credits only; other project-vintages are scored but never eligible."""

    @field_validator("programs")
    @classmethod
    def _known_programs(cls, value: list[str]) -> list[str]:
        return _all_known(value, REGISTRY_KEYS, "registries")

    @field_validator("eligible_statuses")
    @classmethod
    def _known_statuses(cls, value: list[str]) -> list[str]:
        return _all_known(value, PROJECT_STATUSES, "statuses")

    @field_validator("rejected_ccp_statuses")
    @classmethod
    def _known_ccp(cls, value: list[str]) -> list[str]:
        return _all_known(value, CCP_STATUSES, "ICVCM statuses")


class AdditionalityPolicy(_Section):
    """Section 7.4: a base score from the methodology's additionality class, then modifiers."""

    base_by_class: dict[str, int] = Field(
        default_factory=lambda: {
            "dynamic_benchmark": 4,
            "jurisdictional": 4,
            "standardized_positive_list": 4,
            "project_specific_legacy": 3,
            "none": 2,
            "rejected_category": 1,
        }
    )
    standardized_without_approval: int = Field(3, ge=1, le=5)
    """A standardized test or positive list scores 4 only when CCP-approved; otherwise this."""
    ccp_label_bonus: int = Field(1, ge=0, le=4)
    ccp_bonus_statuses: list[str] = Field(default_factory=lambda: ["approved"])
    ccp_bonus_cap: int = Field(4, ge=1, le=5)
    """The label never lifts a score above this, unless the class has independent ex-post evidence."""
    ex_post_evidence_classes: list[str] = Field(default_factory=lambda: ["dynamic_benchmark"])
    crediting_gap_years: int = Field(3, ge=1)
    crediting_gap_penalty: int = Field(1, ge=0, le=4)
    harvest_revenue_penalty: int = Field(1, ge=0, le=4)
    """ARR with harvest revenue (commercial plantation), and ACR ARR outside natural forest establishment."""
    ifm_common_practice_penalty: int = Field(1, ge=0, le=4)
    ifm_baseline_risk_types: list[str] = Field(
        default_factory=lambda: ["IFM_harvest_deferral", "IFM_rotation_extension"]
    )
    soil_activities: list[str] = Field(default_factory=lambda: ["ALM"])
    soil_early_start_years: int = Field(5, ge=1)
    soil_early_start_penalty: int = Field(1, ge=0, le=4)
    unassessed: int = Field(1, ge=1, le=5)
    """Score when the protocol has no methodology reference row."""

    @field_validator("base_by_class")
    @classmethod
    def _classes(cls, value: dict[str, int]) -> dict[str, int]:
        return _score_table(value, cls.model_fields["base_by_class"].default_factory(), ADDITIONALITY_CLASSES)


class PermanencePolicy(_Section):
    """Section 7.5: commitment length and reversal mechanism, then the observed buffer."""

    not_reversible: int = Field(5, ge=1, le=5)
    permanent_commitment_years: int = Field(100, ge=1)
    permanent_risk_based: int = Field(5, ge=1, le=5)
    ccp_commitment_years: int = Field(40, ge=1)
    """ICVCM AF 9.1: reversals within 40 years must be compensated."""
    risk_based_mechanisms: list[str] = Field(default_factory=lambda: ["pooled_buffer_risk_based"])
    risk_based: int = Field(4, ge=1, le=5)
    flat_or_unproven: int = Field(3, ge=1, le=5)
    min_commitment_years: int = Field(20, ge=1)
    short_commitment: int = Field(2, ge=1, le=5)
    """Commitment between ``min_commitment_years`` and the CCP period."""
    below_min_commitment: int = Field(1, ge=1, le=5)
    no_mechanism: int = Field(1, ge=1, le=5)
    unknown_commitment: int = Field(2, ge=1, le=5)
    """Score shown when neither a program rule nor a project fact gives the commitment period; the row is held
    for review (tier ``needs_review``), never judged ineligible on it."""
    verra_longevity_years: int = Field(30, ge=1)
    """Verra NPRT: minimum project longevity for registration requested before ``verra_longevity_raised_on``
    (framework 4.6); the registration date stands in for the request date, which the export lacks."""
    verra_longevity_raised_years: int = Field(40, ge=1)
    verra_longevity_raised_on: dt.date = dt.date(2024, 1, 1)
    buffer_shortfall_penalty: int = Field(1, ge=0, le=4)
    """Observed buffer share below the methodology's minimum."""
    unassessed: int = Field(1, ge=1, le=5)


class LeakagePolicy(_Section):
    """Section 7.6: the methodology's leakage approach sets the score."""

    score_by_approach: dict[str, int] = Field(
        default_factory=lambda: {
            "national_accounting": 5,
            "jurisdictional_deduction": 4,
            "jurisdictional_plus_belt": 4,
            "displaced_agriculture": 4,
            "wetland_blue_carbon": 4,
            "ifm_market_deduction": 3,
            "soil_not_modelled": 3,
            "activity_shifting_only": 2,
            "none": 1,
            "not_applicable": 5,
        }
    )
    ifm_market_leakage_floor_pct: float = Field(20.0, ge=0, le=100)
    """ARB's 20% secondary-effects deduction: the floor an IFM market-leakage deduction must meet."""
    ifm_below_floor: int = Field(2, ge=1, le=5)
    """IFM whose own market-leakage deduction is below the floor."""
    ifm_unknown_deduction: int = Field(2, ge=1, le=5)
    """Score shown when the IFM market-leakage deduction is not recorded (no program rule gives it) and no CCP
    label attests the approval's leakage condition; the row is held for review (tier ``needs_review``)."""
    unassessed: int = Field(1, ge=1, le=5)

    @field_validator("score_by_approach")
    @classmethod
    def _approaches(cls, value: dict[str, int]) -> dict[str, int]:
        return _score_table(value, cls.model_fields["score_by_approach"].default_factory(), LEAKAGE_APPROACHES)


class OverCreditingPolicy(_Section):
    """Section 7.7: the baseline class (reported, not gating in v1) and its sensitivity haircut."""

    score_by_baseline_class: dict[str, int] = Field(
        default_factory=lambda: {
            "jurisdictional_allocated": 4,
            "dynamic": 4,
            "static_project_reference": 1,
            "regional_common_practice": 2,
            "not_applicable": 3,
        }
    )
    sensitivity_haircut_pct: dict[str, float] = Field(
        default_factory=lambda: {"static_project_reference": 75.0, "regional_common_practice": 30.0}
    )
    """Empirical over-crediting (framework section 6): for the ``sensitivity_adjusted_issued`` column only."""
    unassessed: int = Field(1, ge=1, le=5)

    @field_validator("sensitivity_haircut_pct")
    @classmethod
    def _haircuts(cls, value: dict[str, float]) -> dict[str, float]:
        _all_known(list(value), BASELINE_CLASSES, "baseline classes")
        bad = {key: pct for key, pct in value.items() if not 0 <= pct <= 100}
        if bad:
            raise ValueError(f"haircuts are percentages, 0-100; got {bad}")
        return value

    @field_validator("score_by_baseline_class")
    @classmethod
    def _classes(cls, value: dict[str, int]) -> dict[str, int]:
        defaults = cls.model_fields["score_by_baseline_class"].default_factory()
        return _score_table(value, defaults, BASELINE_CLASSES)


class ExternalRatingPolicy(_Section):
    """Optional licensed ratings (BeZero, Sylvera ...): a rating at or below the threshold moves a row to
    watchlist. Agencies absent from ``scales`` are rejected with an error naming them."""

    scales: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "bezero": ["AAA", "AA", "A", "BBB", "BB", "B", "C", "D"],
            "sylvera": ["AAA", "AA", "A", "BBB", "BB", "B", "C", "D"],
        }
    )
    """Each agency's scale, best first (lower-case agency names)."""
    watchlist_at_or_below: dict[str, str] = Field(default_factory=lambda: {"bezero": "BB", "sylvera": "BB"})

    @model_validator(mode="after")
    def _thresholds_on_scale(self) -> ExternalRatingPolicy:
        for agency, threshold in self.watchlist_at_or_below.items():
            if threshold not in self.scales.get(agency, []):
                raise ValueError(f"watchlist threshold {threshold!r} is not on {agency}'s scale")
        return self


class TierPolicy(_Section):
    """Section 7.8: tiers by the limiting factor, min(additionality, permanence, leakage), never an average."""

    eligible_min_score: int = Field(3, ge=1, le=5)
    high_min_score: int = Field(4, ge=1, le=5)
    high_requires_ccp: Literal["label", "label_or_approved_methodology"] = "label_or_approved_methodology"
    """``label``: the issuance must carry the CCP label; otherwise an approved methodology (label pending) will do."""
    watchlist_is_eligible: bool = False
    """Watchlist rows are held back from the eligible inventory until reviewed."""

    @model_validator(mode="after")
    def _high_above_eligible(self) -> TierPolicy:
        if self.high_min_score < self.eligible_min_score:
            raise ValueError(
                f"high_min_score ({self.high_min_score}) must be at least eligible_min_score "
                f"({self.eligible_min_score}): a high row is an eligible row"
            )
        return self


class ScoringPolicy(_Section):
    """The ``scoring:`` section of ``data/policy.yaml``."""

    as_of_date: dt.date | None = None
    """Assessment date for date-relative rules (vintage age, transition deadlines); null = the data's own date
    (the latest registry snapshot scored), never the wall clock, so a verdict does not change with the run day."""
    gates: GatePolicy = GatePolicy()
    additionality: AdditionalityPolicy = AdditionalityPolicy()
    permanence: PermanencePolicy = PermanencePolicy()
    leakage: LeakagePolicy = LeakagePolicy()
    over_crediting: OverCreditingPolicy = OverCreditingPolicy()
    tiers: TierPolicy = TierPolicy()
    external_ratings: ExternalRatingPolicy = ExternalRatingPolicy()
    registry_placeholder_dates: dict[str, list[dt.date]] = Field(
        default_factory=lambda: {"verra": [dt.date(2020, 4, 6)]}
    )
    """Registration dates that are a registry's placeholder, not a registration (Verra's registry migration
    date on ~900 projects, framework 8): flagged, and never read by a date rule."""
    methodology_overrides: dict[str, dict[str, str | float | int | bool | None]] = Field(default_factory=dict)
    """Per protocol key (``vm0007``), replacement values for ``methodologies.csv`` columns, e.g. a verified
    minimum buffer: ``{vm0047: {min_buffer_pct: 12}}``."""

    @field_validator("methodology_overrides")
    @classmethod
    def _overridable(cls, value: dict[str, dict]) -> dict[str, dict]:
        for protocol, columns in value.items():
            unknown = sorted(set(columns) - set(OVERRIDABLE_METHODOLOGY_COLUMNS))
            if unknown:
                raise ValueError(
                    f"methodology_overrides[{protocol}]: cannot override {unknown}; "
                    f"overridable: {list(OVERRIDABLE_METHODOLOGY_COLUMNS)}"
                )
            for column, given in columns.items():
                allowed = _reference_values(column, given)
                if allowed:
                    raise ValueError(
                        f"methodology_overrides[{protocol}].{column} must be {allowed}, as in methodologies.csv; "
                        f"got {given!r}"
                    )
        return value

    def assessment_date(self, data_as_of: dt.date) -> dt.date:
        """The pinned ``as_of_date``, else ``data_as_of`` (the snapshot date of the data being scored)."""
        return self.as_of_date or data_as_of
