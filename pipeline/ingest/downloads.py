"""Fetch registry exports over HTTP into dated raw snapshots, never touching what is already there.

A download of one registry writes every configured dataset into ``data/raw/<registry>/<name>.partial/``,
checks each payload (HTTP status, complete body, size limit, expected format), and only then renames the
folder to ``<name>`` (``YYYY-MM-DD``, or ``YYYY-MM-DD-<n>`` for a further snapshot the same day). Any failure
removes the partial folder and raises :class:`DownloadError` naming the registry, dataset, URL and reason:
earlier snapshots, and so what ingest reads (:func:`pipeline.ingest.snapshots.latest_snapshot`), are unchanged.

Datasets without a configured URL are carried forward from the previous snapshot, so the newest snapshot is
always complete. A download identical to the previous snapshot is discarded (``unchanged``): it would only
start a needless refresh.

**Where the URLs come from.** None of the five registries publishes a stable, documented export URL:
Verra's export is a POST to its single-page app's internal API (``/uiapi/resource/resource/search`` with
``$format=csv``), moved more than once; the APX registries (ACR, CAR, ART TREES) serve report pages
(``/myModule/rpt/myrpt.asp?r=<id>``) whose CSV download needs a session and a form token; Gold Standard's
public API pages JSON behind bot protection. So no URL is configured by default and the pipeline runs
offline on what is in ``data/raw``. :data:`EXPORT_PAGES` documents where each registry's exports are
published, for whoever configures a mirror or a scheduled export (``RegistryDownloads`` in
``assets/downloads.py``, README "Operations").
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal
from xml.etree import ElementTree

import anyio
import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_before_delay, wait_exponential

from pipeline.atomic import fsync
from pipeline.ingest.snapshots import PARTIAL_SUFFIX, latest_snapshot, snapshot_order

Format = Literal["csv", "xlsx", "json"]
FORMATS: tuple[str, ...] = ("csv", "xlsx", "json")
DATASETS = ("projects", "transactions", "issuances", "retirements", "cancellations")

EXPORT_PAGES: dict[str, dict[str, str]] = {
    "verra": {
        "projects": "https://registry.verra.org/app/search/VCS/All%20Projects (export: CSV button)",
        "transactions": "https://registry.verra.org/app/search/VCS/VCUs (export: CSV button)",
    },
    "gold-standard": {
        "projects": "https://registry.goldstandard.org/projects (export: CSV)",
        "issuances": "https://registry.goldstandard.org/credit-blocks/issuances",
        "retirements": "https://registry.goldstandard.org/credit-blocks/retirements",
    },
    "american-carbon-registry": {
        "projects": "https://acr2.apx.com/myModule/rpt/myrpt.asp?r=111",
        "issuances": "https://acr2.apx.com/myModule/rpt/myrpt.asp?r=112",
        "retirements": "https://acr2.apx.com/myModule/rpt/myrpt.asp?r=206",
    },
    "climate-action-reserve": {
        "projects": "https://thereserve2.apx.com/myModule/rpt/myrpt.asp?r=111",
        "issuances": "https://thereserve2.apx.com/myModule/rpt/myrpt.asp?r=112",
        "retirements": "https://thereserve2.apx.com/myModule/rpt/myrpt.asp?r=206",
    },
    "art-trees": {
        "projects": "https://art.apx.com/myModule/rpt/myrpt.asp?r=111",
        "issuances": "https://art.apx.com/myModule/rpt/myrpt.asp?r=112",
        "retirements": "https://art.apx.com/myModule/rpt/myrpt.asp?r=206",
    },
}
"""Human-facing pages where each registry publishes its exports (documentation, not fetched)."""

VROD = "berkeley-vrod"
"""Raw folder of the Berkeley Voluntary Registry Offsets Database (``data/raw/berkeley-vrod/``)."""
VROD_URL = "https://gspp.berkeley.edu/assets/uploads/page/Voluntary-Registry-Offsets-Database--v{release}.xlsx"
"""Where Berkeley publishes each VROD release (``{release}`` = ``YYYY-MM``); see docs vrod.md."""
VROD_SHEET = "PROJECTS"
VROD_RELEASE = "2025-12"
"""The release online mode fetches unless configured (the year-end release the docs' verified facts describe)."""


def vrod_sources(release: str, url: str = VROD_URL) -> dict[str, DatasetSource]:
    """The VROD workbook of ``release`` as the ``projects`` dataset of the ``berkeley-vrod`` snapshot."""
    return {"projects": DatasetSource(url.format(release=release), format="xlsx", sheet=VROD_SHEET)}


USER_AGENT = "credit-quality-pipeline/0.1 (+registry snapshot download)"
CHUNK_BYTES = 1 << 16
MAX_REDIRECTS = 5
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class DownloadError(Exception):
    """A download failed; the message names registry, dataset, URL and reason. Nothing was replaced."""


class _Transient(DownloadError):
    """A failure worth retrying (timeout, connection reset, 5xx, truncated body)."""


@dataclass(frozen=True)
class DatasetSource:
    """Where one dataset of one registry is fetched from, and what it must look like."""

    url: str
    format: Format = "csv"
    method: Literal["GET", "POST"] = "GET"
    body: str | None = None
    """JSON text sent with a POST (Verra's export endpoint takes its search filter this way)."""
    sheet: str | None = None
    """XLSX only: a sheet the workbook must hold (another workbook, or a renamed sheet, is refused)."""

    def __post_init__(self) -> None:
        if not self.url.lower().startswith(("http://", "https://")):
            raise ValueError(f"download URL must be http(s): {self.url!r}")
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {self.format!r}")


@dataclass(frozen=True)
class DownloadLimits:
    timeout_seconds: float = 60.0
    """Per attempt: connecting, the headers and the whole body must arrive within this time (a server that
    trickles its headers or body counts)."""
    attempts: int = 3
    backoff_seconds: float = 2.0
    """Wait before retry n (1-based) is ``backoff_seconds * 2 ** (n - 1)``."""
    max_bytes: int = 500 * 1024 * 1024
    deadline_seconds: float = 300.0
    """One dataset's whole download, every attempt and wait included: no retry starts past it."""


@dataclass(frozen=True)
class SnapshotFile:
    dataset: str
    path: Path
    bytes: int
    sha256: str
    source: str
    """The URL it was fetched from, or ``carried forward from <folder>``."""


@dataclass
class DownloadResult:
    registry: str
    snapshot: Path
    """The folder ingest will read: the new snapshot, or the previous one when nothing changed."""
    files: list[SnapshotFile] = field(default_factory=list)
    unchanged: bool = False
    attempts: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------- fetching

BODY_ARRIVING = "body still arriving"


def fetch(source: DatasetSource, target: Path, limits: DownloadLimits, seconds: float | None = None) -> str:
    """One attempt: stream ``source`` into ``target`` within ``seconds`` (default ``limits.timeout_seconds``)
    from connecting to the last byte, headers included; returns the response's Content-Type.

    Raises :class:`_Transient` for failures a retry may cure and :class:`DownloadError` for the others."""
    seconds = limits.timeout_seconds if seconds is None else seconds
    progress = ["waiting for the response headers"]
    try:
        return anyio.run(_fetch, source, target, limits, seconds, progress)
    except TimeoutError as error:
        raise _Transient(f"timed out after {seconds:.3g} s ({progress[-1]})") from error
    except httpx.TooManyRedirects as error:
        raise DownloadError(f"too many redirects: {error}") from error
    except httpx.RemoteProtocolError as error:
        if progress[-1] == BODY_ARRIVING:
            raise _Transient(f"truncated body: {error}") from error
        raise _Transient(f"connection failed: {error}") from error
    except httpx.TimeoutException as error:
        raise _Transient(f"timed out after {seconds:.3g} s ({progress[-1]})") from error
    except httpx.TransportError as error:
        raise _Transient(f"cannot connect: {error!r}") from error


async def _fetch(source: DatasetSource, target: Path, limits: DownloadLimits, seconds: float, progress: list) -> str:
    # One deadline for the whole exchange: httpx's own timeouts are per socket operation, so a server that
    # sends a header line every few seconds would never trip them.
    with anyio.fail_after(seconds):
        async with (
            httpx.AsyncClient(
                headers={"User-Agent": USER_AGENT},
                timeout=seconds,
                follow_redirects=True,
                max_redirects=MAX_REDIRECTS,
                event_hooks={"response": [_refuse_unsafe_redirect]},
            ) as client,
            client.stream(
                source.method,
                source.url,
                content=source.body.encode() if source.body is not None else None,
                headers={"Content-Type": "application/json"} if source.body is not None else None,
            ) as response,
        ):
            if response.status_code >= 400:
                reason = f"HTTP {response.status_code} {response.reason_phrase}"
                raise (_Transient if response.status_code in RETRYABLE_STATUS else DownloadError)(reason)
            declared = response.headers.get("Content-Length", "")
            expected = int(declared) if declared.isdigit() else None
            if expected is not None and expected > limits.max_bytes:
                raise DownloadError(
                    f"refused: the server announces {expected:,} bytes, over the {limits.max_bytes:,}-byte limit"
                )
            progress.append(BODY_ARRIVING)
            await _stream(response, target, limits)
            if expected is not None and response.num_bytes_downloaded < expected:
                raise _Transient(f"truncated body: received {response.num_bytes_downloaded:,} of {expected:,} bytes")
            return response.headers.get("Content-Type", "")


async def _refuse_unsafe_redirect(response: httpx.Response) -> None:
    """Follow a redirect only to http(s), and never from https to http (a downgrade anyone on the path can
    answer in the registry's name)."""
    check_redirect(response)


def check_redirect(response: httpx.Response) -> None:
    """Raise :class:`DownloadError` when ``response`` redirects to another scheme or from https to http."""
    if not response.is_redirect:
        return
    target = response.url.join(response.headers["Location"])
    if target.scheme not in ("http", "https"):
        raise DownloadError(f"refused redirect from {response.url} to {target}: not an http(s) URL")
    if response.url.scheme == "https" and target.scheme == "http":
        raise DownloadError(f"refused redirect from {response.url} to {target}: a downgrade from https to http")


async def _stream(response: httpx.Response, target: Path, limits: DownloadLimits) -> None:
    received = 0
    with target.open("wb") as out:
        async for chunk in response.aiter_bytes(CHUNK_BYTES):
            received += len(chunk)
            if received > limits.max_bytes:
                raise DownloadError(f"refused: body exceeds the {limits.max_bytes:,}-byte limit")
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())


