"""Raw layer: one registry snapshot per partition and the Berkeley VROD snapshot, downloaded when configured,
else read from ``data/raw``."""

from pathlib import Path
from typing import Literal

import dagster as dg
import pandas as pd
import yaml

from assets.partitions import registry_partitions
from assets.resources import PipelineSettings
from pipeline.ingest.downloads import (
    VROD,
    VROD_RELEASE,
    VROD_URL,
    DatasetSource,
    DownloadError,
    DownloadLimits,
    download_registry,
    sha256_of,
    vrod_sources,
)
from pipeline.ingest.snapshots import latest_snapshot, snapshot_fingerprint
from pipeline.registries import REGISTRY_KEYS
from pipeline.settings import Environment

SNAPSHOT_PRESENT_CHECK = "snapshot_present"


class DatasetDownload(dg.Config):
    """One dataset's export URL and the format its payload must have."""

    url: str
    format: Literal["csv", "xlsx", "json"] = "csv"
    method: Literal["GET", "POST"] = "GET"
    body: str | None = None


class RegistryDownloads(dg.ConfigurableResource):
    """Online mode for ``registry_snapshot`` and ``berkeley_vrod_snapshot``: export URLs per registry and
    dataset, the Berkeley VROD release, and the HTTP limits.

    Off by default (``enabled: false``): every run reads what is already in ``data/raw``. Datasets are
    ``projects``, ``transactions`` (Verra), ``issuances``, ``retirements``, ``cancellations``. No registry
    publishes a stable export URL, so none is preset (see ``pipeline/ingest/downloads.py`` for where each registry
    publishes its exports); Berkeley publishes VROD at a known URL per release, so online mode fetches the
    ``vrod_release`` workbook. ``from_env`` reads ``CREDIT_QUALITY_DOWNLOADS=online``,
    ``CREDIT_QUALITY_VROD_RELEASE`` and a YAML file of URLs named by ``CREDIT_QUALITY_DOWNLOAD_SOURCES``
    (``{registry: {dataset: url | {url, format, method, body}}}``).
    """

    enabled: bool = False
    timeout_seconds: float = DownloadLimits.timeout_seconds
    deadline_seconds: float = DownloadLimits.deadline_seconds
    attempts: int = DownloadLimits.attempts
    backoff_seconds: float = DownloadLimits.backoff_seconds
    max_megabytes: int = DownloadLimits.max_bytes // (1024 * 1024)
    vrod_release: str = VROD_RELEASE
    vrod_url: str = VROD_URL
    """The VROD workbook's URL, ``{release}`` standing for ``vrod_release`` (a mirror may replace it)."""
    verra: dict[str, DatasetDownload] = {}
    gold_standard: dict[str, DatasetDownload] = {}
    american_carbon_registry: dict[str, DatasetDownload] = {}
    climate_action_reserve: dict[str, DatasetDownload] = {}
    art_trees: dict[str, DatasetDownload] = {}

    @classmethod
    def from_env(cls) -> "RegistryDownloads":
        env = Environment()
        sources = read_sources_file(env.download_sources) if env.download_sources else {}
        return cls(enabled=env.downloads, vrod_release=env.vrod_release or VROD_RELEASE, **sources)

    def sources(self, registry: str) -> dict[str, DatasetSource]:
        if registry == VROD:
            return vrod_sources(self.vrod_release, self.vrod_url)
        configured: dict[str, DatasetDownload] = getattr(self, registry.replace("-", "_"))
        return {
            dataset: DatasetSource(url=d.url, format=d.format, method=d.method, body=d.body)
            for dataset, d in configured.items()
        }

    def limits(self) -> DownloadLimits:
        return DownloadLimits(
            timeout_seconds=self.timeout_seconds,
            deadline_seconds=self.deadline_seconds,
            attempts=self.attempts,
            backoff_seconds=self.backoff_seconds,
            max_bytes=self.max_megabytes * 1024 * 1024,
        )


