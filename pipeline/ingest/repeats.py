"""Repeated transactions: a raw record that repeats another, or a serial range that overlaps another.

A registry export that lists a transaction twice (a re-run download appended to the last one, a hand-merged
copy) would count its credits twice: supply, retirements and every verdict built on them. Serial numbers are
the registries' own identity of a credit, so one credit can be issued once and used (retired or cancelled)
once. :func:`repeated_records` states the rule once, for every registry, as one DuckDB statement over the
accepted records of a registry's transaction files:

- **exact repeat**: a record whose raw values (every column the reader reads, the line number aside) equal an
  earlier record of the same file is rejected, naming the line it repeats; the first copy is kept;
- **overlap**: serial ranges of the same block (the serial with its first and last number taken out, e.g.
  ``CAR-1-US-1335-31-983-KS-2025-9205``) that share a credit, within the same scope (issued blocks, or used
  ones: retirements and cancellations together; Verra's VCU blocks are one scope, each block being issued and
  perhaps retired), are one cluster of contradicting records: the first of the cluster in file order is kept,
  the others are rejected naming it. A retirement inside its issuance's range is no overlap (another scope).

:func:`pipeline.ingest.load.load_registry` applies the rule to the union of a registry's transaction files
(so a block retired in one file and cancelled in another is caught), mapping each rejection back to its raw
file and line. Verra's reader applies it to its VCU blocks itself, before it rebuilds issuances from them.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.ingest.parsing import arrow_strings, factorize

_APX_RANGE = r"^(?P<head>.+)-(?P<first>\d+) to (?P<last>\d+)(?P<tail>)$"
SERIAL_RANGES = {
    "verra": r"^(?P<head>\d+)-(?P<first>\d+)-(?P<last>\d+)-(?P<tail>.+)$",
    "gold-standard": r"^(?P<head>GS.+)-(?P<first>\d+)-(?P<last>\d+)(?P<tail>)$",
    "american-carbon-registry": _APX_RANGE,
    "climate-action-reserve": _APX_RANGE,
    "art-trees": _APX_RANGE,
}
"""Each registry's serial range split into its block (``head`` and ``tail``) and its ``first``/``last`` credit:
Verra ``<batch>-<first>-<last>-VCS-VCU-...``, Gold Standard ``GS1-1-<ISO2>-GS<gsid>-...-<first>-<last>``, APX
(ACR, CAR, ART) ``<block>-<first> to <last>``. A serial of another shape (Gold Standard's CDM serials, an ACR
platform issuance listing several holdings) has no range: only the exact-repeat rule applies to it."""

SCOPES = {
    "issuance": "issuance",
    "retirement": "retirement/cancellation",
    "cancellation": "retirement/cancellation",
    "block": "VCU block",
}
"""Serial ranges overlap only within a scope: a retirement lies inside its issuance's range by design."""

_REPEATS = """
WITH copies AS (
    SELECT *,
        row_number() OVER same AS copy,
        min(source_line) OVER same AS original_line
    FROM records
    WINDOW same AS (PARTITION BY source_file, record_key ORDER BY source_line)
),
blocks AS (
    SELECT * FROM copies WHERE copy = 1 AND block IS NOT NULL
),
reach AS (  -- the last credit of every block before this one in serial order
    SELECT *, max(last_credit) OVER (
        PARTITION BY scope, block ORDER BY first_credit, file_rank, source_line
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ) AS reached
    FROM blocks
),
clusters AS (  -- a new cluster starts where no earlier range reaches this one's first credit
    SELECT *, sum(CASE WHEN reached >= first_credit THEN 0 ELSE 1 END) OVER (
        PARTITION BY scope, block ORDER BY first_credit, file_rank, source_line ROWS UNBOUNDED PRECEDING
    ) AS cluster
    FROM reach
),
kept AS (
    SELECT *,
        count(*) OVER cluster_of AS size,
        arg_min(source_file, file_rank * 4294967296 + source_line) OVER cluster_of AS kept_file,
        arg_min(source_line, file_rank * 4294967296 + source_line) OVER cluster_of AS kept_line,
        arg_min(serial_number, file_rank * 4294967296 + source_line) OVER cluster_of AS kept_serial
    FROM clusters
    WINDOW cluster_of AS (PARTITION BY scope, block, cluster)
)
SELECT source_file, source_line,
    'exact duplicate of line ' || original_line || ' of ' || parse_filename(source_file)
        || ' (every value repeated; the first copy is kept)' AS reason
FROM copies WHERE copy > 1
UNION ALL
SELECT source_file, source_line,
    'serial range ''' || serial_number || ''' overlaps other ' || scope || ' serial ranges of this registry; the '
        || 'first of them, kept, is ''' || kept_serial || ''' on line ' || kept_line || ' of '
        || parse_filename(kept_file) AS reason
FROM kept WHERE size > 1 AND NOT (source_file = kept_file AND source_line = kept_line)
"""


