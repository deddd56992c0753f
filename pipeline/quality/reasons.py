"""Reason trails, assembled column-wise: every rule adds (mask, code, message) for all rows at once.

A reason is ``{code, criterion, message, source}``: a stable code, the criterion it explains, one plain
sentence naming the input value and the rule, and where the rule or value comes from. The log turns into an
Arrow ``list<struct>`` column (DuckDB ``STRUCT(code, criterion, message, source)[]``) without a Python loop
over rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

FRAMEWORK = "data/reference/quality-framework.md"

REASON_TYPE = pa.struct(
    [("code", pa.string()), ("criterion", pa.string()), ("message", pa.string()), ("source", pa.string())]
)


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


Part = str | pd.Series | np.ndarray | Shown
Sentence = Part | tuple[Part, ...]
"""A message or source: text and columns, concatenated for the rows a rule hits only."""


def methodology_source(pv: pd.DataFrame, rule: str) -> tuple[Part, ...]:
    """``rule | methodologies.csv <protocol>: <source_url>``: the rule and the reference row it read."""
    return (rule, " | methodologies.csv ", pv["protocol"], ": ", Shown(pv["methodology_source_url"], ""))


def _render(sentence: Sentence, rows: np.ndarray) -> np.ndarray:
    rendered = pd.Series("", index=np.arange(len(rows)), dtype=object)
    for part in sentence if isinstance(sentence, tuple) else (sentence,):
        if isinstance(part, str):
            rendered = rendered + part
            continue
        values, missing = (part.values, part.missing) if isinstance(part, Shown) else (part, "unknown")
        rendered = rendered + text(pd.Series(values).iloc[rows], missing).to_numpy(dtype=object)
    return rendered.to_numpy(dtype=object)


@dataclass
class ReasonLog:
    """Reasons for ``n`` rows, in the order rules add them."""

    n: int
    _parts: list[pd.DataFrame] = field(default_factory=list)

    def add(
        self, mask: np.ndarray | pd.Series, code: Sentence, criterion: str, message: Sentence, source: Sentence
    ) -> None:
        """Add one reason to every row where ``mask`` holds; sentences are rendered for those rows only."""
        rows = np.flatnonzero(np.asarray(mask, dtype=bool))
        if len(rows) == 0:
            return
        self._parts.append(
            pd.DataFrame(
                {
                    "row": rows,
                    "seq": len(self._parts),
                    "code": _render(code, rows),
                    "criterion": criterion,
                    "message": _render(message, rows),
                    "source": _render(source, rows),
                }
            )
        )

    def frame(self) -> pd.DataFrame:
        """One row per reason: row, code, criterion, message, source (sorted by row, then rule order)."""
        if not self._parts:
            return pd.DataFrame(columns=["row", "seq", "code", "criterion", "message", "source"])
        return pd.concat(self._parts, ignore_index=True).sort_values(["row", "seq"], kind="stable")

    def column(self) -> pd.Series:
        """The reasons as an Arrow-backed ``list<struct<code, criterion, message, source>>`` column."""
        long = self.frame()
        values = pa.StructArray.from_arrays(
            [pa.array(long[name].to_numpy(dtype=object), pa.string()) for name in REASON_TYPE.names],
            fields=list(REASON_TYPE),
        )
        return pd.Series(pd.arrays.ArrowExtensionArray(_lists(long["row"].to_numpy(dtype=np.int64), values, self.n)))


def _lists(rows: np.ndarray, values: pa.Array, n: int) -> pa.ListArray:
    """Group ``values`` (sorted by ``rows``) into ``n`` lists; rows with no value get an empty list."""
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=n), out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


def label_lists(labels: dict[str, np.ndarray | pd.Series], n: int) -> pd.Series:
    """An Arrow ``list<string>`` column: for each row, the labels whose mask is true, in dict order."""
    rows = [np.flatnonzero(np.asarray(mask, dtype=bool)) for mask in labels.values()]
    names = [np.full(len(r), label, dtype=object) for r, label in zip(rows, labels, strict=True)]
    order_in = np.concatenate([np.full(len(r), i) for i, r in enumerate(rows)]) if rows else np.array([], int)
    all_rows = np.concatenate(rows) if rows else np.array([], np.int64)
    all_names = np.concatenate(names) if names else np.array([], object)
    order = np.lexsort((order_in, all_rows))
    values = pa.array(all_names[order].tolist(), pa.string())
    return pd.Series(pd.arrays.ArrowExtensionArray(_lists(all_rows[order].astype(np.int64), values, n)))
