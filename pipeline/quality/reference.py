"""The cited reference tables the scoring engine reads (``data/reference/*.csv``), validated by pandera.

Registries do not export what a quality verdict needs (a methodology's additionality test, its leakage
approach, its ICVCM decision, a project type's base risk, published over-crediting findings), so the team
maintains these tables by hand, every row with a ``source_url`` and an ``as_of`` date (see
``data/reference/README.md``). Values the quality framework marks [U] carry ``is_assumption = true`` and an
``assumption_note``; the scoring policy may override them (``ScoringPolicy.methodology_overrides``).

Cells are read as text and converted explicitly, so a malformed table fails with an error naming the file,
the column and the CSV line, never with a silently coerced value.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

PROGRAMS = ("vcs", "gs", "acr", "car", "art", "cdm", "arb", "ecy")
ACTIVITIES = ("ARR", "IFM", "REDD", "JREDD", "WRC", "ALM", "AGC")
CCP_STATUSES = (
    "approved",
    "approved_conditional",
    "remedial_action",
    "rejected",
    "under_assessment",
    "withdrawn",
    "not_submitted",
)
ADDITIONALITY_CLASSES = (
    "dynamic_benchmark",
    "jurisdictional",
    "standardized_positive_list",
    "project_specific_legacy",
    "none",
    "rejected_category",
)
BASELINE_CLASSES = (
    "jurisdictional_allocated",
    "dynamic",
    "static_project_reference",
    "regional_common_practice",
    "not_applicable",
)
LEAKAGE_APPROACHES = (
    "national_accounting",
    "jurisdictional_deduction",
    "jurisdictional_plus_belt",
    "displaced_agriculture",
    "wetland_blue_carbon",
    "ifm_market_deduction",
    "soil_not_modelled",
    "activity_shifting_only",
    "none",
    "not_applicable",
)
REVERSAL_MECHANISMS = ("pooled_buffer_risk_based", "pooled_buffer_flat", "insurance", "none", "not_applicable")
RISK_LEVELS = ("low", "medium", "high")
FLAGS = ("over_crediting_finding", "registry_hold", "withdrawn", "controversy")
FLAG_EFFECTS = ("ineligible", "watchlist")

VERSION_PATTERN = r"^\d+(\.\d+)*$"
# A source is a URL or a repository file written ``owner/repo:path`` (how the quality framework cites
# CarbonPlan's repositories); several sources are joined with " ; ".
_SOURCE = r"(https?://\S+|[\w.-]+/[\w.-]+:\S+)"
SOURCE_PATTERN = rf"^{_SOURCE}( ; {_SOURCE})*$"
SOURCE_SEPARATOR = " ; "


# --------------------------------------------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------------------------------------------


class _Sourced(pa.DataFrameModel):
    source_url: Series[str] = pa.Field(str_matches=SOURCE_PATTERN)
    as_of: Series[pd.Timestamp]

    class Config:
        strict = False
        coerce = False


class _Assumed(_Sourced):
    is_assumption: Series[bool]
    assumption_note: Series[str] = pa.Field(nullable=True)

    @pa.dataframe_check(error="is_assumption=true needs an assumption_note saying what is unverified")
    def assumption_is_explained(cls, df: pd.DataFrame) -> Series[bool]:
        return ~df["is_assumption"] | df["assumption_note"].fillna("").str.strip().ne("")


class MethodologiesSchema(_Assumed):
    """``methodologies.csv``: one row per program x methodology x version range (the join key to
    ``projects.protocol`` is ``protocol``; version ranges of one protocol never overlap)."""

    protocol: Series[str] = pa.Field(str_matches=r"^[a-z0-9][a-z0-9.-]*$")
    program: Series[str] = pa.Field(isin=PROGRAMS)
    methodology_id: Series[str]
    name: Series[str]
    version_min: Series[str] = pa.Field(nullable=True, str_matches=VERSION_PATTERN)
    version_max: Series[str] = pa.Field(nullable=True, str_matches=VERSION_PATTERN)
    activity: Series[str] = pa.Field(nullable=True, isin=ACTIVITIES)
    is_nature_based: Series[bool]
    ccp_status: Series[str] = pa.Field(isin=CCP_STATUSES)
    ccp_conditions: Series[str] = pa.Field(nullable=True)
    additionality_class: Series[str] = pa.Field(isin=ADDITIONALITY_CLASSES)
    baseline_class: Series[str] = pa.Field(isin=BASELINE_CLASSES)
    leakage_approach: Series[str] = pa.Field(isin=LEAKAGE_APPROACHES)
    default_market_leakage_pct: Series[float] = pa.Field(nullable=True, ge=0, le=100)
    reversal_mechanism: Series[str] = pa.Field(isin=REVERSAL_MECHANISMS)
    min_buffer_pct: Series[float] = pa.Field(nullable=True, ge=0, le=100)
    commitment_years: Series[float] = pa.Field(nullable=True, gt=0)
    monitoring_years: Series[float] = pa.Field(nullable=True, gt=0)
    is_reversible: Series[bool]
    inactive_or_superseded: Series[bool]
    transition_deadline: Series[pd.Timestamp] = pa.Field(nullable=True)
    legacy_project_baseline_redd: Series[bool]
    icvcm_methodology: Series[str] = pa.Field(nullable=True)
    """Added column: the methodology's title in the ICVCM assessment-status table (without its version
    suffix), which ties the row to its ICVCM decision; empty when ICVCM does not list it."""
    ccp_source_url: Series[str] = pa.Field(str_matches=SOURCE_PATTERN)
    """Added column: the ICVCM decision document behind ``ccp_status`` (else the assessment-status page)."""
    ccp_as_of: Series[pd.Timestamp]
    """Added column: the date of the ICVCM table ``ccp_status`` was derived from."""

    @pa.dataframe_check(error="ccp_conditions must be given exactly when ccp_status is approved_conditional")
    def conditions_match_status(cls, df: pd.DataFrame) -> Series[bool]:
        has_conditions = df["ccp_conditions"].fillna("").str.strip().ne("")
        return has_conditions == df["ccp_status"].eq("approved_conditional")

    @pa.dataframe_check(error="a nature-based methodology names its activity, and only a nature-based one does")
    def activity_iff_nature_based(cls, df: pd.DataFrame) -> Series[bool]:
        return df["activity"].notna() == df["is_nature_based"]

    @pa.dataframe_check(error="legacy project-baseline REDD methodologies are REDD methodologies")
    def legacy_redd_is_redd(cls, df: pd.DataFrame) -> Series[bool]:
        return ~df["legacy_project_baseline_redd"] | df["activity"].eq("REDD")


class ProjectTypesSchema(_Assumed):
    """``project_types.csv``: activity / subtype -> base risk profile. Rows are matched in file order: a
    project takes the first row of its activity whose ``match_project_type`` substring occurs in its project
    type or name, so specific subtypes come before their activity's broad default row."""

    project_type_key: Series[str] = pa.Field(unique=True, str_matches=r"^[A-Za-z][A-Za-z0-9_]*$")
    activity: Series[str] = pa.Field(nullable=True, isin=ACTIVITIES)
    match_project_type: Series[str] = pa.Field(nullable=True, str_matches=r"^[^A-Z|]+(\|[^A-Z|]+)*$")
    """Lower-case substrings, ``|``-separated, matched against ``projects.project_type`` and ``name``."""
    is_default_for_activity: Series[bool]
    """Added column: the activity's broad profile (listed last for its activity), the one to use for a
    project of this activity that no pattern matches."""
    is_reversible: Series[bool]
    harvest_revenue: Series[bool]
    additionality_risk: Series[str] = pa.Field(isin=RISK_LEVELS)
    permanence_risk: Series[str] = pa.Field(isin=RISK_LEVELS)
    leakage_risk: Series[str] = pa.Field(isin=RISK_LEVELS)

    @pa.dataframe_check(error="at most one default profile per activity")
    def one_default_per_activity(cls, df: pd.DataFrame) -> Series[bool]:
        defaults = df[df["is_default_for_activity"]]
        return ~df["is_default_for_activity"] | ~defaults["activity"].duplicated(keep=False).reindex(
            df.index, fill_value=False
        )


