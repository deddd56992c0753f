"""Verra (VCS): the projects export and the VCU (transactions) export.

Projects (``projects.csv`` / ``projects.xlsx``): Verra's "Projects" search export ``allprojects.csv`` in every
snapshot variant (2023 LF without thousands separators, 2024+ CRLF with quoted ``"2,625,935"``), the XLSX export
(sheet ``Results``, real dates and numbers) and CarbonPlan's ``verra/projects.csv``. ``ID`` is Verra's integer
id, written ``VCS<id>``. ``AFOLU Activities`` is multi-valued (``ARR; REDD``): the project's ``activity`` is
the listed one its methodology implies (Kariba, VM0009, is REDD), else the first listed; all are kept in
``afolu_activities``; a code outside Verra's six rejects the record. Without an AFOLU activity the Berkeley
project type, then the methodology (for AFOLU-sector projects), gives the activity; a project is nature-based
exactly when it has one. ``project_type`` is the Berkeley type OffsetsDB uses (else the type an ARR/IFM/REDD/WRC
activity names; ``project_type_source`` says which), ``category`` its OffsetsDB category (else the
methodology's); Verra's own sectoral scope stays in ``project_type_raw``. Extra columns: ``region``,
``afolu_activities``, ``project_url``. Credit rows also carry ``vintage_start``, ``vintage_end`` and
``issuance_date``.

Transactions (``transactions.csv``, the VCU export ``vcus.csv``): one row per serial block, and Verra issues on
a rolling basis, so the export has no issuance rows. What we decided:

- **Retirements.** A block with a ``Retirement/Cancellation Date`` is one ``retirement`` of ``Quantity Issued``
  credits on that date. Verra does not distinguish retirements from cancellations; both are ``retirement``.
- **Issuances** are reconstructed: the blocks of one project, vintage period and ``Total Vintage Quantity``
  are one issuance of ``Total Vintage Quantity`` credits, dated at the group's first ``Issuance Date``
  (CarbonPlan's rule). Held blocks (no retirement date) only count towards their issuance. The issuance row
  is attributed to the group's earliest block (its line). Blocks that add up to more than their ``Total
  Vintage Quantity`` contradict the export and are all rejected, so per issuance issued >= retired holds.
  A block repeating or overlapping another (:mod:`pipeline.ingest.repeats`) counts towards no issuance.
- **Vintage** is the year of ``Vintage Start``: a vintage period spanning two years (``2011-07-01`` to
  ``2012-04-15``) is assigned to the earliest vintage; both dates are kept (``vintage_start``, ``vintage_end``).
- **Serials** (``<batch>-<from>-<to>-...-<project>-<DDMMYYYY>-<DDMMYYYY>-<flag>``) are checked against the row:
  a serial naming another project, a block size different from ``Quantity Issued``, or a serial that is not a
  VCU serial at all (a shifted column) rejects the record.
- **Flags** come from ``Additional Certifications``, which lists the labels of the block: ``ICVCM CCP`` ->
  ``ccp_label``; ``CORSIA – Pilot Phase ...`` / ``CORSIA - First Phase ...`` -> ``corsia_phase``
  (``pilot``, ``first``); ``Article 6 Authorized – ...`` -> ``corresponding_adjustment`` (an authorization
  commits the host country to the adjustment); ``Carbon Dioxide Removals`` / ``GHG Emissions Reductions`` ->
  ``is_removal``. A label that is absent is false when the column exists (null when the export dropped it);
  ``is_removal`` is null when neither tag is present. The export says nothing about reversibility.
- Beneficiary, reason and details of the retirement fill ``retirement_beneficiary/reason/note``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.ingest import normalize
from pipeline.ingest.dataset import DatasetLoad, finish, flag_duplicate_projects
from pipeline.ingest.files import Column, Layout, read_table
from pipeline.ingest.parsing import (
    ARROW_TEXT,
    ISO_DATE,
    RowChecks,
    arrow_strings,
    arrow_text,
    clean_column,
    clean_text,
    column,
    dates,
    each_present,
    fail_values,
    parse_int,
    per_distinct_value,
    registry_project_ids,
    text_column,
    vintages,
    whole_numbers,
)
from pipeline.ingest.repeats import first_copies, repeated_records
from pipeline.ingest.schemas import CreditTransactionsSchema, ProjectsSchema
from pipeline.registries import VERRA

PROJECTS_LAYOUT = Layout(
    "Verra projects export (allprojects.csv, or .xlsx sheet 'Results')",
    (
        Column("id", ("ID",)),
        Column("name", ("Name",)),
        Column("proponent", ("Proponent",), required=False),
        Column("project_type", ("Project Type",)),
        Column("afolu_activities", ("AFOLU Activities",), required=False),
        Column("methodology", ("Methodology",)),
        Column("status", ("Status",)),
        Column("country", ("Country/Area",)),
        Column("estimated_annual_reductions", ("Estimated Annual Emission Reductions",), required=False),
        Column("region", ("Region",), required=False),
        Column("registration_date", ("Project Registration Date",), required=False),
        Column("crediting_period_start", ("Crediting Period Start Date",), required=False),
        Column("crediting_period_end", ("Crediting Period End Date",), required=False),
    ),
    sheet="Results",
)

TRANSACTIONS_LAYOUT = Layout(
    "Verra VCU export (vcus.csv / transactions.csv)",
    (
        Column("issuance_date", ("Issuance Date",)),
        Column("sdgs", ("Sustainable Development Goals",), required=False),
        Column("vintage_start", ("Vintage Start",)),
        Column("vintage_end", ("Vintage End",)),
        Column("id", ("ID",)),
        Column("name", ("Name",), required=False),
        Column("country", ("Country/Area",), required=False),
        Column("project_type", ("Project Type",), required=False),
        Column("methodology", ("Methodology",), required=False),
        Column("total_vintage_quantity", ("Total Vintage Quantity",)),
        Column("quantity", ("Quantity Issued",)),
        Column("serial_number", ("Serial Number",)),
        Column("additional_certifications", ("Additional Certifications",), required=False),
        Column("retirement_date", ("Retirement/Cancellation Date",)),
        Column("retirement_beneficiary", ("Retirement Beneficiary",), required=False),
        Column("retirement_reason", ("Retirement Reason",), required=False),
        Column("retirement_note", ("Retirement Details",), required=False),
    ),
)

AFOLU_SECTOR = "Agriculture Forestry and Other Land Use"
ACTIVITY_TYPE = {
    "ARR": "afforestation/reforestation",
    "IFM": "improved forest management",
    "REDD": "redd+",
    "WRC": "wetland restoration",
}
"""Berkeley type of the AFOLU activities that name exactly one, for projects Berkeley has not classified (ALM
covers several Berkeley types)."""
SERIAL = r"^\s*(?P<serial>\d+-(?P<first>\d+)-(?P<last>\d+)-[A-Z0-9-]+?-(?P<project>\d+)-\d{8}-\d{8}-\d+)\s*$"
"""``<batch>-<from>-<to>-VCS-VCU-<n>-VER-<ISO2>-<scope>-<project>-<DDMMYYYY>-<DDMMYYYY>-<flag>`` and the older
``4147-176338408-176338907-VCU-016-MER-AU-14-641-16042012-15042013-0``."""
FLAGS = {
    "ccp_label": "boolean",
    "corsia_phase": ARROW_TEXT,
    "corresponding_adjustment": "boolean",
    "is_removal": "boolean",
}
"""The flags ``Additional Certifications`` gives, with their dtypes."""
VINTAGE_GROUP = ["project_id", "vintage_start", "vintage_end", "total_vintage_quantity"]
"""The blocks of one issuance."""


def _iso_dates(checks: RowChecks, raw: pd.Series, what: str, *, required: bool = False) -> pd.Series:
    return dates(checks, raw, what, ISO_DATE, "YYYY-MM-DD", required=required)


def _afolu(codes: str, implied: str) -> tuple[str | None, str | None, str | None]:
    """(the project's activity, every listed activity ``;``-joined, the unknown codes) of one ``ARR; REDD`` cell."""
    codes = [code.strip() for code in codes.split(";") if code.strip()]
    mapped = [normalize.VERRA_AFOLU.get(code.upper()) for code in codes]
    listed = [activity for activity in mapped if activity]
    unknown = ", ".join(code for code, activity in zip(codes, mapped, strict=True) if activity is None)
    return implied if implied in listed else next(iter(listed), None), ";".join(listed) or None, unknown or None


def _afolu_activities(raw: pd.Series, implied: pd.Series) -> list[pd.Series]:
    """:func:`_afolu` of every cell, once per distinct (cell, implied activity) pair. Of several activities, a
    project takes the one its methodology implies (``implied``, :data:`~pipeline.ingest.normalize.PROTOCOL_ACTIVITY`)
    when listed, else the first: Kariba lists ``ARR; REDD`` under VM0009, a REDD methodology, so it is REDD."""
    pair = raw.astype("string") + "|" + implied.astype("string").fillna("")  # activity codes hold no '|'
    found = per_distinct_value(each_present)(pair, lambda key: _afolu(*key.rsplit("|", 1)))
    return [found.str[i] for i in range(3)]


def read_projects(path: Path) -> DatasetLoad:
    """Verra projects export -> ``projects`` rows (see the module docstring)."""
    raw = read_table(path, PROJECTS_LAYOUT)
    records = raw.records
    checks = RowChecks(records.index)

    project_id = registry_project_ids(checks, records["id"], VERRA.id_prefix)
    methodology = clean_text(records["methodology"])
    protocol, protocols = normalize.protocols(methodology)
    implied = normalize.activities(protocol)
    afolu_activity, afolu_all, unknown = _afolu_activities(clean_column(records, "afolu_activities"), implied)
    afolu_codes = ", ".join(normalize.VERRA_AFOLU.values())
    fail_values(checks, unknown.notna(), unknown, f"AFOLU activity {{value}} is not one of {afolu_codes}")

    berkeley_type = normalize.berkeley_project_types(project_id)
    sector = clean_text(records["project_type"])
    in_afolu_sector = (sector.isna() | sector.str.contains(AFOLU_SECTOR, regex=False).fillna(False)).astype(bool)
    activity = normalize.first_non_null(
        afolu_activity, berkeley_type.map(normalize.BERKELEY_ACTIVITY), implied.where(in_afolu_sector, None)
    )
    start = _iso_dates(checks, column(records, "crediting_period_start"), "crediting period start")
    end = _iso_dates(checks, column(records, "crediting_period_end"), "crediting period end")
    fail_values(checks, start > end, start, "crediting period starts {value} after it ends")
    registration = _iso_dates(checks, column(records, "registration_date"), "registration date")
    annual = whole_numbers(
        checks, column(records, "estimated_annual_reductions"), "estimated annual emission reductions", required=False
    )

    projects = pd.DataFrame(
        {
            "project_id": project_id,
            "registry": VERRA.key,
            "name": clean_text(records["name"]),
            "proponent": clean_column(records, "proponent"),
            **normalize.status_and_country(clean_text(records["status"]), clean_text(records["country"])),
            "region": clean_column(records, "region"),
            "methodology_raw": methodology,
            "protocol": protocol,
            "protocols": protocols,
            "project_type_raw": sector,
            **normalize.classification(
                berkeley_type,
                afolu_activity.map(ACTIVITY_TYPE),
                "registry AFOLU activity",
                protocol,
                normalize.as_object(activity),
            ),
            "afolu_activities": afolu_all,
            "crediting_period_start": start,
            "crediting_period_end": end,
            "registration_date": registration,
            "estimated_annual_reductions": annual.astype("float64"),
            "project_url": (VERRA.project_url.split("{number}")[0] + project_id.str[3:]).where(
                project_id.notna(), None
            ),
            "source_file": str(raw.path),
            "source_line": records["source_line"],
        }
    )
    compare = ["name", "proponent", "status_raw", "country", "methodology_raw", "afolu_activities",
               "crediting_period_start", "crediting_period_end", "estimated_annual_reductions"]  # fmt: skip
    flag_duplicate_projects(projects, checks, compare)
    return finish(raw, VERRA.key, "projects", projects, checks, ProjectsSchema)


# --------------------------------------------------------------------------------------------------------------
# Transactions (VCU export)
# --------------------------------------------------------------------------------------------------------------


def serial_parts(raw: pd.Series) -> pd.DataFrame:
    """``extract(raw, SERIAL, numbers=("first", "last", "project"))`` with ``serial`` as Arrow-backed text (the same
    values), without RE2's slow capturing engine: SERIAL's shape is checked by the fast matcher, and the groups of
    a serial of that shape are dash-separated fields: ``first`` and ``last`` the second and third, ``project`` the
    fourth from the end (after the lazy middle part come exactly four digit runs, and SERIAL's whitespace holds
    no dash)."""
    text = arrow_strings(raw)
    serials = pc.if_else(pc.fill_null(pc.match_substring_regex(text, SERIAL), False), text, pa.scalar(None, text.type))
    head = pc.split_pattern(serials, "-", max_splits=3)
    tail = pc.split_pattern(serials, "-", max_splits=4, reverse=True)

    def number(fields: pa.Array, position: int) -> np.ndarray:
        return pc.cast(pc.list_element(fields, position), pa.float64()).to_numpy(zero_copy_only=False)

    return pd.DataFrame(
        {
            "serial": arrow_text(pc.utf8_trim(serials, "\t\n\f\r "), index=raw.index),  # RE2's \s, which SERIAL strips
            "first": number(head, 1),
            "last": number(head, 2),
            "project": number(tail, 1),
        },
        index=raw.index,
    )


def _labels(certifications: str) -> tuple[bool, str | None, bool, bool | None]:
    """The :data:`FLAGS` of one ``Additional Certifications`` value (see the module docstring)."""
    tags = [tag.strip().casefold() for tag in certifications.split(";")]

    def tagged(prefix: str, containing: str = "") -> bool:
        return any(tag.startswith(prefix) and containing in tag for tag in tags)

    phases = ";".join(phase for phase in ("pilot", "first") if tagged("corsia", f"{phase} phase")) or None
    removal = True if tagged("carbon dioxide removal") else (False if tagged("ghg emission") else None)
    return tagged("icvcm ccp"), phases, tagged("article 6 authori"), removal


@per_distinct_value
def _certifications(raw: pd.Series, column_present: bool) -> tuple[pd.Series, pd.DataFrame]:
    """The ``additional_certifications`` text and its :data:`FLAGS`, worked out once per distinct value; a block
    without certifications carries neither label (null where the export dropped the column)."""
    certifications = clean_text(raw)
    found = each_present(certifications, _labels)
    flags = pd.DataFrame({name: found.str[i] for i, name in enumerate(FLAGS)})
    if column_present:
        flags.loc[certifications.isna().to_numpy(), ["ccp_label", "corresponding_adjustment"]] = False
    return certifications.astype(ARROW_TEXT), flags.astype(FLAGS)


def read_transactions(path: Path) -> DatasetLoad:
    """Verra VCU export -> ``credits`` rows: one issuance per vintage group and one retirement per retired serial
    block (see the module docstring for the decisions)."""
    raw = read_table(path, TRANSACTIONS_LAYOUT)
    records = raw.records  # a record's label is its position
    checks = RowChecks(records.index)
    lines = records["source_line"]

    project_id = registry_project_ids(checks, records["id"], VERRA.id_prefix)
    issued_on = _iso_dates(checks, records["issuance_date"], "issuance date", required=True)
    vintage_start = _iso_dates(checks, records["vintage_start"], "vintage start", required=True)
    vintage_end = _iso_dates(checks, records["vintage_end"], "vintage end", required=True)
    fail_values(checks, vintage_start > vintage_end, vintage_start, "vintage period starts {value} after it ends")
    vintage = vintages(checks, vintage_start.dt.year.astype("Int64"))
    vintage_total = whole_numbers(checks, records["total_vintage_quantity"], "total vintage quantity", required=True)
    quantity = whole_numbers(checks, records["quantity"], "quantity", required=True)
    oversized = (quantity > vintage_total).fillna(False)
    fail_values(
        checks, oversized, quantity, "serial block of {value} credits is larger than its total vintage quantity"
    )
    retired_on = _iso_dates(checks, records["retirement_date"], "retirement/cancellation date")
    fail_values(checks, retired_on < issued_on, retired_on, "retired on {value}, before the block was issued")

    parts = serial_parts(records["serial_number"])
    shaped = parts["serial"].notna()
    serial = parts["serial"].where(shaped, clean_text(records["serial_number"].where(~shaped), ARROW_TEXT))
    fail_values(checks, serial.notna() & ~shaped, serial, "serial number {value} is not a Verra VCU serial")
    checks.fail(serial.isna(), "serial number is missing")
    other_project = (parts["project"] != parse_int(records["id"])[0]).fillna(False)
    fail_values(checks, shaped & other_project, serial, "serial number {value} names another project than the row's ID")
    other_size = (parts["last"] - parts["first"] + 1 != quantity).fillna(False)
    fail_values(checks, shaped & other_size, serial, "serial range {value} does not hold Quantity Issued credits")
    certifications, flags = _certifications(
        column(records, "additional_certifications"), "additional_certifications" in records
    )

    # A block repeating or overlapping another is rejected before its credits count towards an issuance.
    parsed = (checks.reasons() == "").to_numpy()
    serials = pd.DataFrame(
        {"source_file": str(raw.path), "file_rank": 0, "source_line": lines, "first_copy": first_copies(records),
         "scope": "block", "serial_number": serial}
    )  # fmt: skip
    repeats = repeated_records(VERRA.key, serials[parsed]).set_index("source_line")["reason"]
    repeated = lines.isin(repeats.index).to_numpy()
    checks.fail(repeated, lines.map(repeats))

    # Issuances: the clean blocks of a vintage group are one, dated at and attributed to its earliest block; blocks
    # that add up to more than their Total Vintage Quantity contradict the export and are all rejected.
    blocks = pd.DataFrame(
        {"project_id": project_id, "vintage_start": vintage_start, "vintage_end": vintage_end,
         "total_vintage_quantity": vintage_total, "quantity": quantity, "issuance_date": issued_on,
         "source_line": lines}
    )[parsed & ~repeated].sort_values(["issuance_date", "source_line"], kind="stable")  # fmt: skip
    groups = blocks.groupby(VINTAGE_GROUP, sort=False)
    overdrawn = (groups["quantity"].transform("sum") > blocks["total_vintage_quantity"]).to_numpy()
    checks.fail(
        records.index.isin(blocks.index[overdrawn]),
        "the serial blocks of this project and vintage period hold more credits than its Total Vintage Quantity",
    )
    issued = blocks.index[(groups.cumcount() == 0).to_numpy() & ~overdrawn].to_numpy()
    retired = np.flatnonzero(retired_on.notna().to_numpy())

    # The credit rows, issuances first: each takes its block's project, vintage, flags and line, and its kind's
    # quantity, date and (retirements only) serial and retirement fields.
    record_of_row = np.concatenate([issued, retired])
    rows = len(record_of_row)
    not_retired = text_column(None, len(issued))

    def of_block(values: pd.Series) -> pd.api.extensions.ExtensionArray:
        return values.array.take(record_of_row)

    def by_kind(on_issuances: pd.Series, on_retirements: pd.Series) -> pd.Series:
        return pd.concat([on_issuances, on_retirements], ignore_index=True)

    def retired_text(name: str) -> pd.Series:
        return by_kind(not_retired, clean_text(column(records, name).take(retired), ARROW_TEXT))

    credits = pd.DataFrame(
        {
            "project_id": of_block(project_id.astype(ARROW_TEXT)),
            "registry": text_column(VERRA.key, rows),
            "vintage": of_block(vintage),
            "vintage_start": of_block(vintage_start),
            "vintage_end": of_block(vintage_end),
            "issuance_date": of_block(issued_on),
            "serial_number": by_kind(not_retired, serial.take(retired)),
            "buffer_quantity": pd.Series(pd.NA, index=pd.RangeIndex(rows), dtype="Int64"),
            "methodology_version": text_column(None, rows),
            "product_type": text_column(None, rows),
            **{name: of_block(flags[name]) for name in FLAGS},
            "is_reversible": pd.Series(pd.NA, index=pd.RangeIndex(rows), dtype="boolean"),
            "additional_certifications": of_block(certifications),
            "source_file": text_column(str(raw.path), rows),
            "source_line": lines.to_numpy()[record_of_row],
            "transaction_type": by_kind(text_column("issuance", len(issued)), text_column("retirement", len(retired))),
            "quantity": by_kind(vintage_total.take(issued), quantity.take(retired)),
            "transaction_date": by_kind(issued_on.take(issued), retired_on.take(retired)),
            "retirement_beneficiary": retired_text("retirement_beneficiary"),
            "retirement_reason": retired_text("retirement_reason"),
            "retirement_note": retired_text("retirement_note"),
        },
        index=pd.RangeIndex(rows),
        copy=False,
    )
    return finish(
        raw, VERRA.key, "transactions", credits, checks, CreditTransactionsSchema, record_of_row, repeats_checked=True
    )


DATASETS = {"projects": read_projects, "transactions": read_transactions}
