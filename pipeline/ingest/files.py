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

Values stay text here; :mod:`pipeline.ingest.parsing` converts them.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pa_csv

from pipeline.ingest.parsing import arrow_text, empty_rejections


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
    (:data:`~pipeline.ingest.parsing.ARROW_TEXT`), never Python strings. A file with a record of more or fewer
    fields than the header is tokenized by the ``csv`` module instead, which says where each record starts, so that
    record is quarantined with its raw text and line rather than shifted or padded."""
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
            malformed = empty_rejections()
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


def _arrow_records(data: bytes, width: int) -> pa.Table | None:
    """Every record after the header as ``width`` text columns (``c0`` ...), blank lines included as empty
    records; None when a record has another number of fields (Arrow rejects the file rather than pad or shift)
    or is no CSV at all (a quote left open): the ``csv`` module then says which record."""
    names = [f"c{i}" for i in range(width)]
    try:
        return pa_csv.read_csv(
            pa.py_buffer(data),
            read_options=pa_csv.ReadOptions(skip_rows=1, column_names=names),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return None


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
    malformed = pd.DataFrame(bad, columns=["source_line", "reason", "raw_record"]) if bad else empty_rejections()
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
    return RawTable(path, records, mapping, empty_rejections(), file_sha256(path), "xlsx", extra)


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
