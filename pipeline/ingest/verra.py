"""Verra (VCS): the projects export and the VCU (transactions) export.

Projects (``projects.csv`` / ``projects.xlsx``): Verra's "Projects" search export ``allprojects.csv`` in every
snapshot variant (2023 LF without thousands separators, 2024+ CRLF with quoted ``"2,625,935"``), the XLSX export
(sheet ``Results``, real dates and numbers) and CarbonPlan's ``verra/projects.csv``. ``ID`` is Verra's integer
id, written ``VCS<id>``. ``AFOLU Activities`` is multi-valued (``ARR; REDD``): the project's ``activity`` is
the listed one its methodology implies (Kariba, VM0009, is REDD), else the first listed; all are kept in
``afolu_activities``; a code outside Verra's six rejects the record. Without an
AFOLU activity the Berkeley project type, then the methodology (for AFOLU-sector projects), gives the activity;
a project is nature-based exactly when it has one. ``project_type`` is the Berkeley type OffsetsDB uses (else the
type an ARR/IFM/REDD/WRC activity names; ``project_type_source`` says which), ``category`` its OffsetsDB
category (else the methodology's); Verra's own sectoral scope stays in ``project_type_raw``. Extra columns:
``region``, ``afolu_activities``, ``project_url``. Credit rows also carry ``vintage_start``, ``vintage_end``
and ``issuance_date``.

Transactions (``transactions.csv``, the VCU export ``vcus.csv``): one row per serial block, and Verra issues on
a rolling basis, so the export has no issuance rows. What we decided:

- **Retirements.** A block with a ``Retirement/Cancellation Date`` is one ``retirement`` of ``Quantity Issued``
  credits on that date. Verra does not distinguish retirements from cancellations; both are ``retirement``.
- **Issuances** are reconstructed: the blocks of one project, vintage period and ``Total Vintage Quantity``
  are one issuance of ``Total Vintage Quantity`` credits, dated at the group's first ``Issuance Date``
  (CarbonPlan's rule). Held blocks (no retirement date) only count towards their issuance. The issuance row
  is attributed to the group's earliest block (its line). Blocks that add up to more than their ``Total
  Vintage Quantity`` contradict the export and are all rejected, so per issuance issued >= retired holds.
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
    clean_text,
    column,
    dates,
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


# --------------------------------------------------------------------------------------------------------------
# Projects
# --------------------------------------------------------------------------------------------------------------


def _afolu_activities(raw: pd.Series, implied: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(the project's activity, all activities ``;``-joined, unknown codes text) from ``ARR; REDD``-style cells,
    computed once per distinct (cell, protocol activity) pair.

    A project listing several activities takes the one its methodology implies (``implied``, from
    :data:`~pipeline.ingest.normalize.PROTOCOL_ACTIVITY`) when that is among them: Kariba lists ``ARR; REDD``
    under VM0009, a REDD methodology, so it is REDD. Otherwise the first listed activity."""
    chosen, every, unknown = {}, {}, {}
    pair = raw.astype("string") + "|" + implied.astype("string").fillna("")  # activity codes hold no '|'
    for key in pair.dropna().unique():
        value, hint = key.rsplit("|", 1)
        codes = [c.strip() for c in value.split(";") if c.strip()]
        mapped = [normalize.VERRA_AFOLU.get(c.upper()) for c in codes]
        listed = [m for m in mapped if m]
        chosen[key] = hint if hint in listed else next(iter(listed), None)
        every[value] = ";".join(listed) or None
        unknown[value] = ", ".join(c for c, m in zip(codes, mapped, strict=True) if m is None) or None
    return tuple(
        values.map(lookup).astype(object).where(raw.notna(), None)
        for values, lookup in ((pair, chosen), (raw, every), (raw, unknown))
    )