def record_keys(records: pd.DataFrame) -> np.ndarray:
    """One integer per raw record of a file, equal exactly when every value the reader read is equal (the line
    number aside): each column is dictionary-encoded (in Arrow for Arrow-backed text) and the codes grouped."""
    values = [name for name in records.columns if name != "source_line"]
    if not len(records):
        return np.zeros(0, dtype=np.int64)
    codes = pd.DataFrame({name: _codes(records[name]) for name in values}, index=records.index)
    return codes.groupby(values, sort=False).ngroup().to_numpy(dtype=np.int64)


def _codes(values: pd.Series) -> np.ndarray:
    try:
        return factorize(values)[0]
    except TypeError:  # lists and objects of a JSON export: compared by their text (small files only)
        return factorize(values.map(repr))[0]


def serial_ranges(registry: str, serials: pd.Series) -> pa.Table:
    """``block``, ``first_credit`` and ``last_credit`` of each serial (:data:`SERIAL_RANGES`; null where it has
    none), by Arrow's RE2 in C++. Credit numbers are float64, exact below 2**53 (as every parser here reads them)."""
    text = pc.utf8_trim_whitespace(arrow_strings(serials).cast(pa.large_string()))
    parts = pc.extract_regex(text, SERIAL_RANGES[registry])
    matched = parts.is_valid()
    nothing = pa.scalar(None, pa.large_string())

    def part(name: str) -> pa.Array:
        return pc.if_else(matched, pc.struct_field(parts, name), nothing)

    def number(name: str) -> pa.Array:
        return pc.cast(part(name), pa.float64())

    block = pc.binary_join_element_wise(part("head"), part("tail"), pa.scalar("|", pa.large_string()))
    return pa.table({"block": block, "first_credit": number("first"), "last_credit": number("last")})


def repeated_records(registry: str, records: pd.DataFrame) -> pd.DataFrame:
    """The records (``source_file``, ``source_line``, ``reason``) that repeat or overlap another (module
    docstring). ``records`` holds one row per accepted raw record: ``source_file``, ``file_rank`` (the file's
    place in the load: the earlier file keeps a range two files share), ``source_line``, ``record_key``
    (:func:`record_keys`), ``scope`` (:data:`SCOPES`) and ``serial_number``."""
    columns = {
        "source_file": arrow_strings(records["source_file"]),
        "file_rank": pa.array(records["file_rank"].to_numpy(dtype=np.int64)),
        "source_line": pa.array(records["source_line"].to_numpy(dtype=np.int64)),
        "record_key": pa.array(records["record_key"].to_numpy(dtype=np.int64)),
        "scope": arrow_strings(records["scope"]),
        "serial_number": arrow_strings(records["serial_number"]),
    }
    ranges = serial_ranges(registry, records["serial_number"])
    table = pa.table({**columns, **{name: ranges.column(name) for name in ranges.column_names}})
    conn = duckdb.connect()
    try:
        conn.register("records", table)
        return conn.execute(_REPEATS).df()
    finally:
        conn.close()
