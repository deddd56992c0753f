"""American Carbon Registry (ACR): the APX CSV exports and the new registry platform's JSON.

The file extension decides the format: ``projects|issuances|retirements|cancellations.csv`` are APX exports
(Apr-2026 layout; ``Date Issued`` before 2024 and ``Date Issued (GMT)`` after are both accepted),
``.json`` files are the new platform's ``{"datasets": {"projects"|"issuedCredits"|"retiredCredits"|
"cancelledCredits": {"rows": [...]}}}`` documents (Aug-2026), whose ids are zero-padded (``ACR0885`` is
written ``ACR885``). In JSON, ``source_line`` is the 1-based position of the record in ``rows``.

What we decided, from FORMATS.md and the exports themselves:

- **APX issuances.** ``Total Credits Issued`` = ``Credits Issued to Project`` + ``Credits Issued to Buffer
  Pool`` (true for every real row; a row where it is not is rejected). Since 2025 ACR also *transfers*
  credits from the project's issuance to the buffer (``Credits Transferred to Buffer Pool``, with nothing
  issued to the buffer directly), so ``quantity`` = to project - transferred to buffer (the credits the
  project keeps), ``buffer_quantity`` = issued to buffer + transferred to buffer, and ``total_issued`` keeps
  the registry's total. A transfer larger than the project's share is rejected.
- **Vintage** is the registry's ``Vintage`` year (ACR assigns one per issuance); the vintage or reporting
  period is kept in ``vintage_start``/``vintage_end``.
- **Retirements and cancellations** are one row per serial block; the range must hold ``Quantity of
  Credits`` and name the row's project and vintage. Cancellations (``Convert to ARB offset credits``,
  ``Convert to Ecology offset credits``, ``Removal of credits from the registry``) carry their type in
  ``retirement_reason`` and details in ``retirement_note``: converting to ARB/Ecology credits moves them to a
  compliance programme, so they leave the voluntary supply without being retired.
- **Flags.** ``CCP Approved`` -> ``ccp_label``; ``Verified Removal`` -> ``is_removal``; the two CORSIA
  compliance-period columns -> ``corsia_phase``; ``CORSIA Eligible`` (no phase) -> ``corsia_eligible``. APX
  writes only ``Yes`` and leaves the cell blank otherwise, so blank is false while the column exists (null
  when the export dropped it). ACR exports carry no corresponding-adjustment or reversibility flag in APX
  (null); the JSON carries ``correspondingAdjustment`` (``N/A`` = unknown).
- **JSON issuances.** The platform lists an issuance as several holdings (serial blocks) that share an
  ``issuanceKey`` and its ``issuanceQuantity``; one ``issuance`` row per key carries that quantity, dated
  ``issuanceDate``, attributed to the key's first holding, with the blocks' serials ``; ``-joined. Holdings
  that disagree on the issuance's quantity, or add up to more, are all rejected. The platform does not say
  which holding went to the buffer, so ``buffer_quantity`` is null and ``quantity`` is the whole issuance.
- **JSON retirements/cancellations**: one row per holding. Labels (``registryLabels``) give ``ccp_label``
  (a ``CCP`` label), ``is_removal`` (``VERIFIED_REMOVAL``) and ``corsia_phase`` from CORSIA labels that are
  not ``PENDING``; all label keys are kept in ``additional_certifications``. ``isReserve`` (a holding of the
  buffer, e.g. cancelled to compensate a reversal) is kept as ``from_buffer``.
- **Projects.** ``Voluntary Status`` is the status; compliance-only projects (blank voluntary status) take
  their ``Compliance Program Status``. The crediting period is the current one; ACR exports no registration
  date or estimated annual reductions. Activity: Berkeley type, else protocol, else the registry's type.
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
    corsia_phases,
    credit_rows,
    fail_period_order,
    flag_column,
    project_classification,
    project_numbers,
    protocol_versions,
    sdg_numbers,
    serial_ranges,
    yes_no,
)
from pipeline.ingest.dataset import DatasetLoad, finish, flag_duplicate_projects
from pipeline.ingest.files import Column, IngestError, Layout, RawTable, read_json_rows, read_table
from pipeline.ingest.parsing import (
    ARROW_TEXT,
    ISO_DATE,
    RowChecks,
    clean_text,
    column,
    dates,
    fail_values,
    registry_project_ids,
    vintages,
    whole_numbers,
)
from pipeline.ingest.schemas import CreditTransactionsSchema, ProjectsSchema
from pipeline.registries import ACR

SERIAL = SerialFormat(
    "ACR", r"ACR-[A-Z]{2}-0*(?P<project>\d+)-(?P<vintage>\d{4})-\d+", "ACR-US-1185-2025-3078-1 to 85847"
)
# --------------------------------------------------------------------------------------------------------------
# APX CSV layouts
# --------------------------------------------------------------------------------------------------------------

_PROJECT_SITE = (
    Column("location", ("Project Site Location",), required=False),
    Column("state", ("Project Site State",), required=False),
    Column("country", ("Project Site Country",), required=False),
)
_CREDIT_PROJECT = (
    Column("project_id", ("Project ID",)),
    Column("name", ("Project Name",), required=False),
    Column("project_type", ("Project Type",), required=False),
    Column("methodology", ("Project Methodology/Protocol",), required=False),
    Column("methodology_version", ("Methodology/Protocol Version",), required=False),
    *_PROJECT_SITE,
    Column("arb_eligible", ("ARB Eligible",), required=False),
    Column("ecology_eligible", ("Ecology Eligible",), required=False),
    Column("ccp", ("CCP Approved", "ICVCM CCP Eligible"), required=False),
    Column("verified_removal", ("Verified Removal",), required=False),
    Column("sdgs", ("Sustainable Development Goal(s)",), required=False),
)
_BLOCK = (
    Column("serial_number", ("Credit Serial Numbers",)),
    Column("issued_on", ("Date Issued (GMT)", "Date Issued"), required=False),
    Column("vintage", ("Vintage",)),
    Column("vintage_start", ("Vintage Assignment Period Start Date",), required=False),
    Column("vintage_end", ("Vintage Assignment Period End Date",), required=False),
    Column("quantity", ("Quantity of Credits",)),
    Column("account_holder", ("Account Holder",), required=False),
    Column("status_effective", ("Status Effective (GMT)", "Status Effective")),
    Column("corsia_eligible", ("CORSIA Eligible",), required=False),
    Column("corsia_pilot", ("Eligible for CORSIA 2021-2023 Compliance Period (Pilot Phase)",), required=False),
    Column("corsia_first", ("Eligible for CORSIA 2024-2026 Compliance Period (First Phase)",), required=False),
)

PROJECTS_LAYOUT = Layout(
    "ACR projects export (APX CSV)",
    (
        Column("project_id", ("Project ID",)),
        Column("compliance_program_id", ("Compliance Program ID (ARB or Ecology)",), required=False),
        Column("developer", ("Project Developer",), required=False),
        Column("name", ("Project Name",)),
        Column("project_type", ("Project Type",)),
        Column("methodology", ("Project Methodology/Protocol",)),
        Column("first_crediting_period_start", ("Initial Crediting Period Start Date",), required=False),
        Column("crediting_period_start", ("Current Crediting Period Start Date",), required=False),
        Column("crediting_period_end", ("Current Crediting Period End Date",), required=False),
        Column("voluntary_status", ("Voluntary Status",)),
        Column("compliance_status", ("Compliance Program Status (ARB or Ecology)",), required=False),
        Column("status_date", ("Project Status Date",), required=False),
        *_PROJECT_SITE,
        Column("sdgs", ("Sustainable Development Goal(s)",), required=False),
        Column("verifier", ("Current VVB",), required=False),
        Column("validator", ("ACR Project Validation",), required=False),
        Column("credits_registered", ("Total Number of Credits Registered",), required=False),
        Column("website", ("Project Website",), required=False),
    ),
)

ISSUANCES_LAYOUT = Layout(
    "ACR issuances export (APX CSV)",
    (
        Column("issued_on", ("Date Issued (GMT)", "Date Issued")),
        Column("vintage", ("Vintage",)),
        Column("vintage_start", ("ReportingPeriodBegin",), required=False),
        Column("vintage_end", ("ReportingPeriodEnd",), required=False),
        Column("total_issued", ("Total Credits Issued",)),
        Column("to_project", ("Credits Issued to Project",)),
        Column("to_buffer", ("Credits Issued to Buffer Pool",)),
        Column("transferred_to_buffer", ("Credits Transferred to Buffer Pool",), required=False),
        Column("developer", ("Project Developer",), required=False),
        Column("verifier", ("Project VVB",), required=False),
        Column("crediting_period_start", ("Project Crediting Period Start Date",), required=False),
        *_CREDIT_PROJECT,
    ),
)

RETIREMENTS_LAYOUT = Layout(
    "ACR retirements export (APX CSV)",
    (
        *_BLOCK,
        Column("beneficiary", ("Retired on Behalf of",), required=False),
        Column("reason", ("Retirement Reason",), required=False),
        Column("purpose", ("Purpose of Retirement",), required=False),
        *_CREDIT_PROJECT,
    ),
)

CANCELLATIONS_LAYOUT = Layout(
    "ACR cancellations export (APX CSV)",
    (
        *_BLOCK,
        Column("cancellation_type", ("Cancellation Type",), required=False),
        Column("cancellation_details", ("Cancellation Details",), required=False),
        *_CREDIT_PROJECT,
    ),
)


# --------------------------------------------------------------------------------------------------------------
# APX CSV readers
# --------------------------------------------------------------------------------------------------------------


def _project_frame(
    raw: RawTable,
    *,
    project_id: pd.Series,
    name: pd.Series,
    proponent: pd.Series,
    status_raw: pd.Series,
    country_raw: pd.Series,
    methodology: pd.Series,
    registry_type: pd.Series,
    **extra: object,
) -> pd.DataFrame:
    """The ``projects`` rows shared by the APX and JSON project exports."""
    protocol, protocols = normalize.protocols(methodology)
    country_code = normalize.country_codes(country_raw)
    return pd.DataFrame(
        {
            "project_id": project_id,
            "registry": ACR.key,
            "name": name,
            "proponent": proponent,
            "status_raw": status_raw,
            "status": normalize.statuses(status_raw),
            "country_code": country_code,
            "country": normalize.country_names(country_code, country_raw),
            "methodology_raw": methodology,
            "protocol": protocol,
            "protocols": protocols,
            "project_type_raw": registry_type,
            **project_classification(project_id, protocol, registry_type, registry_type_first=False),
            "project_url": _project_urls(project_id),
            **extra,
            "source_file": str(raw.path),
            "source_line": raw.records["source_line"],
        }
    )


def _project_urls(project_id: pd.Series) -> pd.Series:
    number = project_id.astype("string").str.removeprefix(ACR.id_prefix)
    return normalize.as_object(ACR.project_url.replace("{number}", "") + number)


def read_projects(path: Path) -> DatasetLoad:
    """ACR projects (APX CSV or platform JSON) -> ``projects`` rows (see the module docstring)."""
    if Path(path).suffix.lower() == ".json":
        return _read_platform_projects(Path(path))
    raw = read_table(path, PROJECTS_LAYOUT)
    records = raw.records
    checks = RowChecks(records.index)

    project_id = registry_project_ids(checks, records["project_id"], ACR.id_prefix)
    voluntary = clean_text(records["voluntary_status"])
    compliance = clean_text(column(records, "compliance_status"))
    start = apx_dates(checks, column(records, "crediting_period_start"), "current crediting period start")
    end = apx_dates(checks, column(records, "crediting_period_end"), "current crediting period end")
    fail_period_order(checks, start, end, "crediting period starts {value} after it ends")
    projects = _project_frame(
        raw,
        project_id=project_id,
        name=clean_text(records["name"]),
        proponent=clean_text(column(records, "developer")),
        status_raw=normalize.first_non_null(voluntary, compliance),
        country_raw=clean_text(column(records, "country")),
        methodology=clean_text(records["methodology"]),
        registry_type=clean_text(records["project_type"]),
        compliance_program_id=clean_text(column(records, "compliance_program_id")),
        compliance_status=compliance,
        status_date=apx_dates(checks, column(records, "status_date"), "project status date"),
        first_crediting_period_start=apx_dates(
            checks, column(records, "first_crediting_period_start"), "initial crediting period start"
        ),
        crediting_period_start=start,
        crediting_period_end=end,
        registration_date=pd.Series(pd.NaT, index=records.index, dtype="datetime64[ns]"),
        estimated_annual_reductions=pd.Series(np.nan, index=records.index, dtype="float64"),
        credits_registered=whole_numbers(
            checks, column(records, "credits_registered"), "total number of credits registered", required=False
        ),
        site_state=clean_text(column(records, "state")),
        sdgs=sdg_numbers(column(records, "sdgs")),
        verifier=clean_text(column(records, "verifier")),
    )
    flag_duplicate_projects(
        projects,
        checks,
        compare=[
            "name",
            "proponent",
            "status_raw",
            "country_code",
            "methodology_raw",
            "crediting_period_start",
            "crediting_period_end",
        ],
    )
    return finish(raw, ACR.key, "projects", projects, checks, ProjectsSchema)


def _credit_project(records: pd.DataFrame, checks: RowChecks) -> tuple[pd.Series, dict[str, object]]:
    """Project id and the project-level credit flags every APX credit export carries."""
    project_id = registry_project_ids(checks, records["project_id"], ACR.id_prefix)
    flags = {
        "methodology_version": protocol_versions(column(records, "methodology_version")),
        "ccp_label": flag_column(checks, records, "ccp", "CCP Approved", blank=False),
        "is_removal": flag_column(checks, records, "verified_removal", "Verified Removal", blank=False),
        "arb_eligible": flag_column(checks, records, "arb_eligible", "ARB Eligible", blank=None),
        "ecology_eligible": flag_column(checks, records, "ecology_eligible", "Ecology Eligible", blank=None),
    }
    return project_id, flags


def _vintage(checks: RowChecks, records: pd.DataFrame) -> pd.Series:
    return vintages(checks, whole_numbers(checks, records["vintage"], "vintage", required=True))


def read_issuances(path: Path) -> DatasetLoad:
    """ACR issuances (APX CSV or platform JSON) -> ``issuance`` rows (buffer semantics in the module docstring)."""
    if Path(path).suffix.lower() == ".json":
        return _read_platform_issuances(Path(path))
    raw = read_table(path, ISSUANCES_LAYOUT)
    records = raw.records
    checks = RowChecks(records.index)
    project_id, flags = _credit_project(records, checks)

    total = whole_numbers(checks, records["total_issued"], "total credits issued", required=True)
    to_project = whole_numbers(checks, records["to_project"], "credits issued to project", required=True)
    to_buffer = whole_numbers(checks, records["to_buffer"], "credits issued to buffer pool", required=True)
    transferred = whole_numbers(
        checks, column(records, "transferred_to_buffer"), "credits transferred to buffer pool", required=False
    ).fillna(0)
    fail_values(
        checks,
        (total != to_project + to_buffer).fillna(False).to_numpy(dtype=bool),
        total.astype("string"),
        "total credits issued {value} is not credits issued to project + to buffer pool",
    )
    fail_values(
        checks,
        (transferred > to_project).fillna(False).to_numpy(dtype=bool),
        transferred.astype("string"),
        "{value} credits transferred to the buffer pool exceed the credits issued to the project",
    )
    vintage_start = apx_dates(checks, column(records, "vintage_start"), "reporting period begin")
    vintage_end = apx_dates(checks, column(records, "vintage_end"), "reporting period end")
    fail_period_order(checks, vintage_start, vintage_end, "reporting period begins {value} after it ends")
    credits = credit_rows(
        records,
        ACR.key,
        str(raw.path),
        project_id=project_id,
        transaction_type="issuance",
        vintage=_vintage(checks, records),
        quantity=to_project - transferred,
        buffer_quantity=to_buffer + transferred,
        transaction_date=apx_dates(checks, records["issued_on"], "date issued", required=True),
        **flags,
        total_issued=total,
        vintage_start=vintage_start,
        vintage_end=vintage_end,
    )
    return finish(raw, ACR.key, "issuances", credits, checks, CreditTransactionsSchema)


def _read_blocks(path: Path, layout: Layout, dataset: str) -> DatasetLoad:
    """ACR retirements or cancellations: one row per serial block."""
    raw = read_table(path, layout)
    records = raw.records
    checks = RowChecks(records.index)
    project_id, flags = _credit_project(records, checks)
    quantity = whole_numbers(checks, records["quantity"], "quantity of credits", required=True)
    vintage = _vintage(checks, records)
    serial = serial_ranges(
        checks,
        records["serial_number"],
        SERIAL,
        quantity=quantity,
        project_number=project_numbers(project_id),
        vintage=vintage,
    )
    corsia_phase = corsia_phase_column(
        checks, records, "CORSIA pilot phase eligibility", "CORSIA first phase eligibility"
    )
    transaction = "retirement" if dataset == "retirements" else "cancellation"
    reason, note = (
        ("reason", "purpose") if transaction == "retirement" else ("cancellation_type", "cancellation_details")
    )
    credits = credit_rows(
        records,
        ACR.key,
        str(raw.path),
        project_id=project_id,
        transaction_type=transaction,
        vintage=vintage,
        quantity=quantity,
        transaction_date=apx_dates(checks, records["status_effective"], "status effective date", required=True),
        serial_number=serial,
        corsia_phase=corsia_phase,
        retirement_beneficiary=clean_text(column(records, "beneficiary"), ARROW_TEXT),
        retirement_reason=clean_text(column(records, reason), ARROW_TEXT),
        retirement_note=clean_text(column(records, note), ARROW_TEXT),
        **flags,
        corsia_eligible=flag_column(checks, records, "corsia_eligible", "CORSIA Eligible", blank=None),
        retirement_account=clean_text(column(records, "account_holder")),
        issuance_date=apx_dates(checks, column(records, "issued_on"), "date issued"),
        vintage_start=apx_dates(checks, column(records, "vintage_start"), "vintage assignment period start"),
        vintage_end=apx_dates(checks, column(records, "vintage_end"), "vintage assignment period end"),
    )
    return finish(raw, ACR.key, dataset, credits, checks, CreditTransactionsSchema)


def read_retirements(path: Path) -> DatasetLoad:
    """ACR retirements (APX CSV or platform JSON) -> ``retirement`` rows, one per serial block."""
    if Path(path).suffix.lower() == ".json":
        return _read_platform_blocks(Path(path), "retiredCredits", "retirements")
    return _read_blocks(path, RETIREMENTS_LAYOUT, "retirements")


def read_cancellations(path: Path) -> DatasetLoad:
    """ACR cancellations (APX CSV or platform JSON) -> ``cancellation`` rows, one per serial block."""
    if Path(path).suffix.lower() == ".json":
        return _read_platform_blocks(Path(path), "cancelledCredits", "cancellations")
    return _read_blocks(path, CANCELLATIONS_LAYOUT, "cancellations")


# --------------------------------------------------------------------------------------------------------------
# New registry platform (JSON)
# --------------------------------------------------------------------------------------------------------------

PLATFORM_PROJECT_FIELDS = {
    "project_id": ("projectId", True),
    "name": ("projectName", True),
    "status": ("projectStatus", True),
    "methodology": ("projectMethodology", True),
    "project_type": ("projectType", False),
    "developer": ("projectDeveloper", False),
    "crediting_program": ("creditingProgram", False),
    "country": ("country", False),
    "issued_credits": ("issuedCredits", False),
}
"""canonical name -> (JSON key, required) for ``datasets.projects.rows``."""

PLATFORM_HOLDING_FIELDS = {
    "serial_number": ("holdingSerialNumber", True),
    "holding_status": ("holdingStatus", False),
    "holding_quantity": ("holdingQuantity", True),
    "is_reserve": ("isReserve", False),
    "project_id": ("projectReferenceId", True),
    "project_type": ("projectTypeName", False),
    "account_name": ("registryAccountName", False),
    "issuance_key": ("issuanceKey", True),
    "vintage_start": ("issuanceVintageStartDate", False),
    "vintage": ("vintage", True),
    "issuance_date": ("issuanceDate", True),
    "issuance_quantity": ("issuanceQuantity", True),
    "cancellation_date": ("cancellationDate", False),
    "cancellation_reason": ("cancellationReasonDisplayName", False),
    "cancellation_note": ("cancellationReasonDescription", False),
    "cancellation_on_behalf_of": ("cancellationOnBehalfOfName", False),
    "retirement_date": ("retirementDate", False),
    "retirement_reason": ("retirementReasonDisplayName", False),
    "retirement_purpose": ("retirementPurpose", False),
    "retirement_on_behalf_of": ("retirementOnBehalfOfName", False),
    "host_country_authorization": ("hostCountryLetterOfAuthorization", False),
    "corresponding_adjustment": ("correspondingAdjustment", False),
    "corsia_eligible": ("corsiaEligible", False),
    "corsia_pending": ("corsiaPending", False),
    "labels": ("registryLabels", False),
    "arb_eligible": ("arbEligible", False),
    "ecology_eligible": ("ecologyEligible", False),
}
"""canonical name -> (JSON key, required) for the platform's credit holdings (issued, retired, cancelled)."""