def fetch_with_retries(
    source: DatasetSource,
    target: Path,
    limits: DownloadLimits,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[str, int]:
    """Fetch with exponential backoff on transient failures, within ``limits.deadline_seconds`` for every
    attempt and wait together; returns (Content-Type, attempts used)."""
    deadline = time.monotonic() + limits.deadline_seconds

    def attempt() -> str:
        left = deadline - time.monotonic()
        if left <= 0:
            raise DownloadError(f"the {limits.deadline_seconds:g}-second deadline of this download has passed")
        return fetch(source, target, limits, min(limits.timeout_seconds, left))

    retrying = Retrying(
        stop=stop_after_attempt(limits.attempts) | stop_before_delay(limits.deadline_seconds),
        wait=wait_exponential(multiplier=limits.backoff_seconds),
        retry=retry_if_exception_type(_Transient),
        sleep=sleep,
        reraise=True,
    )
    try:
        content_type = retrying(attempt)
    except _Transient as error:
        used = retrying.statistics["attempt_number"]
        gave_up = f"gave up after {used} attempt{'s' * (used > 1)}"
        if used < limits.attempts:  # stopped by the deadline (passed, or the next wait would pass it)
            gave_up += f"; the download's {limits.deadline_seconds:g}-second deadline passed"
        raise DownloadError(f"{error} ({gave_up})") from error
    return content_type, retrying.statistics["attempt_number"]


# ---------------------------------------------------------------- payload checks


def check_payload(path: Path, expected: str, content_type: str = "", sheet: str | None = None) -> None:
    """Raise :class:`DownloadError` unless ``path`` holds a non-empty ``expected`` (csv/xlsx/json) payload
    (an XLSX holding ``sheet`` when given).

    Registries answer outages and expired sessions with an HTML page and status 200; that page must never
    replace a real export."""
    size = path.stat().st_size
    if size == 0:
        raise DownloadError("empty body")
    with path.open("rb") as handle:
        head = handle.read(CHUNK_BYTES)
    if _looks_like_html(head) or ("html" in content_type.lower() and expected != "json"):
        raise DownloadError(f"an HTML page was served instead of {expected.upper()} (Content-Type {content_type!r})")
    {"csv": _check_csv, "xlsx": _check_xlsx, "json": _check_json}[expected](path, head)
    if sheet is not None and sheet not in _sheet_names(path):
        raise DownloadError(f"the workbook has no sheet {sheet!r} (sheets: {', '.join(_sheet_names(path))})")


def _looks_like_html(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml", b"<!--"))


def _check_csv(path: Path, head: bytes) -> None:
    if b"\x00" in head:
        raise DownloadError("binary data where CSV was expected")
    text = head.decode("utf-8-sig", errors="replace")
    if len(head) == CHUNK_BYTES:  # a cut mid-line must not fail the sniff
        text = text.rsplit("\n", 1)[0]
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows or len(rows[0]) < 2:
        raise DownloadError("not a CSV table: the first line has fewer than two columns")
    if len(rows) < 2:
        raise DownloadError("CSV has a header but no data rows: an empty export would empty the registry")


def _check_xlsx(path: Path, head: bytes) -> None:
    if not head.startswith(b"PK\x03\x04"):
        raise DownloadError("not an XLSX workbook (no ZIP signature)")
    try:
        with zipfile.ZipFile(path) as workbook:
            if "xl/workbook.xml" not in workbook.namelist():
                raise DownloadError("a ZIP file but not an XLSX workbook (no xl/workbook.xml)")
            broken = workbook.testzip()
    except zipfile.BadZipFile as error:
        raise DownloadError(f"corrupt XLSX workbook: {error}") from error
    if broken is not None:
        raise DownloadError(f"corrupt XLSX workbook: member {broken} fails its CRC")


def _sheet_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as workbook:
        root = ElementTree.fromstring(workbook.read("xl/workbook.xml"))
    return [sheet.get("name", "") for sheet in root.iterfind(".//{*}sheet")]


def _check_json(path: Path, head: bytes) -> None:
    try:
        document = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DownloadError(f"not valid JSON: {error}") from error
    if not isinstance(document, list | dict) or not document:
        raise DownloadError("JSON holds no records")


# ---------------------------------------------------------------- snapshots


def next_snapshot_name(registry_dir: Path, today: date) -> str:
    """``YYYY-MM-DD`` for the first snapshot of the day, then ``YYYY-MM-DD-2``, ``-3``, ... (never reused)."""
    base = today.isoformat()
    taken = {p.name for p in registry_dir.iterdir() if p.is_dir()} if registry_dir.is_dir() else set()
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _dataset_files(folder: Path | None) -> dict[str, Path]:
    if folder is None:
        return {}
    return {
        p.stem.lower(): p
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower().lstrip(".") in FORMATS and not p.name.startswith((".", "_"))
    }


def download_registry(
    raw_dir: Path,
    registry: str,
    sources: Mapping[str, DatasetSource],
    limits: DownloadLimits = DownloadLimits(),
    today: date | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DownloadResult:
    """Download every dataset in ``sources`` into a new dated snapshot of ``registry`` under ``raw_dir``.

    All-or-nothing: the snapshot appears (atomic rename) only when every dataset arrived whole and passed
    :func:`check_payload`; otherwise :class:`DownloadError` is raised and ``raw_dir`` is as it was."""
    if not sources:
        raise DownloadError(f"{registry}: no download URL configured")
    unknown = sorted(set(sources) - set(DATASETS))
    if unknown:
        raise DownloadError(f"{registry}: unknown dataset(s) {unknown}; known: {', '.join(DATASETS)}")
    registry_dir = Path(raw_dir) / registry
    registry_dir.mkdir(parents=True, exist_ok=True)
    previous = latest_snapshot(raw_dir, registry)
    name = next_snapshot_name(registry_dir, today or date.today())
    partial = registry_dir / f"{name}{PARTIAL_SUFFIX}"
    shutil.rmtree(partial, ignore_errors=True)  # left by a crashed run; partial folders are never read
    partial.mkdir()
    result = DownloadResult(registry=registry, snapshot=partial)
    try:
        for dataset, source in sources.items():
            target = partial / f"{dataset}.{source.format}"
            try:
                content_type, attempts = fetch_with_retries(source, target, limits, sleep)
                check_payload(target, source.format, content_type, source.sheet)
            except DownloadError as error:
                raise DownloadError(
                    f"{registry}/{dataset} from {source.url}: {error}. Nothing was replaced"
                    + (f"; ingest keeps reading {previous}" if previous else "")
                ) from error
            result.attempts[dataset] = attempts
            result.files.append(SnapshotFile(dataset, target, target.stat().st_size, sha256_of(target), source.url))
        for dataset, old in _dataset_files(previous).items():
            if dataset not in sources:
                copy = Path(shutil.copy2(old, partial / old.name))
                result.files.append(
                    SnapshotFile(dataset, copy, copy.stat().st_size, sha256_of(copy), f"carried forward from {old}")
                )
        if previous is not None and _same_content(previous, result.files):
            shutil.rmtree(partial)
            result.snapshot, result.unchanged = previous, True
            result.files = [
                SnapshotFile(f.dataset, previous / f.path.name, f.bytes, f.sha256, f.source) for f in result.files
            ]
            return result
        final = registry_dir / name
        if final.exists() or snapshot_order(name) is None:
            raise DownloadError(f"{registry}: snapshot folder {final} appeared during the download; not overwritten")
        fsync(partial)
        os.rename(partial, final)
        fsync(registry_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    result.snapshot = final
    result.files = [SnapshotFile(f.dataset, final / f.path.name, f.bytes, f.sha256, f.source) for f in result.files]
    return result


def _same_content(previous: Path, files: list[SnapshotFile]) -> bool:
    old = _dataset_files(previous)
    if {p.name for p in old.values()} != {f.path.name for f in files}:
        return False
    return all(sha256_of(previous / f.path.name) == f.sha256 for f in files)
