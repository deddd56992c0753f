"""What the three APX-hosted registries' exports share (ACR, Climate Action Reserve, ART TREES).

APX serves all three registries from one platform, so their CSV exports look alike:

- a trailing comma on every line, i.e. an empty last header, which the layouts never name;
- US dates, with or without a time of day, in the same file: ``3/24/2026 9:08:01 PM``, ``1/15/2020``
  (:func:`us_dates`);
- serial ranges ``<block prefix>-<first> to <last>`` whose prefix names the project and the vintage
  (``ACR-US-1185-2025-3078-1 to 85847``, ``ART-GY-102-2021-11-2759599 to 2760598``): :func:`serial_ranges`
  checks them against the row;
- ``Yes`` / ``No`` / blank flags (:func:`yes_no`) and SDG lists (``03: Good Health…;06: …``, CAR ``2. Zero
  Hunger;3. …``; :func:`sdg_numbers`);
- retirements and cancellations, one row per serial block, read alike (:func:`read_blocks`): each registry
  states in an :class:`ApxExports` only what its exports name differently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.ingest import normalize
from pipeline.ingest.dataset import DatasetLoad, finish
from pipeline.ingest.files import Column, Layout, RawTable, read_table
from pipeline.ingest.normalize import as_object
from pipeline.ingest.parsing import (
    ARROW_TEXT,
    RowChecks,
    arrow_strings,
    clean_column,
    clean_text,
    column,
    each_present,
    extract,
    fail_values,
    parse_bool,
    per_distinct_value,
    text_column,
    whole_numbers,
)
from pipeline.ingest.schemas import CreditTransactionsSchema
from pipeline.registries import Registry


def optional(name: str, *headers: str) -> Column:
    """A layout column the export may leave out (then read as missing everywhere)."""
    return Column(name, headers, required=False)


SITE = (
    optional("location", "Project Site Location"),
    optional("state", "Project Site State"),
    optional("country", "Project Site Country"),
)
CCP = optional("ccp", "CCP Approved", "ICVCM CCP Eligible")
"""``CCP Approved`` became ``ICVCM CCP Eligible`` in the Aug-2026 exports."""


DATE_EXPECTED = "M/D/YYYY, optionally with h:mm:ss AM/PM"
_DATE = (
    r"^(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4})"
    r"(?: (?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?(?: ?(?P<half>[AaPp][Mm]))?)?$"
)
_DATE_PARTS = ("month", "day", "year", "hour", "minute", "second")


def _date_fields(text: pd.Series) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(the numeric parts of each APX date, 0 where absent; mask of values matching :data:`_DATE`). The parts
    stay in Arrow until they are integers: a date's parts never become Python strings."""
    groups = pc.extract_regex(arrow_strings(text), _DATE)
    matched = groups.is_valid().to_numpy(zero_copy_only=False)
    names = [groups.type.field(i).name for i in range(groups.type.num_fields)]
    # A group that did not take part in the match (or a value that did not match) is "": "0" + "" reads as 0.
    text_type = groups.type.field(0).type  # string, or large_string when the column is Arrow-backed
    zero, empty = pa.scalar("0", text_type), pa.scalar("", text_type)
    fields = {
        name: pc.cast(pc.binary_join_element_wise(zero, groups.field(i), empty), pa.int64()).to_numpy()
        for i, name in enumerate(names)
        if name in _DATE_PARTS
    }
    half = groups.field(names.index("half"))
    fields["twelve_hour"] = pc.greater(pc.utf8_length(half), 0).to_numpy(zero_copy_only=False)
    fields["afternoon"] = pc.match_substring(half, "p", ignore_case=True).to_numpy(zero_copy_only=False)
    return fields, matched


