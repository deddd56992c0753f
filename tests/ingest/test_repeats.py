"""Repeated transactions (pipeline.ingest.repeats): exact repeats and overlapping serial ranges are rejected,
one rejected row each naming the file and line kept, for every registry; real exports lose nothing."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd
import pytest

from pipeline.ingest.load import load_registry
from pipeline.registries import REGISTRY_KEYS
from tests.conftest import BUNDLED_RAW, SHARED_DATA, requires_shared_data

TRANSACTION_FILE = {
    "verra": "transactions.csv",
    "gold-standard": "retirements.csv",
    "american-carbon-registry": "issuances.csv",
    "climate-action-reserve": "retirements.csv",
    "art-trees": "issuances.csv",
}
REPEATED = r"exact duplicate of line (\d+) of (\S+) \(every value repeated; the first copy is kept\)"


def copy_registry(tmp_path: Path, registry: str, source: Path = BUNDLED_RAW) -> Path:
    shutil.copytree(source / registry, tmp_path / registry)
    return tmp_path / registry


def records(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def append(path: Path, *rows: list[str]) -> int:
    """Append ``rows``; the physical line the first of them starts on."""
    text = path.read_bytes()
    line = text.count(b"\n") + (1 if text.endswith(b"\n") else 2)
    with open(path, "a", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return line


def totals(credits: pd.DataFrame) -> dict:
    return credits.groupby("transaction_type")["quantity"].sum().to_dict()


def repeat_rows(load) -> pd.DataFrame:
    reasons = load.rejected["reason"]
    return load.rejected[reasons.str.contains("exact duplicate|overlaps", regex=True)]


def assert_conserved(load) -> None:
    audit = load.audit
    unbalanced = audit[audit["rows_read"] != audit["rows_accepted"] + audit["rows_rejected"]]
    assert unbalanced.empty, f"rows not conserved: {unbalanced.to_dict('records')}"


def test_an_issuance_repeated_200000_times_counts_once(tmp_path):
    folder = copy_registry(tmp_path, "art-trees")
    header, body = records(folder / "issuances.csv")
    art102_2023 = next(
        r for r in body if r[header.index("Program ID")] == "ART102" and r[header.index("Vintage")] == "2023"
    )
    line = body.index(art102_2023) + 2
    append(folder / "issuances.csv", *[art102_2023] * 200_000)

    load = load_registry("art-trees", tmp_path)
    credits = load.credits
    supply = credits.loc[
        (credits["project_id"] == "ART102")
        & (credits["vintage"] == 2023)
        & (credits["transaction_type"] == "issuance"),
        "quantity",
    ].sum()
    assert supply == 9_085_923, f"ART102-2023 supply must stay 9,085,923 t, got {supply:,}"
    assert_conserved(load)
    audit = load.audit.set_index("dataset").loc["issuances"]
    assert (audit["rows_read"], audit["rows_rejected"]) == (len(body) + 200_000, 200_000), audit.to_dict()
    reasons = repeat_rows(load)["reason"].unique().tolist()
    assert reasons == [
        f"exact duplicate of line {line} of issuances.csv (every value repeated; the first copy is kept)"
    ]


@pytest.mark.parametrize("registry", REGISTRY_KEYS)
def test_one_repeated_record_is_rejected_in_every_registry(tmp_path, registry):
    before = load_registry(registry, BUNDLED_RAW)
    folder = copy_registry(tmp_path, registry)
    name = TRANSACTION_FILE[registry]
    header, body = records(folder / name)
    appended = append(folder / name, body[0])

    load = load_registry(registry, tmp_path)
    repeats = repeat_rows(load)
    assert len(repeats) == 1, f"{registry}: one rejected repeat expected, got {repeats['reason'].tolist()}"
    line, file = repeats["reason"].str.extract(REPEATED).iloc[0].tolist()
    assert (int(line), file) == (2, name), f"{registry}: the reason must name line 2 of {name}: {repeats['reason']}"
    assert repeats["source_line"].tolist() == [appended], "the later copy is the one rejected"
    assert totals(load.credits) == totals(before.credits), f"{registry}: the repeat changed the credit totals"
    assert_conserved(load)


def test_an_overlapping_serial_range_is_rejected_naming_the_range_kept(tmp_path):
    folder = copy_registry(tmp_path, "climate-action-reserve")
    header, body = records(folder / "retirements.csv")
    overlapping = list(body[0])  # CAR-1-US-1335-31-983-KS-2025-9205-1 to 5000, retired 10/27/2025
    overlapping[header.index("Offset Credit Serial Numbers")] = "CAR-1-US-1335-31-983-KS-2025-9205-4001 to 9000"
    overlapping[header.index("Status Effective")] = "11/03/2025"
    append(folder / "retirements.csv", overlapping)

    load = load_registry("climate-action-reserve", tmp_path)
    assert repeat_rows(load)["reason"].tolist() == [
        "serial range 'CAR-1-US-1335-31-983-KS-2025-9205-4001 to 9000' overlaps other retirement/cancellation "
        "serial ranges of this registry; the first of them, kept, is 'CAR-1-US-1335-31-983-KS-2025-9205-1 to 5000' "
        "on line 2 of retirements.csv"
    ]
    assert_conserved(load)


def test_a_block_retired_and_cancelled_is_caught_across_files(tmp_path):
    folder = copy_registry(tmp_path, "art-trees")
    ret_header, retirements = records(folder / "retirements.csv")
    can_header, cancellations = records(folder / "cancellations.csv")
    cancelled = list(cancellations[0])
    serial = retirements[0][ret_header.index("Credit Serial Numbers")]  # FCPF-CI-130-2023-20-1 to 46404
    for column in ("Credit Serial Numbers", "Quantity of Credits", "Program ID", "Vintage"):
        cancelled[can_header.index(column)] = retirements[0][ret_header.index(column)]
    append(folder / "cancellations.csv", cancelled)

    load = load_registry("art-trees", tmp_path)
    repeats = repeat_rows(load)
    assert len(repeats) == 1 and repeats["reason"].iloc[0].startswith(f"serial range '{serial}' overlaps"), (
        f"the block both retired and cancelled must be rejected once: {repeats['reason'].tolist()}"
    )
    assert repeats["dataset"].iloc[0] == "retirements", "the file loaded first (cancellations) keeps the range"
    assert "on line 5 of cancellations.csv" in repeats["reason"].iloc[0], repeats["reason"].iloc[0]
    assert_conserved(load)


def test_a_repeated_verra_block_is_rejected_before_issuances_are_rebuilt(tmp_path):
    folder = copy_registry(tmp_path, "verra")
    header, body = records(folder / "transactions.csv")
    retired = next(i for i, r in enumerate(body) if r[header.index("Retirement/Cancellation Date")])
    held = next(i for i, r in enumerate(body) if not r[header.index("Retirement/Cancellation Date")])
    shifted = list(body[held])  # the held block's range, one credit later, retired: an overlap, not a repeat
    serial = shifted[header.index("Serial Number")].split("-")
    serial[1], serial[2] = str(int(serial[1]) + 1), str(int(serial[2]) + 1)
    shifted[header.index("Serial Number")] = "-".join(serial)
    shifted[header.index("Retirement/Cancellation Date")] = "2026-04-20"
    line = append(folder / "transactions.csv", body[retired], shifted)

    before = load_registry("verra", BUNDLED_RAW)
    load = load_registry("verra", tmp_path)
    reasons = dict(zip(repeat_rows(load)["source_line"], repeat_rows(load)["reason"], strict=True))
    assert list(reasons) == [line, line + 1], reasons
    assert reasons[line].startswith(f"exact duplicate of line {retired + 2} of transactions.csv"), reasons
    assert f"on line {held + 2} of transactions.csv" in reasons[line + 1], reasons
    assert totals(load.credits) == totals(before.credits), "a repeated block must not add an issuance or retirement"
    assert_conserved(load)


def test_blocks_of_one_batch_that_do_not_overlap_are_kept(tmp_path):
    folder = copy_registry(tmp_path, "climate-action-reserve")
    header, body = records(folder / "retirements.csv")
    next_block = list(body[0])  # the credits right after CAR-...-9205-1 to 5000: adjacent, not overlapping
    next_block[header.index("Offset Credit Serial Numbers")] = "CAR-1-US-1335-31-983-KS-2025-9205-5001 to 10000"
    append(folder / "retirements.csv", next_block)
    load = load_registry("climate-action-reserve", tmp_path)
    assert repeat_rows(load).empty, repeat_rows(load)["reason"].tolist()
    assert load.rows_rejected == 0


def real_registry_folders() -> list[tuple[str, Path]]:
    folders = [(registry, BUNDLED_RAW) for registry in REGISTRY_KEYS]
    carbonplan = SHARED_DATA / "carbonplan-offsets-db-data" / "tests-data"
    return folders + [(registry, carbonplan) for registry in REGISTRY_KEYS]


@requires_shared_data
@pytest.mark.parametrize(("registry", "root"), real_registry_folders())
def test_real_exports_hold_no_repeats(registry, root):
    load = load_registry(registry, root)
    assert repeat_rows(load).empty, f"{root}/{registry}: {repeat_rows(load)['reason'].tolist()[:5]}"


@requires_shared_data
def test_real_verra_vcu_export_and_acr_platform_hold_no_repeats(tmp_path):
    (tmp_path / "verra").mkdir()
    shutil.copy(SHARED_DATA / "verra-vcus-country-subsets" / "vcus.csv", tmp_path / "verra" / "transactions.csv")
    (tmp_path / "american-carbon-registry").mkdir()
    for dataset in ("projects", "issuances", "retirements", "cancellations"):
        shutil.copy(
            SHARED_DATA / "rb-carbon-scraper-fixtures" / f"acr-{dataset}.json",
            tmp_path / "american-carbon-registry" / f"{dataset}.json",
        )
    for registry in ("verra", "american-carbon-registry"):
        load = load_registry(registry, tmp_path)
        assert load.rows_rejected == 0, f"{registry}: {load.rejected['reason'].tolist()[:5]}"
