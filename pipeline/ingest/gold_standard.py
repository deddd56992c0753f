"""Gold Standard (GS4GG): the projects export, issuances and retirements.

Projects (``projects.csv``): the registry's "GSF Registry Projects Export" (every field quoted, multi-line
``Description``) and CarbonPlan's ``gold-standard/projects.csv``. ``GSID`` is written ``GLD<gsid>``. The export
has no crediting period or registration date (null). ``projects.json``, the registry API's project list, is read
with the same rules: its id is ``sustaincert_id`` (not the API's ``id``), and it does carry the crediting period;
``source_line`` is the project's position in the list. (The API's credit blocks are a holdings snapshot without
retirement dates, so they are not read as transactions.) The activity comes from the Gold Standard project type
(``A/R`` is ARR, the only land-use type GS lists), else the Berkeley project type (GS files rice, agriculture
and some forestry projects under ``Other``), else the methodology; ``Not provided`` / ``Other`` methodologies
are missing. ``project_type`` is the Berkeley type (else the one a GS type names exactly: A/R, Wind,
Geothermal, hydro), ``project_type_raw`` the GS type. Extra columns: ``sdgs``, ``size``, ``poa_type``,
``poa_id`` (``GLD<POA GSID>``), ``description``, ``project_url``; credits also carry ``issuance_date``,
``monitoring_period_start/end``, ``article6_authorization`` and ``corsia_eligible``.

Credits, what we decided:

- **Issuances** (``issuances.csv``): one ``issuance`` per row of ``Quantity`` credits on ``Issuance Date``
  (ISO with microseconds), vintage ``Vintage``. ``Product Type`` is kept in ``product_type`` and must be VER,
  PER or CER. **PERs** (planned emission reductions, forward-issued) are issued but not retirable: they are kept
  and flagged by ``product_type = 'PER'``; scoring and the inventory exclude them.
- **Retirements** (``retirements.csv``): ``Credit Status`` ``Retired`` is a ``retirement`` dated ``Retirement
  Date``; ``Canceled`` is a ``cancellation`` (the export gives it no date: ``transaction_date`` is null, never
  guessed from the issuance date). Two header variants are read: the current one (``Use Case``, ``Using
  Entity``, ``Article Six Authorization``) and the older one (``Eligible for CORSIA?``, ``Retired for
  CORSIA?``, ``CORSIA Authorisation``). ``Using Entity`` (else ``Aeroplane Operator Name``) is the beneficiary,
  ``Use Case`` (else ``CORSIA`` when retired for CORSIA) the reason, ``Note`` the note.
- **Flags**: ``Label`` lists the labels (``ICVCM CCP, Emission Reduction``): ``ICVCM CCP`` -> ``ccp_label``
  (false when the column exists and the label is absent), ``Emission Removal`` / ``Emission Reduction`` ->
  ``is_removal``. ``Article Six Authorization`` (or ``CORSIA Authorisation``) is kept as text; an authorization
  sets ``corresponding_adjustment`` true, ``Not Applicable`` false. The export names no CORSIA phase
  (``corsia_phase`` null); the older variant's ``Eligible for CORSIA?`` is kept in ``corsia_eligible``.
- **Serials** ``GS1-1-UG-GS11236-16-2024-30307-1-19149`` are checked against the row where they have that shape:
  another GSID, another vintage, or a range that does not hold ``Quantity`` credits rejects the record (CERs
  carry CDM serials, which are not checked).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.ingest import normalize
from pipeline.ingest.dataset import DatasetLoad, finish, flag_duplicate_projects
from pipeline.ingest.files import Column, IngestError, Layout, RawTable, map_columns, parse_json, read_table
from pipeline.ingest.parsing import (
    ARROW_TEXT,
    ISO_DATE,
    RowChecks,
    clean_column,
    clean_text,
    column,
    dates,
    each_present,
    empty_rejections,
    extract,
    fail_values,
    parse_bool,
    parse_int,
    per_distinct_value,
    registry_project_ids,
    text_column,
    vintages,
    whole_numbers,
)
from pipeline.ingest.schemas import CreditTransactionsSchema, ProjectsSchema
from pipeline.registries import GOLD_STANDARD

PRODUCT_TYPES = ("VER", "PER", "CER")

PROJECTS_LAYOUT = Layout(
    "Gold Standard projects export (GSF Registry Projects Export)",
    (
        Column("gsid", ("GSID",)),
        Column("name", ("Project Name",)),
        Column("proponent", ("Project Developer Name", "Project Developer"), required=False),
        Column("status", ("Status",)),
        Column("sdgs", ("Sustainable Development Goals",), required=False),
        Column("project_type", ("Project Type",)),
        Column("country", ("Country",)),
        Column("description", ("Description",), required=False),
        Column("estimated_annual_credits", ("Estimated Annual Credits",), required=False),
        Column("methodology", ("Methodology",), required=False),
        Column("size", ("Size",), required=False),
        Column("poa_type", ("Programme of Activities",), required=False),
        Column("poa_gsid", ("POA GSID",), required=False),
    ),
)

_CREDIT_COLUMNS = (
    Column("vintage", ("Vintage",)),
    Column("credit_status", ("Credit Status",)),
    Column("quantity", ("Quantity",)),
    Column("gsid", ("GSID",)),
    Column("name", ("Project Name",), required=False),
    Column("proponent", ("Project Developer",), required=False),
    Column("country", ("Country",), required=False),
    Column("project_type", ("Project Type",), required=False),
    Column("methodology", ("Methodology",), required=False),
    Column("poa_type", ("Programme of Activities",), required=False),
    Column("poa_gsid", ("POA GSID",), required=False),
    Column("product_type", ("Product Type",)),
    Column("issuance_date", ("Issuance Date",)),
    Column("monitoring_period_start", ("Monitoring Period Start",), required=False),
    Column("monitoring_period_end", ("Monitoring Period End",), required=False),
    Column("serial_number", ("Serial Number",)),
    Column("label", ("Label",), required=False),
    Column("article6_authorization", ("Article Six Authorization", "CORSIA Authorisation"), required=False),
    Column("corsia_eligible", ("Eligible for CORSIA?", "Eligible for CORSIA"), required=False),
)

ISSUANCES_LAYOUT = Layout("Gold Standard issuances export", _CREDIT_COLUMNS)

RETIREMENTS_LAYOUT = Layout(
    "Gold Standard retirements export (current 'Use Case' or older 'Retired for CORSIA?' variant)",
    (
        *_CREDIT_COLUMNS,
        Column("retirement_date", ("Retirement Date",)),
        Column("note", ("Note",), required=False),
        Column("aeroplane_operator", ("Aeroplane Operator Name",), required=False),
        Column("use_case", ("Use Case",), required=False),
        Column("using_entity", ("Using Entity",), required=False),
        Column("retired_for_corsia", ("Retired for CORSIA?", "Retired for CORSIA"), required=False),
    ),
)

SERIAL = (
    r"^\s*(?P<serial>GS\d+-\d+-[A-Z]{2}-GS(?P<gsid>\d+)-\d+-(?P<vintage>\d{4})-\d+-(?P<first>\d+)-(?P<last>\d+))\s*$"
)
"""``GS1-1-<ISO2>-GS<gsid>-<scope>-<vintage>-<batch>-<from>-<to>``."""


# --------------------------------------------------------------------------------------------------------------
# Projects
# --------------------------------------------------------------------------------------------------------------

GS_TYPE_ACTIVITY = {"A/R": "ARR"}
"""Gold Standard's own project types name one land-use activity; the rest (``Energy Efficiency - Agriculture
Sector``, ``Other`` ...) are left to the Berkeley type and the methodology."""

GS_TYPE_BERKELEY = {
    "A/R": "afforestation/reforestation",
    "Wind": "wind",
    "Geothermal": "geothermal",
    "Small, Low - Impact Hydro": "hydropower",
}
"""Berkeley type of the Gold Standard types that name exactly one, for projects Berkeley has not classified."""


def _without_placeholder(text: pd.Series, *placeholders: str) -> pd.Series:
    folded = text.astype("string").str.casefold()
    return text.where(~folded.isin([p.casefold() for p in placeholders]).fillna(False).astype(bool), None)


def read_projects(path: Path) -> DatasetLoad:
    """Gold Standard projects export (CSV, or the registry API's JSON) -> ``projects`` rows (see the module
    docstring)."""
    raw = _read_api_projects(Path(path)) if Path(path).suffix.lower() == ".json" else read_table(path, PROJECTS_LAYOUT)
    records = raw.records
    checks = RowChecks(records.index)

    project_id = registry_project_ids(checks, records["gsid"], GOLD_STANDARD.id_prefix, "GSID")
    methodology = _without_placeholder(clean_column(records, "methodology"), "Not provided", "Other")
    protocol, protocols = normalize.protocols(methodology)
    project_type_raw = clean_text(records["project_type"])
    berkeley_type = normalize.berkeley_project_types(project_id)
    registry_type = project_type_raw.map(GS_TYPE_BERKELEY)
    activity = normalize.as_object(
        normalize.first_non_null(
            project_type_raw.map(GS_TYPE_ACTIVITY),
            berkeley_type.map(normalize.BERKELEY_ACTIVITY),
            normalize.activities(protocol),
        )
    )
    annual = whole_numbers(
        checks, column(records, "estimated_annual_credits"), "estimated annual credits", required=False
    )
    poa_raw = _without_placeholder(clean_column(records, "poa_gsid"), "No POA")
    poa_number, poa_bad = parse_int(poa_raw)
    fail_values(checks, poa_bad, poa_raw, "POA GSID {value} is not a GSID")
    poa_id = (GOLD_STANDARD.id_prefix + poa_number.astype("string")).astype(object).where(poa_number.notna(), None)
    period = {
        name: dates(checks, column(records, name), name.replace("_", " "), ISO_DATE, "YYYY-MM-DD")
        for name in ("crediting_period_start", "crediting_period_end")
    }
    projects = pd.DataFrame(
        {
            "project_id": project_id,
            "registry": GOLD_STANDARD.key,
            "name": clean_text(records["name"]),
            "proponent": clean_column(records, "proponent"),
            **normalize.status_and_country(clean_text(records["status"]), clean_text(records["country"])),
            "methodology_raw": methodology,
            "protocol": protocol,
            "protocols": protocols,
            "project_type_raw": project_type_raw,
            **normalize.classification(berkeley_type, registry_type, "registry project type", protocol, activity),
            **period,
            "registration_date": pd.Series(pd.NaT, index=records.index, dtype="datetime64[ns]"),
            "estimated_annual_reductions": annual.astype("float64"),
            "sdgs": clean_column(records, "sdgs"),
            "size": clean_column(records, "size"),
            "poa_type": clean_column(records, "poa_type"),
            "poa_id": poa_id,
            "description": clean_column(records, "description"),
            "project_url": (GOLD_STANDARD.project_url.split("{number}")[0] + project_id.str[3:]).where(
                project_id.notna(), None
            ),
            "source_file": str(raw.path),
            "source_line": records["source_line"],
        }
    )
    compare = ["name", "proponent", "status_raw", "country", "project_type_raw", "methodology_raw",
               "estimated_annual_reductions", "poa_id"]  # fmt: skip
    flag_duplicate_projects(projects, checks, compare)
    return finish(raw, GOLD_STANDARD.key, "projects", projects, checks, ProjectsSchema)


API_PROJECTS_LAYOUT = Layout(
    "Gold Standard registry API projects JSON (a list of project objects)",
    (
        Column("gsid", ("sustaincert_id",)),
        Column("name", ("name",)),
        Column("proponent", ("project_developer",), required=False),
        Column("status", ("status",)),
        Column("sdgs", ("sustainable_development_goals",), required=False),
        Column("project_type", ("type",)),
        Column("country", ("country",)),
        Column("description", ("description",), required=False),
        Column("estimated_annual_credits", ("estimated_annual_credits",), required=False),
        Column("methodology", ("methodology",), required=False),
        Column("size", ("size",), required=False),
        Column("poa_type", ("programme_of_activities",), required=False),
        Column("poa_gsid", ("poa_project_sustaincert_id",), required=False),
        Column("crediting_period_start", ("crediting_period_start_date",), required=False),
        Column("crediting_period_end", ("crediting_period_end_date",), required=False),
    ),
)
"""The project id is ``sustaincert_id`` (``GS23718``), not the API's internal ``id`` (FORMATS.md)."""


