"""Reason trails, assembled column-wise: every rule adds (mask, code, message) for all rows at once.

A reason is ``{code, criterion, message, source}``: a stable code, the criterion it explains, one plain
sentence naming the input value and the rule, and where the rule or value comes from, as a list of citations
(the framework section, the reference row, each URL it cites). A rule writes its source as one sentence whose
citations are separated by ``|`` or ``;`` (the reference tables' own URL separator); the log splits it. The log
turns into an Arrow ``list<struct>`` column (DuckDB ``STRUCT(code, criterion, message, source VARCHAR[])[]``)
without a Python loop over rows.
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


def _render(sentence: Sentence, rows: np.ndarray, codes_of) -> tuple[np.ndarray, pa.Array]:
    """The sentence for each of ``rows``, as codes into its distinct texts.

    A sentence's parts take few distinct values (protocols, scores, vintages), so each distinct combination
    of them is rendered once (by Arrow) and every row holds a code: millions of reasons, a few thousand texts.
    ``codes_of(values)`` numbers a column's distinct values over all rows (see ``ReasonLog._codes``)."""
    parts = sentence if isinstance(sentence, tuple) else (sentence,)
    numbered = (codes_of(_part_values(part)) for part in parts if not isinstance(part, str))
    combination = number_combinations(((codes[rows], distinct) for codes, distinct in numbered), len(rows))
    first = first_rows(combination)
    pieces = [_piece(part, rows[first]) for part in parts]
    if all(isinstance(piece, str) for piece in pieces):
        return combination.astype(np.int32), pa.array(["".join(pieces)] * len(first), pa.string())
    return combination.astype(np.int32), pc.binary_join_element_wise(*pieces, "")


@dataclass
class ReasonLog:
    """Reasons for ``n`` rows, in the order rules add them.

    Rules pass the same columns again and again (protocol, source URL, scores): each column's values are
    numbered once per log, by identity, so the columns must not be modified in place while rules run."""

    n: int
    _rows: list[np.ndarray] = field(default_factory=list)
    _fields: list[dict[str, tuple[np.ndarray, pa.Array]]] = field(default_factory=list)
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
        self._rows.append(rows.astype(np.int64))
        self._fields.append(
            {
                "code": _render(code, rows, self._codes),
                "criterion": _render(criterion, rows, self._codes),
                "message": _render(message, rows, self._codes),
                "source": _render(source, rows, self._codes),
            }
        )

    def column(self) -> pd.Series:
        """The reasons as an Arrow-backed ``list<struct<code, criterion, message, source>>`` column (each text
        dictionary-encoded; DuckDB stores them as VARCHAR). Empties the log."""
        rows = np.concatenate(self._rows) if self._rows else np.array([], np.int64)
        # Rules were added in order, so a stable sort by row keeps each row's reasons in rule order.
        order = np.argsort(rows, kind="stable")
        fields = {name: self._sorted(name, order) for name in REASON_FIELDS}
        fields["source"] = _citations(fields["source"])
        values = pa.StructArray.from_arrays(list(fields.values()), REASON_FIELDS)
        self._rows.clear()
        self._fields.clear()
        self._numbered.clear()
        return pd.Series(pd.arrays.ArrowExtensionArray(_lists(rows[order], values, self.n)))

    def _sorted(self, name: str, order: np.ndarray) -> pa.DictionaryArray:
        """One field of every reason, in ``order``: the rules' codes, shifted onto their concatenated texts."""
        codes, texts, offset = [], [], 0
        for fields in self._fields:
            rule_codes, rule_texts = fields.pop(name)
            codes.append(rule_codes + offset)
            texts.append(rule_texts)
            offset += len(rule_texts)
        indices = np.concatenate(codes)[order] if codes else np.array([], np.int32)
        dictionary = pa.concat_arrays(texts) if texts else pa.array([], pa.string())
        return pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32()), dictionary)


def _citations(sources: pa.DictionaryArray) -> pa.ListArray:
    """Each source sentence as its list of citations (split at ``CITATION_SEPARATOR``, empty pieces dropped).

    Only the distinct sentences are split; each reason's list points into one dictionary of distinct citations,
    so a million reasons hold int32 codes, not a million copies of the same URLs."""
    split = pc.split_pattern_regex(sources.dictionary, CITATION_SEPARATOR)
    pieces = pc.list_flatten(split)
    lengths = pc.list_value_length(split).to_numpy(zero_copy_only=False).astype(np.int64)
    keep = pc.not_equal(pc.utf8_trim_whitespace(pieces), "").to_numpy(zero_copy_only=False)
    # Drop empty pieces (a reference row without a URL) and recount each sentence's citations.
    sentence_of = np.repeat(np.arange(len(lengths)), lengths)[keep]
    kept = np.bincount(sentence_of, minlength=len(lengths)).astype(np.int64)
    codes, distinct = pd.factorize(pd.Series(pieces.filter(pa.array(keep)).to_numpy(zero_copy_only=False)))
    starts = np.concatenate([[0], np.cumsum(kept)[:-1]]) if len(kept) else np.array([], np.int64)

    which = sources.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    per_reason = kept[which]
    offsets = np.zeros(len(which) + 1, dtype=np.int64)
    np.cumsum(per_reason, out=offsets[1:])
    # Position of every citation of every reason in ``codes``: its sentence's start plus its rank in the list.
    positions = np.repeat(starts[which] - offsets[:-1], per_reason) + np.arange(offsets[-1])
    values = pa.DictionaryArray.from_arrays(
        pa.array(codes[positions].astype(np.int32), pa.int32()), pa.array(distinct.astype(object), pa.string())
    )
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32), pa.int32()), values)


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
