"""Reason trails, assembled column-wise: every rule adds (mask, code, message) for all rows at once.

A reason is ``{code, criterion, message, source}``: a stable code, the criterion it explains, one plain
sentence naming the input value and the rule, and where the rule or value comes from, as a list of citations
(the framework section, the reference row, each URL it cites). A rule writes its source as one sentence whose
citations are separated by ``|`` or ``;`` (the reference tables' own URL separator); the log splits it. The log
turns into an Arrow column of each row's reasons as ids into a catalog of the distinct reasons (DuckDB reads it as
``STRUCT(code, criterion, message, source VARCHAR[])[]``) without a Python loop over rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.quality.combinations import first_rows, number_combinations

FRAMEWORK = "data/reference/quality-framework.md"

REASON_FIELDS = ["code", "criterion", "message", "source"]
TEXT_FIELDS = ["code", "criterion", "message"]
CITATION_SEPARATOR = r"\s*[|;]\s*"
"""Between the citations of a rule's source sentence."""


def text(values: pd.Series | np.ndarray, missing: str = "unknown") -> pd.Series:
    """Values as display text for messages; missing values read ``missing``; whole floats lose their ``.0``."""
    series = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_float_dtype(series):
        shown = series.round(1).astype(str).str.removesuffix(".0")
    elif pd.api.types.is_datetime64_any_dtype(series):
        shown = series.dt.strftime("%Y-%m-%d")
    else:
        shown = series.astype("string")
    return shown.where(series.notna(), missing).astype(str)


@dataclass(frozen=True)
class Shown:
    """A message part whose missing values read ``missing`` instead of ``unknown``."""

    values: pd.Series | np.ndarray
    missing: str


@dataclass(frozen=True)
class Upper:
    """A message part in upper case (reason codes named after a class: ``ADD_CLASS_<CLASS>``), converted only
    for the rows the rule hits."""

    values: pd.Series


Part = str | pd.Series | np.ndarray | Shown | Upper
Sentence = Part | tuple[Part, ...]
"""A message or source: text and columns, concatenated for the rows a rule hits only."""


def methodology_source(pv: pd.DataFrame, rule: str | tuple[Part, ...]) -> tuple[Part, ...]:
    """``rule | methodologies.csv <protocol> | <source_url> ; ...``: the rule, the reference row it read and
    each URL that row cites."""
    parts = rule if isinstance(rule, tuple) else (rule,)
    return (*parts, " | methodologies.csv ", pv["protocol"], " | ", Shown(pv["methodology_source_url"], ""))


def _shown(values: pd.Series | np.ndarray, rows: np.ndarray, missing: str) -> pa.Array:
    """``text`` of ``values`` at ``rows``, formatted once per distinct value."""
    codes, distinct = pd.factorize(pd.Series(values).iloc[rows], use_na_sentinel=True)
    shown = pa.array([*text(pd.Series(distinct), missing).tolist(), missing], pa.string())
    return shown.take(pa.array(np.where(codes < 0, len(shown) - 1, codes)))


def _piece(part: Part, rows: np.ndarray) -> str | pa.Array:
    if isinstance(part, str):
        return part
    if isinstance(part, Shown):
        return _shown(part.values, rows, part.missing)
    if isinstance(part, Upper):
        return _shown(pd.Series(part.values).iloc[rows].str.upper(), np.arange(len(rows)), "unknown")
    return _shown(part, rows, "unknown")


def _part_values(part: Part) -> pd.Series | np.ndarray:
    return part.values if isinstance(part, Shown | Upper) else part


def _text(sentence: Sentence, rows: np.ndarray) -> pa.Array:
    """The sentence for each of ``rows``, rendered by Arrow."""
    pieces = [_piece(part, rows) for part in (sentence if isinstance(sentence, tuple) else (sentence,))]
    if all(isinstance(piece, str) for piece in pieces):
        return pa.array(["".join(pieces)] * len(rows), pa.string())
    return pc.binary_join_element_wise(*pieces, "")


