"""Reading raw registry files without losing or shifting a single record.

Every reader goes through :func:`read_table`, which

- matches headers after whitespace normalisation (``Status Effective  (GMT)`` == ``Status Effective (GMT)``)
  against a per-format :class:`Layout` that lists the accepted spellings of every column, so renamed and
  dropped columns are tolerated where the layout says so, and an unknown layout is an :class:`IngestError`
  naming the file and the columns it expected, never a guess;
- keeps the physical line number where each record starts (``source_line``), also for multi-line records;
- rejects malformed records (more or fewer fields than the header) with their raw text instead of letting
  the parser shift or pad them;
- detects the encoding (UTF-8, with or without BOM, else Windows-1252) and a wrong delimiter.

Values stay strings here; :class:`RowChecks` and the ``parse_*`` helpers convert them in a vectorized way and
collect a plain-words reason for every value that does not parse, so a bad row is rejected, never coerced.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import io
import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pa_csv

PLACEHOLDERS = frozenset(
    {"", "n/a", "na", "none", "null", "nan", "-", "–", "—", "- -", "not applicable", "view", "#n/a"}
)
"""Cell values that mean 'no value' in the registries' exports (FORMATS.md, parsing hazard 8)."""


class IngestError(Exception):
    """A raw file cannot be read at all; the message names the file and what was expected."""


@dataclass(frozen=True)
class Column:
    """A canonical column and the raw header spellings that carry it (compared after normalisation)."""

    name: str
    headers: tuple[str, ...]
    required: bool = True


@dataclass(frozen=True)
class Layout:
    """The raw-header contract of one registry export format."""

    description: str
    columns: tuple[Column, ...]
    sheet: str | None = None  # XLSX sheet name

    def expected(self) -> str:
        parts = []
        for col in self.columns:
            spellings = " | ".join(repr(h) for h in col.headers)
            parts.append(f"{spellings}{'' if col.required else ' (optional)'}")
        return "; ".join(parts)


def normalize_header(header: object) -> str:
    """Collapse runs of whitespace (incl. embedded newlines), strip, and casefold."""
    return re.sub(r"\s+", " ", str(header)).strip().casefold()


@dataclass
class RawTable:
    """The records of one raw file, as strings under canonical column names, plus what could not be read."""

    path: Path
    records: pd.DataFrame  # canonical columns (str or None) + source_line
    raw_headers: dict[str, str]  # canonical name -> raw header it came from
    malformed: pd.DataFrame  # source_line, reason, raw_record
    sha256: str
    encoding: str
    extra_columns: tuple[str, ...] = ()

    @property
    def rows_read(self) -> int:
        return len(self.records) + len(self.malformed)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _empty_malformed() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source_line": pd.Series(dtype="int64"),
            "reason": pd.Series(dtype=object),
            "raw_record": pd.Series(dtype=object),
        }
    )


def map_columns(path: Path, headers: list[str], layout: Layout) -> tuple[dict[str, str], tuple[str, ...]]:
    """Map raw headers to canonical names; raise :class:`IngestError` if a required column is missing."""
    by_normalized: dict[str, str] = {}
    for raw in headers:
        norm = normalize_header(raw)
        if norm and not norm.startswith("unnamed:"):
            by_normalized.setdefault(norm, raw)
    mapping: dict[str, str] = {}
    missing = []
    for col in layout.columns:
        raw = next((by_normalized[n] for n in map(normalize_header, col.headers) if n in by_normalized), None)
        if raw is not None:
            mapping[col.name] = raw
        elif col.required:
            missing.append(col)
    if missing:
        found = ", ".join(repr(h) for h in headers[:40])
        hint = ""
        if len(headers) == 1 and any(d in headers[0] for d in (";", "\t", "|")):
            hint = " The header is a single column containing ';', tab or '|': wrong delimiter (expected ',')."
        wanted = "; ".join(" | ".join(repr(h) for h in c.headers) for c in missing)
        raise IngestError(
            f"{path}: unknown layout for {layout.description}: missing required column(s) {wanted}.{hint} "
            f"Found columns: {found}. Expected columns: {layout.expected()}"
        )
    used = set(mapping.values())
    extra = tuple(
        h for h in headers if h not in used and normalize_header(h) and not normalize_header(h).startswith("unnamed:")
    )
    return mapping, extra