@per_distinct_value
def parse_us_dates(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(datetime64 values, mask of present values that are not APX dates). The parts are extracted by RE2
    and assembled numerically, as the status-effective column is nearly all distinct timestamps, too many to
    parse one by one. Values that do not match as they are (whitespace around them, placeholders such as
    ``N/A``) are cleaned and matched again."""
    fields, matched = _date_fields(text)
    retry = text.notna().to_numpy(dtype=bool) & ~matched
    if retry.any():
        text = text.where(~retry, clean_text(text[retry]))
        fields, matched = _date_fields(text)
    present = text.notna().to_numpy(dtype=bool)
    month, day, year, hour, minute, second = (fields[name] for name in _DATE_PARTS)
    afternoon, twelve_hour = fields["afternoon"], fields["twelve_hour"]
    bad_time = np.where(twelve_hour, (hour < 1) | (hour > 12), hour > 23) | (minute > 59) | (second > 59)
    hour = np.where(twelve_hour, hour % 12 + np.where(afternoon, 12, 0), hour)
    # Calendar arithmetic in numpy: month start + (day - 1), valid only if it stays within that month.
    month_index = (year - 1970) * 12 + month - 1
    month_start = month_index.astype("datetime64[M]").astype("datetime64[D]")
    next_month = (month_index + 1).astype("datetime64[M]").astype("datetime64[D]")
    calendar_day = month_start + (day - 1).astype("timedelta64[D]")
    valid = matched & (month >= 1) & (month <= 12) & (day >= 1) & (calendar_day < next_month) & ~bad_time
    seconds = (hour * 3600 + minute * 60 + second).astype("timedelta64[s]")
    stamps = (calendar_day.astype("datetime64[s]") + seconds).astype("datetime64[ns]")
    values = pd.Series(np.where(valid, stamps, np.datetime64("NaT", "ns")), index=text.index)
    return values, pd.Series(present & ~valid, index=text.index)


def us_dates(checks: RowChecks, raw: pd.Series, what: str, *, required: bool = False) -> pd.Series:
    """US-style APX dates (``3/24/2026 9:08:01 PM``, ``1/15/2020``, ``03/09/2026``); a value in any other
    form, or an impossible date (``2/30/2025``), rejects the record."""
    values, bad = parse_us_dates(raw)
    fail_values(checks, bad.to_numpy(dtype=bool), raw, f"{what} {{value}} is not a date (expected {DATE_EXPECTED})")
    if required:
        checks.fail((values.isna() & ~bad).to_numpy(dtype=bool), f"{what} is missing")
    return values


def fail_period_order(checks: RowChecks, start: pd.Series, end: pd.Series, message: str) -> None:
    """Reject records whose period starts after it ends; ``{value}`` in ``message`` is the start date."""
    later = (start > end).to_numpy()
    if later.any():  # dates are rendered as text for the failing records' reasons only
        fail_values(checks, later, start.dt.strftime("%Y-%m-%d"), message)


def yes_no(checks: RowChecks, raw: pd.Series, what: str, *, blank: bool | None) -> pd.Series:
    """A ``Yes``/``No`` flag column as nullable booleans.

    APX exports write only the positive case for labels such as ``CCP Approved`` and leave the cell blank
    otherwise, so ``blank`` says what a blank cell means for this column (``False``, or ``None`` for
    unknown). Any other text rejects the record instead of being read as either answer."""
    values, bad = _yes_no_values(raw, blank)
    fail_values(checks, bad.to_numpy(), raw, f"{what} {{value}} is not Yes or No")
    return values


@per_distinct_value
def _yes_no_values(raw: pd.Series, blank: bool | None) -> tuple[pd.Series, pd.Series]:
    """(nullable booleans, blank cells read as ``blank``; mask of text that is neither yes nor no)."""
    values, bad = parse_bool(raw)
    if blank is not None:
        values = values.fillna(blank).where(~bad, pd.NA)
    return values.astype("boolean"), bad


def flag_column(checks: RowChecks, records: pd.DataFrame, name: str, what: str, *, blank: bool | None) -> pd.Series:
    """:func:`yes_no` of the optional layout column ``name``: unknown everywhere when the export dropped it."""
    if name not in records:
        return pd.Series(pd.NA, index=records.index, dtype="boolean")
    return yes_no(checks, records[name], what, blank=blank)


def corsia_phase_column(checks: RowChecks, records: pd.DataFrame, pilot_what: str, first_what: str) -> pd.Series:
    """``corsia_phase`` from the optional ``corsia_pilot`` and ``corsia_first`` flag columns (blank = not
    eligible, as is a dropped column beside one that is there); unknown everywhere when the export has
    neither column."""
    if "corsia_pilot" not in records and "corsia_first" not in records:
        return pd.Series(None, index=records.index, dtype=object)
    pilot = yes_no(checks, column(records, "corsia_pilot"), pilot_what, blank=False)
    return corsia_phases(pilot, yes_no(checks, column(records, "corsia_first"), first_what, blank=False))


CORSIA_PHASES = np.array([None, "first", "pilot", "pilot;first"], dtype=object)
"""Indexed by 2 * pilot + first."""


def corsia_phases(pilot: pd.Series, first: pd.Series) -> pd.Series:
    """``pilot``, ``first`` or ``pilot;first`` from the two CORSIA compliance-period eligibility flags."""
    pilot_bit = pilot.fillna(False).to_numpy(dtype=bool).astype(np.int8)
    first_bit = first.fillna(False).to_numpy(dtype=bool).astype(np.int8)
    return pd.Series(CORSIA_PHASES[2 * pilot_bit + first_bit], index=pilot.index, dtype=object)


@dataclass(frozen=True)
class SerialFormat:
    """A registry's serial ranges: ``prefix_pattern`` is a regex (RE2 syntax) for the block prefix before
    ``-<first> to <last>``, with named groups ``project`` and optionally ``vintage``."""

    registry_name: str
    prefix_pattern: str
    example: str

    @property
    def pattern(self) -> str:
        return "^" + self.prefix_pattern + r"-(?P<first>\d+) to (?P<last>\d+)$"


def serial_ranges(
    checks: RowChecks,
    raw: pd.Series,
    fmt: SerialFormat,
    *,
    quantity: pd.Series,
    project_id: pd.Series,
    vintage: pd.Series | None = None,
) -> pd.Series:
    """Check each serial range against its row and return the cleaned serials.

    Rejects (in plain words) a missing serial, one that is not ``<prefix>-<first> to <last>`` in ``fmt``, a
    range whose size differs from the row's quantity, and a prefix naming another project or vintage than the
    row's (``project_id`` is the row's harmonized id):
    any of these means a shifted column or a corrupted record, never something to guess around. Well-formed
    serials are matched as they are; only those that do not match are cleaned (whitespace, ``N/A``) and matched
    again, so a mostly-distinct column is not cleaned value by value."""
    numbers = ("project", "vintage", "first", "last")
    parts = extract(raw, fmt.pattern, numbers=numbers)
    serial = raw.astype(object).where(raw.notna(), None)
    unmatched = (parts["project"].isna() & raw.notna()).to_numpy(dtype=bool)
    if unmatched.any():
        cleaned = clean_text(raw[unmatched])
        parts.loc[unmatched] = extract(cleaned.fillna(""), fmt.pattern, numbers=numbers).to_numpy()
        serial[unmatched] = cleaned.to_numpy()
    present = serial.notna().to_numpy(dtype=bool)
    malformed = present & parts["project"].isna().to_numpy()
    not_a_range = f"serial number {{value}} is not a {fmt.registry_name} serial range (expected e.g. '{fmt.example}')"
    fail_values(checks, malformed, serial, not_a_range)
    checks.fail(~present, "serial number is missing")
    size = (parts["last"] - parts["first"] + 1).to_numpy()
    wrong_size = quantity.notna().to_numpy(dtype=bool) & (size != quantity.astype("float64").to_numpy())
    wrong_size &= present & ~malformed
    fail_values(checks, wrong_size, serial, "serial range {value} does not hold the row's quantity")
    for what, row_value in (("project", project_numbers(project_id)), ("vintage", vintage)):
        if row_value is not None and what in parts:
            other = (row_value.astype("float64") != parts[what]).fillna(False).to_numpy(dtype=bool)
            other &= row_value.notna().to_numpy(dtype=bool) & parts[what].notna().to_numpy()
            fail_values(checks, other, serial, f"serial number {{value}} names another {what} than the row")
    return serial


def project_numbers(project_id: pd.Series) -> pd.Series:
    """The number of a harmonized id (``ACR885`` -> 885.0), to compare with the project a serial names; float, as
    the serial's numbers are, so an absurdly long id compares unequal instead of overflowing."""
    return extract(project_id, r"(?P<number>\d+)$", numbers=("number",))["number"]