def read_projects(path: Path) -> DatasetLoad:
    """Verra projects export -> ``projects`` rows (see the module docstring)."""
    raw = read_table(path, PROJECTS_LAYOUT)
    records = raw.records
    checks = RowChecks(records.index)

    project_id = registry_project_ids(checks, records["id"], VERRA.id_prefix)
    methodology = clean_text(records["methodology"])
    protocol, protocols = normalize.protocols(methodology)
    project_type_raw = clean_text(records["project_type"])

    afolu_raw = clean_text(column(records, "afolu_activities"))
    afolu_activity, afolu_all, afolu_unknown = _afolu_activities(afolu_raw, normalize.activities(protocol))
    fail_values(
        checks,
        afolu_unknown.notna().to_numpy(),
        afolu_unknown,
        f"AFOLU activity {{value}} is not one of {', '.join(normalize.VERRA_AFOLU.values())}",
    )

    berkeley_type = normalize.berkeley_project_types(project_id)
    in_afolu_sector = project_type_raw.isna() | project_type_raw.str.contains(AFOLU_SECTOR, regex=False).fillna(False)
    from_protocol = normalize.activities(protocol).where(in_afolu_sector.astype(bool), None)
    activity = normalize.first_non_null(afolu_activity, berkeley_type.map(normalize.BERKELEY_ACTIVITY), from_protocol)
    activity = normalize.as_object(activity)
    activity_type = afolu_activity.map(ACTIVITY_TYPE)

    start = dates(checks, column(records, "crediting_period_start"), "crediting period start", ISO_DATE, "YYYY-MM-DD")
    end = dates(checks, column(records, "crediting_period_end"), "crediting period end", ISO_DATE, "YYYY-MM-DD")
    inverted = (start > end).to_numpy()
    fail_values(checks, inverted, start, "crediting period starts {value} after it ends")
    registration = dates(checks, column(records, "registration_date"), "registration date", ISO_DATE, "YYYY-MM-DD")
    annual = whole_numbers(
        checks, column(records, "estimated_annual_reductions"), "estimated annual emission reductions", required=False
    )

    projects = pd.DataFrame(
        {
            "project_id": project_id,
            "registry": VERRA.key,
            "name": clean_text(records["name"]),
            "proponent": clean_text(column(records, "proponent")),
            **normalize.status_and_country(clean_text(records["status"]), clean_text(records["country"])),
            "region": clean_text(column(records, "region")),
            "methodology_raw": methodology,
            "protocol": protocol,
            "protocols": protocols,
            "project_type_raw": project_type_raw,
            **normalize.classification(berkeley_type, activity_type, "registry AFOLU activity", protocol, activity),
            "afolu_activities": afolu_all,
            "crediting_period_start": start,
            "crediting_period_end": end,
            "registration_date": registration,
            "estimated_annual_reductions": annual.astype("float64"),
            "project_url": VERRA.project_url.split("{number}")[0] + project_id.str[3:],
            "source_file": str(raw.path),
            "source_line": records["source_line"],
        }
    )
    projects["project_url"] = projects["project_url"].where(project_id.notna(), None)
    flag_duplicate_projects(
        projects,
        checks,
        compare=[
            "name",
            "proponent",
            "status_raw",
            "country",
            "methodology_raw",
            "afolu_activities",
            "crediting_period_start",
            "crediting_period_end",
            "estimated_annual_reductions",
        ],
    )
    return finish(raw, VERRA.key, "projects", projects, checks, ProjectsSchema)


# --------------------------------------------------------------------------------------------------------------
# Transactions (VCU export)
# --------------------------------------------------------------------------------------------------------------


def serial_parts(raw: pd.Series) -> pd.DataFrame:
    """``extract(raw, SERIAL, numbers=("first", "last", "project"))`` with ``serial`` as Arrow-backed text (the same
    values), at a fraction of the cost: RE2 needs its slow capturing engine for SERIAL's lazy middle part over every
    character of a million serials, so the shape is checked by its fast matcher, and the groups of a serial of that
    shape are dash-separated fields: ``first`` and ``last`` the second and third, ``project`` the fourth from the
    end (after the lazy middle part come exactly four digit runs, and the whitespace SERIAL allows holds no dash)."""
    text = arrow_strings(raw)
    shaped = pc.fill_null(pc.match_substring_regex(text, SERIAL), False)
    nothing = pa.scalar(None, text.type)
    serials = pc.if_else(shaped, text, nothing)
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


