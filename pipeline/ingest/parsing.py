"""Parsing the text of raw records: vectorized, strict, with a plain-words reason for every value that does not parse.

Readers take the text columns of :func:`pipeline.ingest.files.read_table` through these rules (ids, quantities,
dates, flags); :class:`RowChecks` collects the reasons, so a bad record is rejected, never coerced. Each rule runs
once per distinct value (:func:`per_distinct_value`); Arrow computes only what it provably computes identically.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

PLACEHOLDERS = frozenset(
    {"", "n/a", "na", "none", "null", "nan", "-", "–", "—", "- -", "not applicable", "view", "#n/a"}
)
"""Cell values that mean 'no value' in the registries' exports (FORMATS.md, parsing hazard 8)."""


ARROW_TEXT = pd.StringDtype("pyarrow")
"""The dtype of the text columns :func:`pipeline.ingest.files.read_table` returns for CSV files: Arrow-backed, so a
million values never become a million Python objects (parsers work on the distinct values, see
:func:`per_distinct_value`)."""


def arrow_text(values: pa.ChunkedArray | pa.Array, index: pd.Index | None = None) -> pd.Series:
    """An Arrow string column as a pandas ``string[pyarrow]`` Series, without building Python strings."""
    return pd.Series(pd.arrays.ArrowStringArray(values), index=index, copy=False)


def _is_arrow_text(series: pd.Series) -> bool:
    if getattr(series.dtype, "storage", None) != "pyarrow":
        return False
    kind = series.array.__arrow_array__().type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def arrow_strings(series: pd.Series) -> pa.Array:
    """A column as one Arrow string array: zero-copy when it is Arrow-backed text, else each value as text the way
    ``astype("string")`` writes it (missing values become nulls)."""
    if not _is_arrow_text(series):
        series = series.astype(ARROW_TEXT)
    values = pa.chunked_array(series.array.__arrow_array__())
    return values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)


def empty_rejections() -> pd.DataFrame:
    """A rejected-row frame (``source_line``, ``reason``, ``raw_record``) without rows."""
    return pd.DataFrame(
        {
            "source_line": pd.Series(dtype="int64"),
            "reason": pd.Series(dtype=object),
            "raw_record": pd.Series(dtype=object),
        }
    )


def per_distinct_value(parser):
    """Run a column parser once per distinct value and broadcast the result(s) back to every row: the project's one
    way of doing work per distinct value.

    Registry columns repeat a few thousand values over a million rows (dates, quantities, statuses, project
    ids), so this turns a million string operations into a hash lookup; the result is identical. Columns that
    are mostly distinct (serial numbers, notes) are parsed directly."""

    @functools.wraps(parser)
    def wrapper(series: pd.Series, *args, **kwargs):
        if len(series) < 2048:
            return parser(series, *args, **kwargs)
        codes, uniques = _factorize(series)
        if len(uniques) * 4 > len(series):
            return parser(series, *args, **kwargs)
        result = parser(uniques, *args, **kwargs)

        def broadcast(values: pd.Series) -> pd.Series:
            return values.take(codes).set_axis(series.index)

        return tuple(map(broadcast, result)) if isinstance(result, tuple) else broadcast(result)

    return wrapper


def each_present(values: pd.Series, rule: Callable[[object], object]) -> pd.Series:
    """``rule`` of each present value (None where missing), as Python objects: a rule written for one value, run on
    the distinct values a :func:`per_distinct_value` function receives."""
    return pd.Series([None if pd.isna(v) else rule(v) for v in values.tolist()], index=values.index, dtype=object)