_SDG = re.compile(r"(?:^|;)\s*0*(\d{1,2})\s*[:.]")


@per_distinct_value
def sdg_numbers(raw: pd.Series) -> pd.Series:
    """SDG numbers ``;``-joined (``03: Good Health…;13: Climate Action`` -> ``3;13``), once per distinct value."""
    return each_present(
        clean_text(raw), lambda value: ";".join(dict.fromkeys(str(int(n)) for n in _SDG.findall(value))) or None
    )


_VERSION = re.compile(r"(v(?:ersion)?\.?\s*\d+(?:\.\d+)*|[A-Z][a-z]+ \d{1,2}, \d{4})\s*$", re.IGNORECASE)


@per_distinct_value
def protocol_versions(raw: pd.Series) -> pd.Series:
    """The version at the end of a protocol string (``Forestry - MX - Version 3.0`` -> ``Version 3.0``;
    ``… Mine Methane Capture, April 25, 2014`` -> ``April 25, 2014``); the whole text when it is nothing
    but a version or carries none we recognise."""

    def version(value: str) -> str:
        match = _VERSION.search(value)
        return match.group(1) if match else value

    return each_present(clean_text(raw), version).astype(ARROW_TEXT)


_CREDIT_COLUMNS = tuple(CreditTransactionsSchema.to_schema().columns)
_TEXT_COLUMNS = frozenset(
    name
    for name, column in CreditTransactionsSchema.to_schema().columns.items()
    if isinstance(column.dtype.type, pd.StringDtype)
)
_NULLABLE_DTYPES = {
    **dict.fromkeys(("vintage", "quantity", "buffer_quantity"), "Int64"),
    **dict.fromkeys(("ccp_label", "corresponding_adjustment", "is_removal", "is_reversible"), "boolean"),
    "transaction_date": "datetime64[ns]",
}