class ProjectFlagsSchema(_Sourced):
    """``project_flags.csv``: projects under credible over-crediting findings or registry holds."""

    project_id: Series[str] = pa.Field(str_matches=r"^(VCS|GLD|ACR|CAR|ART)[1-9][0-9]*$")
    flag: Series[str] = pa.Field(isin=FLAGS)
    effect: Series[str] = pa.Field(isin=FLAG_EFFECTS)
    description: Series[str] = pa.Field(str_length={"min_value": 10})
    flagged_on: Series[pd.Timestamp]

    class Config:
        unique = ["project_id", "flag"]


# Column kinds, for the explicit text -> value conversion that precedes validation.
_BOOL = {
    "methodologies": (
        "is_nature_based",
        "is_reversible",
        "inactive_or_superseded",
        "legacy_project_baseline_redd",
        "is_assumption",
    ),
    "project_types": ("is_default_for_activity", "is_reversible", "harvest_revenue", "is_assumption"),
    "project_flags": (),
}
_NUMBER = {
    "methodologies": ("default_market_leakage_pct", "min_buffer_pct", "commitment_years", "monitoring_years"),
    "project_types": (),
    "project_flags": (),
}
_DATE = {
    "methodologies": ("as_of", "transition_deadline", "ccp_as_of"),
    "project_types": ("as_of",),
    "project_flags": ("as_of", "flagged_on"),
}
TABLES: dict[str, type[pa.DataFrameModel]] = {
    "methodologies": MethodologiesSchema,
    "project_types": ProjectTypesSchema,
    "project_flags": ProjectFlagsSchema,
}
ICVCM_DECISIONS_FILE = "icvcm-decisions.json"