def _factorize(series: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(code per row, distinct values in order of appearance, missing included as a value); Arrow-backed text is
    dictionary-encoded in C++ rather than hashed as Python objects."""
    if not _is_arrow_text(series):
        codes, uniques = pd.factorize(series, use_na_sentinel=False)
        return codes, pd.Series(uniques, dtype=series.dtype)
    encoded = arrow_strings(series).dictionary_encode(null_encoding="encode")
    return encoded.indices.to_numpy(zero_copy_only=False), arrow_text(encoded.dictionary).astype(series.dtype)


@per_distinct_value
def clean_text(series: pd.Series, dtype: object = object) -> pd.Series:
    """Strip whitespace and turn placeholders (``N/A``, ``None``, ``–``, ``View`` ...) into missing values: Python
    strings with None for missing, or with ``dtype=ARROW_TEXT`` Arrow-backed text with NA (built on the distinct
    values and broadcast by an Arrow take, so a million-row column never holds a million Python strings)."""
    text = series.astype("string").str.strip()
    missing = text.str.casefold().isin(PLACEHOLDERS) | text.isna()
    if dtype == ARROW_TEXT:
        return text.mask(missing).astype(ARROW_TEXT)
    return text.astype(object).where(~missing, None)


def text_column(value: str | None, length: int) -> pd.Series:
    """``length`` copies of ``value`` (missing when None) as Arrow-backed text."""
    return arrow_text(pa.repeat(pa.scalar(value, pa.large_string()), length))


PLAIN_WHOLE_NUMBER = r"^(?:[0-9]{1,15}|-[1-9][0-9]{0,14})$"
"""Digits, negative ones without a leading zero (Arrow reads ``-0`` as -0.0, the rule as 0.0), once thousands
separators are dropped as the number rule drops them, few enough for float64 to hold exactly: Arrow's cast and the rule
read such a value as the same number. Nearly every quantity an export writes looks like this (``74377``,
``"1,454,054"``, VROD's ``-1200``)."""
_NUMBER = r"^[+-]?\d+(\.\d+)?$"


def parse_float(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers such as ``"1,454,054"``, ``550369.0`` or ``-3`` as float64. Returns (values, mask of present values
    that are not numbers).

    Plain whole numbers (:data:`PLAIN_WHOLE_NUMBER`) are cast by Arrow in C++; every other value goes through the
    number rule, once per distinct value: pandas' parser, which reads long decimals differently from Arrow's."""
    digits = pc.replace_substring(arrow_strings(series), ",", "")
    plain = pc.fill_null(pc.match_substring_regex(digits, PLAIN_WHOLE_NUMBER), False)
    values = pc.cast(pc.if_else(plain, digits, pa.scalar(None, digits.type)), pa.float64())
    values = values.to_numpy(zero_copy_only=False, writable=True)
    bad = np.zeros(len(values), dtype=bool)
    other = ~plain.to_numpy(zero_copy_only=False)
    if other.any():
        rule_values, rule_bad = _number_rule(series[other])
        values[other], bad[other] = rule_values.to_numpy(), rule_bad.to_numpy()
    return pd.Series(values, index=series.index), pd.Series(bad, index=series.index)


@per_distinct_value
def _number_rule(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    text = clean_text(series).astype("string")
    # Thousands separators ("1,454,054") and stray spaces are formatting, not meaning.
    stripped = text.str.replace(",", "", regex=False).str.replace(" ", "", regex=False)
    ok = stripped.str.fullmatch(_NUMBER).fillna(False).astype(bool)
    return pd.to_numeric(stripped.where(ok), errors="coerce").astype("float64"), text.notna() & ~ok


@per_distinct_value
def parse_int(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Integers such as ``"1,454,054"``, ``550369.0`` or ``84889.00`` (pandas/Excel artefacts).
    Returns (Int64 values, mask of present values that are not whole numbers)."""
    values, bad = parse_float(series)
    fractional = values.notna() & (values != np.floor(values))
    return values.where(~fractional).round().astype("Int64"), bad | fractional


ISO_DATE = ("%Y-%m-%d", "ISO8601")
"""``2024-03-01`` or an ISO 8601 timestamp (``2025-03-29T22:20:26.713259``), as Verra, Gold Standard and ACR's
platform write dates."""
PLAIN_TIMESTAMP = r"^(?:19|20|21)\d\d-\d\d-\d\d(?:T\d\d:\d\d:\d\d(?:\.\d{1,6})?)?$"
"""An :data:`ISO_DATE` without a zone, well inside datetime64[ns] (Gold Standard stamps each issuance so)."""
MAYBE_ZONED = r"[Tt ][0-9:.\s]*[^0-9:.\s]"
"""Anything after the time but digits, ``:`` and ``.``: a ``Z``, an offset, or text pandas might read as one."""


@per_distinct_value
def parse_date(series: pd.Series, formats: tuple[str, ...]) -> tuple[pd.Series, pd.Series]:
    """Dates in any of ``formats`` (tried in order, each vectorized). Returns (datetime64 values, mask of
    present values matching none of the formats).

    With :data:`ISO_DATE`, plain stamps (:data:`PLAIN_TIMESTAMP`) are read by Arrow's ISO parser in C++, which reads
    them as the formats do: Gold Standard stamps each issuance to the microsecond, so there are no distinct values to
    share. Arrow reads none when the column holds a zoned value (pandas then reads the zone-less ones in that zone)
    or a plain yet impossible date (``2023-02-29``: Arrow rejects the whole cast, the formats say which value)."""
    result = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
    if formats == ISO_DATE:
        strings = arrow_strings(series)
        plain = pc.fill_null(pc.match_substring_regex(strings, PLAIN_TIMESTAMP), False)
        if pc.any(plain).as_py() and not pc.any(pc.match_substring_regex(strings, MAYBE_ZONED)).as_py():
            with contextlib.suppress(pa.ArrowInvalid):
                stamps = pc.cast(pc.if_else(plain, strings, pa.scalar(None, strings.type)), pa.timestamp("ns"))
                result[:] = stamps.to_numpy(zero_copy_only=False)
    text = clean_text(series.where(result.isna())).astype("string")
    for fmt in formats:
        todo = result.isna() & text.notna()
        if not todo.any():
            break
        if fmt == "ISO8601":
            parsed = pd.to_datetime(text[todo], format="ISO8601", errors="coerce", utc=True).dt.tz_localize(None)
        else:
            parsed = pd.to_datetime(text[todo], format=fmt, errors="coerce")
        result.loc[todo] = parsed
    bad = text.notna() & result.isna()
    return result, bad


_TRUE = frozenset({"yes", "y", "true", "t", "1", "eligible", "approved"})
_FALSE = frozenset({"no", "n", "false", "f", "0", "not eligible", "ineligible"})


@per_distinct_value
def parse_bool(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Yes/No style flags; placeholders are unknown (NA). Returns (boolean values, mask of unrecognised text)."""
    text = clean_text(series).astype("string").str.casefold()
    values = pd.Series(pd.NA, index=series.index, dtype="boolean")
    values[text.isin(_TRUE).fillna(False).astype(bool)] = True
    values[text.isin(_FALSE).fillna(False).astype(bool)] = False
    bad = text.notna() & values.isna()
    return values, bad


EXCEL_DATE_ID = re.compile(r"^\d{1,2}/\d{1,2}/\d{2,4}( \d{1,2}:\d{2}(:\d{2})?( [AP]M)?)?$|^\d{4}-\d{2}-\d{2}")


@per_distinct_value
def looks_like_excel_date(series: pd.Series) -> pd.Series:
    """IDs that Excel turned into dates (``1/28/1914``): FORMATS.md hazard 11."""
    return series.astype("string").str.strip().str.match(EXCEL_DATE_ID.pattern).fillna(False).astype(bool)


@per_distinct_value
def project_ids(raw: pd.Series, prefix: str) -> tuple[pd.Series, pd.Series]:
    """Registry ids in the OffsetsDB/Berkeley convention: ``<PREFIX><number>`` without leading zeros
    (``1340`` -> ``VCS1340``; ``ACR0885`` -> ``ACR885``; ``GS1234`` -> ``GLD1234`` for Gold Standard).

    Returns (ids or None, mask of present values that are not ``[prefix]<digits>``)."""
    text = raw.astype("string").str.strip()
    accepted_prefixes = {prefix, "GS"} if prefix == "GLD" else {prefix}
    pattern = r"^(?:" + "|".join(sorted(accepted_prefixes)) + r")?0*([1-9][0-9]*)(?:\.0+)?$"
    digits = text.str.upper().str.extract(pattern, expand=False)
    bad = text.notna() & (text != "") & digits.isna()
    return (prefix + digits).astype(object).where(digits.notna(), None), bad


@dataclass
class RowChecks:
    """Collects, per record, every reason it must be rejected; a record is accepted only with none."""

    index: pd.Index
    _reasons: list[tuple[np.ndarray, str | pd.Series]] = field(default_factory=list)

    def fail(self, mask: pd.Series | np.ndarray, reason: str | pd.Series) -> None:
        """Mark records where ``mask`` is true with ``reason`` (a sentence, or a per-row Series of them)."""
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            self._reasons.append((mask, reason))

    def reasons(self) -> pd.Series:
        out = pd.Series("", index=self.index, dtype=object)
        for mask, reason in self._reasons:
            text = reason[mask] if isinstance(reason, pd.Series) else reason
            current = out[mask]
            out[mask] = np.where(current == "", text, current + "; " + text)
        return out


def rejected_from(records: pd.DataFrame, raw_headers: dict[str, str], reasons: pd.Series) -> pd.DataFrame:
    """Rejected-row frame (source_line, reason, raw_record) for records with a reason; the raw record is a
    JSON object keyed by the file's own headers, so nothing is lost."""
    failed = reasons != ""
    if not failed.any():
        return empty_rejections()
    subset = records.loc[failed, list(raw_headers)].rename(columns=raw_headers)
    raw = subset.to_json(orient="records", lines=True, force_ascii=False).splitlines()
    return pd.DataFrame(
        {
            "source_line": records.loc[failed, "source_line"].to_numpy(dtype=np.int64),
            "reason": reasons[failed].to_numpy(dtype=object),
            "raw_record": raw,
        }
    )


# --------------------------------------------------------------------------------------------------------------
# Field rules: parse a column strictly and reject every record whose value does not parse, in plain words.
# --------------------------------------------------------------------------------------------------------------


def column(records: pd.DataFrame, name: str) -> pd.Series:
    """A canonical column of a :class:`RawTable`'s records; all-missing when the export dropped it (the layout
    marks it optional)."""
    if name in records:
        return records[name]
    return pd.Series(None, index=records.index, dtype=object)


def clean_column(records: pd.DataFrame, name: str, dtype: object = object) -> pd.Series:
    """:func:`clean_text` of a canonical :func:`column` of a :class:`RawTable`'s records."""
    return clean_text(column(records, name), dtype)


def fail_values(checks: RowChecks, mask: pd.Series | np.ndarray, raw: pd.Series, message: str) -> None:
    """Reject records where ``mask`` holds, with ``message`` in which ``{value}`` becomes the quoted raw value
    (``"quantity {value} is not a number"`` -> ``quantity 'abc' is not a number``). Reason text is built for
    the failing records only, so a clean million-row column costs one mask test."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return
    before, _, after = message.partition("{value}")
    reason = pd.Series(None, index=raw.index, dtype=object)
    reason[mask] = before + "'" + raw[mask].astype(str) + "'" + after
    checks.fail(mask, reason)


LARGEST_WHOLE_NUMBER = 2**53
"""Above this a float64 no longer holds every integer, so the count would not be exact: such a value (20 digits
pasted into a quantity cell) rejects its record rather than be rounded."""


def whole_numbers(checks: RowChecks, raw: pd.Series, what: str, *, required: bool) -> pd.Series:
    """Non-negative integers (Int64) from a raw column (read by :func:`parse_float`); non-numbers, fractions,
    negatives, numbers too large to count exactly and (when ``required``) missing values reject the record."""
    values, not_numeric = parse_float(raw)
    fail_values(checks, not_numeric, raw, f"{what} {{value}} is not a number")
    number = values.to_numpy()
    present = ~np.isnan(number)
    fractional = present & (number != np.floor(number))
    fail_values(checks, fractional, raw, f"{what} {{value}} is not a whole number")
    fail_values(checks, number < 0, raw, f"{what} {{value}} is negative")
    too_large = np.abs(number) > LARGEST_WHOLE_NUMBER
    fail_values(checks, too_large, raw, f"{what} {{value}} is too large to be a count of credits")
    if required:
        checks.fail(~present & ~not_numeric.to_numpy(), f"{what} is missing")
    kept = present & ~(fractional | too_large)
    return pd.Series(pd.arrays.IntegerArray(np.where(kept, number, 0).astype(np.int64), ~kept), index=raw.index)


def dates(
    checks: RowChecks, raw: pd.Series, what: str, formats: tuple[str, ...], expected: str, *, required: bool = False
) -> pd.Series:
    """Dates in one of ``formats``; unparseable values (and missing ones when ``required``) reject the record
    with the format the export uses (``expected``, e.g. ``YYYY-MM-DD``)."""
    values, bad = parse_date(raw, formats)
    fail_values(checks, bad, raw, f"{what} {{value}} is not a date (expected {expected})")
    if required:
        checks.fail((values.isna() & ~bad).to_numpy(), f"{what} is missing")
    return values


VINTAGE_RANGE = (1990, 2100)


def vintages(checks: RowChecks, years: pd.Series, what: str = "vintage") -> pd.Series:
    """Reject vintage years outside :data:`VINTAGE_RANGE` (typos such as 3021, or Excel serial numbers)."""
    low, high = VINTAGE_RANGE
    outside = (years.notna() & ((years < low) | (years > high))).to_numpy(dtype=bool)
    fail_values(checks, outside, years, f"{what} {{value}} outside {low}-{high}")
    return years


def registry_project_ids(checks: RowChecks, raw: pd.Series, prefix: str, what: str = "project id") -> pd.Series:
    """Project ids in the shared convention (see :func:`project_ids`); Excel-damaged
    ids (``1/28/1914``), ids that are not ``[prefix]<number>`` and missing ids reject the record."""
    ids, missing, bad, excel = _project_id_parts(raw, prefix)
    missing, bad, excel = (m.to_numpy(dtype=bool) for m in (missing, bad, excel))
    fail_values(checks, excel, raw, f"{what} {{value}} looks like an Excel-damaged date")
    fail_values(checks, bad & ~excel, raw, f"{what} {{value}} is not a {prefix} project number")
    checks.fail(missing, f"{what} is missing")
    return ids


@per_distinct_value
def _project_id_parts(raw: pd.Series, prefix: str) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """(ids, missing, not an id, Excel-damaged) in one pass over the distinct values."""
    ids, bad = project_ids(raw, prefix)
    missing = clean_text(raw).isna()
    bad = bad & ~missing
    excel = looks_like_excel_date(raw) & bad
    return ids.where(~(bad | missing), None), missing, bad, excel


def extract(series: pd.Series, pattern: str, numbers: tuple[str, ...] = ()) -> pd.DataFrame:
    """``Series.str.extract`` for mostly-distinct columns (serial numbers), run by Arrow's RE2 engine in C++:
    one column per named group of ``pattern`` (``(?P<name>...)``), missing where the value does not match.
    Groups named in ``numbers`` are digit runs returned as float64 (exact below 2**53), the others as str."""
    groups = pc.extract_regex(arrow_strings(series), pattern)
    matched = groups.is_valid()  # a struct's fields ignore the struct's own nulls
    columns = {}
    for i in range(groups.type.num_fields):
        name, missing = groups.type.field(i).name, pa.scalar(None, groups.type.field(i).type)
        field = pc.if_else(matched, groups.field(i), missing)
        if name in numbers:
            # An optional group that did not take part in the match comes back as "", not null.
            field = pc.if_else(pc.equal(field, ""), missing, field)
            columns[name] = pc.cast(field, pa.float64()).to_numpy(zero_copy_only=False)
        else:
            columns[name] = field.to_numpy(zero_copy_only=False)
    return pd.DataFrame(columns, index=series.index)
