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

from pipeline.ingest import normalize
from pipeline.ingest.apx import (
    SerialFormat,
    apx_dates,
    corsia_phase_column,
    credit_rows,
    flag_column,
    project_classification,
    protocol_versions,
    sdg_numbers,
    serial_block_columns,
    yes_no,
)
from pipeline.ingest.dataset import DatasetLoad, finish, flag_duplicate_projects
from pipeline.ingest.files import Column, Layout, read_table
from pipeline.ingest.parsing import (
    ARROW_TEXT,
    RowChecks,
    clean_text,
    column,
    fail_values,
    per_distinct_value,
    registry_project_ids,
    vintages,
    whole_numbers,
)
from pipeline.ingest.schemas import CreditTransactionsSchema, ProjectsSchema
from pipeline.registries import CAR

SERIAL = SerialFormat(
    "Climate Action Reserve",
    r"CAR-[A-Z0-9]+-[A-Z]{2}-0*(?P<project>\d+)-(?:.*-)?(?P<vintage>\d{4})-\d+",
    "CAR-1-US-1480-46-1156-FL-2026-10272-852724 to 860723",
)

_SITE = (
    Column("location", ("Project Site Location",), required=False),
    Column("state", ("Project Site State",), required=False),
    Column("country", ("Project Site Country",), required=False),
)
_CREDIT_PROJECT = (
    Column("project_id", ("Project ID",)),
    Column("aggregate_id", ("Cooperative/ Aggregate ID",), required=False),
    Column("name", ("Project Name",), required=False),
    Column("project_type", ("Project Type",), required=False),
    Column("reduction_removal", ("Reduction/Removal",), required=False),
    Column("reversible", ("Reversible/Non-Reversible",), required=False),
    Column("protocol_version", ("Protocol and Version",), required=False),
    *_SITE,
    Column("activity_area_type", ("Activity Area Type",), required=False),
    Column("additional_certifications", ("Additional Certification(s)",), required=False),
    Column(
        "corsia_pilot",
        (
            "Eligible for CORSIA 2021-2023 Compliance Period",
            "Eligible for CORSIA 2021-2023 Compliance Period (Pilot Phase)",
        ),
        required=False,
    ),
    Column(
        "corsia_first",
        (
            "Eligible for CORSIA 2024-2026 Compliance Period",
            "Eligible for CORSIA 2024-2026 Compliance Period (First Phase)",
        ),
        required=False,
    ),
    Column("corresponding_adjustment", ("Corresponding Adjustment",), required=False),
    Column("ccp", ("CCP Approved", "ICVCM CCP Eligible"), required=False),
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
        Column("compliance_program_id", ("Compliance Program ID",), required=False),
        Column("arb_id", ("ARB ID",), required=False),
        Column("wa_eco_id", ("WA ECO",), required=False),
        Column("aggregate_id", ("Cooperative/ Aggregate ID",), required=False),
        Column("developer", ("Project Developer",), required=False),
        Column("owner", ("Project Owner",), required=False),
        Column("name", ("Project Name",)),
        Column("operator", ("Offset Project Operator",), required=False),
        Column("designee", ("Authorized Project Designee",), required=False),
        Column("verifier", ("Verification Body",), required=False),
        Column("project_type", ("Project Type",)),
        Column("status", ("Status",)),
        Column("compliance_status", ("Compliance Program Status",), required=False),
        Column("arb_status", ("ARB Project Status",), required=False),
        Column("wa_eco_status", ("WA ECO Project Status",), required=False),
        *_SITE,
        Column("additional_certifications", ("Additional Certification(s)",), required=False),
        Column("sdgs", ("SDG Impact",), required=False),
        Column("notes", ("Project Notes",), required=False),
        Column("credits_registered", ("Total Number of Offset Credits Registered",), required=False),
        Column("listed_date", ("Project Listed Date",), required=False),
        Column("registered_date", ("Project Registered Date",), required=False),
        Column("website", ("Project Website",), required=False),
    ),
)

