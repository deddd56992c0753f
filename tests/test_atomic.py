"""``pipeline.atomic.replace_file``: the old file or the new one, never half of one, and nothing left behind."""

from __future__ import annotations

import pytest

from pipeline.atomic import replace_file


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old")

    def half_then_fail(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        replace_file(target, half_then_fail)
    assert target.read_text() == "old", "a failed write must leave the previous file as it was"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"], "the temporary file must be removed"


def test_a_write_that_succeeds_replaces_the_file(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old")
    assert replace_file(target, lambda tmp: tmp.write_text("new")) == target
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["report.html"]