def _read_platform(path: Path, dataset_key: str, fields: dict[str, tuple[str, bool]]) -> RawTable:
    """Rows of a platform JSON document under canonical names; a missing required key is an
    :class:`IngestError` naming the file and the keys expected."""
    description = f"ACR registry platform JSON ({dataset_key})"
    frame, sha256, encoding = read_json_rows(path, dataset_key, description)
    present = {key for key in frame.columns}
    missing = [key for key, required in fields.values() if required and key not in present]
    if missing and len(frame):
        expected = ", ".join(f"{key}{'' if req else ' (optional)'}" for key, req in fields.values())
        raise IngestError(
            f"{path}: unknown layout for {description}: missing key(s) {', '.join(missing)}. "
            f"Found keys: {', '.join(sorted(present - {'source_line'}))}. Expected keys: {expected}"
        )
    records = pd.DataFrame({name: frame.get(key) for name, (key, _) in fields.items()}, index=frame.index)
    records["source_line"] = frame["source_line"]
    raw_headers = {name: key for name, (key, _) in fields.items() if key in present}
    malformed = pd.DataFrame(
        {
            "source_line": pd.Series(dtype="int64"),
            "reason": pd.Series(dtype=object),
            "raw_record": pd.Series(dtype=object),
        }
    )
    return RawTable(path, records, raw_headers, malformed, sha256, encoding)


