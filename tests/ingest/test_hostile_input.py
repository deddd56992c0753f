"""Hostile and unlucky input: many copies of one project, bytes that are no CSV, a field larger than any export
writes. Each is rejected or refused with the file, the line where known, and what was expected."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from pipeline.ingest import art_trees, verra
from pipeline.ingest.files import IngestError
from tests.conftest import BUNDLED_RAW

COPIES = 50_000


def project_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def write(path: Path, header: list[str], body: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(body)
    return path


def test_50000_exact_copies_of_a_project_keep_the_first_and_name_its_line(tmp_path):
    header, body = project_rows(BUNDLED_RAW / "verra" / "projects.csv")
    load = verra.read_projects(write(tmp_path / "projects.csv", header, [body[0]] * COPIES))
    assert (load.rows_read, load.rows_accepted, load.rows_rejected) == (COPIES, 1, COPIES - 1)
    project = f"VCS{body[0][header.index('ID')]}"
    reasons = Counter(load.rejected["reason"])
    assert reasons == {f"exact duplicate of project {project} on line 2": COPIES - 1}, reasons.most_common(3)


def test_50000_conflicting_copies_of_a_project_are_all_rejected_naming_the_first(tmp_path):
    header, body = project_rows(BUNDLED_RAW / "art-trees" / "projects.csv")
    copies = [list(body[0]) for _ in range(COPIES)]
    for number, row in enumerate(copies):
        row[header.index("Program Name")] = f"name {number % 2}"  # two versions of one programme
    load = art_trees.read_projects(write(tmp_path / "projects.csv", header, copies))
    assert (load.rows_read, load.rows_accepted, load.rows_rejected) == (COPIES, 0, COPIES)
    program = body[0][header.index("Program ID")]
    reasons = Counter(load.rejected["reason"])
    expected = f"duplicate project id {program} with conflicting data in {COPIES} copies, the first on line 2"
    assert reasons == {f"{expected}; every copy rejected": COPIES}, reasons.most_common(3)


READERS = {
    "art-trees": (art_trees.read_issuances, "issuances.csv"),
    "verra": (verra.read_transactions, "transactions.csv"),
}


@pytest.mark.parametrize("registry", READERS)
def test_random_bytes_are_refused_naming_file_line_and_what_was_expected(tmp_path, registry):
    reader, name = READERS[registry]
    path = tmp_path / name
    path.write_bytes(b"Vintage,Program ID\n" + bytes(range(0x80, 0x100)) * 64)  # 0x81, 0x8d ... are no cp1252 text
    with pytest.raises(IngestError) as refused:
        reader(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: line 2: byte 0x81 is neither UTF-8 nor Windows-1252 text"), message
    assert "expected a CSV text export" in message, message


@pytest.mark.parametrize("registry", READERS)
def test_a_50_mb_field_is_refused_naming_file_line_and_what_was_expected(tmp_path, registry):
    reader, name = READERS[registry]
    header, body = project_rows(BUNDLED_RAW / registry / name)
    huge = list(body[0])
    huge[1] = "x" * 50_000_000  # a well-formed record whose second field is 50 MB
    path = write(tmp_path / name, header, [body[1], huge])
    with pytest.raises(IngestError) as refused:
        reader(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: line 3: not a CSV record of "), message
    assert "field larger than field limit" in message and "expected fields of at most 131,072 characters" in message
