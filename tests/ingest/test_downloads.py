"""Registry downloads against a real HTTP server: dated snapshots, all-or-nothing, clear errors."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path

import httpx
import openpyxl
import pytest

from pipeline.ingest.downloads import (
    DatasetSource,
    DownloadError,
    DownloadLimits,
    check_payload,
    check_redirect,
    download_registry,
)
from pipeline.ingest.snapshots import latest_snapshot
from tests.conftest import BUNDLED_RAW
from tests.http_fixtures import HEADER_LINES, HTML_ERROR_PAGE, RegistryServer, Route

VERRA_PROJECTS = BUNDLED_RAW / "verra" / "projects.csv"
VERRA_TRANSACTIONS = BUNDLED_RAW / "verra" / "transactions.csv"
FAST = DownloadLimits(timeout_seconds=0.5, attempts=2, backoff_seconds=0.01, max_bytes=5_000_000)
DAY = date(2026, 2, 1)


def _tree(root: Path) -> dict[str, str]:
    """Every file under root with its sha256: equality means nothing was touched."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    } | {str(p.relative_to(root)) + "/": "dir" for p in root.rglob("*") if p.is_dir()}


@pytest.fixture
def raw_dir(tmp_path: Path) -> Path:
    """A raw folder whose Verra registry already has one complete snapshot (the real bundled exports)."""
    earlier = tmp_path / "raw" / "verra" / "2026-01-15"
    earlier.mkdir(parents=True)
    (earlier / "projects.csv").write_bytes(VERRA_PROJECTS.read_bytes())
    (earlier / "transactions.csv").write_bytes(VERRA_TRANSACTIONS.read_bytes())
    return tmp_path / "raw"


def test_download_lands_as_a_new_dated_snapshot_that_ingest_reads(raw_dir):
    with RegistryServer() as server:
        sources = {
            "projects": DatasetSource(server.serve_file("/verra/projects.csv", VERRA_PROJECTS)),
            "transactions": DatasetSource(server.serve_file("/verra/transactions.csv", VERRA_TRANSACTIONS)),
        }
        # a different projects export than the earlier snapshot's, so the download is news
        server.routes["/verra/projects.csv"].body += b"\n"
        result = download_registry(raw_dir, "verra", sources, FAST, today=DAY)

    new = raw_dir / "verra" / "2026-02-01"
    assert result.snapshot == new and not result.unchanged, f"expected a new snapshot at {new}, got {result}"
    assert latest_snapshot(raw_dir, "verra") == new, "ingest must now read the new snapshot"
    assert (new / "projects.csv").read_bytes() == VERRA_PROJECTS.read_bytes() + b"\n", "payload not byte-exact"
    assert (raw_dir / "verra" / "2026-01-15" / "projects.csv").read_bytes() == VERRA_PROJECTS.read_bytes(), (
        "the earlier snapshot was modified"
    )
    assert not list((raw_dir / "verra").glob("*.partial")), "a .partial folder was left behind"
    assert {f.dataset for f in result.files} == {"projects", "transactions"}, f"files: {result.files}"


def test_unconfigured_datasets_are_carried_forward_and_identical_downloads_are_discarded(raw_dir):
    with RegistryServer() as server:
        sources = {"projects": DatasetSource(server.serve_file("/p.csv", VERRA_PROJECTS))}
        same = download_registry(raw_dir, "verra", sources, FAST, today=DAY)
        assert same.unchanged and same.snapshot == raw_dir / "verra" / "2026-01-15", (
            "a download identical to the latest snapshot must not create a new one"
        )
        assert sorted(p.name for p in (raw_dir / "verra").iterdir()) == ["2026-01-15"], "a folder was created"

        server.routes["/p.csv"].body = VERRA_PROJECTS.read_bytes().replace(b"Registered", b"Registered ", 1)
        first = download_registry(raw_dir, "verra", sources, FAST, today=DAY)
        server.routes["/p.csv"].body += b"\n"
        second = download_registry(raw_dir, "verra", sources, FAST, today=DAY)

    assert first.snapshot.name == "2026-02-01" and second.snapshot.name == "2026-02-01-2", (
        f"same-day snapshots must get new names, never overwrite: {first.snapshot.name}, {second.snapshot.name}"
    )
    carried = [f for f in second.files if f.dataset == "transactions"]
    assert carried and carried[0].source.startswith("carried forward"), "transactions must be carried forward"
    assert (second.snapshot / "transactions.csv").read_bytes() == VERRA_TRANSACTIONS.read_bytes(), (
        "the carried-forward transactions differ from the previous snapshot's"
    )


