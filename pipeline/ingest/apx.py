"""What the three APX-hosted registries' exports share (ACR, Climate Action Reserve, ART TREES).

APX serves all three registries from one platform, so their CSV exports look alike:

- a trailing comma on every line, i.e. an empty last header (``Unnamed: N`` once pandas re-saved the file):
  the layouts never name it and :func:`~pipeline.ingest.files.map_columns` ignores it;
- US dates, with or without a time of day, in the same file: ``3/24/2026 9:08:01 PM``, ``1/15/2020``,
  ``03/09/2026`` (:func:`apx_dates`);
- serial ranges ``<block prefix>-<first> to <last>`` whose prefix names the project and usually the vintage
  (``ACR-US-1185-2025-3078-1 to 85847``, ``CAR-1-US-1480-46-1156-FL-2026-10272-852724 to 860723``,
  ``ART-GY-102-2021-11-2759599 to 2760598``): :func:`serial_ranges` checks them against the row;
- ``Yes`` / ``No`` / blank flags (:func:`yes_no`) and SDG lists (``03: Good Health…;06: …``, CAR ``2. Zero
  Hunger;3. …``; :func:`sdg_numbers`).

:func:`credit_rows` builds a frame with every ``credits`` contract column, so each reader states only what
its export carries and everything else is explicitly missing; :func:`serial_block_columns` gives the checked
columns every retirements and cancellations export shares, :func:`corsia_phase_column` and :func:`flag_column`
the flags the three registries word alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.ingest import normalize
from pipeline.ingest.normalize import as_object
from pipeline.ingest.parsing import (
    ARROW_TEXT,
    RowChecks,
    arrow_strings,
    clean_text,
    extract,
    fail_values,
    parse_bool,
    per_distinct_value,
    text_column,
    whole_numbers,
)
from pipeline.ingest.schemas import CreditTransactionsSchema


def extract_present(raw: pd.Series, pattern: str, numbers: tuple[str, ...]) -> tuple[pd.DataFrame, pd.Series]:
    """:func:`~pipeline.ingest.parsing.extract` of ``pattern``, and the cleaned text (None where missing).

    Well-formed values match as they are; only the few that do not are cleaned (whitespace, placeholders such
    as ``N/A``) and matched again, so a mostly-distinct column is not cleaned value by value."""
    parts = extract(raw, pattern, numbers=numbers)
    text = raw.astype(object).where(raw.notna(), None)
    unmatched = (parts[parts.columns[0]].isna() & raw.notna()).to_numpy(dtype=bool)
    if unmatched.any():
        cleaned = clean_text(raw[unmatched])
        parts.loc[unmatched] = extract(cleaned.fillna(""), pattern, numbers=numbers).to_numpy()
        text[unmatched] = cleaned.to_numpy()
    return parts, text


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
def parse_apx_dates(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(datetime64 values, mask of present values that are not APX dates). The parts are extracted by RE2
    and assembled numerically, because the status-effective column is nearly all distinct timestamps and
    ``strptime``-style parsing of three candidate formats costs seconds per million rows. Values that do not
    match as they are (whitespace around them, placeholders such as ``N/A``) are cleaned and matched again."""
    fields, matched = _date_fields(text)
    present = text.notna().to_numpy(dtype=bool)
    retry = present & ~matched
    if retry.any():
        cleaned = clean_text(text[retry])
        again, again_matched = _date_fields(cleaned.fillna(""))
        fields = {name: values.copy() for name, values in fields.items()}  # Arrow's buffers are read-only
        for name, values in again.items():
            fields[name][retry] = values
        matched = matched.copy()
        matched[retry] = again_matched
        present[retry] = cleaned.notna().to_numpy(dtype=bool)
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


def apx_dates(checks: RowChecks, raw: pd.Series, what: str, *, required: bool = False) -> pd.Series:
    """US-style APX dates (``3/24/2026 9:08:01 PM``, ``1/15/2020``, ``03/09/2026``); a value in any other
    form, or an impossible date (``2/30/2025``), rejects the record."""
    values, bad = parse_apx_dates(raw)
    fail_values(checks, bad.to_numpy(dtype=bool), raw, f"{what} {{value}} is not a date (expected {DATE_EXPECTED})")
    if required:
        checks.fail((values.isna() & ~bad).to_numpy(dtype=bool), f"{what} is missing")
    return values


def fail_period_order(checks: RowChecks, start: pd.Series, end: pd.Series, message: str) -> None:
    """Reject records whose period starts after it ends; ``{value}`` in ``message`` is the start date."""
    later = (start > end).to_numpy()
    if later.any():  # dates are rendered as text for the failing records' reasons only
        fail_values(checks, later, start.dt.strftime("%Y-%m-%d"), message)


