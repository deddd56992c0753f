"""The Berkeley VROD workbook: downloaded by release into a dated snapshot, with the registries' safeguards."""

from __future__ import annotations

import hashlib
from pathlib import Path

import dagster as dg
import openpyxl
import pydantic
import pytest

from assets.downloads import RegistryDownloads, berkeley_vrod_snapshot
from pipeline.ingest.downloads import VROD
from pipeline.ingest.snapshots import latest_snapshot, snapshot_order
from tests.http_fixtures import HTML_ERROR_PAGE, RegistryServer, Route

PATTERN = "/assets/uploads/page/Voluntary-Registry-Offsets-Database--v{release}.xlsx"


def workbook(tmp_path: Path, sheet: str = "PROJECTS") -> bytes:
    """A workbook in the PROJECTS layout: title rows, the header on the 4th row, then the data."""
    book = openpyxl.Workbook()
    projects = book.active
    projects.title = sheet
    projects.append(["Voluntary Registry Offsets Database"])
    projects.append(["Berkeley Carbon Trading Project"])
    projects.append([])
    projects.append(["Project ID", "Project Name", "Voluntary Registry", "Total Credits \nIssued"])
    projects.append(["VCS902", "Kariba REDD+", "VCS", 29_016_364])
    path = tmp_path / f"{sheet}.xlsx"
    book.save(path)
    return path.read_bytes()


def online(server: RegistryServer, release: str) -> RegistryDownloads:
    return RegistryDownloads(
        enabled=True,
        vrod_release=release,
        vrod_url=server.url(PATTERN),
        timeout_seconds=2,
        attempts=2,
        backoff_seconds=0.01,
    )


def materialize(settings, downloads: RegistryDownloads):
    return dg.materialize(
        [berkeley_vrod_snapshot], resources={"settings": settings, "downloads": downloads}, raise_on_error=False
    )


def tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def test_the_configured_release_lands_as_a_dated_snapshot_ingest_reads(settings, tmp_path):
    payload = workbook(tmp_path)
    with RegistryServer() as server:
        server.routes[PATTERN.format(release="2026-04")] = Route(body=payload, content_type="application/octet-stream")
        server.routes[PATTERN.format(release="2026-04")].fail_first = 1
        result = materialize(settings, online(server, "2026-04"))
        assert server.hits[PATTERN.format(release="2026-04")] == 2, "one 503, then the retry"
    assert result.success, "the VROD download failed"
    snapshot = latest_snapshot(Path(settings.raw_dir), VROD)
    assert snapshot is not None and snapshot.parent == Path(settings.raw_dir) / "berkeley-vrod", snapshot
    assert snapshot_order(snapshot.name) is not None, f"{snapshot.name} is not a dated snapshot folder"
    assert (snapshot / "projects.xlsx").read_bytes() == payload, "the workbook must land byte for byte"
    (event,) = result.get_asset_materialization_events()
    metadata = {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}
    assert metadata["mode"] == "online" and metadata["attempts"] == {"projects": 2}, metadata
    assert "v2026-04.xlsx" in metadata["files"], "the files table must name the URL the workbook came from"
    (check,) = result.get_asset_check_evaluations()
    assert check.passed


@pytest.mark.parametrize(
    ("case", "reason"),
    [("another workbook", "no sheet 'PROJECTS'"), ("HTML page", "HTML page"), ("missing release", "HTTP 404")],
)
def test_a_bad_download_fails_the_run_and_changes_nothing(settings, tmp_path, case, reason):
    raw = Path(settings.raw_dir)
    before = tree(raw)
    with RegistryServer() as server:
        url = PATTERN.format(release="2026-06")
        if case == "another workbook":
            server.routes[url] = Route(
                body=workbook(tmp_path, sheet="Issuances"), content_type="application/octet-stream"
            )
        elif case == "HTML page":
            server.routes[url] = Route(body=HTML_ERROR_PAGE, content_type="text/html")
        result = materialize(settings, online(server, "2026-06"))
    assert not result.success, f"{case}: the run must fail"
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    description = failure.step_failure_data.user_failure_data.description
    assert reason in description and "berkeley-vrod/projects" in description, f"{case}: {description}"
    assert tree(raw) == before, f"{case}: the raw folder changed"


def test_the_release_comes_from_the_environment_and_defaults_to_berkeleys_url(monkeypatch):
    monkeypatch.delenv("CREDIT_QUALITY_VROD_RELEASE", raising=False)
    (source,) = RegistryDownloads.from_env().sources(VROD).values()
    assert source.url == (
        "https://gspp.berkeley.edu/assets/uploads/page/Voluntary-Registry-Offsets-Database--v2025-12.xlsx"
    ), source.url
    assert source.format == "xlsx" and source.sheet == "PROJECTS"
    monkeypatch.setenv("CREDIT_QUALITY_VROD_RELEASE", "2026-04")
    (source,) = RegistryDownloads.from_env().sources(VROD).values()
    assert source.url.endswith("--v2026-04.xlsx"), source.url
    monkeypatch.setenv("CREDIT_QUALITY_VROD_RELEASE", "April 2026")
    with pytest.raises(pydantic.ValidationError, match="vrod_release"):
        RegistryDownloads.from_env()


def test_offline_records_the_local_vrod_files_or_warns_without_them(settings):
    result = materialize(settings, RegistryDownloads())
    (check,) = result.get_asset_check_evaluations()
    raw = Path(settings.raw_dir)
    if latest_snapshot(raw, VROD) is None:
        assert result.success and not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    else:
        assert result.success and check.passed