@per_distinct_value
def _certifications(raw: pd.Series, column_present: bool) -> tuple[pd.Series, ...]:
    """(``additional_certifications`` text, ``ccp_label``, ``corsia_phase``, ``corresponding_adjustment``,
    ``is_removal``) from the raw ``Additional Certifications`` column (see the module docstring), worked out once
    per distinct value."""
    certifications = clean_text(raw)
    lookups: dict[str, dict] = {"ccp_label": {}, "corsia_phase": {}, "corresponding_adjustment": {}, "is_removal": {}}
    for value in certifications.dropna().unique():
        tags = [t.strip() for t in str(value).split(";")]
        folded = [t.casefold() for t in tags]
        corsia = [t for t in folded if t.startswith("corsia")]
        phases = [
            p for p, word in (("pilot", "pilot phase"), ("first", "first phase")) if any(word in t for t in corsia)
        ]
        lookups["ccp_label"][value] = any(t.startswith("icvcm ccp") for t in folded)
        lookups["corsia_phase"][value] = ";".join(phases) or None
        lookups["corresponding_adjustment"][value] = any(t.startswith("article 6 authori") for t in folded)
        removal = any(t.startswith("carbon dioxide removal") for t in folded)
        reduction = any(t.startswith("ghg emission") for t in folded)
        lookups["is_removal"][value] = True if removal else (False if reduction else None)

    def label(lookup: dict, absent: object) -> pd.Series:
        mapped = certifications.map(lookup).astype(object)
        return mapped.where(certifications.notna(), absent if column_present else None)

    return (
        certifications.astype(ARROW_TEXT),
        label(lookups["ccp_label"], False).astype("boolean"),
        label(lookups["corsia_phase"], None).astype(ARROW_TEXT),
        label(lookups["corresponding_adjustment"], False).astype("boolean"),
        label(lookups["is_removal"], None).astype("boolean"),
    )


