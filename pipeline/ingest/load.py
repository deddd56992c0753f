"""Load one registry's raw folder into harmonized ``projects`` / ``credits`` frames, rejected rows and audit.

Files are named by dataset: ``projects``, ``transactions`` (Verra's VCU export), ``issuances``,
``retirements``, ``cancellations``, with extension ``.csv``, ``.xlsx`` or ``.json`` (ACR's new platform).
A registry whose folder is absent or empty is skipped with a note (many users hold only some registries);
a file that cannot be read at all raises :class:`~pipeline.ingest.files.IngestError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from pipeline.ingest import american_carbon_registry, art_trees, climate_action_reserve, gold_standard, verra
from pipeline.ingest.dataset import AuditTotals, DatasetLoad
from pipeline.ingest.files import IngestError
from pipeline.ingest.repeats import repeated_records
from pipeline.ingest.schemas import (
    CreditsSchema,
    LoadAuditSchema,
    ProjectsSchema,
    RejectedRowsSchema,
    check_columns_and_dtypes,
    empty_frame,
)
from pipeline.ingest.snapshots import latest_snapshot
from pipeline.registries import ACR, ART, CAR, GOLD_STANDARD, REGISTRY_KEYS, VERRA

SUPPORTED_EXTENSIONS = (".csv", ".xlsx", ".json")

READERS: dict[str, dict[str, Callable[[Path], DatasetLoad]]] = {
    VERRA.key: verra.DATASETS,
    GOLD_STANDARD.key: gold_standard.DATASETS,
    ACR.key: american_carbon_registry.DATASETS,
    CAR.key: climate_action_reserve.DATASETS,
    ART.key: art_trees.DATASETS,
}
"""registry -> dataset -> its reader; one module per registry format."""


@dataclass
class RegistryLoad(AuditTotals):
    registry: str
    snapshot_dir: Path
    projects: pd.DataFrame
    credits: pd.DataFrame
    rejected: pd.DataFrame
    audit: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def unknown_project_credits(self) -> int:
        return int((~self.credits["project_known"]).sum())


def dataset_files(folder: Path, registry: str) -> tuple[dict[str, Path], list[str]]:
    """Map dataset name -> file in ``folder``; notes for files that are not a dataset of this registry."""
    readers = readers_of(registry)
    files: dict[str, Path] = {}
    notes: list[str] = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "_"))):
        dataset = path.stem.lower()
        if path.suffix.lower() not in SUPPORTED_EXTENSIONS or dataset not in readers:
            if path.suffix.lower() not in (".md", ".txt"):
                notes.append(f"{path.name}: not a {registry} dataset ({', '.join(readers)}); ignored")
            continue
        if dataset in files:
            raise IngestError(f"{folder}: two files for dataset {dataset!r}: {files[dataset].name} and {path.name}")
        files[dataset] = path
    return files, notes


def readers_of(registry: str) -> dict[str, Callable[[Path], DatasetLoad]]:
    if registry not in READERS:
        raise IngestError(f"unknown registry {registry!r}; known: {', '.join(REGISTRY_KEYS)}")
    return READERS[registry]


def reject_repeats(registry: str, loads: list[DatasetLoad]) -> None:
    """Reject the transaction records that repeat or overlap another of the registry's (one rule for every
    registry: :func:`pipeline.ingest.repeats.repeated_records`, over the union of its transaction files), each
    as a rejected row of its own file and line; then let go of the raw records kept for it."""
    checked = [load for load in loads if load.dataset != "projects" and load.raw is not None]
    if checked:
        records = pd.concat(
            [load.transaction_records().assign(file_rank=rank) for rank, load in enumerate(checked)],
            ignore_index=True,
        )
        found = repeated_records(registry, records)
        for load in checked:
            mine = found[found["source_file"] == load.file]
            if len(mine):
                load.reject_records(mine["source_line"], mine["reason"])
    for load in loads:
        load.raw = None


def load_registry(registry: str, raw_dir: Path) -> RegistryLoad | None:
    """Read, harmonize and validate every dataset file of ``registry``; None (with nothing read) when the
    registry has no raw files."""
    folder = latest_snapshot(Path(raw_dir), registry)
    if folder is None:
        return None
    files, notes = dataset_files(folder, registry)
    if not files:
        return None
    readers = readers_of(registry)
    loads: list[DatasetLoad] = []
    for dataset, path in files.items():
        loads.append(readers[dataset](path))
        # What the reader freed stays with Arrow's allocator unless handed back: pandas, NumPy and DuckDB allocate
        # elsewhere, so the peak memory of a registry would add up across its files.
        pa.default_memory_pool().release_unused()
    reject_repeats(registry, loads)

    project_frames = [d.accepted for d in loads if d.dataset == "projects"]
    projects = project_frames[0] if project_frames else empty_frame(ProjectsSchema)
    if not project_frames:
        notes.append(f"no projects file for {registry}: every transaction is flagged project_known = false")
    credit_frames = [d.accepted for d in loads if d.dataset != "projects" and len(d.accepted)]
    credits = pd.concat(credit_frames, ignore_index=True) if credit_frames else empty_frame(CreditsSchema)
    credits["project_known"] = credits["project_id"].isin(projects["project_id"])
    # Every row was validated against its table's contract in ``finish``; what is new here is the union of the
    # files and ``project_known``, so the union is checked at schema level: columns present with their dtypes.
    check_columns_and_dtypes(credits, CreditsSchema)
    check_columns_and_dtypes(projects, ProjectsSchema)

    rejected = pd.concat(
        [d.rejected.assign(registry=registry, dataset=d.dataset, source_file=d.file) for d in loads],
        ignore_index=True,
    )
    rejected = RejectedRowsSchema.validate(
        rejected[["registry", "dataset", "source_file", "source_line", "reason", "raw_record"]], lazy=True
    )
    audit = LoadAuditSchema.validate(pd.DataFrame([d.audit_row() for d in loads]), lazy=True)
    return RegistryLoad(registry, folder, projects, credits, rejected, audit, notes)
