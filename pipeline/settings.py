"""Where the pipeline reads and writes, resolved once from the environment.

Every path is absolute. The environment variables are the documented overrides:

- ``CREDIT_QUALITY_RAW_DIR``      raw registry exports (default ``data/raw``)
- ``CREDIT_QUALITY_CURATED_DB``   the analyst-facing DuckDB file (default ``data/curated/inventory.duckdb``)
- ``CREDIT_QUALITY_WORK_DB``      the pipeline's private working DuckDB
                                  (default ``<curated dir>/work/pipeline.duckdb``)
- ``CREDIT_QUALITY_LEDGER_DB``    the retirement ledger, the system of record that survives every
                                  republish (default ``<curated dir>/ledger.duckdb``)
- ``CREDIT_QUALITY_POLICY``       the scoring and buyer policy file (default ``data/policy.yaml``)
- ``CREDIT_QUALITY_REFERENCE_DIR`` cited reference tables (default ``data/reference``)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _path(env: str, default: Path) -> Path:
    value = os.environ.get(env)
    return Path(value).expanduser().resolve() if value else default.resolve()


@dataclass(frozen=True)
class Paths:
    """The files and folders of one pipeline instance."""

    raw_dir: Path
    curated_db: Path
    work_db: Path
    ledger_db: Path
    policy: Path
    reference_dir: Path

    @property
    def curated_dir(self) -> Path:
        return self.curated_db.parent

    @classmethod
    def from_env(cls) -> Paths:
        curated_db = _path("CREDIT_QUALITY_CURATED_DB", REPO_ROOT / "data" / "curated" / "inventory.duckdb")
        return cls(
            raw_dir=_path("CREDIT_QUALITY_RAW_DIR", REPO_ROOT / "data" / "raw"),
            curated_db=curated_db,
            work_db=_path("CREDIT_QUALITY_WORK_DB", curated_db.parent / "work" / "pipeline.duckdb"),
            ledger_db=_path("CREDIT_QUALITY_LEDGER_DB", curated_db.parent / "ledger.duckdb"),
            policy=_path("CREDIT_QUALITY_POLICY", REPO_ROOT / "data" / "policy.yaml"),
            reference_dir=_path("CREDIT_QUALITY_REFERENCE_DIR", REPO_ROOT / "data" / "reference"),
        )