def _detect_encoding(data: bytes) -> str:
    """UTF-8 (BOM stripped) when the bytes decode as UTF-8, else Windows-1252 (hand-saved copies, CAR pages)."""
    buffer = pa.py_buffer(data)
    offsets = pa.py_buffer(np.array([0, buffer.size], dtype=np.int64).tobytes())
    blob = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, buffer])
    try:
        blob.cast(pa.large_string())  # Arrow validates UTF-8 in C++ without building a Python string
    except pa.ArrowInvalid:
        return "cp1252"
    return "utf-8-sig"


def read_table(path: Path, layout: Layout) -> RawTable:
    """Read a CSV or XLSX registry export into a :class:`RawTable` (see module docstring)."""
    path = Path(path)
    if not path.exists():
        raise IngestError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise IngestError(f"{path}: file is empty (0 bytes); expected a header row for {layout.description}")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, layout)
    if suffix in (".csv", ".txt"):
        table = _read_csv(path, layout)
        # The parse's own buffers are free now; hand them back rather than let Arrow's allocator hold them while
        # pandas and NumPy allocate elsewhere (a few hundred MiB of peak memory on a million-row export).
        pa.default_memory_pool().release_unused()
        return table
    raise IngestError(f"{path}: unsupported file type {suffix!r} for {layout.description} (expected .csv or .xlsx)")


def _read_csv(path: Path, layout: Layout) -> RawTable:
    """The file's bytes are read once: hashed, checked for UTF-8, parsed by Arrow's multi-threaded CSV reader
    (every field as text), and scanned for line numbers; the columns the layout uses stay Arrow-backed text
    (:data:`ARROW_TEXT`), never Python strings. A file with a record of more or fewer fields than the header is
    tokenized by the ``csv`` module instead, which says where each record starts, so that record is quarantined
    with its raw text and line rather than shifted or padded."""
    data = path.read_bytes()
    with ThreadPoolExecutor(max_workers=2) as workers:
        # Hashing and counting lines need only the bytes: the workers do both while Arrow parses (hashlib releases
        # the GIL on large buffers, Arrow too). A cp1252 file's newlines are the same bytes once re-encoded as UTF-8.
        digest = workers.submit(hashlib.sha256, data)
        physical_lines = workers.submit(_physical_lines, data)
        encoding = _detect_encoding(data)
        if encoding != "utf-8-sig":  # ',', '"' and newlines keep their byte positions: line numbers still hold
            data = _as_utf8(path, data, encoding, layout)
        header_end = data.find(b"\n")
        header_text = (data[: header_end + 1] if header_end >= 0 else data).decode("utf-8-sig")
        if not header_text.strip():
            raise IngestError(f"{path}: the first line is blank; expected a header row for {layout.description}")
        with _csv_errors(path, layout, lambda: 1):
            headers = next(csv.reader([header_text]))
        mapping, extra = map_columns(path, headers, layout)

        table = _arrow_records(data, len(headers))
        if table is not None:
            table, lines = _without_blank_records(table, _record_start_lines(physical_lines.result(), table))
            malformed = _empty_malformed()
        else:
            table, lines, malformed = _csv_module_records(path, layout, data.decode("utf-8-sig"), len(headers))
        del data  # the table holds its own copy of every value
        position = {header: i for i, header in reversed(list(enumerate(headers)))}  # the first of repeated headers
        used = {canonical: table.column(position[raw]) for canonical, raw in mapping.items()}
        rows = table.num_rows
        del table  # unused columns are freed now, each used one once it is rewritten below

        # One chunk per column: the parsers dictionary-encode and take from these columns many times over. Arrow
        # copies without the GIL, so the two workers merge two columns at a time, each freed once merged.
        def one_chunk(canonical: str) -> pd.Series:
            return arrow_text(used.pop(canonical).combine_chunks())

        names = list(used)
        records = pd.DataFrame(dict(zip(names, workers.map(one_chunk, names), strict=True)), index=pd.RangeIndex(rows))
        records["source_line"] = lines
        return RawTable(path, records, mapping, malformed, digest.result().hexdigest(), encoding, extra)


def _as_utf8(path: Path, data: bytes, encoding: str, layout: Layout) -> bytes:
    """``data`` (not UTF-8) re-encoded from ``encoding`` as UTF-8; bytes that are no text in it either (binary
    data, another file saved under the export's name) are an :class:`IngestError` naming the line."""
    try:
        return data.decode(encoding).encode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise IngestError(
            f"{path}: line {line}: byte 0x{data[exc.start]:02x} is neither UTF-8 nor Windows-1252 text; expected "
            f"a CSV text export ({layout.description}), not binary data"
        ) from exc


