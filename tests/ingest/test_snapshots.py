"""latest_snapshot: which raw folder ingest reads per registry."""

from __future__ import annotations

from pathlib import Path

from pipeline.ingest.snapshots import complete_snapshots, latest_snapshot, snapshot_order
from tests.conftest import BUNDLED_RAW


def _snapshot(registry_dir: Path, name: str, files=("projects.csv",)) -> Path:
    folder = registry_dir / name
    folder.mkdir(parents=True)
    for file in files:
        (folder / file).write_text("ID,Name\n1,x\n")
    return folder


def test_bundled_layout_reads_the_registry_folder_itself():
    for registry in ("verra", "gold-standard", "art-trees"):
        assert latest_snapshot(BUNDLED_RAW, registry) == BUNDLED_RAW / registry, (
            f"{registry}: without dated snapshots the files directly in data/raw/{registry} must be read"
        )


def test_newest_dated_snapshot_wins_over_loose_files(tmp_path):
    verra = tmp_path / "verra"
    verra.mkdir()
    (verra / "projects.csv").write_text("ID\n1\n")
    _snapshot(verra, "2026-01-02")
    newest = _snapshot(verra, "2026-03-01")
    _snapshot(verra, "2025-12-31")
    assert latest_snapshot(tmp_path, "verra") == newest, "the newest dated snapshot must win"


def test_partial_empty_and_misnamed_folders_are_never_read(tmp_path):
    verra = tmp_path / "verra"
    complete = _snapshot(verra, "2026-01-02")
    _snapshot(verra, "2026-05-01.partial")
    (verra / "2026-06-01").mkdir()  # empty: an interrupted manual copy, nothing to read
    _snapshot(verra, "2026-13-40")  # not a date
    _snapshot(verra, "latest")
    assert latest_snapshot(tmp_path, "verra") == complete, (
        "a .partial, empty or non-date folder was taken for a complete snapshot"
    )


def test_same_day_sequence_numbers_sort_numerically(tmp_path):
    verra = tmp_path / "verra"
    _snapshot(verra, "2026-01-02")
    _snapshot(verra, "2026-01-02-2")
    tenth = _snapshot(verra, "2026-01-02-10")
    _snapshot(verra, "2026-01-01-11")
    assert latest_snapshot(tmp_path, "verra") == tenth, "same-day snapshots must sort by number, not text"
    assert [p.name for p in complete_snapshots(tmp_path, "verra")] == [
        "2026-01-01-11",
        "2026-01-02",
        "2026-01-02-2",
        "2026-01-02-10",
    ], "complete_snapshots must list oldest first"


def test_nothing_to_read_gives_none(tmp_path):
    assert latest_snapshot(tmp_path, "verra") is None, "a missing registry folder must give None"
    (tmp_path / "verra").mkdir()
    assert latest_snapshot(tmp_path, "verra") is None, "an empty registry folder must give None"
    _snapshot(tmp_path / "verra", "2026-01-02.partial")
    assert latest_snapshot(tmp_path, "verra") is None, "only a .partial download must give None"


def test_snapshot_order_rejects_non_snapshot_names():
    assert snapshot_order("2026-02-30") is None, "impossible dates are not snapshots"
    assert snapshot_order("2026-02-03.partial") is None, "partial downloads are not snapshots"
    assert snapshot_order("2026-02-03-0") is None, "sequence numbers start at 2 (1 is the bare date)"
    assert snapshot_order("2026-02-03") < snapshot_order("2026-02-03-2"), "bare date sorts before its -2"
