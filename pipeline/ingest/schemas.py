"""The harmonized warehouse contract: ``projects``, ``credits``, ``rejected_rows``, ``load_audit``.

Table and column names here are what analysts and the scoring, inventory and buyer stages rely on.
Add columns freely; never rename or drop one without a migration note in the README.

Every reader returns frames that pass these models; ``validate_*`` helpers run them lazily so that all
failures are reported together.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera import extensions
from pandera.typing import Series

from pipeline.ingest.parsing import per_distinct_value
from pipeline.registries import REGISTRY_KEYS, TRANSACTION_TYPES

PROJECT_STATUSES = (
    "listed",  # known to the registry, not yet validated/registered (incl. under development)
    "under_validation",
    "registered",  # registered / active / issuing
    "completed",  # crediting ended normally
    "on_hold",
    "withdrawn",
    "inactive",
    "rejected",
    "transitioned",  # moved to another program (e.g. CAR -> ARB compliance)
    "unknown",
)

NATURE_ACTIVITIES = ("ARR", "IFM", "REDD", "JREDD", "WRC", "ALM", "ACoGS", "AGC")
"""AFOLU activities: Verra's codes (ARR, IFM, REDD, WRC, ALM, ACoGS), plus JREDD for jurisdictional REDD+
(ART TREES) and AGC for avoided grassland conversion (CAR/ACR grassland protocols)."""


def empty_frame(schema: type[pa.DataFrameModel]) -> pd.DataFrame:
    """A zero-row frame with the schema's columns and dtypes (a registry or table with nothing in it)."""
    return pd.DataFrame({name: pd.Series(dtype=col.dtype.type) for name, col in schema.to_schema().columns.items()})


def check_columns_and_dtypes(frame: pd.DataFrame, schema: type[pa.DataFrameModel]) -> None:
    """The contract's schema-level checks without coercion, for frames made of rows already validated (the union of
    a registry's files): every column of ``schema`` is present, with exactly the contract's dtype, and without
    missing values where the contract forbids them. Raises pandera's ``SchemaError`` naming every column that is
    not so. (Pandera's own schema-only pass coerces every column again and renders the frame in its dtype check.)"""
    contract = schema.to_schema()
    problems = []
    for name, column in contract.columns.items():
        if name not in frame:
            problems.append(f"column {name!r} is missing")
        elif frame[name].dtype != column.dtype.type:
            problems.append(f"column {name!r} has dtype {frame[name].dtype}, the contract's is {column.dtype.type}")
        elif not column.nullable and frame[name].hasnans:
            problems.append(f"column {name!r} has missing values, which the contract forbids")
    if problems:
        raise pa.errors.SchemaError(contract, frame, f"{schema.__name__}: " + "; ".join(problems))


def text(**checks) -> object:
    """A text column of the contract: ``string[pyarrow]``, so a million values are one Arrow buffer, not a million
    Python objects (the readers broadcast per-distinct values in Arrow, and validation and DuckDB read it as is)."""
    return pa.Field(dtype_kwargs={"storage": "pyarrow"}, **checks)


PROJECT_ID_PATTERN = r"^(VCS|GLD|ACR|CAR|ART)[1-9][0-9]*$"


@extensions.register_check_method(statistics=["pattern"])
@per_distinct_value
def str_matches_distinct(series: pd.Series, *, pattern: str) -> pd.Series:
    """``str_matches`` evaluated once per distinct value: a million credits name a few thousand projects, and
    pandera's own ``str_matches`` runs Python's regex on every row. Same meaning, same failure cases."""
    return series.astype("string").str.match(pattern).fillna(True).astype(bool)