def _api_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):  # sustainable_development_goals: [{"name": "Goal 13: Climate Action"}, ...]
        names = [str(v.get("name", "")) if isinstance(v, dict) else str(v) for v in value]
        return ",".join(n.removeprefix("Goal ").split(":")[0] for n in names) or None
    return str(value)


def _read_api_projects(path: Path) -> RawTable:
    """The registry API's project list as a :class:`RawTable` (values as text, ``source_line`` = position in the
    list), so it goes through the same strict rules as the CSV export. API pages are small (tens of projects):
    values are rendered to text one by one."""
    data = path.read_bytes()
    rows = parse_json(path, data, API_PROJECTS_LAYOUT.description, expected="a JSON list")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise IngestError(f"{path}: unknown layout for {API_PROJECTS_LAYOUT.description}: not a list of objects")
    frame = pd.DataFrame.from_records(rows) if rows else pd.DataFrame(columns=["sustaincert_id"])
    mapping, extra = map_columns(path, [str(c) for c in frame.columns], API_PROJECTS_LAYOUT)
    records = pd.DataFrame({name: frame[key].map(_api_text).astype(object) for name, key in mapping.items()})
    records["source_line"] = np.arange(1, len(frame) + 1, dtype=np.int64)
    return RawTable(path, records, mapping, empty_rejections(), hashlib.sha256(data).hexdigest(), "utf-8", extra)


