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

from pipeline.ingest import apx, normalize
from pipeline.ingest.dataset import DatasetLoad, finish, flag_duplicate_projects
from pipeline.ingest.files import Column, IngestError, Layout, RawTable, read_json_rows, read_table
from pipeline.ingest.parsing import (
    ISO_DATE,
    RowChecks,
    clean_column,
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

SERIAL = apx.SerialFormat(
    "ACR", r"ACR-[A-Z]{2}-0*(?P<project>\d+)-(?P<vintage>\d{4})-\d+", "ACR-US-1185-2025-3078-1 to 85847"
)

# --------------------------------------------------------------------------------------------------------------
# APX CSV
# --------------------------------------------------------------------------------------------------------------

_CREDIT_PROJECT = (
    Column("project_id", ("Project ID",)),
    apx.optional("name", "Project Name"),
    apx.optional("project_type", "Project Type"),
    apx.optional("methodology", "Project Methodology/Protocol"),
    apx.optional("methodology_version", "Methodology/Protocol Version"),
    *apx.SITE,
    apx.optional("arb_eligible", "ARB Eligible"),
    apx.optional("ecology_eligible", "Ecology Eligible"),
    apx.CCP,
    apx.optional("verified_removal", "Verified Removal"),
    apx.optional("sdgs", "Sustainable Development Goal(s)"),
)
_BLOCK = (
    Column("serial_number", ("Credit Serial Numbers",)),
    apx.optional("issued_on", "Date Issued (GMT)", "Date Issued"),
    Column("vintage", ("Vintage",)),
    apx.optional("vintage_start", "Vintage Assignment Period Start Date"),
    apx.optional("vintage_end", "Vintage Assignment Period End Date"),
    Column("quantity", ("Quantity of Credits",)),
    apx.optional("account_holder", "Account Holder"),
    Column("status_effective", ("Status Effective (GMT)", "Status Effective")),
    apx.optional("corsia_eligible", "CORSIA Eligible"),
    apx.optional("corsia_pilot", "Eligible for CORSIA 2021-2023 Compliance Period (Pilot Phase)"),
    apx.optional("corsia_first", "Eligible for CORSIA 2024-2026 Compliance Period (First Phase)"),
)

PROJECTS_LAYOUT = Layout(
    "ACR projects export (APX CSV)",
    (
        Column("project_id", ("Project ID",)),
        apx.optional("compliance_program_id", "Compliance Program ID (ARB or Ecology)"),
        apx.optional("developer", "Project Developer"),
        Column("name", ("Project Name",)),
        Column("project_type", ("Project Type",)),
        Column("methodology", ("Project Methodology/Protocol",)),
        apx.optional("first_crediting_period_start", "Initial Crediting Period Start Date"),
        apx.optional("crediting_period_start", "Current Crediting Period Start Date"),
        apx.optional("crediting_period_end", "Current Crediting Period End Date"),
        Column("voluntary_status", ("Voluntary Status",)),
        apx.optional("compliance_status", "Compliance Program Status (ARB or Ecology)"),
        apx.optional("status_date", "Project Status Date"),
        *apx.SITE,
        apx.optional("sdgs", "Sustainable Development Goal(s)"),
        apx.optional("verifier", "Current VVB"),
        apx.optional("validator", "ACR Project Validation"),
        apx.optional("credits_registered", "Total Number of Credits Registered"),
        apx.optional("website", "Project Website"),
    ),
)

ISSUANCES_LAYOUT = Layout(
    "ACR issuances export (APX CSV)",
    (
        Column("issued_on", ("Date Issued (GMT)", "Date Issued")),
        Column("vintage", ("Vintage",)),
        apx.optional("vintage_start", "ReportingPeriodBegin"),
        apx.optional("vintage_end", "ReportingPeriodEnd"),
        Column("total_issued", ("Total Credits Issued",)),
        Column("to_project", ("Credits Issued to Project",)),
        Column("to_buffer", ("Credits Issued to Buffer Pool",)),
        apx.optional("transferred_to_buffer", "Credits Transferred to Buffer Pool"),
        apx.optional("developer", "Project Developer"),
        apx.optional("verifier", "Project VVB"),
        apx.optional("crediting_period_start", "Project Crediting Period Start Date"),
        *_CREDIT_PROJECT,
    ),
)

RETIREMENTS_LAYOUT = Layout(
    "ACR retirements export (APX CSV)",
    (
        *_BLOCK,
        apx.optional("beneficiary", "Retired on Behalf of"),
        apx.optional("reason", "Retirement Reason"),
        apx.optional("details", "Purpose of Retirement"),
        *_CREDIT_PROJECT,
    ),
)

CANCELLATIONS_LAYOUT = Layout(
    "ACR cancellations export (APX CSV)",
    (
        *_BLOCK,
        apx.optional("reason", "Cancellation Type"),
        apx.optional("details", "Cancellation Details"),
        *_CREDIT_PROJECT,
    ),
)


def _project_frame(
    raw: RawTable,
    project_id: pd.Series,
    *,
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
    return apx.project_rows(
        raw,
        ACR,
        project_id,
        name=name,
        proponent=proponent,
        **normalize.status_and_country(status_raw, country_raw),
        methodology_raw=methodology,
        protocol=protocol,
        protocols=protocols,
        project_type_raw=registry_type,
        **apx.project_classification(project_id, protocol, registry_type, registry_type_first=False),
        project_url=apx.project_urls(ACR, project_id),
        **extra,
    )


def read_projects(path: Path) -> DatasetLoad:
    """ACR projects (APX CSV or platform JSON) -> ``projects`` rows (see the module docstring)."""
    if Path(path).suffix.lower() == ".json":
        return _read_platform_projects(Path(path))
    raw = read_table(path, PROJECTS_LAYOUT)
    records = raw.records
    checks = RowChecks(records.index)

    def date(name: str, what: str) -> pd.Series:
        return apx.us_dates(checks, column(records, name), what)

    project_id = registry_project_ids(checks, records["project_id"], ACR.id_prefix)
    compliance = clean_column(records, "compliance_status")
    start = date("crediting_period_start", "current crediting period start")
    end = date("crediting_period_end", "current crediting period end")
    apx.fail_period_order(checks, start, end, "crediting period starts {value} after it ends")
    projects = _project_frame(
        raw,
        project_id,
        name=clean_column(records, "name"),
        proponent=clean_column(records, "developer"),
        status_raw=normalize.first_non_null(clean_column(records, "voluntary_status"), compliance),
        country_raw=clean_column(records, "country"),
        methodology=clean_column(records, "methodology"),
        registry_type=clean_column(records, "project_type"),
        compliance_program_id=clean_column(records, "compliance_program_id"),
        compliance_status=compliance,
        status_date=date("status_date", "project status date"),
        first_crediting_period_start=date("first_crediting_period_start", "initial crediting period start"),
        crediting_period_start=start,
        crediting_period_end=end,
        registration_date=pd.Series(pd.NaT, index=records.index, dtype="datetime64[ns]"),
        estimated_annual_reductions=pd.Series(np.nan, index=records.index, dtype="float64"),
        credits_registered=whole_numbers(
            checks, column(records, "credits_registered"), "total number of credits registered", required=False
        ),
        site_state=clean_column(records, "state"),
        sdgs=apx.sdg_numbers(column(records, "sdgs")),
        verifier=clean_column(records, "verifier"),
    )
    compare = ["crediting_period_start", "crediting_period_end"]
    flag_duplicate_projects(
        projects, checks, ["name", "proponent", "status_raw", "country_code", "methodology_raw", *compare]
    )
    return finish(raw, ACR.key, "projects", projects, checks, ProjectsSchema)


def _vintage(checks: RowChecks, records: pd.DataFrame) -> pd.Series:
    return vintages(checks, whole_numbers(checks, records["vintage"], "vintage", required=True))


def _credit_columns(checks: RowChecks, records: pd.DataFrame) -> dict[str, object]:
    """Project id, vintage and the project-level flags every APX credit export carries."""
    return {
        "project_id": registry_project_ids(checks, records["project_id"], ACR.id_prefix),
        "methodology_version": apx.protocol_versions(column(records, "methodology_version")),
        "ccp_label": apx.flag_column(checks, records, "ccp", "CCP Approved", blank=False),
        "is_removal": apx.flag_column(checks, records, "verified_removal", "Verified Removal", blank=False),
        "arb_eligible": apx.flag_column(checks, records, "arb_eligible", "ARB Eligible", blank=None),
        "ecology_eligible": apx.flag_column(checks, records, "ecology_eligible", "Ecology Eligible", blank=None),
        "vintage": _vintage(checks, records),
    }


def _block_columns(checks: RowChecks, records: pd.DataFrame) -> dict[str, object]:
    return {
        "corsia_phase": apx.corsia_phase_column(
            checks, records, "CORSIA pilot phase eligibility", "CORSIA first phase eligibility"
        ),
        "corsia_eligible": apx.flag_column(checks, records, "corsia_eligible", "CORSIA Eligible", blank=None),
        "retirement_account": clean_column(records, "account_holder"),
        "issuance_date": apx.us_dates(checks, column(records, "issued_on"), "date issued"),
        "vintage_start": apx.us_dates(checks, column(records, "vintage_start"), "vintage assignment period start"),
        "vintage_end": apx.us_dates(checks, column(records, "vintage_end"), "vintage assignment period end"),
    }


EXPORTS = apx.ApxExports(ACR, SERIAL, "quantity of credits", _credit_columns, _block_columns)


def read_issuances(path: Path) -> DatasetLoad:
    """ACR issuances (APX CSV or platform JSON) -> ``issuance`` rows (buffer semantics in the module docstring)."""
    if Path(path).suffix.lower() == ".json":
        return _read_platform_issuances(Path(path))
    raw, checks, common = apx.read_credits(path, ISSUANCES_LAYOUT, EXPORTS)
    records = raw.records
    total = whole_numbers(checks, records["total_issued"], "total credits issued", required=True)
    to_project = whole_numbers(checks, records["to_project"], "credits issued to project", required=True)
    to_buffer = whole_numbers(checks, records["to_buffer"], "credits issued to buffer pool", required=True)
    transferred = whole_numbers(
        checks, column(records, "transferred_to_buffer"), "credits transferred to buffer pool", required=False
    ).fillna(0)
    not_the_sum = "total credits issued {value} is not credits issued to project + to buffer pool"
    fail_values(checks, (total != to_project + to_buffer).fillna(False), total, not_the_sum)
    too_many = "{value} credits transferred to the buffer pool exceed the credits issued to the project"
    fail_values(checks, (transferred > to_project).fillna(False), transferred, too_many)
    vintage_start = apx.us_dates(checks, column(records, "vintage_start"), "reporting period begin")
    vintage_end = apx.us_dates(checks, column(records, "vintage_end"), "reporting period end")
    apx.fail_period_order(checks, vintage_start, vintage_end, "reporting period begins {value} after it ends")
    return EXPORTS.finish(
        raw,
        checks,
        "issuances",
        transaction_type="issuance",
        quantity=to_project - transferred,
        buffer_quantity=to_buffer + transferred,
        transaction_date=apx.us_dates(checks, records["issued_on"], "date issued", required=True),
        **common,
        total_issued=total,
        vintage_start=vintage_start,
        vintage_end=vintage_end,
    )


def read_retirements(path: Path) -> DatasetLoad:
    """ACR retirements (APX CSV or platform JSON) -> ``retirement`` rows, one per serial block."""
    if Path(path).suffix.lower() == ".json":
        return _read_platform_blocks(Path(path), "retiredCredits", "retirements")
    return apx.read_blocks(path, RETIREMENTS_LAYOUT, "retirements", EXPORTS)


def read_cancellations(path: Path) -> DatasetLoad:
    """ACR cancellations (APX CSV or platform JSON) -> ``cancellation`` rows, one per serial block."""
    if Path(path).suffix.lower() == ".json":
        return _read_platform_blocks(Path(path), "cancelledCredits", "cancellations")
    return apx.read_blocks(path, CANCELLATIONS_LAYOUT, "cancellations", EXPORTS)


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


_PLATFORM_FLAGS = (
    "corresponding_adjustment",
    "corsia_eligible",
    "corsia_pending",
    "host_country_authorization",
    "arb_eligible",
    "ecology_eligible",
)
"""Holding fields that are Yes/No flags (``N/A`` = unknown)."""


def _read_platform(path: Path, dataset_key: str, fields: dict[str, tuple[str, bool]]) -> tuple[RawTable, RowChecks]:
    """Rows of a platform JSON document under canonical names, and their checks; a missing required key is an
    :class:`IngestError` naming the file and the keys expected."""
    description = f"ACR registry platform JSON ({dataset_key})"
    frame, sha256, encoding = read_json_rows(path, dataset_key, description)
    present = set(frame.columns)
    missing = [key for key, required in fields.values() if required and key not in present]
    if missing and len(frame):
        expected = ", ".join(f"{key}{'' if req else ' (apx.optional)'}" for key, req in fields.values())
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
    return RawTable(path, records, raw_headers, malformed, sha256, encoding), RowChecks(records.index)


def _iso_dates(checks: RowChecks, raw: pd.Series, what: str, *, required: bool = False) -> pd.Series:
    return dates(checks, raw, what, ISO_DATE, "YYYY-MM-DD", required=required)


def _read_platform_projects(path: Path) -> DatasetLoad:
    raw, checks = _read_platform(path, "projects", PLATFORM_PROJECT_FIELDS)
    records = raw.records
    missing_date = pd.Series(pd.NaT, index=records.index, dtype="datetime64[ns]")
    projects = _project_frame(
        raw,
        registry_project_ids(checks, records["project_id"], ACR.id_prefix),
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

    def any_label(hit: pd.Series) -> pd.Series:
        return hit.fillna(False).groupby(level=0).any().reindex(labels.index, fill_value=False)

    def any_key(pattern: str) -> pd.Series:
        return any_label(keys.str.contains(pattern, regex=True)).astype("boolean").where(has_list, pd.NA)

    corsia = keys.str.contains("CORSIA", regex=False) & ~keys.str.contains("PENDING", regex=False)
    return {
        "ccp_label": any_key(r"(?:^|_)CCP(?:_|$)"),
        "is_removal": any_key(r"VERIFIED_REMOVAL"),
        "corsia_phase": apx.corsia_phases(
            any_label(corsia & keys.str.contains("PILOT", regex=False)),
            any_label(corsia & keys.str.contains("FIRST_PHASE|PHASE_1", regex=True)),
        ),
        "additional_certifications": normalize.as_object(joined),
    }


def _platform_holdings(raw: RawTable, checks: RowChecks) -> dict[str, object]:
    """Columns every platform holding row carries, parsed strictly."""
    records = raw.records
    project_id = registry_project_ids(checks, records["project_id"], ACR.id_prefix)
    vintage = _vintage(checks, records)
    quantity = whole_numbers(checks, records["holding_quantity"], "holding quantity", required=True)
    serial = apx.serial_ranges(
        checks, records["serial_number"], SERIAL, quantity=quantity, project_id=project_id, vintage=vintage
    )
    return {
        "project_id": project_id,
        "vintage": vintage,
        "quantity": quantity,
        "serial_number": serial,
        **_label_flags(records["labels"]),
        **{
            name: apx.yes_no(checks, records[name], PLATFORM_HOLDING_FIELDS[name][0], blank=None)
            for name in _PLATFORM_FLAGS
        },
        "vintage_start": _iso_dates(checks, records["vintage_start"], "issuance vintage start"),
        "issuance_date": _iso_dates(checks, records["issuance_date"], "issuance date", required=True),
        "issuance_quantity": whole_numbers(checks, records["issuance_quantity"], "issuance quantity", required=True),
        "project_type_raw": clean_text(records["project_type"]),
    }


def _read_platform_issuances(path: Path) -> DatasetLoad:
    raw, checks = _read_platform(path, "issuedCredits", PLATFORM_HOLDING_FIELDS)
    records = raw.records
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
    per_holding = apx.credit_rows(
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
    raw, checks = _read_platform(path, dataset_key, PLATFORM_HOLDING_FIELDS)
    records = raw.records
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
    return EXPORTS.finish(
        raw,
        checks,
        dataset,
        **holdings,
        transaction_type=prefix,
        transaction_date=_iso_dates(checks, records[f"{prefix}_date"], f"{prefix} date", required=True),
        retirement_beneficiary=clean_text(records[f"{prefix}_on_behalf_of"]),
        retirement_reason=clean_text(records[f"{prefix}_reason"]),
        retirement_note=clean_text(records["retirement_purpose" if retirement else "cancellation_note"]),
        retirement_account=clean_text(records["account_name"]),
        from_buffer=apx.yes_no(checks, records["is_reserve"], "isReserve", blank=None),
        issuance_key=clean_text(records["issuance_key"]),
    )


DATASETS = {
    "projects": read_projects,
    "issuances": read_issuances,
    "retirements": read_retirements,
    "cancellations": read_cancellations,
}