def yes_no(checks: RowChecks, raw: pd.Series, what: str, *, blank: bool | None, present: bool = True) -> pd.Series:
    """A ``Yes``/``No`` flag column as nullable booleans.

    APX exports write only the positive case for labels such as ``CCP Approved`` and leave the cell blank
    otherwise, so ``blank`` says what a blank cell means for this column (``False``, or ``None`` for
    unknown). A column the export dropped (``present=False``) is unknown everywhere. Any other text rejects
    the record instead of being read as either answer."""
    values, bad = _yes_no_values(raw, blank)
    fail_values(checks, bad.to_numpy(), raw, f"{what} {{value}} is not Yes or No")
    if not present:
        return pd.Series(pd.NA, index=raw.index, dtype="boolean")
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
    not_eligible = pd.Series(False, index=records.index, dtype="boolean")
    pilot = yes_no(checks, records["corsia_pilot"], pilot_what, blank=False) if "corsia_pilot" in records else None
    first = yes_no(checks, records["corsia_first"], first_what, blank=False) if "corsia_first" in records else None
    return corsia_phases(not_eligible if pilot is None else pilot, not_eligible if first is None else first)


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
    project_number: pd.Series,
    vintage: pd.Series | None = None,
    required: bool = True,
) -> pd.Series:
    """Check each serial range against its row and return the cleaned serials.

    Rejects (in plain words) a serial that is not ``<prefix>-<first> to <last>`` in ``fmt``, a range whose
    size differs from the row's quantity, and a prefix naming another project or vintage than the row's:
    any of these means a shifted column or a corrupted record, never something to guess around."""
    numbers = (
        ("project", "vintage", "first", "last")
        if "(?P<vintage>" in fmt.prefix_pattern
        else ("project", "first", "last")
    )
    parts, serial = extract_present(raw, fmt.pattern, numbers)
    malformed = (serial.notna() & parts["project"].isna()).to_numpy(dtype=bool)
    fail_values(
        checks,
        malformed,
        serial,
        f"serial number {{value}} is not a {fmt.registry_name} serial range (expected e.g. '{fmt.example}')",
    )
    if required:
        checks.fail(serial.isna().to_numpy(), "serial number is missing")

    size = (parts["last"] - parts["first"] + 1).to_numpy()
    wrong_size = (quantity.notna() & (size != quantity.astype("float64").to_numpy())).to_numpy(dtype=bool)
    fail_values(
        checks,
        wrong_size & ~malformed & serial.notna().to_numpy(),
        serial,
        "serial range {value} does not hold the row's quantity",
    )
    other_project = (project_number.astype("float64") != parts["project"]).fillna(False).to_numpy(dtype=bool)
    other_project &= project_number.notna().to_numpy(dtype=bool) & parts["project"].notna().to_numpy()
    fail_values(checks, other_project, serial, "serial number {value} names another project than the row")
    if vintage is not None and "vintage" in parts:
        other_vintage = (vintage.astype("float64") != parts["vintage"]).fillna(False).to_numpy(dtype=bool)
        other_vintage &= vintage.notna().to_numpy(dtype=bool) & parts["vintage"].notna().to_numpy()
        fail_values(checks, other_vintage, serial, "serial number {value} names another vintage than the row")
    return serial


def serial_block_columns(
    checks: RowChecks,
    records: pd.DataFrame,
    fmt: SerialFormat,
    dataset: str,
    *,
    project_id: pd.Series,
    vintage: pd.Series,
    quantity_what: str,
) -> dict[str, object]:
    """The checked ``credits`` columns every APX retirements or cancellations export yields, one row per serial
    block: the block's quantity (``quantity_what`` names it in reasons), its serial range checked against the
    row (:func:`serial_ranges`) and the status-effective date as the transaction date."""
    quantity = whole_numbers(checks, records["quantity"], quantity_what, required=True)
    serial = serial_ranges(
        checks,
        records["serial_number"],
        fmt,
        quantity=quantity,
        project_number=project_numbers(project_id),
        vintage=vintage,
    )
    return {
        "project_id": project_id,
        "transaction_type": "retirement" if dataset == "retirements" else "cancellation",
        "vintage": vintage,
        "quantity": quantity,
        "transaction_date": apx_dates(checks, records["status_effective"], "status effective date", required=True),
        "serial_number": serial,
    }


def project_numbers(project_id: pd.Series) -> pd.Series:
    """The number of a harmonized id (``ACR885`` -> 885), to compare with the project named in a serial."""
    codes, uniques = pd.factorize(project_id, use_na_sentinel=True)
    numbers = pd.to_numeric(pd.Series(uniques, dtype="string").str.extract(r"(\d+)$")[0], errors="coerce")
    values = np.append(numbers.to_numpy(dtype="float64"), np.nan)[codes]  # code -1 (missing) -> NaN
    return pd.Series(values, index=project_id.index).astype("Int64")