def _read_platform_projects(path: Path) -> DatasetLoad:
    raw = _read_platform(path, "projects", PLATFORM_PROJECT_FIELDS)
    records = raw.records
    checks = RowChecks(records.index)
    project_id = registry_project_ids(checks, records["project_id"], ACR.id_prefix)
    missing_date = pd.Series(pd.NaT, index=records.index, dtype="datetime64[ns]")
    projects = _project_frame(
        raw,
        project_id=project_id,
        name=clean_text(records["name"]),
        proponent=clean_text(records["developer"]),
        status_raw=clean_text(records["status"]),
        country_raw=clean_text(records["country"]),
        methodology=clean_text(records["methodology"]),
        registry_type=clean_text(records["project_type"]),
        crediting_program=clean_text(records["crediting_program"]),
        crediting_period_start=missing_date,
        crediting_period_end=missing_date,
        registration_date=missing_date,
        estimated_annual_reductions=pd.Series(np.nan, index=records.index, dtype="float64"),
        issued_credits=whole_numbers(checks, records["issued_credits"], "issued credits", required=False),
    )
    flag_duplicate_projects(projects, checks, compare=["name", "proponent", "status_raw", "methodology_raw"])
    return finish(raw, ACR.key, "projects", projects, checks, ProjectsSchema)