class ProjectsSchema(pa.DataFrameModel):
    """One row per registry project (table ``projects``)."""

    project_id: Series[pd.StringDtype] = text(unique=True, str_matches_distinct={"pattern": PROJECT_ID_PATTERN})
    registry: Series[pd.StringDtype] = text(isin=REGISTRY_KEYS)
    name: Series[pd.StringDtype] = text(nullable=True)
    proponent: Series[pd.StringDtype] = text(nullable=True)
    status_raw: Series[pd.StringDtype] = text(nullable=True)
    status: Series[pd.StringDtype] = text(isin=PROJECT_STATUSES)
    country_code: Series[pd.StringDtype] = text(nullable=True, str_matches=r"^[A-Z]{2}$")
    country: Series[pd.StringDtype] = text(nullable=True)
    methodology_raw: Series[pd.StringDtype] = text(nullable=True)
    protocol: Series[pd.StringDtype] = text(nullable=True)
    """Primary methodology/protocol, as a CarbonPlan protocol key (``vm0007``, ``acm0002``, ``car-forest``,
    ``art-trees``; see data/reference/protocol-mapping.json); ``unknown`` when the raw string is not mapped."""
    protocols: Series[pd.StringDtype] = text(nullable=True)
    """All protocol keys of the project, ``;``-joined, in raw order."""
    project_type: Series[pd.StringDtype] = text(nullable=True)
    category: Series[pd.StringDtype] = text(nullable=True)
    is_nature_based: Series[bool]
    activity: Series[pd.StringDtype] = text(nullable=True, isin=NATURE_ACTIVITIES)
    """Nature-based activity; null for non-nature-based projects."""
    crediting_period_start: Series[pd.Timestamp] = pa.Field(nullable=True)
    crediting_period_end: Series[pd.Timestamp] = pa.Field(nullable=True)
    registration_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    estimated_annual_reductions: Series[float] = pa.Field(nullable=True, ge=0)
    source_file: Series[pd.StringDtype] = text()
    source_line: Series[int] = pa.Field(ge=1)

    class Config:
        strict = False
        coerce = True


class CreditTransactionsSchema(pa.DataFrameModel):
    """One row per credit transaction, as a registry reader produces it (before projects are joined)."""

    project_id: Series[pd.StringDtype] = text(str_matches_distinct={"pattern": PROJECT_ID_PATTERN})
    registry: Series[pd.StringDtype] = text(isin=REGISTRY_KEYS)
    transaction_type: Series[pd.StringDtype] = text(isin=TRANSACTION_TYPES)
    vintage: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=1990, le=2100)
    quantity: Series[pd.Int64Dtype] = pa.Field(ge=0)
    """Credits transacted, excluding any buffer contribution (see ``buffer_quantity``)."""
    transaction_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    serial_number: Series[pd.StringDtype] = text(nullable=True)
    buffer_quantity: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    """Issuance only: credits contributed to the registry's buffer pool, where the export reports it."""
    methodology_version: Series[pd.StringDtype] = text(nullable=True)
    product_type: Series[pd.StringDtype] = text(nullable=True)
    """VER / PER / CER for Gold Standard; null elsewhere. PERs are forward credits, never eligible."""
    ccp_label: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    corsia_phase: Series[pd.StringDtype] = text(nullable=True)
    """``pilot``, ``first`` or ``pilot;first`` where the export says the credits are CORSIA-eligible."""
    corresponding_adjustment: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    is_removal: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    is_reversible: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    additional_certifications: Series[pd.StringDtype] = text(nullable=True)
    retirement_beneficiary: Series[pd.StringDtype] = text(nullable=True)
    retirement_reason: Series[pd.StringDtype] = text(nullable=True)
    retirement_note: Series[pd.StringDtype] = text(nullable=True)
    source_file: Series[pd.StringDtype] = text()
    source_line: Series[int] = pa.Field(ge=1)

    class Config:
        strict = False
        coerce = True


class CreditsSchema(CreditTransactionsSchema):
    """One row per credit transaction (table ``credits``)."""

    project_known: Series[bool]
    """False when the project is missing from the registry's projects export (kept, flagged, counted)."""


class RejectedRowsSchema(pa.DataFrameModel):
    """Every raw record that failed parsing or validation (table ``rejected_rows``)."""

    registry: Series[pd.StringDtype] = text(isin=REGISTRY_KEYS)
    dataset: Series[pd.StringDtype] = text()
    source_file: Series[pd.StringDtype] = text()
    source_line: Series[int] = pa.Field(ge=1)
    reason: Series[pd.StringDtype] = text()
    raw_record: Series[pd.StringDtype] = text()

    class Config:
        strict = True
        coerce = True


class LoadAuditSchema(pa.DataFrameModel):
    """Row conservation per raw file (table ``load_audit``): rows_read = rows_accepted + rows_rejected."""

    registry: Series[pd.StringDtype] = text(isin=REGISTRY_KEYS)
    dataset: Series[pd.StringDtype] = text()
    file: Series[pd.StringDtype] = text()
    file_sha256: Series[pd.StringDtype] = text()
    rows_read: Series[int] = pa.Field(ge=0)
    rows_accepted: Series[int] = pa.Field(ge=0)
    rows_rejected: Series[int] = pa.Field(ge=0)

    class Config:
        strict = False
        coerce = True

    @pa.dataframe_check
    def rows_are_conserved(cls, df: pd.DataFrame) -> Series[bool]:
        return df["rows_read"] == df["rows_accepted"] + df["rows_rejected"]