def read_sources_file(path: Path) -> dict[str, dict[str, DatasetDownload]]:
    """``{registry: {dataset: url or {url, format, method, body}}}`` from YAML, keyed by resource field name."""
    document = yaml.safe_load(path.read_text()) or {}
    unknown = sorted(set(document) - set(REGISTRY_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown registries {unknown}; known: {', '.join(REGISTRY_KEYS)}")
    return {
        registry.replace("-", "_"): {
            dataset: DatasetDownload(**(spec if isinstance(spec, dict) else {"url": spec}))
            for dataset, spec in (datasets or {}).items()
        }
        for registry, datasets in document.items()
    }


def _files_table(folder: Path, sources: dict[str, str] | None = None) -> dg.MetadataValue:
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    table = pd.DataFrame(
        {
            "file": [p.name for p in files],
            "bytes": [p.stat().st_size for p in files],
            "sha256": [sha256_of(p)[:16] for p in files],
            "source": [(sources or {}).get(p.stem, "local") for p in files],
        }
    )
    return dg.MetadataValue.md(table.to_markdown(index=False) if len(table) else "_no files_")


def _snapshot_check(asset: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        SNAPSHOT_PRESENT_CHECK,
        asset=asset,
        description="The source has raw files to read. Warns when it has none: ingest then skips it.",
    )


def take_snapshot(
    context: dg.AssetExecutionContext, raw_dir: Path, source: str, downloads: RegistryDownloads
) -> dg.MaterializeResult:
    """Download ``source`` (a registry, or ``berkeley-vrod``) into a new dated snapshot when online, then
    record the snapshot ingest will read. A failed download fails the run with the reason; nothing on disk
    changes."""
    sources = downloads.sources(source) if downloads.enabled else {}
    metadata: dict[str, object] = {"mode": "online" if sources else "offline"}
    urls: dict[str, str] = {}
    if sources:
        previous = latest_snapshot(raw_dir, source)
        try:
            result = download_registry(raw_dir, source, sources, downloads.limits())
        except DownloadError as error:
            raise dg.Failure(
                description=f"download failed: {error}",
                metadata={
                    "source": source,
                    "kept_snapshot": str(previous) if previous else "none",
                    "urls": dg.MetadataValue.md("\n".join(f"- {d}: {s.url}" for d, s in sources.items())),
                },
            ) from error
        urls = {f.dataset: f.source for f in result.files}
        metadata |= {"downloaded": not result.unchanged, "unchanged": result.unchanged, "attempts": result.attempts}
        context.log.info(
            f"{source}: {'no change since' if result.unchanged else 'new snapshot'} {result.snapshot.name}"
        )
    elif downloads.enabled:
        metadata["note"] = f"no download URL configured for {source}; reading local files"

    folder = latest_snapshot(raw_dir, source)
    if folder is None:
        note = f"no raw files for {source} under {raw_dir}: ingest will skip it"
        context.log.warning(note)
        return dg.MaterializeResult(
            metadata=metadata | {"snapshot": "none", "note": note},
            check_results=[
                dg.AssetCheckResult(
                    check_name=SNAPSHOT_PRESENT_CHECK,
                    passed=False,
                    severity=dg.AssetCheckSeverity.WARN,
                    metadata={"note": note},
                )
            ],
        )
    return dg.MaterializeResult(
        metadata=metadata
        | {
            "snapshot": str(folder),
            "snapshot_name": folder.name if folder.parent.name == source else "(loose files)",
            "fingerprint": snapshot_fingerprint(raw_dir, source),
            "files": _files_table(folder, urls),
        },
        check_results=[
            dg.AssetCheckResult(check_name=SNAPSHOT_PRESENT_CHECK, passed=True, metadata={"snapshot": str(folder)})
        ],
    )


@dg.asset(
    partitions_def=registry_partitions,
    group_name="raw",
    kinds={"python", "csv"},
    check_specs=[_snapshot_check("registry_snapshot")],
)
def registry_snapshot(
    context: dg.AssetExecutionContext, settings: PipelineSettings, downloads: RegistryDownloads
) -> dg.MaterializeResult:
    """The raw snapshot ingest will read for this registry: `data/raw/<registry>/<YYYY-MM-DD>/` (newest
    complete dated snapshot) or, without one, the files directly in `data/raw/<registry>/`.

    Offline (the default) it records which local snapshot will be read. Online (`RegistryDownloads.enabled`
    with URLs for this registry) it first downloads every configured dataset into a new dated snapshot:
    one deadline per attempt and per download, retries with backoff, a size limit, no redirect to another
    scheme or from https to http, and a format check; the snapshot appears only when every file passed, and
    a download identical to the previous snapshot is discarded. A failed download fails this partition's run
    with the reason and leaves every earlier snapshot, and the other registries, untouched. Metadata
    `fingerprint` identifies the snapshot; the new-snapshot sensor compares against it."""
    return take_snapshot(context, settings.paths.raw_dir, context.partition_key, downloads)


@dg.asset(group_name="raw", kinds={"python", "excel"}, check_specs=[_snapshot_check("berkeley_vrod_snapshot")])
def berkeley_vrod_snapshot(
    context: dg.AssetExecutionContext, settings: PipelineSettings, downloads: RegistryDownloads
) -> dg.MaterializeResult:
    """The Berkeley Voluntary Registry Offsets Database snapshot ingest will read: `data/raw/berkeley-vrod/`
    (newest dated snapshot, else the files directly in the folder).

    Online (`RegistryDownloads.enabled`) it first downloads the `vrod_release` workbook
    (`Voluntary-Registry-Offsets-Database--vYYYY-MM.xlsx` from Berkeley's site, or the configured `vrod_url`)
    into `data/raw/berkeley-vrod/<YYYY-MM-DD>/projects.xlsx`, with the registries' deadlines, retries, size
    limit and checks, plus one more: the workbook must hold the `PROJECTS` sheet."""
    return take_snapshot(context, settings.paths.raw_dir, VROD, downloads)
