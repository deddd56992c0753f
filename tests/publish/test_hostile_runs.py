"""Whole runs of the pipeline (``assets.run.run_pipeline``, what ``make run`` does) on hostile or unlucky raw
data: a copy of the bundled real exports, edited the way a registry or a user might break it."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from assets.run import run_pipeline
from tests.conftest import make_settings

pytestmark = pytest.mark.slow


def run(settings) -> dict[str, bool]:
    """One ``make run`` on ``settings``: every registry partition, then everything downstream."""
    return run_pipeline(settings, dg.DagsterInstance.ephemeral())


def published(settings, sql: str) -> list[tuple]:
    with duckdb.connect(settings.curated_db, read_only=True) as conn:
        return conn.execute(sql).fetchall()


def alerts(settings, publish_id: int) -> dict[str, list[dict]]:
    rows = published(
        settings, f"SELECT alert_type, registry, message, details FROM alerts WHERE publish_id = {publish_id}"
    )
    found: dict[str, list[dict]] = {}
    for kind, registry, message, details in rows:
        found.setdefault(kind, []).append({"registry": registry, "message": message, **json.loads(details)})
    return found


def edit_csv(path: Path, edit) -> None:
    """Rewrite a raw CSV after ``edit(frame)`` (every cell read as text, empty cells kept empty)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    edit(frame).to_csv(path, index=False)


@pytest.fixture
def settings(tmp_path):
    settings = make_settings(tmp_path)
    assert all(run(settings).values()), "the first run on the bundled data must succeed"
    return settings


def test_an_alert_never_fails_the_publish_nor_any_later_run(settings):
    def inactive(frame):
        frame.loc[frame["Program ID"] == "ART102", "Status"] = "Inactive"
        return frame

    before = published(settings, "SELECT sum(available_net) FROM eligible_inventory WHERE project_id = 'ART102'")[0][0]
    edit_csv(Path(settings.raw_dir) / "art-trees" / "projects.csv", inactive)
    outcome = run(settings)
    assert all(outcome.values()), f"a run whose publish raises an alert must still succeed: {outcome}"
    raised = alerts(settings, 2)
    assert [a["removed_tonnes"] for a in raised.get("eligible_tonnes_removed", [])] == [before], (
        f"ART102 going inactive removes its {before:,} eligible tonnes and must raise one alert, got {raised}"
    )
    assert published(settings, "SELECT count(*) FROM eligible_inventory WHERE project_id = 'ART102'") == [(0,)]

    assert all(run(settings).values()), "the run after an alert must publish too"
    assert published(settings, "SELECT max(publish_id) FROM publishes") == [(3,)], "three runs, three publishes"


def test_a_jump_in_rejected_rows_raises_an_alert_and_still_publishes(settings):
    def malformed(frame):
        frame.loc[frame.index[:1_176], "AFOLU Activities"] = "XYZ"  # not one of Verra's six AFOLU codes
        return frame

    edit_csv(Path(settings.raw_dir) / "verra" / "projects.csv", malformed)
    outcome = run(settings)
    assert all(outcome.values()), f"malformed rows are rejected, the publish goes on: {outcome}"
    raised = alerts(settings, 2).get("rejected_share_jump", [])
    assert [(a["registry"], a["rows_rejected"], a["previous_share"]) for a in raised] == [("verra", 1_176, 0.0)], (
        f"1,176 of 4,702 Verra rows rejected (25%) must raise one rejected-share alert for verra, got {raised}"
    )
