"""ART (Architecture for REDD+ Transactions): the APX CSV exports (projects, issuances, retirements,
cancellations). ART's units are jurisdictional REDD+ programmes, so the exports say ``Program`` where the
others say ``Project``: ``Program ID`` (``ART102``) is the project id.

What we decided, from FORMATS.md and the exports themselves:

- **Programmes.** Every ART programme is jurisdictional REDD+ (``Program Type`` ``Forest Carbon``):
  ``activity`` = ``JREDD``, ``project_type`` = ``redd+`` (source ``registry``), category ``forest``; a
  programme of another type would keep no activity (not nature-based) rather than be guessed. The
  protocol comes from ``Crediting Program and Standard``: TREES -> ``art-trees`` (CarbonPlan's key); the
  World Bank's ``FCPF - Carbon Fund Methodological Framework``, which ART also registers, ->
  ``fcpf-carbon-fund`` (CarbonPlan lists no key for it; it keeps its own rather than pretending to be
  TREES). Countries are written upper-case
  (``COTE D'IVOIRE``) and are mapped to ISO codes like every other registry's. Sovereign Program Developer is
  the proponent; the crediting period start is the initial one (no end is exported).
- **Issuances.** ``Total Emission Reductions/Removals`` = ``Credits Verified`` + ``Credits Deposited in
  Buffer`` (true for every real row; a row where it is not is rejected): ``quantity`` = credits verified
  (those issued to the programme), ``buffer_quantity`` = credits deposited in the buffer, ``total_issued``
  keeps the total. ``Standard Version`` -> ``methodology_version``; ``Date Approved`` is the date.
- **Retirements and cancellations** are one row per serial block (``ART-GY-102-2021-11-2759599 to 2760598``,
  ``FCPF-CI-130-2023-20-1 to 46404``); the range must hold the row's quantity and name its programme and
  vintage. Retirements: ``Retired on Behalf of`` -> beneficiary, ``Retirement Reason`` -> reason,
  ``Purpose of Retirement`` -> note; cancellations (``CORSIA Compliance``, airline and phase in the details)
  carry ``Cancellation Reason``/``Cancellation Details`` there.
- **Flags.** ``CCP Approved`` -> ``ccp_label`` and the two CORSIA compliance-period columns -> ``corsia_phase``
  (APX writes only ``Yes``: blank is no while the column exists); ``CORSIA Eligible`` names no phase and is
  kept as ``corsia_eligible``. ART exports carry no corresponding-adjustment, removal or reversibility flag
  (null; reversibility of REDD+ is a property the scoring stage assigns).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.ingest import normalize
from pipeline.ingest.apx import (
    SerialFormat,
    apx_dates,
    corsia_phase_column,
    credit_rows,
    flag_column,
    protocol_versions,
    serial_block_columns,
)
from pipeline.ingest.dataset import DatasetLoad, finish, flag_duplicate_projects
from pipeline.ingest.files import Column, Layout, read_table
from pipeline.ingest.parsing import (
    ARROW_TEXT,
    RowChecks,
    clean_text,
    column,
    fail_values,
    registry_project_ids,
    vintages,
    whole_numbers,
)
from pipeline.ingest.schemas import CreditTransactionsSchema, ProjectsSchema
from pipeline.registries import ART

SERIAL = SerialFormat(
    "ART", r"(?:ART|FCPF)-[A-Z]{2}-0*(?P<project>\d+)-(?P<vintage>\d{4})-\d+", "ART-GY-102-2021-11-2759599 to 2760598"
)
STANDARD_PROTOCOLS = ((r"\bTREES\b", "art-trees"), (r"\bFCPF\b|Carbon Fund", "fcpf-carbon-fund"))
"""(regex on ``Crediting Program and Standard``, protocol key); first match wins, else ``unknown``."""

_PROGRAM = (
    Column("project_id", ("Program ID",)),
    Column("name", ("Program Name",), required=False),
    Column("standard", ("Crediting Program and Standard",), required=False),
    Column("program_type", ("Program Type",), required=False),
    Column("standard_version", ("Standard Version",), required=False),
    Column("jurisdictions", ("Program Jurisdiction(s)",), required=False),
    Column("country", ("Program Country",), required=False),
    Column("ccp", ("CCP Approved", "ICVCM CCP Eligible"), required=False),
    Column("corsia_eligible", ("CORSIA Eligible",), required=False),
)
_BLOCK = (
    Column("vintage", ("Vintage",)),
    Column("serial_number", ("Credit Serial Numbers",)),
    Column("quantity", ("Quantity of Credits",)),
    Column("status_effective", ("Status Effective",)),
    Column("corsia_pilot", ("Eligible for CORSIA 2021-2023 Compliance Period (Pilot Phase)",), required=False),
    Column("corsia_first", ("Eligible for CORSIA 2024-2026 Compliance Period (First Phase)",), required=False),
    Column("approved_on", ("Date Approved",), required=False),
    Column("account_holder", ("Account Holder",), required=False),
)

PROJECTS_LAYOUT = Layout(
    "ART programs export (APX CSV)",
    (
        Column("project_id", ("Program ID",)),
        Column("developer", ("Sovereign Program Developer",), required=False),
        Column("name", ("Program Name",)),
        Column("standard", ("Crediting Program and Standard",)),
        Column("verifier", ("Verification Body",), required=False),
        Column("program_type", ("Program Type",), required=False),
        Column("status", ("Status",)),
        Column("crediting_period_start", ("Initial Crediting Period Start Date",), required=False),
        Column("jurisdictions", ("Program Jurisdiction(s)",), required=False),
        Column("country", ("Program Country",)),
        Column("notes", ("Program Notes",), required=False),
        Column("website", ("Program Website",), required=False),
    ),
)

ISSUANCES_LAYOUT = Layout(
    "ART issuances export (APX CSV)",
    (
        Column("approved_on", ("Date Approved",)),
        *_PROGRAM,
        Column("developer", ("Sovereign Program Developer",), required=False),
        Column("vintage", ("Vintage",)),
        Column("total_issued", ("Total Emission Reductions/Removals",)),
        Column("buffer", ("Credits Deposited in Buffer",)),
        Column("verified", ("Credits Verified",)),
        Column("verifier", ("Verification Body",), required=False),
    ),
)

RETIREMENTS_LAYOUT = Layout(
    "ART retirements export (APX CSV)",
    (
        *_BLOCK,
        *_PROGRAM,
        Column("beneficiary", ("Retired on Behalf of",), required=False),
        Column("reason", ("Retirement Reason",), required=False),
        Column("details", ("Purpose of Retirement",), required=False),
    ),
)

CANCELLATIONS_LAYOUT = Layout(
    "ART cancellations export (APX CSV)",
    (
        *_BLOCK,
        *_PROGRAM,
        Column("reason", ("Cancellation Reason",), required=False),
        Column("details", ("Cancellation Details",), required=False),
    ),
)


def standard_protocols(standard: pd.Series) -> pd.Series:
    """Protocol key of each ``Crediting Program and Standard`` (see :data:`STANDARD_PROTOCOLS`)."""
    text = clean_text(standard).astype("string")
    result = pd.Series(None, index=standard.index, dtype=object)
    for pattern, key in reversed(STANDARD_PROTOCOLS):
        result = result.mask(text.str.contains(pattern, regex=True).fillna(False).astype(bool), key)
    return result.where(text.isna() | result.notna(), "unknown").where(text.notna(), None)


def read_projects(path: Path) -> DatasetLoad:
    """ART programs export -> ``projects`` rows (see the module docstring)."""
    raw = read_table(path, PROJECTS_LAYOUT)
    records = raw.records
    checks = RowChecks(records.index)

    project_id = registry_project_ids(checks, records["project_id"], ART.id_prefix)
    standard = clean_text(records["standard"])
    protocol = standard_protocols(standard)
    status_raw = clean_text(records["status"])
    country_raw = clean_text(records["country"])
    country_code = normalize.country_codes(country_raw)
    program_type = clean_text(column(records, "program_type"))
    forest = program_type.isna() | program_type.astype("string").str.contains("forest", case=False).fillna(False)
    activity = pd.Series(np.where(forest.to_numpy(dtype=bool), "JREDD", None), index=records.index, dtype=object)
    number = project_id.astype("string").str.removeprefix(ART.id_prefix)
    projects = pd.DataFrame(
        {
            "project_id": project_id,
            "registry": ART.key,
            "name": clean_text(records["name"]),
            "proponent": clean_text(column(records, "developer")),
            "status_raw": status_raw,
            "status": normalize.statuses(status_raw),
            "country_code": country_code,
            "country": normalize.country_names(country_code, country_raw),
            "jurisdictions": clean_text(column(records, "jurisdictions")),
            "methodology_raw": standard,
            "protocol": protocol,
            "protocols": protocol,
            "project_type_raw": program_type,
            "project_type": "redd+",
            "project_type_source": "registry",
            "category": "forest",
            "is_nature_based": activity.notna(),
            "activity": activity,
            "crediting_period_start": apx_dates(
                checks, column(records, "crediting_period_start"), "initial crediting period start"
            ),
            "crediting_period_end": pd.Series(pd.NaT, index=records.index, dtype="datetime64[ns]"),
            "registration_date": pd.Series(pd.NaT, index=records.index, dtype="datetime64[ns]"),
            "estimated_annual_reductions": pd.Series(np.nan, index=records.index, dtype="float64"),
            "verifier": clean_text(column(records, "verifier")),
            "notes": clean_text(column(records, "notes")),
            "project_url": normalize.as_object(ART.project_url.replace("{number}", "") + number),
            "source_file": str(raw.path),
            "source_line": records["source_line"],
        }
    )
    flag_duplicate_projects(
        projects, checks, compare=["name", "proponent", "status_raw", "country_code", "methodology_raw"]
    )
    return finish(raw, ART.key, "projects", projects, checks, ProjectsSchema)


def _program_flags(records: pd.DataFrame, checks: RowChecks) -> tuple[pd.Series, pd.Series, dict[str, object]]:
    """Program id, vintage and the flags every ART credit export carries."""
    project_id = registry_project_ids(checks, records["project_id"], ART.id_prefix, what="program id")
    vintage = vintages(checks, whole_numbers(checks, records["vintage"], "vintage", required=True))
    corsia_phase = corsia_phase_column(
        checks, records, "CORSIA pilot phase eligibility", "CORSIA first phase eligibility"
    )
    flags = {
        "methodology_version": protocol_versions(column(records, "standard_version")),
        "ccp_label": flag_column(checks, records, "ccp", "CCP Approved", blank=False),
        "corsia_phase": corsia_phase,
        "corsia_eligible": flag_column(checks, records, "corsia_eligible", "CORSIA Eligible", blank=None),
        "standard": clean_text(column(records, "standard")),
    }
    return project_id, vintage, flags


def read_issuances(path: Path) -> DatasetLoad:
    """ART issuances -> ``issuance`` rows: credits verified, with the buffer deposit beside them."""
    raw = read_table(path, ISSUANCES_LAYOUT)
    records = raw.records
    checks = RowChecks(records.index)
    project_id, vintage, flags = _program_flags(records, checks)
    total = whole_numbers(checks, records["total_issued"], "total emission reductions/removals", required=True)
    buffer = whole_numbers(checks, records["buffer"], "credits deposited in buffer", required=True)
    verified = whole_numbers(checks, records["verified"], "credits verified", required=True)
    fail_values(
        checks,
        (total != verified + buffer).fillna(False).to_numpy(dtype=bool),
        total.astype("string"),
        "total emission reductions/removals {value} is not credits verified + credits deposited in buffer",
    )
    credits = credit_rows(
        records,
        ART.key,
        str(raw.path),
        project_id=project_id,
        transaction_type="issuance",
        vintage=vintage,
        quantity=verified,
        buffer_quantity=buffer,
        transaction_date=apx_dates(checks, records["approved_on"], "date approved", required=True),
        **flags,
        total_issued=total,
    )
    return finish(raw, ART.key, "issuances", credits, checks, CreditTransactionsSchema)


def _read_blocks(path: Path, layout: Layout, dataset: str) -> DatasetLoad:
    """ART retirements or cancellations: one row per serial block."""
    raw = read_table(path, layout)
    records = raw.records
    checks = RowChecks(records.index)
    project_id, vintage, flags = _program_flags(records, checks)
    block = serial_block_columns(
        checks, records, SERIAL, dataset, project_id=project_id, vintage=vintage, quantity_what="quantity of credits"
    )
    credits = credit_rows(
        records,
        ART.key,
        str(raw.path),
        **block,
        retirement_beneficiary=clean_text(column(records, "beneficiary"), ARROW_TEXT),
        retirement_reason=clean_text(column(records, "reason"), ARROW_TEXT),
        retirement_note=clean_text(column(records, "details"), ARROW_TEXT),
        **flags,
        retirement_account=clean_text(column(records, "account_holder")),
        issuance_date=apx_dates(checks, column(records, "approved_on"), "date approved"),
    )
    return finish(raw, ART.key, dataset, credits, checks, CreditTransactionsSchema)


def read_retirements(path: Path) -> DatasetLoad:
    """ART retirements -> ``retirement`` rows, one per serial block."""
    return _read_blocks(path, RETIREMENTS_LAYOUT, "retirements")


def read_cancellations(path: Path) -> DatasetLoad:
    """ART cancellations -> ``cancellation`` rows, one per serial block."""
    return _read_blocks(path, CANCELLATIONS_LAYOUT, "cancellations")


DATASETS = {
    "projects": read_projects,
    "issuances": read_issuances,
    "retirements": read_retirements,
    "cancellations": read_cancellations,
}
