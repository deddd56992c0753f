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

from pipeline.ingest import apx, normalize
from pipeline.ingest.dataset import DatasetLoad, finish, flag_duplicate_projects
from pipeline.ingest.files import Column, Layout, read_table
from pipeline.ingest.parsing import (
    RowChecks,
    clean_column,
    clean_text,
    column,
    fail_values,
    registry_project_ids,
    vintages,
    whole_numbers,
)
from pipeline.ingest.schemas import ProjectsSchema
from pipeline.registries import ART

SERIAL = apx.SerialFormat(
    "ART", r"(?:ART|FCPF)-[A-Z]{2}-0*(?P<project>\d+)-(?P<vintage>\d{4})-\d+", "ART-GY-102-2021-11-2759599 to 2760598"
)
STANDARD_PROTOCOLS = ((r"\bTREES\b", "art-trees"), (r"\bFCPF\b|Carbon Fund", "fcpf-carbon-fund"))
"""(regex on ``Crediting Program and Standard``, protocol key); first match wins, else ``unknown``."""

_PROGRAM = (
    Column("project_id", ("Program ID",)),
    apx.optional("name", "Program Name"),
    apx.optional("standard", "Crediting Program and Standard"),
    apx.optional("program_type", "Program Type"),
    apx.optional("standard_version", "Standard Version"),
    apx.optional("jurisdictions", "Program Jurisdiction(s)"),
    apx.optional("country", "Program Country"),
    apx.CCP,
    apx.optional("corsia_eligible", "CORSIA Eligible"),
)
_BLOCK = (
    Column("vintage", ("Vintage",)),
    Column("serial_number", ("Credit Serial Numbers",)),
    Column("quantity", ("Quantity of Credits",)),
    Column("status_effective", ("Status Effective",)),
    apx.optional("corsia_pilot", "Eligible for CORSIA 2021-2023 Compliance Period (Pilot Phase)"),
    apx.optional("corsia_first", "Eligible for CORSIA 2024-2026 Compliance Period (First Phase)"),
    apx.optional("approved_on", "Date Approved"),
    apx.optional("account_holder", "Account Holder"),
)

PROJECTS_LAYOUT = Layout(
    "ART programs export (APX CSV)",
    (
        Column("project_id", ("Program ID",)),
        apx.optional("developer", "Sovereign Program Developer"),
        Column("name", ("Program Name",)),
        Column("standard", ("Crediting Program and Standard",)),
        apx.optional("verifier", "Verification Body"),
        apx.optional("program_type", "Program Type"),
        Column("status", ("Status",)),
        apx.optional("crediting_period_start", "Initial Crediting Period Start Date"),
        apx.optional("jurisdictions", "Program Jurisdiction(s)"),
        Column("country", ("Program Country",)),
        apx.optional("notes", "Program Notes"),
        apx.optional("website", "Program Website"),
    ),
)

ISSUANCES_LAYOUT = Layout(
    "ART issuances export (APX CSV)",
    (
        Column("approved_on", ("Date Approved",)),
        *_PROGRAM,
        apx.optional("developer", "Sovereign Program Developer"),
        Column("vintage", ("Vintage",)),
        Column("total_issued", ("Total Emission Reductions/Removals",)),
        Column("buffer", ("Credits Deposited in Buffer",)),
        Column("verified", ("Credits Verified",)),
        apx.optional("verifier", "Verification Body"),
    ),
)

RETIREMENTS_LAYOUT = Layout(
    "ART retirements export (APX CSV)",
    (
        *_BLOCK,
        *_PROGRAM,
        apx.optional("beneficiary", "Retired on Behalf of"),
        apx.optional("reason", "Retirement Reason"),
        apx.optional("details", "Purpose of Retirement"),
    ),
)

