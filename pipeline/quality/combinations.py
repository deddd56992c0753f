"""Distinct combinations of column values, numbered in order of first appearance.

Joins and reason texts depend on a few columns that take few distinct values (protocols, versions, scores),
so they are computed once per combination and spread back over the rows by these numbers."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd


def number_combinations(columns: Iterable[tuple[np.ndarray, int]], n: int) -> np.ndarray:
    """Each of ``n`` rows' combination number (0, 1, ... in order of first appearance), from each column's
    value numbers (``codes``, -1 for a missing value) and its count of distinct values."""
    combination = np.zeros(n, dtype=np.int64)
    for codes, distinct in columns:
        # Refactorized at each step, so the key stays below n * (distinct + 1) (no overflow).
        combination = pd.factorize(combination * (distinct + 1) + (codes + 1))[0]
    return combination


def first_rows(combination: np.ndarray) -> np.ndarray:
    """The first row of each combination number, in number order."""
    # Numbers follow first appearance, so a number's first row is where the running maximum grows.
    return np.flatnonzero(np.diff(np.maximum.accumulate(combination), prepend=-1) > 0)
