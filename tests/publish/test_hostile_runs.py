"""Whole runs of the pipeline (``assets.run.run_pipeline``, what ``make run`` does) on hostile or unlucky raw
data: a copy of the bundled real exports, edited the way a registry or a user might break it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml

from assets.resources import PipelineSettings
from assets.run import run_pipeline
from pipeline.buyers.ledger import read_ledger
from pipeline.settings import REPO_ROOT
from tests.conftest import BUNDLED_RAW, make_settings

pytestmark = pytest.mark.slow


def run(settings, instance: dg.DagsterInstance | None = None) -> dict[str, bool]:
    """One ``make run`` on ``settings``: every registry partition, then everything downstream."""
    return run_pipeline(settings, instance or dg.DagsterInstance.ephemeral())


def latest_metadata(instance: dg.DagsterInstance, asset: str) -> dict:
    record = instance.fetch_materializations(dg.AssetKey(asset), limit=1).records[0]
    return {key: getattr(value, "value", value) for key, value in record.asset_materialization.metadata.items()}


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
def after_first_run(tmp_path):
    settings = make_settings(tmp_path)
    assert all(run(settings).values()), "the first run on the bundled data must succeed"
    return settings


def test_an_alert_never_fails_the_publish_nor_any_later_run(after_first_run):
    settings = after_first_run

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


def with_publish_policy(settings, **shrunk_files) -> PipelineSettings:
    """``settings`` with a copy of the policy file whose ``publish.shrunk_files`` section has these changes."""
    policy = yaml.safe_load(Path(settings.policy_file).read_text())
    policy["publish"]["shrunk_files"].update(shrunk_files)
    policy_file = Path(settings.curated_db).parent / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(policy))
    return PipelineSettings(**{**settings.model_dump(), "policy_file": str(policy_file)})


def test_a_jump_in_rejected_rows_raises_an_alert_and_still_publishes(after_first_run):
    # A quarter of the Verra projects rejected also leaves a quarter fewer accepted: published here, not held.
    settings = with_publish_policy(after_first_run, hold_previous_slice=False)

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


def test_a_raw_folder_of_registry_exports_only_publishes_the_inventory(tmp_path):
    raw = tmp_path / "exports"
    shutil.copytree(BUNDLED_RAW, raw, ignore=shutil.ignore_patterns("buyers"))
    settings = make_settings(tmp_path, raw_dir=raw)
    instance = dg.DagsterInstance.ephemeral()
    outcome = run(settings, instance)
    assert all(outcome.values()), f"without buyers/ every run must succeed: {outcome}"
    assert published(settings, "SELECT count(*) > 0, max(publish_id) FROM eligible_inventory, publishes") == [
        (True, 1)
    ], "the inventory is published"
    for asset in ("buyer_eligibility", "order_allocations", "retirement_ledger"):
        note = latest_metadata(instance, asset).get("skipped", "")
        assert note.startswith(("no buyer program inputs", "no ledger")), f"{asset} must say why it skipped: {note!r}"
    assert not Path(settings.ledger_db).exists(), "no ledger is created without a buyer program"


def test_an_analyst_holding_the_ledger_defers_the_buyers_but_never_the_publish(after_first_run):
    settings = after_first_run
    orders = Path(settings.raw_dir) / "buyers" / "orders.csv"
    orders.write_text(orders.read_text().replace(",true\n", ",false\n"))  # the bundled orders, executed for real
    analyst = subprocess.Popen(
        [sys.executable, "-m", "tests.publish.processes", "reader", settings.ledger_db],
        cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    instance = dg.DagsterInstance.ephemeral()
    try:
        assert analyst.stdout.readline().strip() == "READY", f"the analyst's session did not start: {analyst.stderr}"
        outcome = run(settings, instance)
    finally:
        analyst.stdin.close()
        analyst.wait(timeout=60)
    assert all(outcome.values()), f"a read-only connection on the ledger must not fail any run: {outcome}"
    note = latest_metadata(instance, "order_allocations").get("skipped", "")
    assert note.startswith("deferred to the next run") and "open in another process" in note, note
    assert published(settings, "SELECT max(publish_id) FROM publishes") == [(2,)], "the inventory is published"
    assert read_ledger(settings.ledger_db).empty, "nothing is retired while the ledger is held"

    assert all(run(settings, instance).values()), "the next run, with the ledger free, runs the buyers stage"
    retired = int(read_ledger(settings.ledger_db)["tonnes"].sum())
    assert retired > 0, "the orders deferred by the held ledger are retired on the next run"
    assert published(settings, "SELECT sum(tonnes) FROM retirements") == [(retired,)], "and published"


def truncate_half(path: Path) -> int:
    """Cut the file after half of its lines, as a transfer that stopped halfway would; returns the lines kept."""
    lines = path.read_bytes().splitlines(keepends=True)
    kept = len(lines) // 2
    path.write_bytes(b"".join(lines[:kept]))
    return kept - 1


def verra_projects(settings) -> int:
    """Published Verra projects read from Verra's own export (VROD adds the projects it lacks)."""
    return published(settings, "SELECT count(*) FROM projects WHERE registry = 'verra' AND source = 'registry-export'")[
        0
    ][0]


@pytest.mark.parametrize("hold", [True, False], ids=["held", "published"])
def test_a_registry_file_cut_in_half_raises_an_alert_and_by_policy_keeps_the_previous_load(after_first_run, hold):
    settings = after_first_run
    if not hold:
        settings = with_publish_policy(settings, hold_previous_slice=False)
    before = verra_projects(settings)
    kept = truncate_half(Path(settings.raw_dir) / "verra" / "projects.csv")

    assert all(run(settings).values()), "a shrunk file is an alert, not a failed run"
    raised = alerts(settings, 2).get("registry_file_shrank", [])
    assert [(a["registry"], a["dataset"], a["previous_rows_accepted"], a["held_previous_slice"]) for a in raised] == [
        ("verra", "projects", before, hold)
    ], f"the Verra projects file cut to {kept:,} of {before:,} rows must raise one alert, got {raised}"
    assert raised[0]["rows_accepted"] < before * 0.55, raised
    expected = before if hold else raised[0]["rows_accepted"]
    assert verra_projects(settings) == expected, (
        "held: the previous Verra projects stay published; not held: the smaller file is published"
    )