# --------------------------------------------------------------------------------------------------------------
# Credits
# --------------------------------------------------------------------------------------------------------------


def _labels(label: str) -> tuple[bool, bool | None]:
    """(``ccp_label``, ``is_removal``) of one comma-separated ``Label`` value (see the module docstring)."""
    tags = [tag.strip().casefold() for tag in label.split(",")]
    removal = True if "emission removal" in tags else (False if "emission reduction" in tags else None)
    return any(tag.startswith("icvcm ccp") for tag in tags), removal


@per_distinct_value
def _label_flags(label: pd.Series, column_present: bool) -> pd.DataFrame:
    """``ccp_label`` and ``is_removal`` of each ``Label`` value, worked out once per distinct value; without a
    value there is no CCP label (null where the export dropped the column)."""
    found = each_present(label, _labels)
    flags = pd.DataFrame({"ccp_label": found.str[0], "is_removal": found.str[1]})
    if column_present:
        flags.loc[label.isna().to_numpy(), "ccp_label"] = False
    return flags.astype("boolean")


@per_distinct_value
def _methodology_version(methodology: pd.Series) -> pd.Series:
    """``3.1`` from ``GS TPDDTEC v3.1`` / ``... Version 19.0``; missing where the text names no version."""
    version = methodology.astype("string").str.extract(r"\b[vV](?:ersion)?\s*\.?\s*(\d+(?:\.\d+)*)", expand=False)
    return normalize.as_object(version).astype(ARROW_TEXT)