class ReferenceError(ValueError):
    """A reference table is missing or malformed; the message names the file, the column and the line."""


@dataclass(frozen=True)
class Reference:
    """The validated reference tables, one DataFrame each (missing cells are NA)."""

    methodologies: pd.DataFrame
    project_types: pd.DataFrame
    project_flags: pd.DataFrame
    icvcm_decisions: Mapping[str, Any]
    """The verbatim ICVCM assessment-status table (``icvcm-decisions.json``), see pipeline.quality.icvcm."""


# --------------------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------------------


def _csv_line(index: pd.Index) -> str:
    lines = [str(i + 2) for i in index[:5]]  # +1 for the header, +1 for 1-based lines
    return ", ".join(lines) + (" ..." if len(index) > 5 else "")


def _convert(raw: pd.DataFrame, table: str, file_name: str) -> pd.DataFrame:
    frame = raw.apply(lambda col: col.str.strip()).replace("", None)
    for name in _BOOL[table]:
        if name not in frame:
            continue  # reported by the schema as a missing column
        text = frame[name].str.lower()
        bad = ~text.isin(["true", "false"])
        if bad.any():
            raise ReferenceError(
                f"{file_name}: column '{name}' must be true or false, found {sorted(set(raw[name][bad]))} "
                f"on line(s) {_csv_line(frame.index[bad])}"
            )
        frame[name] = text.eq("true")
    for name in _NUMBER[table]:
        if name not in frame:
            continue
        values = pd.to_numeric(frame[name], errors="coerce")
        bad = frame[name].notna() & values.isna()
        if bad.any():
            raise ReferenceError(
                f"{file_name}: column '{name}' must be a number, found {sorted(set(raw[name][bad]))} "
                f"on line(s) {_csv_line(frame.index[bad])}"
            )
        frame[name] = values
    for name in _DATE[table]:
        if name not in frame:
            continue
        values = pd.to_datetime(frame[name], format="%Y-%m-%d", errors="coerce")
        bad = frame[name].notna() & values.isna()
        if bad.any():
            raise ReferenceError(
                f"{file_name}: column '{name}' must be an ISO date (YYYY-MM-DD), found "
                f"{sorted(set(raw[name][bad]))} on line(s) {_csv_line(frame.index[bad])}"
            )
        frame[name] = values
    return frame


def _schema_message(file_name: str, errors: pa.errors.SchemaErrors) -> str:
    problems = []
    for _, case in errors.failure_cases.drop_duplicates(["column", "check"]).iterrows():
        column = case["column"] if pd.notna(case["column"]) else "(table)"
        if case["check"] == "column_in_dataframe":
            problems.append(f"missing column '{case['failure_case']}'")
            continue
        rows = errors.failure_cases[
            (errors.failure_cases["column"].fillna("(table)") == column)
            & (errors.failure_cases["check"] == case["check"])
        ]
        index = pd.Index(rows["index"].dropna().astype(int).unique())
        values = sorted({str(v) for v in rows["failure_case"].dropna()})[:5]
        where = f" on line(s) {_csv_line(index)}" if len(index) else ""
        problems.append(f"column '{column}': {case['check']} failed for {values}{where}")
    return f"{file_name}: " + "; ".join(problems)