@contextlib.contextmanager
def _csv_errors(path: Path, layout: Layout, line: Callable[[], int]):
    """Turn the ``csv`` module's errors (a field over its size limit, a stray NUL) into an :class:`IngestError`
    naming the file, the line where the record starts (``line()``) and what was expected."""
    try:
        yield
    except csv.Error as exc:
        raise IngestError(
            f"{path}: line {line()}: not a CSV record of {layout.description}: {exc} (expected fields of at most "
            f"{csv.field_size_limit():,} characters, as registry exports write them)"
        ) from exc


def _physical_lines(data: bytes) -> int:
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


ARROW_TEXT = pd.StringDtype("pyarrow")
"""The dtype of the text columns :func:`read_table` returns for CSV files: Arrow-backed, so a million values never
become a million Python objects (parsers work on the distinct values, see :func:`per_distinct_value`)."""


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


def _arrow_records(data: bytes, width: int) -> pa.Table | None:
    """Every record after the header as ``width`` text columns (``c0`` ...), blank lines included as empty
    records; None when any record has another number of fields (Arrow rejects it rather than pad or shift)."""
    names = [f"c{i}" for i in range(width)]
    malformed: list[object] = []

    def reject(row: object) -> str:
        malformed.append(row)
        return "skip"

    options = dict(
        read_options=pa_csv.ReadOptions(skip_rows=1, column_names=names),
        parse_options=pa_csv.ParseOptions(
            newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=reject
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False, quoted_strings_can_be_null=False
        ),
    )
    try:
        table = pa_csv.read_csv(pa.py_buffer(data), **options)
    except pa.ArrowInvalid:  # e.g. a quote left open: the exact path says which record
        return None
    return None if malformed else table


def _record_start_lines(physical: int, table: pa.Table) -> np.ndarray:
    """Physical line (1-based) where each record starts, counting newlines embedded in quoted fields (``physical``:
    the file's number of lines)."""
    n = table.num_rows
    if physical <= n + 1:
        return np.arange(2, n + 2, dtype=np.int64)
    spans = np.ones(n, dtype=np.int64)
    for column in table.columns:
        spans += pc.count_substring(column, "\n").to_numpy(zero_copy_only=False)
    return 2 + np.concatenate([[0], np.cumsum(spans)[:-1]]).astype(np.int64)


def _without_blank_records(table: pa.Table, lines: np.ndarray) -> tuple[pa.Table, np.ndarray]:
    """A blank line is a record of empty fields: skipped, yet counted for the line numbers of what follows."""
    blank = pc.equal(table.column(0), "")
    if not pc.any(blank).as_py():  # only then are the other columns worth comparing
        return table, lines
    for column in table.columns[1:]:
        blank = pc.and_(blank, pc.equal(column, ""))
    keep = pc.invert(blank)
    return table.filter(keep), lines[keep.to_numpy(zero_copy_only=False)]


def _csv_module_records(path: Path, layout: Layout, text: str, width: int) -> tuple[pa.Table, np.ndarray, pd.DataFrame]:
    """The records of ``text`` as ``width`` text columns, with the line each starts on, and the malformed ones
    (``source_line``, ``reason``, ``raw_record``: their physical lines verbatim), tokenized by the ``csv`` module."""
    physical_lines = text.splitlines(keepends=True)
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    good_rows: list[list[str]] = []
    good_lines: list[int] = []
    bad: list[tuple[int, str, str]] = []
    start = reader.line_num + 1
    with _csv_errors(path, layout, lambda: start):  # ``start``: where the record being read begins
        for fields in reader:
            end = reader.line_num
            if not fields or all(f == "" for f in fields) and len(fields) <= 1:
                start = end + 1
                continue
            if len(fields) == width:
                good_rows.append(fields)
                good_lines.append(start)
            else:
                raw = "".join(physical_lines[start - 1 : end]).rstrip("\r\n")
                what = "more" if len(fields) > width else "fewer"
                reason = f"malformed record: {len(fields)} fields, {what} than the header's {width}; not shifted"
                bad.append((start, reason, raw))
            start = end + 1
    columns = list(zip(*good_rows, strict=True)) if good_rows else [()] * width
    table = pa.table({f"c{i}": pa.array(values, pa.string()) for i, values in enumerate(columns)})
    malformed = pd.DataFrame(bad, columns=["source_line", "reason", "raw_record"]) if bad else _empty_malformed()
    return table, np.asarray(good_lines, dtype=np.int64), malformed


