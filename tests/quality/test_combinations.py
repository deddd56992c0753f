"""Numbering distinct combinations of column values (joins and reason texts run once per combination): the
numbers must group exactly the rows whose values agree, missing values included, in order of first
appearance, so that spreading a per-combination result back over the rows is exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.quality.combinations import first_rows, number_combinations
from pipeline.quality.inputs import distinct_rows


def numbered(*columns: list) -> np.ndarray:
    factorized = [pd.factorize(pd.Series(column, dtype=object)) for column in columns]
    return number_combinations([(codes, len(distinct)) for codes, distinct in factorized], len(columns[0]))


def test_rows_with_equal_values_share_a_number_in_order_of_first_appearance():
    combination = numbered(["b", "a", "b", "a", "c"], [1, 2, 1, 3, 1])
    assert combination.tolist() == [0, 1, 0, 2, 3], f"numbers {combination.tolist()}"
    assert first_rows(combination).tolist() == [0, 1, 3, 4], "first row of each number, in number order"


def test_a_missing_value_is_a_value_of_its_own_and_never_equals_a_present_one():
    combination = numbered(["x", None, "x", None, np.nan], ["p", "p", None, "p", "p"])
    # None and NaN are both missing: rows 1, 3 and 4 agree; row 2 differs from row 0 by its missing second value.
    assert combination.tolist() == [0, 1, 2, 1, 1], f"numbers {combination.tolist()}"


def test_no_rows_and_no_columns():
    assert numbered([]).tolist() == [], "no rows, no numbers"
    assert number_combinations([], 3).tolist() == [0, 0, 0], "without columns every row is one combination"
    assert first_rows(np.array([], dtype=np.int64)).tolist() == [], "no rows, no first rows"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", None]), st.integers(0, 2)), min_size=1, max_size=40))
def test_numbers_agree_with_pandas_grouping(rows):
    frame = pd.DataFrame(rows, columns=["text", "number"]).astype({"text": object})
    combination, distinct = distinct_rows(frame, ["text", "number"])
    expected = frame.groupby(["text", "number"], dropna=False, sort=False).ngroup().to_numpy()
    assert (pd.factorize(expected)[0] == combination).all(), f"{combination} groups rows unlike pandas {expected}"
    spread_back = distinct.take(combination).reset_index(drop=True)
    pd.testing.assert_frame_equal(spread_back, frame, obj="distinct rows spread back over the rows")