@per_distinct_value
def _authorization(text: pd.Series) -> pd.Series:
    """Corresponding adjustment from ``Article Six Authorization``: authorized -> true, not -> false."""
    folded = text.astype("string").str.strip().str.casefold()
    authorized = folded.str.contains("authori", regex=False) & ~folded.str.contains(r"\bnot\b|\bno\b|unauthori")
    not_authorized = folded.isin(["not applicable", "no", "not authorized", "not authorised"])
    result = pd.Series(pd.NA, index=text.index, dtype="boolean")
    result[authorized.fillna(False).astype(bool)] = True
    result[not_authorized.fillna(False).astype(bool)] = False
    return result


@per_distinct_value
def _product_types(raw: pd.Series) -> pd.Series:
    """``Product Type`` cleaned and upper-cased (``ver`` -> ``VER``)."""
    return normalize.as_object(clean_text(raw).astype("string").str.upper()).astype(ARROW_TEXT)


def _credits(raw: RawTable, checks: RowChecks, *, issued: bool) -> pd.DataFrame:
    """The columns issuances and retirements share, parsed strictly (the issuance date required when ``issued``)."""
    records = raw.records
    project_id = registry_project_ids(checks, records["gsid"], GOLD_STANDARD.id_prefix, "GSID")
    vintage_number, vintage_bad = parse_int(records["vintage"])
    fail_values(checks, vintage_bad, records["vintage"], "vintage {value} is not a year")
    checks.fail(vintage_number.isna() & ~vintage_bad, "vintage is missing")
    vintage = vintages(checks, vintage_number)
    quantity = whole_numbers(checks, records["quantity"], "quantity", required=True)

    product_type = _product_types(records["product_type"])
    unknown_type = product_type.notna() & ~product_type.isin(PRODUCT_TYPES)
    fail_values(checks, unknown_type, product_type, f"product type {{value}} is not one of {', '.join(PRODUCT_TYPES)}")
    checks.fail(product_type.isna(), "product type is missing")

    parts = extract(records["serial_number"], SERIAL, numbers=("gsid", "vintage", "first", "last"))
    shaped = parts["serial"].notna().to_numpy()
    serial = parts["serial"]
    if not shaped.all():  # only the few serials of another shape (CDM, placeholders) need cleaning
        serial = serial.copy()
        serial[~shaped] = clean_text(records["serial_number"][~shaped]).to_numpy()
    checks.fail(serial.isna(), "serial number is missing")
    for differs, message in (
        (parts["gsid"] != parse_int(records["gsid"])[0], "serial number {value} names another GSID than the row's"),
        (parts["vintage"] != vintage, "serial number {value} names another vintage than the row's"),
        (parts["last"] - parts["first"] + 1 != quantity, "serial range {value} does not hold Quantity credits"),
    ):
        fail_values(checks, shaped & differs.fillna(False), serial, message)

    issued_on = dates(
        checks, records["issuance_date"], "issuance date", ISO_DATE, "YYYY-MM-DD[Thh:mm:ss]", required=issued
    )
    start, end = (
        dates(checks, column(records, name), name.replace("_", " "), ISO_DATE, "YYYY-MM-DD")
        for name in ("monitoring_period_start", "monitoring_period_end")
    )
    fail_values(checks, start > end, start, "monitoring period starts {value} after it ends")
    corsia_eligible = pd.Series(pd.NA, index=records.index, dtype="boolean")
    if "corsia_eligible" in records:  # the older export variant only: nothing to parse otherwise
        corsia_raw = clean_text(records["corsia_eligible"])
        corsia_eligible, corsia_bad = parse_bool(corsia_raw)
        fail_values(checks, corsia_bad, corsia_raw, "Eligible for CORSIA? {value} is not yes or no")
    article6_raw = column(records, "article6_authorization")
    article6 = clean_text(article6_raw)
    label = clean_column(records, "label", ARROW_TEXT)

    return pd.DataFrame(
        {
            "project_id": project_id,
            "registry": text_column(GOLD_STANDARD.key, len(records)),
            "vintage": vintage,
            "quantity": quantity,
            "serial_number": serial,
            "buffer_quantity": pd.Series(pd.NA, index=records.index, dtype="Int64"),
            "methodology_version": _methodology_version(clean_column(records, "methodology")),
            "product_type": product_type,
            **_label_flags(label, "label" in records),
            "corsia_phase": text_column(None, len(records)),
            "corsia_eligible": corsia_eligible,
            "corresponding_adjustment": _authorization(article6_raw),
            "article6_authorization": article6,
            "is_reversible": pd.Series(pd.NA, index=records.index, dtype="boolean"),
            "additional_certifications": label,
            "issuance_date": issued_on,
            "monitoring_period_start": start,
            "monitoring_period_end": end,
            "source_file": text_column(str(raw.path), len(records)),
            "source_line": records["source_line"],
        }
    )