def validate_table(frame: pd.DataFrame, table: str, file_name: str) -> pd.DataFrame:
    """Validate one converted table against its schema (all failures together, named by column)."""
    try:
        validated = TABLES[table].validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        raise ReferenceError(_schema_message(file_name, exc)) from None
    if table == "methodologies":
        _check_version_ranges(validated, file_name)
    return validated


def read_table(path: Path, table: str) -> pd.DataFrame:
    """Read and validate one reference CSV (every cell as text first, then converted by column kind)."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except FileNotFoundError:
        raise ReferenceError(f"reference table not found: {path}") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ReferenceError(f"{path.name}: not a readable UTF-8 CSV ({exc})") from None
    return validate_table(_convert(raw, table, path.name), table, path.name)


def load_reference(reference_dir: Path) -> Reference:
    """Load and validate every reference table of ``reference_dir`` (``Paths.reference_dir``)."""
    reference_dir = Path(reference_dir)
    frames = {table: read_table(reference_dir / f"{table}.csv", table) for table in TABLES}
    decisions_path = reference_dir / ICVCM_DECISIONS_FILE
    try:
        decisions = json.loads(decisions_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReferenceError(f"ICVCM decisions file not found: {decisions_path}") from None
    except json.JSONDecodeError as exc:
        raise ReferenceError(f"{ICVCM_DECISIONS_FILE}: not valid JSON ({exc})") from None
    if not isinstance(decisions, dict) or not isinstance(decisions.get("rows"), list):
        raise ReferenceError(f"{ICVCM_DECISIONS_FILE}: expected an object with a 'rows' list")
    return Reference(icvcm_decisions=decisions, **frames)


# --------------------------------------------------------------------------------------------------------------
# Versions
# --------------------------------------------------------------------------------------------------------------


def version_key(version: str) -> tuple[int, ...]:
    """``"2.1"`` -> ``(2, 1, 0, 0)``: versions compare component-wise, ``"1"`` equals ``"1.0"``."""
    parts = [int(p) for p in version.split(".")]
    return tuple(parts + [0] * (4 - len(parts)))


def version_bounds(version_min: object, version_max: object) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Inclusive (low, high) keys of a version range; a missing bound is unbounded."""
    low = version_key(version_min) if isinstance(version_min, str) else (0, 0, 0, 0)
    high = version_key(version_max) if isinstance(version_max, str) else (10**9,) * 4
    return low, high


def _check_version_ranges(frame: pd.DataFrame, file_name: str) -> None:
    # One pass over the rows (a few hundred), grouped by protocol in sorted order.
    named = frame[frame["protocol"].notna()]
    rows = named[["protocol", "version_min", "version_max"]].itertuples(name=None)
    spans = sorted((protocol, *version_bounds(low, high), i) for i, protocol, low, high in rows)
    for protocol, group in itertools.groupby(spans, key=lambda span: span[0]):
        ranges = [span[1:] for span in group]
        for low, high, i in ranges:
            if low > high:
                raise ReferenceError(
                    f"{file_name}: columns 'version_min'/'version_max': {protocol} has version_min above "
                    f"version_max on line {i + 2}"
                )
        for (_, prev_high, prev_i), (low, _, i) in zip(ranges, ranges[1:], strict=False):
            if low <= prev_high:
                raise ReferenceError(
                    f"{file_name}: columns 'version_min'/'version_max': {protocol} version ranges overlap "
                    f"on lines {prev_i + 2} and {i + 2}"
                )


__all__ = [
    "Reference",
    "ReferenceError",
    "MethodologiesSchema",
    "ProjectTypesSchema",
    "ProjectFlagsSchema",
    "SOURCE_SEPARATOR",
    "load_reference",
    "read_table",
    "validate_table",
    "version_bounds",
    "version_key",
]
