"""The harmonized warehouse contract: ``projects``, ``credits``, ``rejected_rows``, ``load_audit``.

Table and column names here are what analysts and the scoring, inventory and buyer stages rely on.
Add columns freely; never rename or drop one without a migration note in the README.

Every reader returns frames that pass these models; ``validate_*`` helpers run them lazily so that all
failures are reported together.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

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


PROJECT_ID_PATTERN = r"^(VCS|GLD|ACR|CAR|ART)[1-9][0-9]*$"


class ProjectsSchema(pa.DataFrameModel):
    """One row per registry project (table ``projects``)."""

    project_id: Series[str] = pa.Field(unique=True, str_matches=PROJECT_ID_PATTERN)
    registry: Series[str] = pa.Field(isin=REGISTRY_KEYS)
    name: Series[str] = pa.Field(nullable=True)
    proponent: Series[str] = pa.Field(nullable=True)
    status_raw: Series[str] = pa.Field(nullable=True)
    status: Series[str] = pa.Field(isin=PROJECT_STATUSES)
    country_code: Series[str] = pa.Field(nullable=True, str_matches=r"^[A-Z]{2}$")
    country: Series[str] = pa.Field(nullable=True)
    methodology_raw: Series[str] = pa.Field(nullable=True)
    protocol: Series[str] = pa.Field(nullable=True)
    """Primary methodology/protocol, as a CarbonPlan protocol key (``vm0007``, ``acm0002``, ``car-forest``,
    ``art-trees``; see data/reference/protocol-mapping.json); ``unknown`` when the raw string is not mapped."""
    protocols: Series[str] = pa.Field(nullable=True)
    """All protocol keys of the project, ``;``-joined, in raw order."""
    project_type: Series[str] = pa.Field(nullable=True)
    category: Series[str] = pa.Field(nullable=True)
    is_nature_based: Series[bool]
    activity: Series[str] = pa.Field(nullable=True, isin=NATURE_ACTIVITIES)
    """Nature-based activity; null for non-nature-based projects."""
    crediting_period_start: Series[pd.Timestamp] = pa.Field(nullable=True)
    crediting_period_end: Series[pd.Timestamp] = pa.Field(nullable=True)
    registration_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    estimated_annual_reductions: Series[float] = pa.Field(nullable=True, ge=0)
    source_file: Series[str]
    source_line: Series[int] = pa.Field(ge=1)

    class Config:
        strict = False
        coerce = True


class CreditTransactionsSchema(pa.DataFrameModel):
    """One row per credit transaction, as a registry reader produces it (before projects are joined)."""

    project_id: Series[str] = pa.Field(str_matches=PROJECT_ID_PATTERN)
    registry: Series[str] = pa.Field(isin=REGISTRY_KEYS)
    transaction_type: Series[str] = pa.Field(isin=TRANSACTION_TYPES)
    vintage: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=1990, le=2100)
    quantity: Series[pd.Int64Dtype] = pa.Field(ge=0)
    """Credits transacted, excluding any buffer contribution (see ``buffer_quantity``)."""
    transaction_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    serial_number: Series[str] = pa.Field(nullable=True)
    buffer_quantity: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    """Issuance only: credits contributed to the registry's buffer pool, where the export reports it."""
    methodology_version: Series[str] = pa.Field(nullable=True)
    product_type: Series[str] = pa.Field(nullable=True)
    """VER / PER / CER for Gold Standard; null elsewhere. PERs are forward credits, never eligible."""
    ccp_label: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    corsia_phase: Series[str] = pa.Field(nullable=True)
    """``pilot``, ``first`` or ``pilot;first`` where the export says the credits are CORSIA-eligible."""
    corresponding_adjustment: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    is_removal: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    is_reversible: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    additional_certifications: Series[str] = pa.Field(nullable=True)
    retirement_beneficiary: Series[str] = pa.Field(nullable=True)
    retirement_reason: Series[str] = pa.Field(nullable=True)
    retirement_note: Series[str] = pa.Field(nullable=True)
    source_file: Series[str]
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

    registry: Series[str] = pa.Field(isin=REGISTRY_KEYS)
    dataset: Series[str]
    source_file: Series[str]
    source_line: Series[int] = pa.Field(ge=1)
    reason: Series[str]
    raw_record: Series[str]

    class Config:
        strict = True
        coerce = True


class LoadAuditSchema(pa.DataFrameModel):
    """Row conservation per raw file (table ``load_audit``): rows_read = rows_accepted + rows_rejected."""

    registry: Series[str] = pa.Field(isin=REGISTRY_KEYS)
    dataset: Series[str]
    file: Series[str]
    file_sha256: Series[str]
    rows_read: Series[int] = pa.Field(ge=0)
    rows_accepted: Series[int] = pa.Field(ge=0)
    rows_rejected: Series[int] = pa.Field(ge=0)

    class Config:
        strict = False
        coerce = True

    @pa.dataframe_check
    def rows_are_conserved(cls, df: pd.DataFrame) -> Series[bool]:
        return df["rows_read"] == df["rows_accepted"] + df["rows_rejected"]