def read_transactions(path: Path) -> DatasetLoad:
    """Verra VCU export -> ``credits`` rows: reconstructed issuances and one retirement per retired serial
    block (see the module docstring for the decisions)."""
    raw = read_table(path, TRANSACTIONS_LAYOUT)
    records = raw.records
    checks = RowChecks(records.index)

    project_id = registry_project_ids(checks, records["id"], VERRA.id_prefix)
    issued_on = dates(checks, records["issuance_date"], "issuance date", ISO_DATE, "YYYY-MM-DD", required=True)
    vintage_start = dates(checks, records["vintage_start"], "vintage start", ISO_DATE, "YYYY-MM-DD", required=True)
    vintage_end = dates(checks, records["vintage_end"], "vintage end", ISO_DATE, "YYYY-MM-DD", required=True)
    fail_values(
        checks,
        (vintage_start > vintage_end).to_numpy(),
        vintage_start,
        "vintage period starts {value} after it ends",
    )
    vintage = vintages(checks, vintage_start.dt.year.astype("Int64"))
    vintage_total = whole_numbers(checks, records["total_vintage_quantity"], "total vintage quantity", required=True)
    quantity = whole_numbers(checks, records["quantity"], "quantity", required=True)
    fail_values(
        checks,
        (quantity > vintage_total).fillna(False).to_numpy(dtype=bool),
        quantity,
        "serial block of {value} credits is larger than its total vintage quantity",
    )
    retired_on = dates(checks, records["retirement_date"], "retirement/cancellation date", ISO_DATE, "YYYY-MM-DD")
    fail_values(
        checks,
        (retired_on < issued_on).to_numpy(),
        retired_on,
        "retired on {value}, before the block was issued",
    )

    parts = serial_parts(records["serial_number"])
    shaped = parts["serial"].notna().to_numpy()
    serial = parts["serial"].where(shaped, clean_text(records["serial_number"].where(~shaped), ARROW_TEXT))
    fail_values(checks, serial.notna().to_numpy() & ~shaped, serial, "serial number {value} is not a Verra VCU serial")
    checks.fail(serial.isna().to_numpy(), "serial number is missing")
    id_number, _ = parse_int(records["id"])
    fail_values(
        checks,
        shaped & (parts["project"] != id_number).fillna(False).to_numpy(dtype=bool),
        serial,
        "serial number {value} names another project than the row's ID",
    )
    block_size = parts["last"] - parts["first"] + 1
    fail_values(
        checks,
        shaped & (block_size != quantity).fillna(False).to_numpy(dtype=bool),
        serial,
        "serial range {value} does not hold Quantity Issued credits",
    )

    certifications, *flags = _certifications(
        column(records, "additional_certifications"), "additional_certifications" in records
    )

    # A block repeating or overlapping another is rejected before its credits count towards an issuance.
    parsed = (checks.reasons() == "").to_numpy()
    repeats = repeated_records(
        VERRA.key,
        pd.DataFrame(
            {
                "source_file": str(raw.path),
                "file_rank": 0,
                "source_line": records["source_line"].to_numpy()[parsed],
                "first_copy": first_copies(records)[parsed],
                "scope": "block",
                "serial_number": serial[parsed],
            }
        ),
    )
    repeated = records["source_line"].isin(repeats["source_line"]).to_numpy()
    if repeated.any():
        reason = pd.Series(repeats["reason"].to_numpy(), index=repeats["source_line"].to_numpy())
        checks.fail(repeated, records["source_line"].map(reason))

    # Issuances: one per (project, vintage period, total vintage quantity) among blocks that parsed cleanly.
    valid = parsed & ~repeated
    group_keys = ["project_id", "vintage_start", "vintage_end", "total_vintage_quantity"]
    # Only the columns the grouping needs are sorted, not every column of a million blocks.
    grouped = pd.DataFrame(
        {
            "project_id": project_id,
            "vintage_start": vintage_start,
            "vintage_end": vintage_end,
            "issuance_date": issued_on,
            "source_line": records["source_line"],
            "total_vintage_quantity": vintage_total,
            "quantity": quantity,
            "record": np.arange(len(records)),
        }
    )
    grouped = grouped.loc[valid].sort_values(["issuance_date", "source_line"], kind="stable")
    in_blocks = grouped.groupby(group_keys, sort=False)["quantity"].transform("sum")
    overdrawn = in_blocks > grouped["total_vintage_quantity"]
    if overdrawn.any():
        over = np.zeros(len(records), dtype=bool)
        over[grouped.loc[overdrawn, "record"].to_numpy()] = True
        checks.fail(
            over,
            "the serial blocks of this project and vintage period hold more credits than its Total Vintage Quantity",
        )
        grouped = grouped.loc[~overdrawn]
    firsts = grouped.drop_duplicates(group_keys, keep="first")
    del grouped
    # Rows: the issuances (on their group's earliest block), then one retirement per retired block.
    record_of_row = np.concatenate([firsts["record"].to_numpy(), np.flatnonzero(retired_on.notna().to_numpy())])
    is_issuance = np.arange(len(record_of_row)) < len(firsts)
    issuance_rows = pa.array(is_issuance)
    rows = len(record_of_row)
    # The block of each retirement row, null on issuance rows: one take gives a retirement-only column.
    retired_block = pa.array(record_of_row, mask=is_issuance)

    def of_block(values: pd.Series) -> pd.api.extensions.ExtensionArray | np.ndarray:
        return values.take(record_of_row).array

    def retirement_text(name: str) -> pd.Series:
        return arrow_text(arrow_strings(clean_text(column(records, name), ARROW_TEXT)).take(retired_block))

    # Columns in the order of the contract; constant ones are made at the length of the credits, not taken.
    credits = pd.DataFrame(
        {
            "project_id": of_block(project_id.astype(ARROW_TEXT)),
            "registry": text_column(VERRA.key, rows),
            "vintage": of_block(vintage),
            "vintage_start": of_block(vintage_start),
            "vintage_end": of_block(vintage_end),
            "issuance_date": of_block(issued_on),
            "serial_number": arrow_text(arrow_strings(serial).take(retired_block)),
            "buffer_quantity": pd.arrays.IntegerArray(np.zeros(rows, dtype=np.int64), np.ones(rows, dtype=bool)),
            "methodology_version": text_column(None, rows),
            "product_type": text_column(None, rows),
            **{
                name: of_block(flag)
                for name, flag in zip(
                    ("ccp_label", "corsia_phase", "corresponding_adjustment", "is_removal"), flags, strict=True
                )
            },
            "is_reversible": pd.arrays.BooleanArray(np.zeros(rows, dtype=bool), np.ones(rows, dtype=bool)),
            "additional_certifications": of_block(certifications),
            "source_file": text_column(str(raw.path), rows),
            "source_line": records["source_line"].to_numpy()[record_of_row],
            "transaction_type": arrow_text(pc.if_else(issuance_rows, "issuance", "retirement")),
            "quantity": pd.Series(vintage_total.array[record_of_row]).where(
                is_issuance, pd.Series(quantity.array[record_of_row])
            ),
            "transaction_date": np.where(
                is_issuance, issued_on.to_numpy()[record_of_row], retired_on.to_numpy()[record_of_row]
            ),
            "retirement_beneficiary": retirement_text("retirement_beneficiary"),
            "retirement_reason": retirement_text("retirement_reason"),
            "retirement_note": retirement_text("retirement_note"),
        },
        index=pd.RangeIndex(rows),
        copy=False,
    )
    return finish(
        raw, VERRA.key, "transactions", credits, checks, CreditTransactionsSchema, record_of_row, repeats_checked=True
    )


DATASETS = {"projects": read_projects, "transactions": read_transactions}
