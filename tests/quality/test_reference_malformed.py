"""A malformed reference table fails loudly, naming the file, the column and (where it can) the CSV line."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from pipeline.quality.reference import ReferenceError, load_reference
from pipeline.settings import REPO_ROOT

REFERENCE_DIR = REPO_ROOT / "data" / "reference"


@pytest.fixture
def reference_copy(tmp_path: Path) -> Path:
    target = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, target)
    return target


def edit(folder: Path, table: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    """Rewrite one CSV as text (every cell a string), as a person editing it by hand would."""
    path = folder / f"{table}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(frame).to_csv(path, index=False)


def set_cell(column: str, value: str, row: int = 0) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row, column] = value
        return frame

    return change


def test_the_untouched_copy_loads(reference_copy: Path):
    reference = load_reference(reference_copy)
    assert len(reference.methodologies) > 100, "the copied reference tables should load unchanged"


@pytest.mark.parametrize(
    ("table", "column"),
    [("methodologies", "leakage_approach"), ("project_types", "permanence_risk"), ("project_flags", "flagged_on")],
)
def test_missing_column_names_file_and_column(reference_copy: Path, table: str, column: str):
    edit(reference_copy, table, lambda frame: frame.drop(columns=[column]))
    with pytest.raises(ReferenceError) as error:
        load_reference(reference_copy)
    message = str(error.value)
    assert f"{table}.csv" in message and column in message, f"message should name {table}.csv and {column}: {message}"


@pytest.mark.parametrize(
    ("table", "column", "bad_value"),
    [
        ("methodologies", "ccp_status", "approved-ish"),
        ("methodologies", "program", "verra"),
        ("methodologies", "additionality_class", "dynamic"),
        ("methodologies", "reversal_mechanism", "buffer"),
        ("methodologies", "activity", "REDD+"),
        ("project_types", "leakage_risk", "very high"),
        ("project_flags", "effect", "excluded"),
        ("project_flags", "flag", "rumour"),
    ],
)
def test_bad_enum_value_names_file_column_and_value(reference_copy: Path, table: str, column: str, bad_value: str):
    edit(reference_copy, table, set_cell(column, bad_value, row=1))
    with pytest.raises(ReferenceError) as error:
        load_reference(reference_copy)
    message = str(error.value)
    assert f"{table}.csv" in message and f"'{column}'" in message, f"message should name the file and column: {message}"
    assert bad_value in message and "line(s) 3" in message, f"message should show the value and CSV line 3: {message}"


@pytest.mark.parametrize(
    ("column", "bad_value", "expected"),
    [
        ("is_reversible", "yes", "must be true or false"),
        ("min_buffer_pct", "ten", "must be a number"),
        ("min_buffer_pct", "150", "less_than_or_equal_to"),
        ("as_of", "29/11/2026", "ISO date"),
        ("version_max", "v2", "str_matches"),
        ("source_url", "the framework", "str_matches"),
    ],
)
def test_bad_cell_in_methodologies_is_named(reference_copy: Path, column: str, bad_value: str, expected: str):
    edit(reference_copy, "methodologies", set_cell(column, bad_value, row=4))
    with pytest.raises(ReferenceError) as error:
        load_reference(reference_copy)
    message = str(error.value)
    assert message.startswith("methodologies.csv") and f"'{column}'" in message, f"file/column not named: {message}"
    assert expected in message and "6" in message, f"expected {expected!r} on line 6: {message}"


def _first_row(frame: pd.DataFrame, protocol: str, version_min: str = "") -> int:
    return frame.index[(frame["protocol"] == protocol) & (frame["version_min"] == version_min)][0]


def test_overlapping_version_ranges_are_refused(reference_copy: Path):
    def widen(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[_first_row(frame, "acr-ifm-nonfed", "1.0"), "version_max"] = "1.3"  # now overlaps the 1.3 row
        return frame

    edit(reference_copy, "methodologies", widen)
    with pytest.raises(
        ReferenceError, match=r"methodologies\.csv: columns 'version_min'/'version_max': acr-ifm-nonfed"
    ):
        load_reference(reference_copy)


def test_assumption_without_note_is_refused(reference_copy: Path):
    def drop_note(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[frame["is_assumption"] == "true", "assumption_note"] = ""
        return frame

    edit(reference_copy, "methodologies", drop_note)
    with pytest.raises(ReferenceError, match="assumption_note"):
        load_reference(reference_copy)


def test_conditions_on_an_unconditional_status_are_refused(reference_copy: Path):
    def add_conditions(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[_first_row(frame, "vm0048", "1.0"), "ccp_conditions"] = "some condition"
        return frame

    edit(reference_copy, "methodologies", add_conditions)
    with pytest.raises(ReferenceError, match="ccp_conditions must be given exactly when"):
        load_reference(reference_copy)


def test_duplicate_flag_is_refused(reference_copy: Path):
    edit(reference_copy, "project_flags", lambda frame: pd.concat([frame, frame.iloc[[0]]], ignore_index=True))
    with pytest.raises(ReferenceError, match=r"project_flags\.csv"):
        load_reference(reference_copy)


def test_missing_files_are_named(reference_copy: Path):
    (reference_copy / "project_types.csv").unlink()
    with pytest.raises(ReferenceError, match=r"reference table not found: .*project_types\.csv"):
        load_reference(reference_copy)


def test_broken_decisions_json_is_named(reference_copy: Path):
    (reference_copy / "icvcm-decisions.json").write_text('{"rows": ', encoding="utf-8")
    with pytest.raises(ReferenceError, match=r"icvcm-decisions\.json: not valid JSON"):
        load_reference(reference_copy)