ISSUANCES_LAYOUT = Layout(
    "Climate Action Reserve issuances export (APX CSV)",
    (
        Column("issued_on", ("Date Issued",)),
        *_CREDIT_PROJECT,
        Column("developer", ("Project Developer",), required=False),
        Column("owner", ("Project Owner",), required=False),
        Column("arb_eligible", ("ARB Eligible",), required=False),
        Column("wa_eco_eligible", ("WA ECO Eligible",), required=False),
        Column("crediting_period", ("Crediting Period",), required=False),
        Column("vintage", ("Vintage",)),
        Column("total_issued", ("Total Offset Credits Issued",)),
        Column("zero_credit_period", ("Zero-Credit Reporting Period",), required=False),
        Column("reserve_buffer", ("Offset Credits Currently in Reserve Buffer Pool",), required=False),
        Column("compliance_buffer", ("Offset Credits Intended for Compliance Buffer Pool",), required=False),
        Column("converted_to_vcus", ("Offset Credits Converted to VCUs",), required=False),
        Column("canceled_for_compliance", ("Canceled for Compliance",), required=False),
        Column("canceled", ("Canceled",), required=False),
        Column("verifier", ("Verification Body",), required=False),
    ),
)

RETIREMENTS_LAYOUT = Layout(
    "Climate Action Reserve retirements export (APX CSV)",
    (
        *_BLOCK,
        *_CREDIT_PROJECT,
        Column("account_holder", ("Account Holder",), required=False),
        Column("reason", ("Retirement Reason",), required=False),
        Column("details", ("Retirement Reason Details",), required=False),
    ),
)

CANCELLATIONS_LAYOUT = Layout(
    "Climate Action Reserve cancellations export (APX CSV)",
    (
        *_BLOCK,
        *_CREDIT_PROJECT,
        Column("reason", ("Cancellation Reason",), required=False),
        Column("details", ("Export Notes",), required=False),
    ),
)


# --------------------------------------------------------------------------------------------------------------
# Projects
# --------------------------------------------------------------------------------------------------------------


def read_projects(path: Path) -> DatasetLoad:
    """CAR projects export (either column set) -> ``projects`` rows (see the module docstring)."""
    raw = read_table(path, PROJECTS_LAYOUT)
    records = raw.records
    checks = RowChecks(records.index)

    project_id = registry_project_ids(checks, records["project_id"], CAR.id_prefix)
    registry_type = clean_text(records["project_type"])
    protocol, protocols = normalize.protocols(registry_type)
    compliance_status = clean_text(column(records, "compliance_status"))
    status_raw = normalize.first_non_null(clean_text(records["status"]), compliance_status)
    country_raw = clean_text(column(records, "country"))
    country_code = normalize.country_codes(country_raw)
    number = project_id.astype("string").str.removeprefix(CAR.id_prefix)
    missing_date = pd.Series(pd.NaT, index=records.index, dtype="datetime64[ns]")

    projects = pd.DataFrame(
        {
            "project_id": project_id,
            "registry": CAR.key,
            "name": clean_text(records["name"]),
            "proponent": clean_text(column(records, "developer")),
            "owner": clean_text(column(records, "owner")),
            "status_raw": status_raw,
            "status": normalize.statuses(status_raw),
            "compliance_program_id": clean_text(column(records, "compliance_program_id")),
            "compliance_status": compliance_status,
            "country_code": country_code,
            "country": normalize.country_names(country_code, country_raw),
            "site_state": clean_text(column(records, "state")),
            "methodology_raw": registry_type,
            "protocol": protocol,
            "protocols": protocols,
            "project_type_raw": registry_type,
            **project_classification(project_id, protocol, registry_type, registry_type_first=True),
            "crediting_period_start": missing_date,
            "crediting_period_end": missing_date,
            "registration_date": apx_dates(checks, column(records, "registered_date"), "project registered date"),
            "listed_date": apx_dates(checks, column(records, "listed_date"), "project listed date"),
            "estimated_annual_reductions": pd.Series(np.nan, index=records.index, dtype="float64"),
            "credits_registered": whole_numbers(
                checks,
                column(records, "credits_registered"),
                "total number of offset credits registered",
                required=False,
            ),
            "additional_certifications": clean_text(column(records, "additional_certifications")),
            "sdgs": sdg_numbers(column(records, "sdgs")),
            "verifier": clean_text(column(records, "verifier")),
            "notes": clean_text(column(records, "notes")),
            "project_url": normalize.as_object(CAR.project_url.replace("{number}", "") + number),
            "source_file": str(raw.path),
            "source_line": records["source_line"],
        }
    )
    flag_duplicate_projects(
        projects,
        checks,
        compare=["name", "proponent", "status_raw", "country_code", "methodology_raw", "registration_date"],
    )
    return finish(raw, CAR.key, "projects", projects, checks, ProjectsSchema)