def _label_flags(labels: pd.Series) -> dict[str, pd.Series]:
    """``ccp_label``, ``is_removal``, ``corsia_phase`` and the label keys from ``registryLabels`` lists; all
    null where the platform gave no label list."""
    exploded = labels.explode()
    keys = pd.Series(
        [item.get("labelKey") if isinstance(item, dict) else None for item in exploded],
        index=exploded.index,
        dtype=object,
    ).astype("string")
    has_list = labels.map(lambda value: isinstance(value, list)).astype(bool)
    joined = keys.dropna().groupby(level=0).agg(";".join).reindex(labels.index)

    def any_key(pattern: str) -> pd.Series:
        hit = keys.str.contains(pattern, regex=True).fillna(False).groupby(level=0).any().reindex(labels.index)
        return hit.fillna(False).astype("boolean").where(has_list, pd.NA)

    settled = ~keys.str.contains("PENDING", regex=False).fillna(True)
    pilot = keys.str.contains("CORSIA", regex=False) & keys.str.contains("PILOT", regex=False) & settled
    first = keys.str.contains("CORSIA", regex=False) & keys.str.contains("FIRST_PHASE|PHASE_1", regex=True) & settled
    phase = corsia_phases(
        pilot.fillna(False).groupby(level=0).any().reindex(labels.index).fillna(False),
        first.fillna(False).groupby(level=0).any().reindex(labels.index).fillna(False),
    )
    return {
        "ccp_label": any_key(r"(?:^|_)CCP(?:_|$)"),
        "is_removal": any_key(r"VERIFIED_REMOVAL"),
        "corsia_phase": phase,
        "additional_certifications": normalize.as_object(joined),
    }


