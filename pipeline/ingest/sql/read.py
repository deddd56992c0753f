"""A raw CSV export into a DuckDB table, without losing or shifting a record.

DuckDB's ``read_csv`` parses every field as text with strict RFC 4180 quoting; a record with more or fewer fields
than the header is not padded or shifted but kept in DuckDB's rejects table, and becomes a rejected row with its
physical line and raw text. The header is matched against the format's :class:`~pipeline.ingest.parsing.Layout`
as the pandas path matches it (same errors), and each record keeps the physical line where it starts: DuckDB
numbers records, not lines, so the lines are counted here from the newlines inside the records, the malformed
records and the blank lines between records.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.ingest.parsing import IngestError, Layout, map_columns
from pipeline.ingest.parsing import _detect_encoding as detect_encoding


@dataclass
class RawFile:
    """What reading one file left beside its table: the file's hash and encoding, the raw header of each canonical
    column, the malformed records (``source_line``, ``reason``, ``raw_record``) and the count of records read."""

    path: Path
    sha256: str
    encoding: str
    raw_headers: dict[str, str]
    malformed: pd.DataFrame
    rows_read: int


_HASHING = ThreadPoolExecutor(max_workers=1)


def read_csv(conn: duckdb.DuckDBPyConnection, path: Path, layout: Layout, table: str) -> RawFile:
    """Create the view ``table``: the layout's canonical columns as text (NULL for an empty field and for an optional
    column the export dropped) and ``source_line``, in file order, of the CSV at ``path``."""
    path = Path(path)
    if not path.exists():
        raise IngestError(f"{path}: file not found")
    if path.suffix.lower() not in (".csv", ".txt"):
        raise IngestError(f"{path}: unsupported file type {path.suffix.lower()!r} for {layout.description}")
    data = path.read_bytes()
    if not data:
        raise IngestError(f"{path}: file is empty (0 bytes); expected a header row for {layout.description}")
    sha256 = _HASHING.submit(hashlib.sha256, data)  # while DuckDB parses (hashlib lets go of the GIL)
    encoding = detect_encoding(data)
    if encoding != "utf-8-sig":  # hand-saved copies: ',', '"' and newlines keep their bytes once re-encoded
        data = data.decode(encoding).encode("utf-8")
    header_text = data[: data.find(b"\n") % (len(data) + 1)].decode("utf-8-sig")  # a file of one line: all of it
    if not header_text.strip():
        raise IngestError(f"{path}: the first line is blank; expected a header row for {layout.description}")
    headers = next(csv.reader([header_text]))
    mapping, _ = map_columns(path, headers, layout)

    with tempfile.TemporaryDirectory() as scratch:
        source = path
        if encoding != "utf-8-sig":
            source = Path(scratch) / "utf8.csv"
            source.write_bytes(data)
        _parse(conn, source, len(headers))
    malformed = _malformed(conn, data, len(headers))
    numbered = _numbered_records(conn, data, malformed, len(headers))
    position = {raw: i for i, raw in reversed(list(enumerate(headers)))}  # the first of repeated headers
    columns = [
        f"c{position[mapping[col.name]]} AS {col.name}" if col.name in mapping else f"NULL::VARCHAR AS {col.name}"
        for col in layout.columns
    ]
    # A record of empty fields is a blank line: skipped, yet counted for the line numbers of what follows.
    blank = "(" + " AND ".join(f"coalesce(c{i}, '') = ''" for i in range(len(headers))) + ")"
    selected = ", ".join(columns)
    conn.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT {selected}, source_line FROM {numbered} WHERE NOT {blank}")
    rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return RawFile(path, sha256.result().hexdigest(), encoding, mapping, malformed, rows + len(malformed))


def _parse(conn: duckdb.DuckDBPyConnection, source: Path, width: int) -> None:
    """``_parsed``: every well-formed record as text columns ``c0`` ..., in file order (``rowid``)."""
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width)) + "}"
    conn.execute(
        "CREATE OR REPLACE TABLE _parsed AS SELECT * FROM read_csv(?, "
        f"columns = {columns}, header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
        "strict_mode = true, store_rejects = true, rejects_table = '_rejects', rejects_scan = '_reject_scans')",
        [str(source)],
    )


def _malformed(conn: duckdb.DuckDBPyConnection, data: bytes, width: int) -> pd.DataFrame:
    """One rejected row per record DuckDB could not read as ``width`` fields, at its physical line, with its raw
    text (the lines it spans) and its field count."""
    rejects = conn.execute(
        "SELECT line_byte_position, any_value(error_type), any_value(csv_line), any_value(error_message) "
        "FROM _rejects GROUP BY ALL ORDER BY line_byte_position"
    ).fetchall()
    conn.execute("DROP TABLE _rejects; DROP TABLE _reject_scans")
    rows = []
    for position, kind, text, message in rejects:  # a few records: their fields are counted as Python's csv does
        raw = text.strip("\r\n")
        fields = len(next(csv.reader(io.StringIO(raw, newline="")), []))
        if kind in ("TOO MANY COLUMNS", "MISSING COLUMNS"):
            what = "more" if fields > width else "fewer"
            reason = f"malformed record: {fields} fields, {what} than the header's {width}; not shifted"
        else:
            reason = f"malformed record: {message.rstrip('.')}; not shifted"
        rows.append((data.count(b"\n", 0, position) + 1, reason, raw, raw.count("\n") + 1))
    return pd.DataFrame(rows, columns=["source_line", "reason", "raw_record", "span"]).astype(
        {"source_line": "int64", "reason": object, "raw_record": object, "span": "int64"}
    )


BLANK_LINE = re.compile(rb"\n(?=\r?\n)")


def _blank_lines(data: bytes) -> list[int]:
    """Physical lines of the blank lines between records: an empty line after an even number of quotes (an odd
    number means it is inside a quoted field)."""
    lines, quotes, newlines, seen = [], 0, 0, 0
    for match in BLANK_LINE.finditer(data):
        quotes += data.count(b'"', seen, match.start())
        newlines += data.count(b"\n", seen, match.start())
        seen = match.start()
        if quotes % 2 == 0:
            lines.append(newlines + 2)  # the line after this newline (lines are 1-based)
    return lines


def _numbered_records(conn: duckdb.DuckDBPyConnection, data: bytes, malformed: pd.DataFrame, width: int) -> str:
    """``_parsed`` with the physical ``source_line`` where each record starts, as a subquery.

    A record spans one line plus the newlines inside its fields. Numbered without gaps from line 2, a record is
    shifted down by the lines of the malformed records and blank lines (the gaps) before it; a gap's position in
    the gapless numbering is its physical line less the lines of the gaps before it. When the file has no more
    lines than its records and gaps, no record holds a newline and the fields need not be searched."""
    gaps = pd.concat(
        [malformed[["source_line", "span"]], pd.DataFrame({"source_line": _blank_lines(data), "span": 1})],
        ignore_index=True,
    ).astype("int64")
    records = conn.execute("SELECT count(*) FROM _parsed").fetchone()[0]
    physical = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if physical == 1 + records + gaps["span"].sum():
        gapless = "rowid + 2"
    else:
        newlines = " + ".join(f"coalesce(length(c{i}) - length(replace(c{i}, chr(10), '')), 0)" for i in range(width))
        preceding = "ORDER BY rowid ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING"
        gapless = f"2 + coalesce(sum(1 + {newlines}) OVER ({preceding}), 0)"
    if gaps.empty:
        return f"(SELECT *, {gapless} AS source_line FROM _parsed)"
    conn.execute(
        """
        CREATE OR REPLACE TABLE _gaps AS
        SELECT source_line - coalesce(sum(span) OVER (ORDER BY source_line ROWS BETWEEN UNBOUNDED PRECEDING
                                                      AND 1 PRECEDING), 0) AS gapless,
               sum(span) OVER (ORDER BY source_line) AS shift
        FROM gaps
        """
    )
    return (
        f"(SELECT spans.*, spans.gapless + coalesce(_gaps.shift, 0) AS source_line "
        f"FROM (SELECT *, {gapless} AS gapless FROM _parsed) AS spans "
        "ASOF LEFT JOIN _gaps ON spans.gapless >= _gaps.gapless ORDER BY source_line)"
    )