_SDG = re.compile(r"(?:^|;)\s*0*(\d{1,2})\s*[:.]")


@per_distinct_value
def sdg_numbers(raw: pd.Series) -> pd.Series:
    """SDG numbers ``;``-joined (``03: Good Health…;13: Climate Action`` -> ``3;13``), once per distinct value."""
    text = clean_text(raw)
    lookup = {
        value: ";".join(dict.fromkeys(str(int(n)) for n in _SDG.findall(str(value)))) or None
        for value in text.dropna().unique()
    }
    return as_object(text.map(lookup))


_VERSION = re.compile(r"(v(?:ersion)?\.?\s*\d+(?:\.\d+)*|[A-Z][a-z]+ \d{1,2}, \d{4})\s*$", re.IGNORECASE)


@per_distinct_value
def protocol_versions(raw: pd.Series) -> pd.Series:
    """The version at the end of a protocol string (``Forestry - MX - Version 3.0`` -> ``Version 3.0``;
    ``… Mine Methane Capture, April 25, 2014`` -> ``April 25, 2014``); the whole text when it is nothing
    but a version or carries none we recognise."""
    text = clean_text(raw)
    lookup = {}
    for value in text.dropna().unique():
        match = _VERSION.search(str(value))
        lookup[value] = match.group(1) if match else str(value)
    return as_object(text.map(lookup)).astype(ARROW_TEXT)


_CREDIT_COLUMNS = tuple(CreditTransactionsSchema.to_schema().columns)
_NULLABLE_DTYPES = {
    "vintage": "Int64",
    "quantity": "Int64",
    "buffer_quantity": "Int64",
    "ccp_label": "boolean",
    "corresponding_adjustment": "boolean",
    "is_removal": "boolean",
    "is_reversible": "boolean",
    "transaction_date": "datetime64[ns]",
}


_TEXT_COLUMNS = frozenset(
    name
    for name, column in CreditTransactionsSchema.to_schema().columns.items()
    if isinstance(column.dtype.type, pd.StringDtype)
)


def credit_rows(records: pd.DataFrame, registry: str, source_file: str, **columns: object) -> pd.DataFrame:
    """A ``credits`` frame aligned with ``records``: every contract column, missing unless given in ``columns``
    (extra columns are kept after the contract ones). Constant and missing text columns are made as Arrow-backed
    text at length, as the contract types them, so validation has nothing to convert."""
    index = records.index

    def constant_text(value: str | None) -> pd.Series:
        return text_column(value, len(index)).set_axis(index)

    frame: dict[str, object] = {}
    for name in _CREDIT_COLUMNS:
        value = columns.get(name)
        if name in _TEXT_COLUMNS and (value is None or isinstance(value, str)):
            frame[name] = constant_text(value)
        elif name in columns:
            frame[name] = value
        elif name in _NULLABLE_DTYPES:
            frame[name] = pd.Series(
                pd.NA if _NULLABLE_DTYPES[name] != "datetime64[ns]" else pd.NaT,
                index=index,
                dtype=_NULLABLE_DTYPES[name],
            )
        else:
            frame[name] = None
    frame["registry"] = constant_text(registry)
    frame["source_file"] = constant_text(source_file)
    frame["source_line"] = records["source_line"]
    frame.update({k: v for k, v in columns.items() if k not in frame})
    return pd.DataFrame(frame, index=index)


def project_classification(
    project_id: pd.Series, protocol: pd.Series, registry_type: pd.Series, *, registry_type_first: bool
) -> dict[str, pd.Series]:
    """``project_type`` (Berkeley's type, as OffsetsDB assigns it), ``category``, ``activity`` and
    ``is_nature_based`` of APX projects.

    The activity comes from the registry's own project type where that is specific (CAR's ``Reforestation -
    ARB Compliance``, ``registry_type_first``), else from Berkeley's type, then the protocol; ACR's generic
    ``Forest Carbon`` says less than its protocol, so ACR asks Berkeley and the protocol first."""
    berkeley = normalize.berkeley_project_types(project_id)
    from_berkeley = berkeley.map(normalize.BERKELEY_ACTIVITY)
    from_protocol = normalize.activities(protocol)
    from_text = normalize.activity_from_text(registry_type)
    order = (
        (from_text, from_berkeley, from_protocol) if registry_type_first else (from_berkeley, from_protocol, from_text)
    )
    activity = as_object(normalize.first_non_null(*order))
    return {
        "project_type": berkeley,
        "project_type_source": as_object(pd.Series(np.where(berkeley.notna(), "berkeley", None), index=berkeley.index)),
        "category": as_object(
            normalize.first_non_null(normalize.type_categories(berkeley), normalize.protocol_categories(protocol))
        ),
        "is_nature_based": activity.notna(),
        "activity": activity,
    }