def read_issuances(path: Path) -> DatasetLoad:
    """Gold Standard issuances -> ``credits`` issuance rows (PERs kept, flagged by ``product_type``)."""
    raw = read_table(path, ISSUANCES_LAYOUT)
    checks = RowChecks(raw.records.index)
    credits = _credits(raw, checks, issued=True)
    rows = len(credits)
    credits = credits.assign(
        transaction_type=text_column("issuance", rows),
        transaction_date=credits["issuance_date"],
        retirement_beneficiary=text_column(None, rows),
        retirement_reason=text_column(None, rows),
        retirement_note=text_column(None, rows),
    )
    return finish(raw, GOLD_STANDARD.key, "issuances", credits, checks, CreditTransactionsSchema)


RETIREMENT_STATUSES = {"retired": "retirement", "canceled": "cancellation", "cancelled": "cancellation"}


@per_distinct_value
def _credit_statuses(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(cleaned ``Credit Status``, its transaction type or missing)."""
    status = clean_text(raw)
    transaction_type = status.astype("string").str.casefold().map(RETIREMENT_STATUSES)
    return status, normalize.as_object(transaction_type).astype(ARROW_TEXT)


def read_retirements(path: Path) -> DatasetLoad:
    """Gold Standard retirements (both header variants) -> ``credits`` retirement and cancellation rows."""
    raw = read_table(path, RETIREMENTS_LAYOUT)
    records = raw.records
    checks = RowChecks(records.index)
    credits = _credits(raw, checks, issued=False)

    status, transaction_type = _credit_statuses(records["credit_status"])
    fail_values(
        checks,
        status.notna() & transaction_type.isna(),
        status,
        "credit status {value} is neither Retired nor Canceled",
    )
    checks.fail(status.isna(), "credit status is missing")
    retired_on = dates(checks, records["retirement_date"], "retirement date", ISO_DATE, "YYYY-MM-DD")
    undated = (transaction_type == "retirement") & retired_on.isna() & clean_text(records["retirement_date"]).isna()
    checks.fail(undated.fillna(False), "retirement date is missing for retired credits")

    reason = clean_column(records, "use_case", ARROW_TEXT)
    if "retired_for_corsia" in records:  # the older variant names no use case: retired for CORSIA is the reason
        for_corsia, corsia_bad = parse_bool(clean_text(records["retired_for_corsia"]))
        fail_values(checks, corsia_bad, records["retired_for_corsia"], "Retired for CORSIA? {value} is not yes or no")
        reason = reason.where(reason.notna() | ~for_corsia.fillna(False), "CORSIA")
    credits = credits.assign(
        transaction_type=transaction_type,
        transaction_date=retired_on,
        retirement_beneficiary=normalize.first_non_null(
            clean_column(records, "using_entity", ARROW_TEXT),
            clean_column(records, "aeroplane_operator", ARROW_TEXT),
        ),
        retirement_reason=reason,
        retirement_note=clean_column(records, "note", ARROW_TEXT),
    )
    return finish(raw, GOLD_STANDARD.key, "retirements", credits, checks, CreditTransactionsSchema)


DATASETS = {"projects": read_projects, "issuances": read_issuances, "retirements": read_retirements}
