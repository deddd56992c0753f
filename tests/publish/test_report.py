"""The HTML report, built from a file published by the real publish step, rendered in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import markupsafe
import pytest

from assets.automation import DOWNSTREAM_ASSETS, REGISTRY_ASSETS
from assets.definitions import defs
from assets.report import inventory_report
from pipeline.inventory.inventory import write_eligible_inventory
from pipeline.policy import load_policy
from pipeline.publish.report import (
    SCORE_AXIS,
    WHY_NOT_EXAMPLES,
    ReportError,
    read_report_data,
    render_report,
    report_path,
    write_report,
)
from pipeline.registries import REGISTRY_KEYS
from pipeline.sql import relations
from tests.conftest import make_settings
from tests.publish.conftest import publish_under
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
            publish_under(conn, paths, policy, now=datetime(2026, 4, day, tzinfo=UTC))
    return settings


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """Settings whose curated DB is the whole pipeline's publish of the bundled real registry data (real scores,
    real ``ineligible_projects``, the buyers stage), as ``make run`` builds it."""
    settings = make_settings(tmp_path_factory.mktemp("bundled"))
    everything = [*defs.assets, *(defs.asset_checks or [])]
    resources = {**defs.resources, "settings": settings}
    for registry in REGISTRY_KEYS:
        result = dg.materialize(everything, selection=REGISTRY_ASSETS, partition_key=registry, resources=resources)
        assert result.success, f"ingest of {registry} failed"
    assert dg.materialize(everything, selection=DOWNSTREAM_ASSETS, resources=resources).success, "downstream failed"
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
    assert "quantity &#39;12.5&#39; is not a whole number" in page, "rejected reasons must be listed, escaped"
    assert_offline(page)


def assert_offline(page: str) -> None:
    """Nothing the browser would fetch: no external script, style sheet, image, frame or CSS import; links
    (``<a href>``, registry pages a reader may open) are the only URLs."""
    fetched = re.findall(r"<(?:script|img|iframe|link|source|video|audio|embed|object)\b[^>]*>", page, re.I)
    assert all("src=" not in tag and "href=" not in tag for tag in fetched), f"the page fetches: {fetched}"
    assert "@import" not in page and "url(" not in page, "the CSS must not load anything"
    hrefs = re.findall(r'<(\w+)[^>]*\shref="([^"]+)"', page)
    assert all(tag == "a" for tag, _ in hrefs), f"only anchors may carry URLs: {hrefs}"


def test_missing_tables_leave_notes_not_failures(published, tmp_path):
    copy = tmp_path / "older.duckdb"
    shutil.copy(published.curated_db, copy)
    with duckdb.connect(str(copy)) as conn:
        present = relations(conn)  # rejected_rows is a view over the registry slices, as published
        for table in ("inventory_changes", "alerts", "quality_scores", "rejected_rows"):
            conn.execute(f"DROP {present[table]} {table} CASCADE")
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


# ---------------------------------------------------------------- the buyer's report on the bundled real data


def _rows(page: str, table: str, attributes: tuple[str, ...]) -> list[tuple[str, ...]]:
    body = re.search(rf'<table id="{table}".*?</table>', page, re.S)
    assert body, f"table {table} missing from the report"
    pattern = r"<tr " + r"\s+".join(rf'data-{a}="([^"]*)"' for a in attributes)
    return re.findall(pattern, body.group())


@pytest.fixture(scope="module")
def bundled_report(bundled):
    path, data = write_report(Path(bundled.curated_db), now=datetime(2026, 12, 4, 9, 30, 12, 345678, tzinfo=UTC))
    return path, path.read_text(), data


def test_eligible_table_lists_every_eligible_project_vintage_by_available_tonnes(bundled, bundled_report):
    _, page, _ = bundled_report
    with duckdb.connect(bundled.curated_db, read_only=True) as conn:
        expected = conn.execute(
            "SELECT project_id, vintage::VARCHAR, available_net::VARCHAR, registry_url, name FROM eligible_inventory "
            "ORDER BY available_net DESC, project_id, vintage"
        ).fetchall()
    assert expected, "the bundled data has eligible project-vintages (ART102 Guyana)"
    rows = _rows(page, "eligible-table", ("project", "vintage", "available"))
    assert rows == [r[:3] for r in expected], f"eligible table rows {rows} != eligible_inventory {expected}"
    for *_, url, name in expected:
        assert f'<a href="{url}">{markupsafe.escape(name)}</a>' in page, f"{name} must link to {url}"


def test_why_not_eligible_groups_the_largest_ineligible_nature_based_tonnes(bundled, bundled_report):
    _, page, data = bundled_report
    with duckdb.connect(bundled.curated_db, read_only=True) as conn:
        expected = conn.execute(
            """SELECT coalesce(i.first_failed_code, '(no reason recorded)'), count(*)::VARCHAR,
                      sum(s.issued)::BIGINT::VARCHAR
               FROM ineligible_projects AS i JOIN quality_scores AS s USING (project_id, registry, vintage)
               WHERE s.activity IS NOT NULL GROUP BY ALL ORDER BY sum(s.issued) DESC, count(*) DESC, 1"""
        ).fetchall()
        largest = conn.execute(
            "SELECT i.project_id, i.first_failed_reason FROM ineligible_projects AS i JOIN quality_scores AS s "
            "USING (project_id, registry, vintage) WHERE s.activity IS NOT NULL ORDER BY s.issued DESC LIMIT 1"
        ).fetchone()
    assert expected, "the bundled data has ineligible nature-based project-vintages"
    groups = _rows(page, "why-not-table", ("reason", "tonnes", "count"))
    assert [(code, count, tonnes) for code, tonnes, count in groups] == expected[: len(groups)], groups
    assert len(groups) == min(len(expected), 10), "up to ten reasons, largest tonnes first"
    assert all(len(g["examples"]) <= WHY_NOT_EXAMPLES for g in data.why_not), "at most three examples per reason"
    assert largest[0] in page and str(markupsafe.escape(largest[1])) in page, "the largest ineligible row is an example"


def test_legend_explains_every_tier_in_the_data_and_the_five_scores(bundled, bundled_report):
    _, page, _ = bundled_report
    with duckdb.connect(bundled.curated_db, read_only=True) as conn:
        tiers = {t for (t,) in conn.execute("SELECT DISTINCT quality_tier FROM quality_scores").fetchall()}
    legend = re.search(r'<section id="legend">.*?</section>', page, re.S).group()
    assert tiers <= set(re.findall(r'data-tier="([^"]+)"', legend)), f"tiers {tiers} must all be explained"
    assert re.findall(r'data-score="(\d)"', legend) == ["5", "4", "3", "2", "1"], "scores 5 to 1 explained"
    assert "limiting score is at least 3" in legend, "the legend quotes the policy's eligibility threshold"


def test_every_score_chart_uses_the_same_1_to_5_axis(bundled_report):
    _, page, data = bundled_report
    assert set(data.scores) >= {"additionality_score", "permanence_score", "leakage_score", "over_crediting_score"}
    for column in data.scores:
        labels = list(_bars(page, f"score-{column}"))
        assert labels == [str(v) for v in SCORE_AXIS], f"{column} chart axis is {labels}, not 1-5"


def test_sources_show_coverage_as_of_and_say_which_are_samples(bundled, bundled_report):
    _, page, _ = bundled_report
    with duckdb.connect(bundled.curated_db, read_only=True) as conn:
        registries = [r for (r,) in conn.execute("SELECT DISTINCT registry FROM load_audit ORDER BY 1").fetchall()]
    rows = dict(_rows(page, "sources-table", ("registry", "sample")))
    assert list(rows) == registries, f"one row per registry read: {rows}"
    # The bundled Verra and Gold Standard credit files are 200-row samples of registries listing 4,000+ projects;
    # ACR and CAR list 50 projects while their transactions name others (data/raw/SOURCES.md).
    for registry in ("verra", "gold-standard", "american-carbon-registry", "climate-action-reserve"):
        assert rows[registry] == "true", f"{registry}'s bundled files are a sample and must be called one"
    assert "Sample: credit records reach only" in page, "the sample note must say why in plain words"
    assert "2026-04-14" in page, "each registry's as-of date is shown"


def test_report_prints_no_machine_paths_and_no_microseconds(bundled, bundled_report):
    _, page, _ = bundled_report
    assert str(Path(bundled.curated_db).parent) not in page, "the report must not print where the DB lives"
    assert "/work/" not in page and "/tmp/" not in page, "no absolute paths in the report"
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d", page), "timestamps must not show (micro)seconds"
    assert "Generated 2026-12-04 09:30 UTC from <code>inventory.duckdb</code>" in page, "footer names the file only"


def test_each_rows_source_and_as_of_are_shown(bundled, bundled_report, tmp_path):
    _, page, _ = bundled_report
    with duckdb.connect(bundled.curated_db, read_only=True) as conn:
        shown = conn.execute("SELECT DISTINCT source, strftime(as_of, '%Y-%m-%d') FROM eligible_inventory").fetchall()
        scored = [s for (s,) in conn.execute("SELECT DISTINCT source FROM quality_scores").fetchall()]
    eligible = re.search(r'<table id="eligible-table".*?</table>', page, re.S).group()
    assert "<th>Source</th>" in eligible
    for source, as_of in shown:
        assert f"<td>{source}</td><td>{as_of}</td>" in eligible, f"rows of {source} must show it and {as_of}"
    for source in scored:
        assert f'<tr data-source="{source}">' in page, f"scored project-vintages of {source} are counted"
    copy = tmp_path / "inventory.duckdb"
    shutil.copy(bundled.curated_db, copy)
    with duckdb.connect(str(copy)) as conn:
        conn.execute("ALTER TABLE eligible_inventory DROP COLUMN source")
    older = re.search(r'<table id="eligible-table".*?</table>', render_report(read_report_data(copy)), re.S).group()
    assert "<th>Source</th>" not in older, "a file without the column: no empty Source column"


def test_eligible_table_keeps_hundreds_of_rows_sorted(bundled, tmp_path):
    """A market-wide inventory has hundreds of rows: all of them are listed, largest first."""
    copy = tmp_path / "inventory.duckdb"
    shutil.copy(bundled.curated_db, copy)
    with duckdb.connect(str(copy)) as conn:
        real = conn.execute("SELECT count(*) FROM eligible_inventory").fetchone()[0]
        # The real rows re-keyed 150 times with made-up tonnes: a size test, not data shown to anyone.
        conn.execute(
            "INSERT INTO eligible_inventory SELECT e.* REPLACE (project_id || '-' || i AS project_id, "
            "(i * 7919 % 100003)::BIGINT AS available_net) FROM eligible_inventory AS e, range(1, 151) AS t(i)"
        )
        expected = conn.execute(
            "SELECT project_id, vintage::VARCHAR FROM eligible_inventory ORDER BY available_net DESC, project_id, "
            "vintage"
        ).fetchall()
    page = render_report(read_report_data(copy))
    rows = [r[:2] for r in _rows(page, "eligible-table", ("project", "vintage", "available"))]
    assert len(expected) == 151 * real > 150 and rows == expected, "every row present, sorted by available tonnes"


@requires_chromium
def test_buyer_report_renders_in_chromium_with_its_tables(bundled, bundled_report, tmp_path):
    path, page, data = bundled_report
    dom, console = chromium_render(path, tmp_path)
    assert console == [], f"the page logged to the console: {console}"
    assert 'data-rendered="true"' in dom, "the report's script did not run to the end"
    assert _rows(dom, "eligible-table", ("project", "vintage", "available")) == _rows(
        page, "eligible-table", ("project", "vintage", "available")
    ), "the browser must show every eligible row"
    assert len(_rows(dom, "why-not-table", ("reason", "tonnes", "count"))) == len(data.why_not)
    for section in ("eligible", "why-not", "legend", "scores", "sources"):
        assert f'<section id="{section}">' in dom, f"section {section} missing after rendering"
    drawn = dict(re.findall(r'<svg[^>]*data-chart="(score-[^"]+)"[^>]*data-rendered-bars="(\d+)"', dom))
    for column, histogram in data.scores.items():
        assert int(drawn[f"score-{column}"]) == int((histogram["count"] > 0).sum()), f"{column} bars not drawn"
