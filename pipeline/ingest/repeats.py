"""Repeated transactions: a raw record that repeats another, or a serial range that overlaps another.

A registry export that lists a transaction twice (a re-run download appended to the last one, a hand-merged
copy) would count its credits twice: supply, retirements and every verdict built on them. Serial numbers are
the registries' own identity of a credit, so one credit can be issued once and used (retired or cancelled)
once. :func:`repeated_records` states the rule once, for every registry, as one DuckDB statement over the
accepted records of a registry's transaction files:

- **exact repeat**: a record whose raw values (every column the reader reads, the line number aside) equal an
  earlier record of the same file (:func:`first_copies`) is rejected, naming the line it repeats; the first
  copy is kept;
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

from pipeline.ingest.parsing import arrow_strings

SERIAL_SHAPES = {
    "verra": "verra",
    "gold-standard": "gold-standard",
    "american-carbon-registry": "apx",
    "climate-action-reserve": "apx",
    "art-trees": "apx",
}
"""How each registry writes a serial range, split (:func:`serial_ranges`) into its block and its first and last
credit: ``verra`` ``<batch>-<first>-<last>-VCS-VCU-...`` (the block is the rest), ``gold-standard``
``GS1-1-<ISO2>-GS<gsid>-...-<first>-<last>``, ``apx`` (ACR, CAR, ART) ``<block>-<first> to <last>``. A serial
of another shape (Gold Standard's CDM serials, an ACR platform issuance listing several holdings) has no range:
only the exact-repeat rule applies to it."""

SCOPES = {
    "issuance": "issuance",
    "retirement": "retirement/cancellation",
    "cancellation": "retirement/cancellation",
    "block": "VCU block",
}
"""Serial ranges overlap only within a scope: a retirement lies inside its issuance's range by design."""

_REPEATS = """
WITH records AS (SELECT * FROM accepted POSITIONAL JOIN ranges),
ranged AS (SELECT * FROM records WHERE source_line = first_copy AND block IS NOT NULL),
shared AS (  -- only ranges sharing their scope and block with another can overlap
    SELECT scope, block FROM ranged GROUP BY ALL HAVING count(*) > 1
),
reach AS (  -- the last credit of every range before this one in serial order
    SELECT *, max(last_credit) OVER (
        PARTITION BY scope, block ORDER BY first_credit, file_rank, source_line
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ) AS reached
    FROM ranged SEMI JOIN shared USING (scope, block)
),
clusters AS (  -- a new cluster starts where no earlier range reaches this one's first credit
    SELECT *, sum((reached IS NULL OR reached < first_credit)::INTEGER) OVER (
        PARTITION BY scope, block ORDER BY first_credit, file_rank, source_line ROWS UNBOUNDED PRECEDING
    ) AS cluster
    FROM reach
),
kept AS (  -- the first range of each cluster of several, in file order
    SELECT scope, block, cluster, min((file_rank, source_line)) AS place
    FROM clusters GROUP BY ALL HAVING count(*) > 1
)
SELECT source_file, source_line,
    'exact duplicate of line ' || first_copy || ' of ' || parse_filename(source_file)
        || ' (every value repeated; the first copy is kept)' AS reason
FROM records WHERE source_line <> first_copy
UNION ALL
SELECT c.source_file, c.source_line,
    'serial range ''' || c.serial_number || ''' overlaps other ' || c.scope || ' serial ranges of this registry; '
        || 'the first of them, kept, is ''' || k.serial_number || ''' on line ' || k.source_line || ' of '
        || parse_filename(k.source_file) AS reason
FROM clusters AS c
JOIN kept USING (scope, block, cluster)
JOIN records AS k ON (k.file_rank, k.source_line) = kept.place
WHERE (c.file_rank, c.source_line) <> kept.place
"""


def first_copies(records: pd.DataFrame) -> np.ndarray:
    """Per raw record of one file, the line of the first record holding exactly the same values (its own line
    when it is the first): every column the reader read is compared, the line number aside. DuckDB hashes each
    record and compares the values of those whose hash repeats, so a file without repeats costs one hash pass."""
    values = [name for name in records.columns if name != "source_line"]
    lines = records["source_line"].to_numpy(dtype=np.int64)
    if not values or not len(records):
        return lines
    columns = [f"c{i}" for i in range(len(values))]
    table = pa.table(
        {
            **{column: _as_text(records[name]) for column, name in zip(columns, values, strict=True)},
            "source_line": pa.array(lines),
        }
    )
    key = ", ".join(columns)
    with duckdb.connect() as conn:
        conn.register("raw", table)
        copies = conn.execute(
            f"""
            SELECT source_line, first_copy FROM (
                SELECT source_line, min(source_line) OVER (PARTITION BY {key}) AS first_copy
                FROM raw WHERE hash({key}) IN (SELECT hash({key}) FROM raw GROUP BY ALL HAVING count(*) > 1)
            ) WHERE source_line <> first_copy
            """
        ).fetchnumpy()
    first = lines.copy()
    first[np.searchsorted(lines, copies["source_line"])] = copies["first_copy"]
    return first


def _as_text(values: pd.Series) -> pa.Array:
    """A raw column as Arrow text; the lists and objects of a JSON export by their ``repr`` (small files)."""
    try:
        return arrow_strings(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return arrow_strings(values.map(lambda value: None if value is None else repr(value)))


def serial_ranges(registry: str, serials: pd.Series) -> pa.Table:
    """``block`` (a number per distinct block), ``first_credit`` and ``last_credit`` of each serial
    (:data:`SERIAL_SHAPES`; null where it has none), by Arrow's string kernels in C++. Credit numbers are
    float64, exact below 2**53 (as every parser here reads them)."""
    text = arrow_strings(serials).cast(pa.large_string())  # the readers' serials, cleaned
    shape = SERIAL_SHAPES[registry]
    if shape == "verra":
        head, first, last, tail = _fields(text, "-", 4)
        block = pc.binary_join_element_wise(head, tail, pa.scalar("-", pa.large_string()))
    elif shape == "gold-standard":
        block, first, last = _fields(text, "-", 3, reverse=True)
    else:
        start, last = _fields(text, " to ", 2)
        block, first = _fields(start, "-", 2, reverse=True)
    ranged = pc.fill_null(pc.and_(pc.and_(_digits(first), _digits(last)), pc.not_equal(block, "")), False)
    nothing = pa.scalar(None, pa.large_string())
    return pa.table(
        {
            # Blocks are compared, never shown: their dictionary codes stand in for the text.
            "block": pc.dictionary_encode(pc.if_else(ranged, block, nothing)).indices,
            "first_credit": pc.cast(pc.if_else(ranged, first, nothing), pa.float64()),
            "last_credit": pc.cast(pc.if_else(ranged, last, nothing), pa.float64()),
        }
    )


def _fields(text: pa.Array, separator: str, count: int, *, reverse: bool = False) -> list[pa.Array]:
    """The ``count`` fields of each value split at ``separator`` (at the last ones when ``reverse``); null
    where a value has fewer. Each field is one take from the split's values, so no list is copied."""
    parts = pc.split_pattern(text, separator, max_splits=count - 1, reverse=reverse)
    whole = pc.fill_null(pc.equal(pc.list_value_length(parts), count), False).to_numpy(zero_copy_only=False)
    starts = parts.offsets.to_numpy()[:-1]
    return [parts.values.take(pa.array(starts + i, mask=~whole)) for i in range(count)]


def _digits(text: pa.Array) -> pa.Array:
    return pc.fill_null(pc.match_substring_regex(text, r"^[0-9]{1,15}$"), False)


def repeated_records(registry: str, records: pd.DataFrame) -> pd.DataFrame:
    """The records (``source_file``, ``source_line``, ``reason``) that repeat or overlap another (module
    docstring). ``records`` holds one row per accepted raw record: ``source_file``, ``file_rank`` (the file's
    place in the load: the earlier file keeps a range two files share), ``source_line``, ``first_copy``
    (:func:`first_copies`), ``scope`` (:data:`SCOPES`) and ``serial_number``."""
    columns = ["source_file", "file_rank", "source_line", "first_copy", "scope", "serial_number"]
    with duckdb.connect() as conn:
        conn.register("accepted", pa.Table.from_pandas(records[columns], preserve_index=False))
        conn.register("ranges", serial_ranges(registry, records["serial_number"]))
        return conn.execute(_REPEATS).df()