def _platform_holdings(raw: RawTable, checks: RowChecks) -> dict[str, object]:
    """Columns every platform holding row carries, parsed strictly."""
    records = raw.records
    project_id = registry_project_ids(checks, records["project_id"], ACR.id_prefix)
    vintage = _vintage(checks, records)
    quantity = whole_numbers(checks, records["holding_quantity"], "holding quantity", required=True)
    serial = serial_ranges(
        checks,
        records["serial_number"],
        SERIAL,
        quantity=quantity,
        project_number=project_numbers(project_id),
        vintage=vintage,
    )
    return {
        "project_id": project_id,
        "vintage": vintage,
        "quantity": quantity,
        "serial_number": serial,
        **_label_flags(records["labels"]),
        "corresponding_adjustment": yes_no(
            checks, records["corresponding_adjustment"], "correspondingAdjustment", blank=None
        ),
        "corsia_eligible": yes_no(checks, records["corsia_eligible"], "corsiaEligible", blank=None),
        "corsia_pending": yes_no(checks, records["corsia_pending"], "corsiaPending", blank=None),
        "host_country_authorization": yes_no(
            checks, records["host_country_authorization"], "hostCountryLetterOfAuthorization", blank=None
        ),
        "arb_eligible": yes_no(checks, records["arb_eligible"], "arbEligible", blank=None),
        "ecology_eligible": yes_no(checks, records["ecology_eligible"], "ecologyEligible", blank=None),
        "vintage_start": dates(checks, records["vintage_start"], "issuance vintage start", ISO_DATE, "YYYY-MM-DD"),
        "issuance_date": dates(
            checks, records["issuance_date"], "issuance date", ISO_DATE, "YYYY-MM-DD", required=True
        ),
        "issuance_quantity": whole_numbers(checks, records["issuance_quantity"], "issuance quantity", required=True),
        "project_type_raw": clean_text(records["project_type"]),
    }