# --------------------------------------------------------------------------------------------------------------
# Credit transactions
# --------------------------------------------------------------------------------------------------------------


def _either(
    checks: RowChecks, raw: pd.Series, what: str, true_text: str, false_text: str, *, present: bool
) -> pd.Series:
    """A two-valued text column (``Removal``/``Reduction``) as booleans; blank is unknown, other text rejects."""
    if not present:
        return pd.Series(pd.NA, index=raw.index, dtype="boolean")
    values, other_text = _two_valued(raw, true_text, false_text)
    fail_values(
        checks, other_text.to_numpy(dtype=bool), raw, f"{what} {{value}} is neither {true_text} nor {false_text}"
    )
    return values


@per_distinct_value
def _two_valued(raw: pd.Series, true_text: str, false_text: str) -> tuple[pd.Series, pd.Series]:
    """(``true_text`` -> true, ``false_text`` -> false, case-insensitive; mask of any other text)."""
    text = clean_text(raw).astype("string").str.casefold()
    values = pd.Series(pd.NA, index=raw.index, dtype="boolean")
    values[(text == true_text.casefold()).fillna(False).astype(bool)] = True
    values[(text == false_text.casefold()).fillna(False).astype(bool)] = False
    return values, text.notna() & values.isna()


def _credit_flags(records: pd.DataFrame, checks: RowChecks) -> tuple[pd.Series, pd.Series, dict[str, object]]:
    """Project id, vintage and the credit flags every CAR credit export carries."""
    project_id = registry_project_ids(checks, records["project_id"], CAR.id_prefix)
    vintage = vintages(checks, whole_numbers(checks, records["vintage"], "vintage", required=True))
    corsia_phase = corsia_phase_column(checks, records, "CORSIA 2021-2023 eligibility", "CORSIA 2024-2026 eligibility")
    flags = {
        "methodology_version": protocol_versions(column(records, "protocol_version")),
        "ccp_label": flag_column(checks, records, "ccp", "CCP Approved", blank=False),
        "corsia_phase": corsia_phase,
        "corresponding_adjustment": flag_column(
            checks, records, "corresponding_adjustment", "Corresponding Adjustment", blank=None
        ),
        "is_removal": _either(
            checks,
            column(records, "reduction_removal"),
            "Reduction/Removal",
            "Removal",
            "Reduction",
            present="reduction_removal" in records,
        ),
        "is_reversible": _either(
            checks,
            column(records, "reversible"),
            "Reversible/Non-Reversible",
            "Reversible",
            "Non-Reversible",
            present="reversible" in records,
        ),
        "additional_certifications": clean_text(column(records, "additional_certifications"), ARROW_TEXT),
        "protocol_raw": clean_text(column(records, "protocol_version")),
        "activity_area_type": clean_text(column(records, "activity_area_type")),
    }
    return project_id, vintage, flags


