"""Hand-made bad APX inputs, built from the first rows of a real bundled export and written to tmp_path.

Each helper changes one thing (a cell, a header, a delimiter, an extra field) so a test shows exactly which
defect produced which rejected row or error.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from pipeline.ingest.dataset import DatasetLoad


def sample(src: Path, rows: int = 3) -> tuple[list[str], list[list[str]]]:
    """Header and the first ``rows`` records of a real export."""
    with open(src, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        body = [next(reader) for _ in range(rows)]
    return header, body


def write(path: Path, header: list[str], body: list[list[str]], delimiter: str = ",") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(body)
    return path


def set_cell(header: list[str], body: list[list[str]], row: int, column: str, value: str) -> None:
    body[row][header.index(column)] = value


def edited(src: Path, dst: Path, edits: dict[tuple[int, str], str], rows: int = 3) -> Path:
    """A copy of the first ``rows`` records of ``src`` with ``{(row, column): value}`` applied."""
    header, body = sample(src, rows)
    for (row, column), value in edits.items():
        set_cell(header, body, row, column, value)
    return write(dst, header, body)


def renamed(src: Path, dst: Path, old: str, new: str, rows: int = 3) -> Path:
    header, body = sample(src, rows)
    header[header.index(old)] = new
    return write(dst, header, body)


def without(src: Path, dst: Path, column: str, rows: int = 3) -> Path:
    header, body = sample(src, rows)
    at = header.index(column)
    return write(dst, header[:at] + header[at + 1 :], [r[:at] + r[at + 1 :] for r in body])


def with_extra_field(src: Path, dst: Path, row: int, rows: int = 3) -> Path:
    """Record ``row`` gets one field more than the header (FORMATS.md hazard 4)."""
    header, body = sample(src, rows)
    body[row] = [*body[row], "stray"]
    return write(dst, header, body)


def rejected_reasons(load: DatasetLoad) -> dict[int, str]:
    """source_line -> reason of every rejected record."""
    return dict(zip(load.rejected["source_line"].tolist(), load.rejected["reason"].tolist(), strict=True))


def assert_conserved(load: DatasetLoad, read: int, accepted: int) -> None:
    assert load.rows_read == read, f"{load.file}: read {load.rows_read} records, expected {read}"
    assert load.rows_accepted == accepted, (
        f"{load.file}: accepted {load.rows_accepted}, expected {accepted}; rejected: {rejected_reasons(load)}"
    )
    assert load.rows_read == load.rows_accepted + load.rows_rejected, f"{load.file}: rows are not conserved"


def line_of(load: DatasetLoad, column: str, value: object) -> pd.Series:
    return load.accepted.loc[load.accepted[column] == value]