@dataclass
class ReasonLog:
    """Reasons for ``n`` rows, in the order rules add them, as a catalog of distinct reasons and each row's ids.

    A rule's sentences read few columns that take few distinct values (protocols, scores, vintages), so each
    distinct combination of them is one reason, rendered once (by Arrow): millions of reasons, ten thousand
    texts. Rules pass the same columns again and again: each column's values are numbered once per log, by
    identity, so the columns must not be modified in place while rules run."""

    n: int
    _rows: list[np.ndarray] = field(default_factory=list)
    _ids: list[np.ndarray] = field(default_factory=list)
    _catalog: list[dict[str, pa.Array]] = field(default_factory=list)
    _distinct: int = 0
    _numbered: dict[int, tuple[object, np.ndarray, int]] = field(default_factory=dict)

    def _codes(self, values: pd.Series | np.ndarray) -> tuple[np.ndarray, int]:
        """``values``' distinct-value number per row (missing: -1) and the number of distinct values."""
        known = self._numbered.get(id(values))
        if known is None:
            codes, distinct = pd.factorize(pd.Series(values).reset_index(drop=True))
            # The values are kept with their numbers so that their id cannot be reused by another column.
            known = self._numbered[id(values)] = (values, codes, len(distinct))
        return known[1], known[2]

    def add(
        self, mask: np.ndarray | pd.Series, code: Sentence, criterion: str, message: Sentence, source: Sentence
    ) -> None:
        """Add one reason to every row where ``mask`` holds; sentences are rendered for those rows only."""
        rows = np.flatnonzero(np.asarray(mask, dtype=bool))
        if len(rows) == 0:
            return
        sentences = dict(zip(REASON_FIELDS, (code, criterion, message, source), strict=True))
        parts = [part for s in sentences.values() for part in (s if isinstance(s, tuple) else (s,))]
        numbered = (self._codes(_part_values(part)) for part in parts if not isinstance(part, str))
        reason = number_combinations(((codes[rows], distinct) for codes, distinct in numbered), len(rows))
        first = rows[first_rows(reason)]
        self._rows.append(rows)
        self._ids.append(self._distinct + reason)  # ids follow the catalog's rows, rule after rule
        self._catalog.append({name: _text(sentence, first) for name, sentence in sentences.items()})
        self._distinct += len(first)

    def column(self) -> pd.Series:
        """The reasons as an Arrow-backed ``list<struct<code, criterion, message, source>>`` column (DuckDB:
        ``STRUCT(code, criterion, message, source VARCHAR[])[]``) that is a catalog of the distinct reasons: a
        reason's code, criterion and message are dictionary-encoded with its catalog id as their index (see
        :func:`split_catalog`), its source is the list of its citations. Empties the log."""
        rows = np.concatenate(self._rows) if self._rows else np.array([], np.int64)
        ids = np.concatenate(self._ids) if self._ids else np.array([], np.int64)
        no_text = pa.array([], pa.string())
        catalog = {name: pa.concat_arrays([no_text, *(rule[name] for rule in self._catalog)]) for name in REASON_FIELDS}
        # Rules were added in order, so a stable sort by row keeps each row's reasons in rule order.
        order = np.argsort(rows, kind="stable")
        reason_ids = pa.array(ids[order], pa.int32())
        fields = [pa.DictionaryArray.from_arrays(reason_ids, catalog[name]) for name in TEXT_FIELDS]
        reasons = pa.StructArray.from_arrays([*fields, _citations(catalog["source"]).take(reason_ids)], REASON_FIELDS)
        self._rows.clear()
        self._ids.clear()
        self._catalog.clear()
        self._distinct = 0
        self._numbered.clear()
        return pd.Series(pd.arrays.ArrowExtensionArray(_lists(rows[order], reasons, self.n)))


def _citations(sources: pa.Array) -> pa.ListArray:
    """Each source sentence as its list of citations (split at ``CITATION_SEPARATOR``, empty pieces dropped),
    each citation dictionary-encoded: a million reasons hold int32 codes, not a million copies of the same URLs."""
    split = pc.split_pattern_regex(sources, CITATION_SEPARATOR)
    pieces = pc.list_flatten(split)
    # Drop empty pieces (a reference row without a URL) and recount each sentence's citations.
    keep = pc.not_equal(pc.utf8_trim_whitespace(pieces), "")
    sentence_of = pc.list_parent_indices(split).filter(keep).to_numpy()
    offsets = np.zeros(len(sources) + 1, dtype=np.int32)
    np.cumsum(np.bincount(sentence_of, minlength=len(sources)), out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), pc.dictionary_encode(pieces.filter(keep)))


def split_catalog(reasons: pa.ChunkedArray) -> tuple[pa.Table, pa.ChunkedArray]:
    """A ``reasons`` column (:meth:`ReasonLog.column`) as the catalog of the distinct reasons its rows hold
    (``reason_id`` 1, 2, ... in the order rules added them) and each row's list of reason ids. Frames scored
    apart and concatenated have a catalog each: they follow one another."""
    catalogs, id_lists, first_id = [], [], 1
    for chunk in reasons.chunks or [pa.array([], reasons.type)]:
        fields = dict(zip(REASON_FIELDS, chunk.flatten().flatten(), strict=True))  # every reason, row after row
        log_ids = fields["code"].indices
        if not all(fields[name].indices.equals(log_ids) for name in TEXT_FIELDS):
            raise ValueError("reasons not built by ReasonLog.column: code, criterion and message must share ids")
        # The reasons a filtered frame no longer holds drop out; a reason's citations are those of its first row.
        held, first_row, ids = np.unique(log_ids.to_numpy(), return_index=True, return_inverse=True)
        catalog = {name: fields[name].dictionary.take(held) for name in TEXT_FIELDS}
        catalog["source"] = fields["source"].take(first_row)
        catalogs.append(pa.table({"reason_id": pa.array(first_id + np.arange(len(held)), pa.int32()), **catalog}))
        offsets = pc.subtract(chunk.offsets, chunk.offsets[0])
        id_lists.append(pa.ListArray.from_arrays(offsets, pa.array(first_id + ids, pa.int32())))
        first_id += len(held)
    return pa.concat_tables(catalogs), pa.chunked_array(id_lists)


def _lists(rows: np.ndarray, values: pa.Array, n: int) -> pa.ListArray:
    """Group ``values`` (sorted by ``rows``) into ``n`` lists; rows with no value get an empty list."""
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=n), out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


def label_lists(labels: dict[str, np.ndarray | pd.Series], n: int) -> pd.Series:
    """An Arrow ``list<string>`` column: for each row, the labels whose mask is true, in dict order."""
    rows = [np.flatnonzero(np.asarray(mask, dtype=bool)) for mask in labels.values()]
    which = (
        np.concatenate([np.full(len(r), i, np.int32) for i, r in enumerate(rows)]) if rows else np.array([], np.int32)
    )
    all_rows = np.concatenate(rows) if rows else np.array([], np.int64)
    order = np.lexsort((which, all_rows))
    # Each label is one Arrow string, taken per row (no Python string per row).
    values = pa.array(list(labels), pa.string()).take(pa.array(which[order]))
    return pd.Series(pd.arrays.ArrowExtensionArray(_lists(all_rows[order].astype(np.int64), values, n)))