FAILURES = {
    "slow server": (Route(body=VERRA_PROJECTS.read_bytes(), delay_seconds=3.0), "timed out after 0.5 s"),
    "trickling server": (Route(body=VERRA_PROJECTS.read_bytes()[:40_000], trickle_seconds=0.1), "body still arriving"),
    "HTTP 500": (Route(body=b"boom", status=500, content_type="text/plain"), "HTTP 500"),
    "truncated body": (
        Route(body=VERRA_PROJECTS.read_bytes()[:4000], declared_length=len(VERRA_PROJECTS.read_bytes())),
        "truncated body",
    ),
    "HTML error page served as CSV": (Route(body=HTML_ERROR_PAGE, content_type="text/csv"), "HTML page"),
    "HTML page with text/html": (Route(body=b"ID,Name\n1,x\n", content_type="text/html"), "HTML page"),
    "header without rows": (Route(body=b"ID,Name,Status\n"), "no data rows"),
    "empty body": (Route(body=b""), "empty body"),
    "over the size limit": (Route(body=b"ID,Name\n" + b"1,x\n" * 10, declared_length=6_000_000), "limit"),
    "404": (Route(), "HTTP 404"),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_failed_download_leaves_earlier_snapshots_untouched_with_a_clear_error(raw_dir, case):
    route, reason = FAILURES[case]
    before = _tree(raw_dir)
    with RegistryServer() as server:
        if case != "404":
            server.routes["/bad.csv"] = route
        sources = {
            "transactions": DatasetSource(server.serve_file("/t.csv", VERRA_TRANSACTIONS)),
            "projects": DatasetSource(server.url("/bad.csv")),
        }
        with pytest.raises(DownloadError) as failure:
            download_registry(raw_dir, "verra", sources, FAST, today=DAY)
    message = str(failure.value)
    assert reason in message, f"{case}: the error should say {reason!r}, got: {message}"
    assert "verra/projects" in message and "/bad.csv" in message, f"{case}: error must name dataset and URL: {message}"
    assert "Nothing was replaced" in message, f"{case}: error must say nothing was replaced: {message}"
    assert _tree(raw_dir) == before, f"{case}: the raw folder changed (partial files or a new snapshot left behind)"
    assert latest_snapshot(raw_dir, "verra") == raw_dir / "verra" / "2026-01-15", (
        f"{case}: ingest would read another folder"
    )


def test_transient_failures_are_retried_with_backoff(raw_dir):
    waits: list[float] = []
    limits = DownloadLimits(timeout_seconds=2, attempts=3, backoff_seconds=0.5)
    with RegistryServer() as server:
        server.routes["/p.csv"] = Route(body=VERRA_PROJECTS.read_bytes() + b"\n", fail_first=2)
        result = download_registry(
            raw_dir, "verra", {"projects": DatasetSource(server.url("/p.csv"))}, limits, today=DAY, sleep=waits.append
        )
        assert server.hits["/p.csv"] == 3, f"expected 2 failures then a success, saw {server.hits['/p.csv']} requests"
    assert waits == [0.5, 1.0], f"backoff should double from 0.5 s, waited {waits}"
    assert result.attempts == {"projects": 3}, f"attempts recorded: {result.attempts}"


def test_permanent_http_errors_are_not_retried(raw_dir):
    with RegistryServer() as server:
        server.routes["/gone.csv"] = Route(status=403, body=b"forbidden", content_type="text/plain")
        with pytest.raises(DownloadError, match="HTTP 403"):
            download_registry(raw_dir, "verra", {"projects": DatasetSource(server.url("/gone.csv"))}, FAST, today=DAY)
        assert server.hits["/gone.csv"] == 1, "a 403 is not transient and must not be retried"


def test_xlsx_and_json_payloads_are_checked_for_their_format(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.append(["ID", "Name"])
    workbook.active.append([1, "Bale Mountains"])
    real_xlsx = tmp_path / "projects.xlsx"
    workbook.save(real_xlsx)
    check_payload(real_xlsx, "xlsx")  # a real workbook passes

    csv_as_xlsx = tmp_path / "csv.xlsx"
    csv_as_xlsx.write_bytes(VERRA_PROJECTS.read_bytes()[:2000])
    with pytest.raises(DownloadError, match="not an XLSX workbook"):
        check_payload(csv_as_xlsx, "xlsx")

    good_json = tmp_path / "ok.json"
    good_json.write_text('[{"id": 1}]')
    check_payload(good_json, "json")
    for text, reason in (("[]", "no records"), ('{"id": ', "not valid JSON")):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        with pytest.raises(DownloadError, match=reason):
            check_payload(bad, "json")


def test_configuration_errors_are_clear(raw_dir):
    with pytest.raises(ValueError, match="must be http"):
        DatasetSource("file:///etc/passwd")
    with pytest.raises(DownloadError, match="no download URL configured"):
        download_registry(raw_dir, "verra", {}, FAST)
    with pytest.raises(DownloadError, match="unknown dataset"):
        download_registry(raw_dir, "verra", {"vcus": DatasetSource("http://127.0.0.1:9/x.csv")}, FAST)


def test_a_server_trickling_its_headers_is_cut_off_at_the_deadline(raw_dir):
    before = _tree(raw_dir)
    with RegistryServer() as server:
        server.routes["/slow-headers.csv"] = Route(body=VERRA_PROJECTS.read_bytes(), header_trickle_seconds=0.05)
        sources = {"projects": DatasetSource(server.url("/slow-headers.csv"))}
        with pytest.raises(DownloadError) as failure:
            download_registry(raw_dir, "verra", sources, FAST, today=DAY)
        sent = server.header_lines_sent["/slow-headers.csv"]
    message = str(failure.value)
    assert "timed out after 0.5 s (waiting for the response headers)" in message, message
    assert "gave up after 2 attempts" in message, message
    assert sent < HEADER_LINES, (
        f"the client waited for {sent} trickled header lines: every attempt must stop at its deadline, not when "
        f"the server finishes its headers ({HEADER_LINES} lines per attempt)"
    )
    assert _tree(raw_dir) == before, "a timed-out download changed the raw folder"


def test_the_overall_deadline_stops_retries_that_would_start_after_it(raw_dir):
    limits = DownloadLimits(timeout_seconds=0.3, attempts=50, backoff_seconds=0.01, deadline_seconds=1.0)
    with RegistryServer() as server:
        server.routes["/slow.csv"] = Route(body=VERRA_PROJECTS.read_bytes(), delay_seconds=5)
        with pytest.raises(DownloadError, match="timed out") as failure:
            download_registry(raw_dir, "verra", {"projects": DatasetSource(server.url("/slow.csv"))}, limits, today=DAY)
    message = str(failure.value)
    attempts = int(re.search(r"gave up after (\d+) attempts", message)[1])
    assert attempts < 50, f"{attempts} attempts: retries went on past the 1 s deadline of the download: {message}"
    assert "1-second deadline passed" in message, f"the error must say the deadline ended the retries: {message}"


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://127.0.0.1/projects.csv"])
def test_redirects_to_another_scheme_are_refused(raw_dir, location):
    before = _tree(raw_dir)
    with RegistryServer() as server:
        server.routes["/moved.csv"] = Route(redirect_to=location)
        with pytest.raises(DownloadError, match="refused redirect .* not an http\\(s\\) URL"):
            download_registry(raw_dir, "verra", {"projects": DatasetSource(server.url("/moved.csv"))}, FAST, today=DAY)
        assert server.hits["/moved.csv"] == 1, "a refused redirect is not a transient failure: no retry"
    assert _tree(raw_dir) == before


def test_redirects_within_http_are_followed(raw_dir):
    with RegistryServer() as server:
        server.routes["/old.csv"] = Route(redirect_to="/new.csv")
        server.routes["/new.csv"] = Route(body=VERRA_PROJECTS.read_bytes() + b"\n")
        result = download_registry(
            raw_dir, "verra", {"projects": DatasetSource(server.url("/old.csv"))}, FAST, today=DAY
        )
    assert (result.snapshot / "projects.csv").read_bytes() == VERRA_PROJECTS.read_bytes() + b"\n"


def test_a_redirect_from_https_to_http_is_a_refused_downgrade():
    request = httpx.Request("GET", "https://registry.example.org/export.csv")
    downgrade = httpx.Response(302, headers={"Location": "http://registry.example.org/export.csv"}, request=request)
    with pytest.raises(DownloadError, match="downgrade from https to http"):
        check_redirect(downgrade)
    for location in ("https://mirror.example.org/export.csv", "/export-2.csv"):
        check_redirect(httpx.Response(301, headers={"Location": location}, request=request))  # allowed
