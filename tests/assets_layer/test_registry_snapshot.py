"""registry_snapshot in Dagster: offline records the local snapshot; online downloads, and one registry's
failed download fails only its own partition run, with the reason, while the others refresh."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import dagster as dg
import pytest

from assets import ingest
from assets.downloads import DatasetDownload, RegistryDownloads, read_sources_file, registry_snapshot
from pipeline.ingest.snapshots import latest_snapshot, snapshot_fingerprint
from tests.conftest import BUNDLED_RAW
from tests.http_fixtures import RegistryServer, Route

OFFLINE = RegistryDownloads()


def _materialize(settings, registry: str, downloads: RegistryDownloads, with_ingest: bool = False):
    assets = [registry_snapshot, ingest.registry_tables] if with_ingest else [registry_snapshot]
    return dg.materialize(
        assets,
        partition_key=registry,
        resources={"settings": settings, "downloads": downloads},
        raise_on_error=False,
    )


def _metadata(result) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey("registry_snapshot")]
    return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}


def _digest(folder: Path) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())).hexdigest()


def test_offline_records_the_local_snapshot_ingest_will_read(settings):
    result = _materialize(settings, "verra", OFFLINE)
    assert result.success, "offline snapshot of the bundled Verra files failed"
    meta = _metadata(result)
    raw = Path(settings.raw_dir)
    assert meta["mode"] == "offline", f"default mode must be offline, got {meta['mode']}"
    assert meta["snapshot"] == str(raw / "verra"), f"snapshot recorded: {meta['snapshot']}"
    assert meta["fingerprint"] == snapshot_fingerprint(raw, "verra"), "fingerprint must identify the snapshot"
    assert "projects.csv" in meta["files"] and "transactions.csv" in meta["files"], "files table incomplete"
    (check,) = result.get_asset_check_evaluations()
    assert check.passed, "a registry with raw files must pass snapshot_present"


def test_a_registry_without_raw_files_warns(settings):
    shutil.rmtree(Path(settings.raw_dir) / "art-trees")
    result = _materialize(settings, "art-trees", OFFLINE)
    assert result.success, "a registry without files is a warning, not a failure"
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN, "missing raw files must warn"


def test_enabled_without_urls_reads_local_files(settings):
    result = _materialize(settings, "verra", RegistryDownloads(enabled=True))
    meta = _metadata(result)
    assert result.success and meta["mode"] == "offline", "no URL configured: the local files must be read"
    assert "no download URL configured" in meta["note"], f"note: {meta.get('note')}"


def test_one_registry_failing_to_download_does_not_stop_the_others(settings):
    raw = Path(settings.raw_dir)
    art_before = _digest(raw / "art-trees")
    with RegistryServer() as server:
        verra_projects = (BUNDLED_RAW / "verra" / "projects.csv").read_bytes()
        assert b"\r\n" in verra_projects, "fixture premise: the export uses CRLF, so LF makes it a new snapshot"
        server.routes["/verra/projects.csv"] = Route(body=verra_projects.replace(b"\r\n", b"\n"))
        server.serve_file("/verra/transactions.csv", BUNDLED_RAW / "verra" / "transactions.csv")
        server.routes["/art/projects.csv"] = Route(status=500, body=b"Internal Server Error", content_type="text/plain")
        downloads = RegistryDownloads(
            enabled=True,
            timeout_seconds=2,
            attempts=2,
            backoff_seconds=0.01,
            verra={
                "projects": DatasetDownload(url=server.url("/verra/projects.csv")),
                "transactions": DatasetDownload(url=server.url("/verra/transactions.csv")),
            },
            art_trees={"projects": DatasetDownload(url=server.url("/art/projects.csv"))},
        )
        art = _materialize(settings, "art-trees", downloads, with_ingest=True)
        verra = _materialize(settings, "verra", downloads, with_ingest=True)

    assert not art.success, "the art-trees run must fail when its download fails"
    (failure,) = art.get_step_failure_events()
    reason = failure.step_failure_data.user_failure_data.description
    assert "HTTP 500" in reason and "art-trees/projects" in reason, f"the failure must carry the reason: {reason}"
    assert "registry_tables" not in {e.step_key for e in art.get_step_success_events()}, "ingest ran after a failure"
    assert _digest(raw / "art-trees") == art_before, "the failed download changed art-trees' raw files"
    assert latest_snapshot(raw, "art-trees") == raw / "art-trees", "art-trees must keep reading its earlier files"

    assert verra.success, "verra must refresh although art-trees failed"
    new_snapshot = latest_snapshot(raw, "verra")
    assert new_snapshot.parent == raw / "verra" and new_snapshot.name != "verra", "no dated verra snapshot"
    assert _metadata(verra)["mode"] == "online" and _metadata(verra)["downloaded"], "verra was not downloaded"
    (tables,) = [e for e in verra.get_asset_materialization_events() if e.asset_key == dg.AssetKey("registry_tables")]
    assert tables.materialization.metadata["snapshot"].value == str(new_snapshot), (
        "ingest must read the snapshot that was just downloaded"
    )


def test_sources_file_and_environment_configure_online_mode(tmp_path, monkeypatch):
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "verra:\n  projects: https://example.org/allprojects.csv\n"
        "american-carbon-registry:\n  projects: {url: 'https://example.org/acr.json', format: json}\n"
    )
    monkeypatch.setenv("CREDIT_QUALITY_DOWNLOADS", "online")
    monkeypatch.setenv("CREDIT_QUALITY_DOWNLOAD_SOURCES", str(sources))
    configured = RegistryDownloads.from_env()
    assert configured.enabled, "CREDIT_QUALITY_DOWNLOADS=online must enable downloads"
    assert configured.sources("american-carbon-registry")["projects"].format == "json", "format not read"
    assert configured.sources("verra")["projects"].url == "https://example.org/allprojects.csv"
    assert configured.sources("art-trees") == {}, "unconfigured registries have no sources"

    sources.write_text("vera:\n  projects: https://example.org/x.csv\n")
    with pytest.raises(ValueError, match="unknown registries"):
        read_sources_file(sources)
    monkeypatch.delenv("CREDIT_QUALITY_DOWNLOADS")
    monkeypatch.delenv("CREDIT_QUALITY_DOWNLOAD_SOURCES")
    assert not RegistryDownloads.from_env().enabled, "downloads must be off by default"