def _read_platform_issuances(path: Path) -> DatasetLoad:
    raw = _read_platform(path, "issuedCredits", PLATFORM_HOLDING_FIELDS)
    records = raw.records
    checks = RowChecks(records.index)
    holdings = _platform_holdings(raw, checks)
    issuance_key = clean_text(records["issuance_key"])
    checks.fail(issuance_key.isna().to_numpy(), "issuanceKey is missing")

    frame = pd.DataFrame(
        {
            "key": issuance_key,
            "quantity": holdings["quantity"],
            "issuance_quantity": holdings["issuance_quantity"],
            "serial": holdings["serial_number"],
            "record": np.arange(len(records)),
        }
    )
    valid = frame.loc[(checks.reasons() == "").to_numpy()]
    by_key = valid.groupby("key", sort=False)
    disagree = by_key["issuance_quantity"].transform("nunique") > 1
    overdrawn = by_key["quantity"].transform("sum") > valid["issuance_quantity"]
    for mask, reason in (
        (disagree, "holdings of this issuanceKey disagree on its issuanceQuantity"),
        (overdrawn & ~disagree, "holdings of this issuanceKey add up to more than its issuanceQuantity"),
    ):
        flagged = np.zeros(len(records), dtype=bool)
        flagged[valid.loc[mask, "record"].to_numpy()] = True
        checks.fail(flagged, reason)
    valid = valid.loc[~(disagree | overdrawn)]
    firsts = valid.drop_duplicates("key", keep="first")
    serials = valid.groupby("key", sort=False)["serial"].agg("; ".join)

    rows = firsts["record"].to_numpy()
    per_holding = credit_rows(
        records,
        ACR.key,
        str(raw.path),
        **holdings,
        transaction_type="issuance",
        transaction_date=holdings["issuance_date"],
        issuance_key=issuance_key,
    )
    credits = per_holding.iloc[rows].assign(
        quantity=firsts["issuance_quantity"].to_numpy(),
        serial_number=firsts["key"].map(serials).to_numpy(),
    )
    return finish(raw, ACR.key, "issuances", credits, checks, CreditTransactionsSchema, rows.astype(np.int64))