def credit_rows(records: pd.DataFrame, registry: str, source_file: str, **columns: object) -> pd.DataFrame:
    """A ``credits`` frame aligned with ``records``: every contract column, missing unless given in ``columns``
    (extra columns are kept after the contract ones). Constant and missing text columns are made as Arrow-backed
    text at length, as the contract types them, so validation has nothing to convert."""
    index = records.index
    given = {**columns, "registry": registry, "source_file": source_file, "source_line": records["source_line"]}
    frame: dict[str, object] = {}
    for name in _CREDIT_COLUMNS:
        value = given.get(name)
        if name in _TEXT_COLUMNS and (value is None or isinstance(value, str)):
            value = text_column(value, len(index)).set_axis(index)
        elif name not in given and name in _NULLABLE_DTYPES:
            value = pd.Series(None, index=index, dtype=_NULLABLE_DTYPES[name])
        frame[name] = value
    return pd.DataFrame(frame | {name: value for name, value in columns.items() if name not in frame}, index=index)


def project_classification(
    project_id: pd.Series, protocol: pd.Series, registry_type: pd.Series, *, registry_type_first: bool
) -> dict[str, object]:
    """``project_type`` (Berkeley's type, as OffsetsDB assigns it), ``category``, ``activity`` and
    ``is_nature_based`` of APX projects.

    The activity comes from the registry's own project type where that is specific (CAR's ``Reforestation -
    ARB Compliance``, ``registry_type_first``), else from Berkeley's type, then the protocol; ACR's generic
    ``Forest Carbon`` says less than its protocol, so ACR asks Berkeley and the protocol first."""
    berkeley = normalize.berkeley_project_types(project_id)
    from_text, from_berkeley = normalize.activity_from_text(registry_type), berkeley.map(normalize.BERKELEY_ACTIVITY)
    from_protocol = normalize.activities(protocol)
    order = (
        (from_text, from_berkeley, from_protocol) if registry_type_first else (from_berkeley, from_protocol, from_text)
    )
    no_type = pd.Series(None, index=project_id.index, dtype=object)
    activity = as_object(normalize.first_non_null(*order))
    return normalize.classification(berkeley, no_type, "registry", protocol, activity)


