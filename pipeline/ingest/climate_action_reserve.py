"""Climate Action Reserve (CAR): the APX CSV exports (projects, issuances, retirements, cancellations).

Both projects layouts are accepted: CarbonPlan's Apr-2026 export (29 columns, with ``ARB ID``, ``WA ECO``,
``ARB Project Status``, ``WA ECO Project Status``) and the raw Aug-2026 export without those four; ``CCP
Approved`` became ``ICVCM CCP Eligible`` in Aug-2026 and both spellings are read.

What we decided, from FORMATS.md and the exports themselves:

- **Buffer.** ``Total Offset Credits Issued`` counts every credit of the issuance, including those that went
  to a buffer: ``Offset Credits Currently in Reserve Buffer Pool`` (the Reserve's own pool: Mexico forest,
  grassland) and ``Offset Credits Intended for Compliance Buffer Pool`` (credits of ARB-compliance forest
  projects that go to ARB's forest buffer on conversion). So ``quantity`` = total - both buffers,
  ``buffer_quantity`` = their sum (null when the export states neither), ``total_issued`` keeps the total. A
  buffer larger than the total is rejected.
- ``Canceled for Compliance`` (credits cancelled to become ARB/WA offsets), ``Offset Credits Converted to
  VCUs`` and ``Canceled`` are kept as columns of the issuance; the cancellations themselves arrive as rows of
  the cancellations export, so they are not turned into transactions here (no double counting).
- **Vintage** is the registry's ``Vintage`` year; ``Crediting Period`` (``Initial``, ``Renewed-Second``)
  and ``Activity Area Type`` are kept.
- **Retirements and cancellations** are one row per serial block; the range must hold the row's quantity
  and name its project and vintage. ``Retirement Reason`` -> ``retirement_reason``, ``Retirement Reason
  Details`` -> ``retirement_note``, ``Account Holder`` -> ``retirement_account`` (CAR names no beneficiary
  column: the beneficiary, when given, is in the details). For cancellations ``Cancellation Reason`` (``ARB``,
  ``WA ECO``: conversion to a compliance programme) -> ``retirement_reason``, ``Export Notes`` -> note.
- **Flags.** ``Reduction/Removal`` -> ``is_removal``; ``Reversible/Non-Reversible`` -> ``is_reversible``
  (blank = unknown; any other text is rejected, never guessed); ``Corresponding Adjustment`` (Yes/No);
  ``CCP Approved``/``ICVCM CCP Eligible`` -> ``ccp_label`` and the two CORSIA compliance-period columns ->
  ``corsia_phase``, where APX writes only ``Yes`` and blank means no while the column exists.
- **Projects.** ``Status``, else (blank) ``Compliance Program Status``; ``Project Registered Date`` is the
  registration date, ``Project Listed Date`` is kept as ``listed_date``; CAR exports no crediting period or
  estimated annual reductions. The protocol comes from ``Project Type``, which names CAR's protocol
  (``Forestry - MX``, ``Improved Forest Management - ARB Compliance``), as CarbonPlan does; the activity
  from that type where it is specific (``Reforestation``), else Berkeley's type, else the protocol.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.ingest import apx, normalize
from pipeline.ingest.dataset import DatasetLoad, finish, flag_duplicate_projects
from pipeline.ingest.files import Column, Layout, read_table
from pipeline.ingest.parsing import (
    ARROW_TEXT,
    RowChecks,
    clean_column,
    clean_text,
    column,
    fail_values,
    per_distinct_value,
    registry_project_ids,
    vintages,
    whole_numbers,
)
from pipeline.ingest.schemas import ProjectsSchema
from pipeline.registries import CAR

SERIAL = apx.SerialFormat(
    "Climate Action Reserve",
    r"CAR-[A-Z0-9]+-[A-Z]{2}-0*(?P<project>\d+)-(?:.*-)?(?P<vintage>\d{4})-\d+",
    "CAR-1-US-1480-46-1156-FL-2026-10272-852724 to 860723",
)

_CREDIT_PROJECT = (
    Column("project_id", ("Project ID",)),
    apx.optional("aggregate_id", "Cooperative/ Aggregate ID"),
    apx.optional("name", "Project Name"),
    apx.optional("project_type", "Project Type"),
    apx.optional("reduction_removal", "Reduction/Removal"),
    apx.optional("reversible", "Reversible/Non-Reversible"),
    apx.optional("protocol_version", "Protocol and Version"),
    *apx.SITE,
    apx.optional("activity_area_type", "Activity Area Type"),
    apx.optional("additional_certifications", "Additional Certification(s)"),
    apx.optional(
        "corsia_pilot",
        "Eligible for CORSIA 2021-2023 Compliance Period",
        "Eligible for CORSIA 2021-2023 Compliance Period (Pilot Phase)",
    ),
    apx.optional(
        "corsia_first",
        "Eligible for CORSIA 2024-2026 Compliance Period",
        "Eligible for CORSIA 2024-2026 Compliance Period (First Phase)",
    ),
    apx.optional("corresponding_adjustment", "Corresponding Adjustment"),
    apx.CCP,
)
_BLOCK = (
    Column("vintage", ("Vintage",)),
    Column("serial_number", ("Offset Credit Serial Numbers",)),
    Column("quantity", ("Quantity of Offset Credits",)),
    Column("status_effective", ("Status Effective",)),
)

PROJECTS_LAYOUT = Layout(
    "Climate Action Reserve projects export (APX CSV, Apr-2026 or Aug-2026 columns)",
    (
        Column("project_id", ("Project ID",)),
        apx.optional("compliance_program_id", "Compliance Program ID"),
        apx.optional("arb_id", "ARB ID"),
        apx.optional("wa_eco_id", "WA ECO"),
        apx.optional("aggregate_id", "Cooperative/ Aggregate ID"),
        apx.optional("developer", "Project Developer"),
        apx.optional("owner", "Project Owner"),
        Column("name", ("Project Name",)),
        apx.optional("operator", "Offset Project Operator"),
        apx.optional("designee", "Authorized Project Designee"),
        apx.optional("verifier", "Verification Body"),
        Column("project_type", ("Project Type",)),
        Column("status", ("Status",)),
        apx.optional("compliance_status", "Compliance Program Status"),
        apx.optional("arb_status", "ARB Project Status"),
        apx.optional("wa_eco_status", "WA ECO Project Status"),
        *apx.SITE,
        apx.optional("additional_certifications", "Additional Certification(s)"),
        apx.optional("sdgs", "SDG Impact"),
        apx.optional("notes", "Project Notes"),
        apx.optional("credits_registered", "Total Number of Offset Credits Registered"),
        apx.optional("listed_date", "Project Listed Date"),
        apx.optional("registered_date", "Project Registered Date"),
        apx.optional("website", "Project Website"),
    ),
)

ISSUANCES_LAYOUT = Layout(
    "Climate Action Reserve issuances export (APX CSV)",
    (
        Column("issued_on", ("Date Issued",)),
        *_CREDIT_PROJECT,
        apx.optional("developer", "Project Developer"),
        apx.optional("owner", "Project Owner"),
        apx.optional("arb_eligible", "ARB Eligible"),
        apx.optional("wa_eco_eligible", "WA ECO Eligible"),
        apx.optional("crediting_period", "Crediting Period"),
        Column("vintage", ("Vintage",)),
        Column("total_issued", ("Total Offset Credits Issued",)),
        apx.optional("zero_credit_period", "Zero-Credit Reporting Period"),
        apx.optional("reserve_buffer", "Offset Credits Currently in Reserve Buffer Pool"),
        apx.optional("compliance_buffer", "Offset Credits Intended for Compliance Buffer Pool"),
        apx.optional("converted_to_vcus", "Offset Credits Converted to VCUs"),
        apx.optional("canceled_for_compliance", "Canceled for Compliance"),
        apx.optional("canceled", "Canceled"),
        apx.optional("verifier", "Verification Body"),
    ),
)

RETIREMENTS_LAYOUT = Layout(
    "Climate Action Reserve retirements export (APX CSV)",
    (
        *_BLOCK,
        *_CREDIT_PROJECT,
        apx.optional("account_holder", "Account Holder"),
        apx.optional("reason", "Retirement Reason"),
        apx.optional("details", "Retirement Reason Details"),
    ),
)

CANCELLATIONS_LAYOUT = Layout(
    "Climate Action Reserve cancellations export (APX CSV)",
    (
        *_BLOCK,
        *_CREDIT_PROJECT,
        apx.optional("reason", "Cancellation Reason"),
        apx.optional("details", "Export Notes"),
    ),
)


def read_projects(path: Path) -> DatasetLoad:
    """CAR projects export (either column set) -> ``projects`` rows (see the module docstring)."""
    raw = read_table(path, PROJECTS_LAYOUT)
    records = raw.records
    checks = RowChecks(records.index)

    project_id = registry_project_ids(checks, records["project_id"], CAR.id_prefix)
    registry_type = clean_column(records, "project_type")
    protocol, protocols = normalize.protocols(registry_type)
    compliance_status = clean_column(records, "compliance_status")
    place = normalize.status_and_country(
        normalize.first_non_null(clean_column(records, "status"), compliance_status), clean_column(records, "country")
    )
    missing_date = pd.Series(pd.NaT, index=records.index, dtype="datetime64[ns]")
    projects = apx.project_rows(
        raw,
        CAR,
        project_id,
        name=clean_column(records, "name"),
        proponent=clean_column(records, "developer"),
        owner=clean_column(records, "owner"),
        status_raw=place["status_raw"],
        status=place["status"],
        compliance_program_id=clean_column(records, "compliance_program_id"),
        compliance_status=compliance_status,
        country_code=place["country_code"],
        country=place["country"],
        site_state=clean_column(records, "state"),
        methodology_raw=registry_type,
        protocol=protocol,
        protocols=protocols,
        project_type_raw=registry_type,
        **apx.project_classification(project_id, protocol, registry_type, registry_type_first=True),
        crediting_period_start=missing_date,
        crediting_period_end=missing_date,
        registration_date=apx.us_dates(checks, column(records, "registered_date"), "project registered date"),
        listed_date=apx.us_dates(checks, column(records, "listed_date"), "project listed date"),
        estimated_annual_reductions=pd.Series(np.nan, index=records.index, dtype="float64"),
        credits_registered=whole_numbers(
            checks, column(records, "credits_registered"), "total number of offset credits registered", required=False
        ),
        additional_certifications=clean_column(records, "additional_certifications"),
        sdgs=apx.sdg_numbers(column(records, "sdgs")),
        verifier=clean_column(records, "verifier"),
        notes=clean_column(records, "notes"),
        project_url=apx.project_urls(CAR, project_id),
    )
    compare = ["name", "proponent", "status_raw", "country_code", "methodology_raw", "registration_date"]
    flag_duplicate_projects(projects, checks, compare)
    return finish(raw, CAR.key, "projects", projects, checks, ProjectsSchema)


def _either(
    checks: RowChecks, records: pd.DataFrame, name: str, what: str, true_text: str, false_text: str
) -> pd.Series:
    """A two-valued text column (``Removal``/``Reduction``) as booleans; blank is unknown, other text rejects."""
    if name not in records:
        return pd.Series(pd.NA, index=records.index, dtype="boolean")
    values, other_text = _two_valued(records[name], true_text, false_text)
    message = f"{what} {{value}} is neither {true_text} nor {false_text}"
    fail_values(checks, other_text.to_numpy(dtype=bool), records[name], message)
    return values


@per_distinct_value
def _two_valued(raw: pd.Series, true_text: str, false_text: str) -> tuple[pd.Series, pd.Series]:
    """(``true_text`` -> true, ``false_text`` -> false, case-insensitive; mask of any other text)."""
    text = clean_text(raw).astype("string").str.casefold()
    values = pd.Series(pd.NA, index=raw.index, dtype="boolean")
    values[(text == true_text.casefold()).fillna(False).astype(bool)] = True
    values[(text == false_text.casefold()).fillna(False).astype(bool)] = False
    return values, text.notna() & values.isna()


def _credit_columns(checks: RowChecks, records: pd.DataFrame) -> dict[str, object]:
    """Project id, vintage and the credit flags every CAR credit export carries."""
    return {
        "project_id": registry_project_ids(checks, records["project_id"], CAR.id_prefix),
        "vintage": vintages(checks, whole_numbers(checks, records["vintage"], "vintage", required=True)),
        "corsia_phase": apx.corsia_phase_column(
            checks, records, "CORSIA 2021-2023 eligibility", "CORSIA 2024-2026 eligibility"
        ),
        "methodology_version": apx.protocol_versions(column(records, "protocol_version")),
        "ccp_label": apx.flag_column(checks, records, "ccp", "CCP Approved", blank=False),
        "corresponding_adjustment": apx.flag_column(
            checks, records, "corresponding_adjustment", "Corresponding Adjustment", blank=None
        ),
        "is_removal": _either(checks, records, "reduction_removal", "Reduction/Removal", "Removal", "Reduction"),
        "is_reversible": _either(
            checks, records, "reversible", "Reversible/Non-Reversible", "Reversible", "Non-Reversible"
        ),
        "additional_certifications": clean_column(records, "additional_certifications", ARROW_TEXT),
        "protocol_raw": clean_column(records, "protocol_version"),
        "activity_area_type": clean_column(records, "activity_area_type"),
    }


def _block_columns(checks: RowChecks, records: pd.DataFrame) -> dict[str, object]:
    return {"retirement_account": clean_column(records, "account_holder")}


EXPORTS = apx.ApxExports(CAR, SERIAL, "quantity of offset credits", _credit_columns, _block_columns)


def read_issuances(path: Path) -> DatasetLoad:
    """CAR issuances -> ``issuance`` rows net of buffer contributions (see the module docstring)."""
    raw, checks, common = apx.read_credits(path, ISSUANCES_LAYOUT, EXPORTS)
    records = raw.records

    def count(name: str, what: str) -> pd.Series:
        return whole_numbers(checks, column(records, name), what, required=False)

    total = whole_numbers(checks, records["total_issued"], "total offset credits issued", required=True)
    reserve = count("reserve_buffer", "offset credits in reserve buffer pool")
    compliance = count("compliance_buffer", "offset credits intended for compliance buffer pool")
    buffer = (reserve.fillna(0) + compliance.fillna(0)).where(reserve.notna() | compliance.notna())
    too_many = "buffer contributions of {value} credits exceed the total offset credits issued"
    fail_values(checks, (buffer > total).fillna(False), buffer, too_many)
    return EXPORTS.finish(
        raw,
        checks,
        "issuances",
        transaction_type="issuance",
        quantity=total - buffer.fillna(0),
        buffer_quantity=buffer,
        transaction_date=apx.us_dates(checks, records["issued_on"], "date issued", required=True),
        **common,
        total_issued=total,
        arb_eligible=apx.flag_column(checks, records, "arb_eligible", "ARB Eligible", blank=None),
        wa_eco_eligible=apx.flag_column(checks, records, "wa_eco_eligible", "WA ECO Eligible", blank=None),
        zero_credit_period=apx.flag_column(
            checks, records, "zero_credit_period", "Zero-Credit Reporting Period", blank=None
        ),
        crediting_period=clean_column(records, "crediting_period"),
        canceled_for_compliance=count("canceled_for_compliance", "credits canceled for compliance"),
        converted_to_vcus=count("converted_to_vcus", "offset credits converted to VCUs"),
        canceled=count("canceled", "credits canceled"),
    )


def read_retirements(path: Path) -> DatasetLoad:
    """CAR retirements -> ``retirement`` rows, one per serial block."""
    return apx.read_blocks(path, RETIREMENTS_LAYOUT, "retirements", EXPORTS)


def read_cancellations(path: Path) -> DatasetLoad:
    """CAR cancellations -> ``cancellation`` rows, one per serial block."""
    return apx.read_blocks(path, CANCELLATIONS_LAYOUT, "cancellations", EXPORTS)


DATASETS = {
    "projects": read_projects,
    "issuances": read_issuances,
    "retirements": read_retirements,
    "cancellations": read_cancellations,
}