def read_issuances(path: Path) -> DatasetLoad:
    """CAR issuances -> ``issuance`` rows net of buffer contributions (see the module docstring)."""
    raw = read_table(path, ISSUANCES_LAYOUT)
    records = raw.records
    checks = RowChecks(records.index)
    project_id, vintage, flags = _credit_flags(records, checks)

    total = whole_numbers(checks, records["total_issued"], "total offset credits issued", required=True)
    reserve = whole_numbers(
        checks, column(records, "reserve_buffer"), "offset credits in reserve buffer pool", required=False
    )
    compliance = whole_numbers(
        checks,
        column(records, "compliance_buffer"),
        "offset credits intended for compliance buffer pool",
        required=False,
    )
    buffer = reserve.fillna(0) + compliance.fillna(0)
    buffer = buffer.where(reserve.notna() | compliance.notna())
    fail_values(
        checks,
        (buffer > total).fillna(False).to_numpy(dtype=bool),
        buffer.astype("string"),
        "buffer contributions of {value} credits exceed the total offset credits issued",
    )

    def count(name: str, what: str) -> pd.Series:
        return whole_numbers(checks, column(records, name), what, required=False)

    credits = credit_rows(
        records,
        CAR.key,
        str(raw.path),
        project_id=project_id,
        transaction_type="issuance",
        vintage=vintage,
        quantity=total - buffer.fillna(0),
        buffer_quantity=buffer,
        transaction_date=apx_dates(checks, records["issued_on"], "date issued", required=True),
        **flags,
        total_issued=total,
        arb_eligible=yes_no(checks, column(records, "arb_eligible"), "ARB Eligible", blank=None),
        wa_eco_eligible=yes_no(checks, column(records, "wa_eco_eligible"), "WA ECO Eligible", blank=None),
        zero_credit_period=yes_no(
            checks, column(records, "zero_credit_period"), "Zero-Credit Reporting Period", blank=None
        ),
        crediting_period=clean_text(column(records, "crediting_period")),
        canceled_for_compliance=count("canceled_for_compliance", "credits canceled for compliance"),
        converted_to_vcus=count("converted_to_vcus", "offset credits converted to VCUs"),
        canceled=count("canceled", "credits canceled"),
    )
    return finish(raw, CAR.key, "issuances", credits, checks, CreditTransactionsSchema)


def _read_blocks(path: Path, layout: Layout, dataset: str) -> DatasetLoad:
    """CAR retirements or cancellations: one row per serial block."""
    raw = read_table(path, layout)
    records = raw.records
    checks = RowChecks(records.index)
    project_id, vintage, flags = _credit_flags(records, checks)
    block = serial_block_columns(
        checks,
        records,
        SERIAL,
        dataset,
        project_id=project_id,
        vintage=vintage,
        quantity_what="quantity of offset credits",
    )
    credits = credit_rows(
        records,
        CAR.key,
        str(raw.path),
        **block,
        retirement_reason=clean_text(column(records, "reason"), ARROW_TEXT),
        retirement_note=clean_text(column(records, "details"), ARROW_TEXT),
        **flags,
        retirement_account=clean_text(column(records, "account_holder")),
    )
    return finish(raw, CAR.key, dataset, credits, checks, CreditTransactionsSchema)


def read_retirements(path: Path) -> DatasetLoad:
    """CAR retirements -> ``retirement`` rows, one per serial block."""
    return _read_blocks(path, RETIREMENTS_LAYOUT, "retirements")


def read_cancellations(path: Path) -> DatasetLoad:
    """CAR cancellations -> ``cancellation`` rows, one per serial block."""
    return _read_blocks(path, CANCELLATIONS_LAYOUT, "cancellations")


DATASETS = {
    "projects": read_projects,
    "issuances": read_issuances,
    "retirements": read_retirements,
    "cancellations": read_cancellations,
}