def _read_platform_blocks(path: Path, dataset_key: str, dataset: str) -> DatasetLoad:
    raw = _read_platform(path, dataset_key, PLATFORM_HOLDING_FIELDS)
    records = raw.records
    checks = RowChecks(records.index)
    holdings = _platform_holdings(raw, checks)
    retirement = dataset == "retirements"
    prefix = "retirement" if retirement else "cancellation"
    expected_status = "RETIRED" if retirement else "CANCELED"
    status = clean_text(records["holding_status"])
    fail_values(
        checks,
        (status.notna() & (status.astype("string").str.upper() != expected_status)).fillna(False).to_numpy(dtype=bool),
        status,
        f"holding status {{value}} is not {expected_status}",
    )
    credits = credit_rows(
        records,
        ACR.key,
        str(raw.path),
        **holdings,
        transaction_type=prefix,
        transaction_date=dates(
            checks, records[f"{prefix}_date"], f"{prefix} date", ISO_DATE, "YYYY-MM-DD", required=True
        ),
        retirement_beneficiary=clean_text(records[f"{prefix}_on_behalf_of"]),
        retirement_reason=clean_text(records[f"{prefix}_reason"]),
        retirement_note=clean_text(records["retirement_purpose" if retirement else "cancellation_note"]),
        retirement_account=clean_text(records["account_name"]),
        from_buffer=yes_no(checks, records["is_reserve"], "isReserve", blank=None),
        issuance_key=clean_text(records["issuance_key"]),
    )
    return finish(raw, ACR.key, dataset, credits, checks, CreditTransactionsSchema)


DATASETS = {
    "projects": read_projects,
    "issuances": read_issuances,
    "retirements": read_retirements,
    "cancellations": read_cancellations,
}