def _read_xlsx(path: Path, layout: Layout) -> RawTable:
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:  # openpyxl raises several unrelated types for damaged workbooks
        raise IngestError(f"{path}: not a readable XLSX workbook ({exc})") from exc
    sheets = book.sheet_names
    sheet = layout.sheet if layout.sheet in sheets else (sheets[0] if layout.sheet is None else None)
    if sheet is None:
        raise IngestError(f"{path}: sheet {layout.sheet!r} not found for {layout.description}; sheets: {sheets}")
    frame = book.parse(sheet, dtype=object, header=0)
    headers = [str(h) for h in frame.columns]
    mapping, extra = map_columns(path, headers, layout)
    frame.columns = headers
    values = frame[list(mapping.values())]
    # Excel stores real dates and numbers; render them the way the CSV export writes them.
    records = pd.DataFrame(
        {canonical: _excel_to_text(values[raw]) for canonical, raw in mapping.items()}, index=values.index
    )
    blank = records.isna().all(axis=1)
    lines = np.arange(2, len(frame) + 2, dtype=np.int64)  # worksheet row numbers
    records = records.loc[~blank].reset_index(drop=True)
    records["source_line"] = lines[~blank.to_numpy()]
    return RawTable(path, records, mapping, _empty_malformed(), file_sha256(path), "xlsx", extra)


def _excel_to_text(series: pd.Series) -> pd.Series:
    def render(value: object) -> object:
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
            return None
        if isinstance(value, pd.Timestamp | np.datetime64) or hasattr(value, "strftime"):
            ts = pd.Timestamp(value)
            return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.isoformat()
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    # Column-wise map over a few thousand cells; Excel exports are small (the full Verra list is 4k rows).
    return series.map(render).astype(object)


def parse_json(path: Path, data: bytes, description: str, *, expected: str) -> object:
    """The JSON value in ``data`` (read from ``path``); an empty file or invalid JSON is an :class:`IngestError`
    naming the file and what was ``expected`` there (``a JSON list``, ``a JSON document``)."""
    if not data.strip():
        raise IngestError(f"{path}: file is empty; expected {expected} for {description}")
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IngestError(f"{path}: not valid JSON for {description} ({exc})") from exc


def read_json_rows(path: Path, dataset_key: str, description: str) -> tuple[pd.DataFrame, str, str]:
    """Rows of an ACR-platform style JSON document ``{"datasets": {key: {"rows": [...]}}}`` with a
    ``source_line`` holding the 1-based record number within ``rows``."""
    path = Path(path)
    raw = path.read_bytes()
    doc = parse_json(path, raw, description, expected="a JSON document")
    try:
        rows = doc["datasets"][dataset_key]["rows"]
    except (KeyError, TypeError) as exc:
        keys = list(doc.get("datasets", {})) if isinstance(doc, dict) else type(doc).__name__
        raise IngestError(
            f"{path}: unknown layout for {description}: expected datasets.{dataset_key}.rows, found {keys}"
        ) from exc
    frame = pd.json_normalize(rows, max_level=0) if rows else pd.DataFrame()
    frame["source_line"] = np.arange(1, len(frame) + 1, dtype=np.int64)
    return frame, hashlib.sha256(raw).hexdigest(), "utf-8"


# --------------------------------------------------------------------------------------------------------------
# Value parsing: vectorized, strict, with a reason for every value that does not parse.
# --------------------------------------------------------------------------------------------------------------


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


PLAIN_WHOLE_NUMBER = r"^[0-9]{1,15}$"
"""Digits only (once thousands separators are dropped, as the number rule drops them), few enough for float64 to hold
exactly: Arrow's cast and the rule read such a value as the same integer. Nearly every quantity an export writes looks
like this (``74377``, ``"1,454,054"``)."""
_NUMBER = r"^[+-]?\d+(\.\d+)?$"


def parse_float(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers such as ``"1,454,054"``, ``550369.0`` or ``-3`` as float64. Returns (values, mask of present values
    that are not numbers).

    Plain digit runs (:data:`PLAIN_WHOLE_NUMBER`) are cast by Arrow in C++; every other value goes through the
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
        return _empty_malformed()
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
