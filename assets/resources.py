"""Typed configuration for the Dagster layer: where the pipeline reads and writes, and its policy.

Connections come from :class:`PipelineSettings`, not ``dagster_duckdb.DuckDBResource``: that resource always
opens read-write (and waits ~100 s for a lock), while checks and the publish read the work DB read-only and the
analyst file is swapped in atomically. Contracts run as pandera-derived SQL in DuckDB with asset checks, not as
``dagster-pandera`` types (whose check neither returns the coerced frame nor records a check result). Neither
integration is a dependency.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from pipeline.policy import Policy, load_policy
from pipeline.settings import Paths


class PipelineSettings(dg.ConfigurableResource):
    """Paths of one pipeline instance. Defaults come from the ``CREDIT_QUALITY_*`` environment variables
    (see ``pipeline/settings.py``); tests pass temporary paths explicitly."""

    raw_dir: str
    curated_db: str
    work_db: str
    ledger_db: str
    policy_file: str
    reference_dir: str

    @classmethod
    def from_env(cls) -> PipelineSettings:
        paths = Paths.from_env()
        return cls(
            raw_dir=str(paths.raw_dir),
            curated_db=str(paths.curated_db),
            work_db=str(paths.work_db),
            ledger_db=str(paths.ledger_db),
            policy_file=str(paths.policy),
            reference_dir=str(paths.reference_dir),
        )

    @property
    def paths(self) -> Paths:
        return Paths(
            raw_dir=Path(self.raw_dir),
            curated_db=Path(self.curated_db),
            work_db=Path(self.work_db),
            ledger_db=Path(self.ledger_db),
            policy=Path(self.policy_file),
            reference_dir=Path(self.reference_dir),
        )

    def policy(self) -> Policy:
        return load_policy(self.paths.policy)

    @contextmanager
    def work_db_connection(self, read_only: bool = False):
        """The pipeline's private working DuckDB; never the analyst-facing file."""
        path = self.paths.work_db
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = duckdb.connect(str(path), read_only=read_only)
        try:
            yield conn
        finally:
            conn.close()