CANCELLATIONS_LAYOUT = Layout(
    "ART cancellations export (APX CSV)",
    (
        *_BLOCK,
        *_PROGRAM,
        apx.optional("reason", "Cancellation Reason"),
        apx.optional("details", "Cancellation Details"),
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
    standard = clean_column(records, "standard")
    protocol = standard_protocols(standard)
    program_type = clean_column(records, "program_type")
    forest = program_type.isna() | program_type.astype("string").str.contains("forest", case=False).fillna(False)
    activity = pd.Series(np.where(forest.to_numpy(dtype=bool), "JREDD", None), index=records.index, dtype=object)
    missing_date = pd.Series(pd.NaT, index=records.index, dtype="datetime64[ns]")
    projects = apx.project_rows(
        raw,
        ART,
        project_id,
        name=clean_column(records, "name"),
        proponent=clean_column(records, "developer"),
        **normalize.status_and_country(clean_column(records, "status"), clean_column(records, "country")),
        jurisdictions=clean_column(records, "jurisdictions"),
        methodology_raw=standard,
        protocol=protocol,
        protocols=protocol,
        project_type_raw=program_type,
        project_type="redd+",
        project_type_source="registry",
        category="forest",
        is_nature_based=activity.notna(),
        activity=activity,
        crediting_period_start=apx.us_dates(
            checks, column(records, "crediting_period_start"), "initial crediting period start"
        ),
        crediting_period_end=missing_date,
        registration_date=missing_date,
        estimated_annual_reductions=pd.Series(np.nan, index=records.index, dtype="float64"),
        verifier=clean_column(records, "verifier"),
        notes=clean_column(records, "notes"),
        project_url=apx.project_urls(ART, project_id),
    )
    flag_duplicate_projects(projects, checks, ["name", "proponent", "status_raw", "country_code", "methodology_raw"])
    return finish(raw, ART.key, "projects", projects, checks, ProjectsSchema)


def _credit_columns(checks: RowChecks, records: pd.DataFrame) -> dict[str, object]:
    """Program id, vintage and the flags every ART credit export carries."""
    return {
        "project_id": registry_project_ids(checks, records["project_id"], ART.id_prefix, what="program id"),
        "vintage": vintages(checks, whole_numbers(checks, records["vintage"], "vintage", required=True)),
        "corsia_phase": apx.corsia_phase_column(
            checks, records, "CORSIA pilot phase eligibility", "CORSIA first phase eligibility"
        ),
        "methodology_version": apx.protocol_versions(column(records, "standard_version")),
        "ccp_label": apx.flag_column(checks, records, "ccp", "CCP Approved", blank=False),
        "corsia_eligible": apx.flag_column(checks, records, "corsia_eligible", "CORSIA Eligible", blank=None),
        "standard": clean_column(records, "standard"),
    }


def _block_columns(checks: RowChecks, records: pd.DataFrame) -> dict[str, object]:
    return {
        "retirement_account": clean_column(records, "account_holder"),
        "issuance_date": apx.us_dates(checks, column(records, "approved_on"), "date approved"),
    }


EXPORTS = apx.ApxExports(ART, SERIAL, "quantity of credits", _credit_columns, _block_columns)


def read_issuances(path: Path) -> DatasetLoad:
    """ART issuances -> ``issuance`` rows: credits verified, with the buffer deposit beside them."""
    raw, checks, common = apx.read_credits(path, ISSUANCES_LAYOUT, EXPORTS)
    records = raw.records
    total = whole_numbers(checks, records["total_issued"], "total emission reductions/removals", required=True)
    buffer = whole_numbers(checks, records["buffer"], "credits deposited in buffer", required=True)
    verified = whole_numbers(checks, records["verified"], "credits verified", required=True)
    not_the_sum = "total emission reductions/removals {value} is not credits verified + credits deposited in buffer"
    fail_values(checks, (total != verified + buffer).fillna(False), total, not_the_sum)
    return EXPORTS.finish(
        raw,
        checks,
        "issuances",
        transaction_type="issuance",
        quantity=verified,
        buffer_quantity=buffer,
        transaction_date=apx.us_dates(checks, records["approved_on"], "date approved", required=True),
        **common,
        total_issued=total,
    )


def read_retirements(path: Path) -> DatasetLoad:
    """ART retirements -> ``retirement`` rows, one per serial block."""
    return apx.read_blocks(path, RETIREMENTS_LAYOUT, "retirements", EXPORTS)


def read_cancellations(path: Path) -> DatasetLoad:
    """ART cancellations -> ``cancellation`` rows, one per serial block."""
    return apx.read_blocks(path, CANCELLATIONS_LAYOUT, "cancellations", EXPORTS)


DATASETS = {
    "projects": read_projects,
    "issuances": read_issuances,
    "retirements": read_retirements,
    "cancellations": read_cancellations,
}
