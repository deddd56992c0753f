"""The HTML report, built from a file published by the real publish step, rendered in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.report import inventory_report
from pipeline.inventory import write_eligible_inventory
from pipeline.policy import load_policy
from pipeline.publish.publish import publish_inventory
from pipeline.report import ReportError, read_report_data, render_report, report_path, write_report
from pipeline.warehouse import main_relations
from tests.conftest import make_settings
from tests.publish.scenario import first_snapshot, second_snapshot

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
requires_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (Debian package `chromium`; .ci/run installs it)"
)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """Settings whose curated DB holds two real publishes of the publish tests' two-snapshot scenario."""
    tmp_path = tmp_path_factory.mktemp("published")
    settings = make_settings(tmp_path, raw_dir=tmp_path / "raw")
    paths = settings.paths
    policy = load_policy(paths.policy)
    for day, snapshot in ((14, first_snapshot()), (28, second_snapshot())):
        snapshot.write(paths.work_db)
        with duckdb.connect(str(paths.work_db)) as conn:
            write_eligible_inventory(conn, paths.ledger_db)
            publish_inventory(conn, paths, policy, now=datetime(2026, 4, day, tzinfo=UTC))
    return settings


def _bars(page: str, chart: str) -> dict[str, float]:
    svg = re.search(rf'<svg[^>]*data-chart="{chart}".*?</svg>', page, re.S)
    assert svg, f"chart {chart} missing from the report"
    return {
        label: float(value)
        for label, value in re.findall(r'<rect class="bar"[^>]*data-label="([^"]*)" data-value="([^"]*)"', svg.group())
    }


def test_charts_show_the_published_tonnes(published):
    path, _ = write_report(Path(published.curated_db))
    assert path == report_path(Path(published.curated_db)), "the report must sit next to the curated DB"
    page = path.read_text()
    with duckdb.connect(published.curated_db, read_only=True) as conn:
        expected = {
            chart: dict(
                conn.execute(f"SELECT {col}, sum(available_net) FROM eligible_inventory GROUP BY ALL").fetchall()
            )
            for chart, col in (
                ("tonnes-by-activity", "activity"),
                ("tonnes-by-country", "country"),
                ("tonnes-by-tier", "quality_tier"),
            )
        }
        scored = conn.execute("SELECT count(*) FROM quality_scores").fetchone()[0]
        left = conn.execute(
            "SELECT count(*) FROM inventory_changes WHERE publish_id = 2 AND change = 'left'"
        ).fetchone()
    for chart, totals in expected.items():
        assert _bars(page, chart) == {k: float(v) for k, v in totals.items()}, f"{chart} disagrees with the DB"
    for score in ("additionality_score", "permanence_score", "leakage_score"):
        assert sum(_bars(page, f"score-{score}").values()) == scored, f"{score} histogram must count every score"
    assert "Publish #2" in page, "the header must name the latest publish"
    assert "ACR701" in page and "no longer eligible" in page, "the change log must show why ACR701 left"
    assert left[0] == 2 and re.search(r"<td>left</td><td class=\"num\">2</td>", page), "change summary wrong"
    assert "rejected_share_jump" in page, "the alert of the second publish must be listed"
    assert "quantity &#x27;12.5&#x27; is not a whole number" in page, "rejected reasons must be listed, escaped"
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page, (
        "the report must not reference the network"
    )


def test_missing_tables_leave_notes_not_failures(published, tmp_path):
    copy = tmp_path / "older.duckdb"
    shutil.copy(published.curated_db, copy)
    with duckdb.connect(str(copy)) as conn:
        relations = main_relations(conn)  # rejected_rows is a view over the registry slices, as published
        for table in ("inventory_changes", "alerts", "quality_scores", "rejected_rows"):
            conn.execute(f"DROP {relations[table]} {table} CASCADE")
    data = read_report_data(copy)
    page = render_report(data)
    assert "No change log in this file." in page, "a missing change log needs a note"
    assert "change log (inventory_changes)" in data.missing_sections(), f"missing: {data.missing_sections()}"
    assert _bars(page, "score-limiting_score"), "scores fall back to eligible_inventory's"


def test_no_published_file_is_a_clear_error_and_keeps_the_old_report(tmp_path):
    old = tmp_path / "report.html"
    old.write_text("previous report")
    with pytest.raises(ReportError, match="no published inventory"):
        write_report(tmp_path / "inventory.duckdb")
    assert old.read_text() == "previous report", "a failed build must not touch the previous report"


def test_inventory_report_asset_writes_the_report(published):
    result = dg.materialize([inventory_report], resources={"settings": published})
    assert result.success, "inventory_report failed on a real published file"
    (event,) = result.get_asset_materialization_events()
    meta = event.materialization.metadata
    assert Path(meta["path"].value) == published.paths.curated_dir / "report.html", "report not next to the DB"
    assert meta["eligible_tonnes"].value > 0 and meta["publish_id"].value == 2, f"metadata: {meta}"


def chromium_render(page: Path, tmp_path: Path) -> tuple[str, list[str]]:
    """Headless Chromium: the DOM after scripts ran, and every console message the page produced."""
    completed = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, f"chromium failed: {completed.stderr[-2000:]}"
    console = [line for line in completed.stderr.splitlines() if ":CONSOLE" in line]
    return completed.stdout, console


@requires_chromium
def test_report_renders_in_chromium_with_drawn_charts_and_no_console_errors(published, tmp_path):
    path, data = write_report(Path(published.curated_db))
    dom, console = chromium_render(path, tmp_path)
    assert console == [], f"the page logged to the console: {console}"
    assert 'data-rendered="true"' in dom, "the report's script did not run to the end"
    charts = re.findall(r'<svg[^>]*data-chart="([^"]+)"[^>]*data-rendered-bars="(\d+)"', dom)
    expected = {"tonnes-by-activity", "tonnes-by-country", "tonnes-by-tier"} | {f"score-{c}" for c in data.scores}
    assert {name for name, _ in charts} == expected, f"charts drawn: {charts}"
    page = path.read_text()
    for name, drawn in charts:
        positive = sum(1 for value in _bars(page, name).values() if value > 0)
        assert int(drawn) == positive > 0, f"{name}: {drawn} bars drawn, {positive} non-zero values in the data"


@requires_chromium
def test_console_errors_would_be_caught(tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html><body><script>notDefined();</script></body></html>")
    _, console = chromium_render(broken, tmp_path)
    assert any("notDefined" in line for line in console), "the console capture must see a script error"
