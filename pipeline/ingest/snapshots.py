"""Which raw folder ingest reads for a registry: its latest complete snapshot.

Layout under ``raw_dir`` (see ``data/raw/SOURCES.md``)::

    <registry>/<dataset>.<ext>                   files placed by hand (the bundled default set)
    <registry>/<YYYY-MM-DD>/<dataset>.<ext>      dated snapshots written by the download step
    <registry>/<YYYY-MM-DD>-<n>/...              a further snapshot taken the same day (n = 2, 3, ...)
    <registry>/<YYYY-MM-DD>.partial/...          a download in progress or interrupted: never read

A download writes into ``<name>.partial/`` and renames it when every file has passed its checks, so a
dated folder without the suffix is complete by construction. The newest complete dated snapshot wins;
without any, the files directly in the registry folder are read.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path

PARTIAL_SUFFIX = ".partial"
SNAPSHOT_NAME = re.compile(r"^(?P<day>\d{4}-\d{2}-\d{2})(?:-(?P<seq>[1-9]\d*))?$")


def snapshot_order(name: str) -> tuple[date, int] | None:
    """Sort key of a snapshot folder name (its date, then its same-day sequence number); None when the
    name is not a snapshot name (including ``*.partial`` folders and impossible dates)."""
    match = SNAPSHOT_NAME.match(name)
    if match is None:
        return None
    try:
        day = date.fromisoformat(match["day"])
    except ValueError:
        return None
    return day, int(match["seq"] or 1)


def _has_files(folder: Path) -> bool:
    return any(p.is_file() and not p.name.startswith(".") for p in folder.iterdir())


def complete_snapshots(raw_dir: Path, registry: str) -> list[Path]:
    """Every complete, non-empty dated snapshot folder of ``registry``, oldest first."""
    registry_dir = Path(raw_dir) / registry
    if not registry_dir.is_dir():
        return []
    dated = [
        (order, folder)
        for folder in registry_dir.iterdir()
        if folder.is_dir() and (order := snapshot_order(folder.name)) is not None and _has_files(folder)
    ]
    return [folder for _, folder in sorted(dated)]


def latest_snapshot(raw_dir: Path, registry: str) -> Path | None:
    """The folder whose files ingest reads for ``registry``: the newest complete dated snapshot, else the
    registry folder itself when it holds files directly; None when there is nothing to read."""
    snapshots = complete_snapshots(raw_dir, registry)
    if snapshots:
        return snapshots[-1]
    registry_dir = Path(raw_dir) / registry
    if registry_dir.is_dir() and _has_files(registry_dir):
        return registry_dir
    return None


def snapshot_fingerprint(raw_dir: Path, registry: str) -> str | None:
    """A cheap identity of what ingest would read for ``registry`` now: the folder and every file's name,
    size and modification time. It changes when a new snapshot lands or a file is replaced in place;
    None when there is nothing to read."""
    folder = latest_snapshot(raw_dir, registry)
    if folder is None:
        return None
    digest = hashlib.sha256(folder.name.encode())
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        stat = path.stat()
        digest.update(f"\0{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return f"{folder.name}:{digest.hexdigest()[:16]}"