def project_rows(raw: RawTable, registry: Registry, project_id: pd.Series, **columns: object) -> pd.DataFrame:
    """``projects`` rows of ``raw``: the id, the registry, ``columns`` in their order, then each row's source."""
    return pd.DataFrame(
        {
            "project_id": project_id,
            "registry": registry.key,
            **columns,
            "source_file": str(raw.path),
            "source_line": raw.records["source_line"],
        }
    )


def project_urls(registry: Registry, project_id: pd.Series) -> pd.Series:
    """The registry's public page of each project."""
    number = project_id.astype("string").str.removeprefix(registry.id_prefix)
    return as_object(registry.project_url.replace("{number}", "") + number)


@dataclass(frozen=True)
class ApxExports:
    """What one registry's APX credit exports name differently; :func:`read_credits` and :func:`read_blocks` read
    them alike.

    ``credit_columns`` parses the columns every credit export of the registry carries (``project_id`` and
    ``vintage`` first); ``block_columns`` those only its retirements and cancellations carry. Both record the
    records' failures in the checks they are given, in the order the reasons are to be listed."""

    registry: Registry
    serial: SerialFormat
    quantity_what: str
    credit_columns: Callable[[RowChecks, pd.DataFrame], dict[str, object]]
    block_columns: Callable[[RowChecks, pd.DataFrame], dict[str, object]]

    def finish(self, raw: RawTable, checks: RowChecks, dataset: str, **columns: object) -> DatasetLoad:
        """The dataset's ``credits`` rows from ``columns``, validated (:func:`~pipeline.ingest.dataset.finish`)."""
        credits = credit_rows(raw.records, self.registry.key, str(raw.path), **columns)
        return finish(raw, self.registry.key, dataset, credits, checks, CreditTransactionsSchema)


def read_credits(path: Path, layout: Layout, exports: ApxExports) -> tuple[RawTable, RowChecks, dict[str, object]]:
    """The records of a credit export, their checks, and the columns every credit export of the registry carries."""
    raw = read_table(path, layout)
    checks = RowChecks(raw.records.index)
    return raw, checks, exports.credit_columns(checks, raw.records)


def read_blocks(path: Path, layout: Layout, dataset: str, exports: ApxExports) -> DatasetLoad:
    """Retirements or cancellations, one ``credits`` row per serial block: its quantity, its serial range checked
    against the row (:func:`serial_ranges`), the status-effective date as the transaction date, and the reason,
    note and beneficiary the layout names ``reason``, ``details`` and ``beneficiary``."""
    raw, checks, common = read_credits(path, layout, exports)
    records = raw.records
    project_id, vintage = common.pop("project_id"), common.pop("vintage")
    quantity = whole_numbers(checks, records["quantity"], exports.quantity_what, required=True)
    serial = serial_ranges(
        checks, records["serial_number"], exports.serial, quantity=quantity, project_id=project_id, vintage=vintage
    )
    return exports.finish(
        raw,
        checks,
        dataset,
        project_id=project_id,
        transaction_type="retirement" if dataset == "retirements" else "cancellation",
        vintage=vintage,
        quantity=quantity,
        transaction_date=us_dates(checks, records["status_effective"], "status effective date", required=True),
        serial_number=serial,
        retirement_beneficiary=clean_column(records, "beneficiary", ARROW_TEXT),
        retirement_reason=clean_column(records, "reason", ARROW_TEXT),
        retirement_note=clean_column(records, "details", ARROW_TEXT),
        **common,
        **exports.block_columns(checks, records),
    )
