"""Where the pipeline reads and writes, and whether it downloads, resolved once from the environment.

:class:`Environment` is the typed model of the documented ``CREDIT_QUALITY_*`` variables (pydantic-settings
reads and validates them; a malformed value is an error naming the variable):

- ``CREDIT_QUALITY_RAW_DIR``      raw registry exports (default ``data/raw``)
- ``CREDIT_QUALITY_CURATED_DB``   the analyst-facing DuckDB file (default ``data/curated/inventory.duckdb``)
- ``CREDIT_QUALITY_WORK_DB``      the pipeline's private working DuckDB
                                  (default ``<curated dir>/work/pipeline.duckdb``)
- ``CREDIT_QUALITY_LEDGER_DB``    the retirement ledger, the system of record that survives every
                                  republish (default ``<curated dir>/ledger.duckdb``)
- ``CREDIT_QUALITY_POLICY``       the scoring and buyer policy file (default ``data/policy.yaml``)
- ``CREDIT_QUALITY_REFERENCE_DIR`` cited reference tables (default ``data/reference``)
- ``CREDIT_QUALITY_DOWNLOADS``    ``online`` to download snapshots before ingest (default ``offline``)
- ``CREDIT_QUALITY_DOWNLOAD_SOURCES`` YAML file of registry export URLs (see ``assets/downloads.py``)
- ``CREDIT_QUALITY_VROD_RELEASE`` the Berkeley VROD release to download, ``YYYY-MM`` (default 2025-12)

Every path is absolute.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]

AbsolutePath = Annotated[Path, AfterValidator(lambda path: path.expanduser().resolve())]


def _online(value: object) -> object:
    """``online``/``offline`` as well as the usual booleans (``1``, ``true``, ``0``, ``false`` ...)."""
    if isinstance(value, str) and value.strip().lower() in ("online", "offline"):
        return value.strip().lower() == "online"
    return value


class Environment(BaseSettings):
    """The ``CREDIT_QUALITY_*`` environment variables, typed and validated."""

    model_config = SettingsConfigDict(env_prefix="CREDIT_QUALITY_", env_ignore_empty=True, frozen=True)

    raw_dir: AbsolutePath = REPO_ROOT / "data" / "raw"
    curated_db: AbsolutePath = REPO_ROOT / "data" / "curated" / "inventory.duckdb"
    work_db: AbsolutePath | None = None
    ledger_db: AbsolutePath | None = None
    policy: AbsolutePath = REPO_ROOT / "data" / "policy.yaml"
    reference_dir: AbsolutePath = REPO_ROOT / "data" / "reference"
    downloads: Annotated[bool, BeforeValidator(_online)] = False
    download_sources: AbsolutePath | None = None
    vrod_release: str | None = Field(None, pattern=r"^\d{4}-\d{2}$")
    """Unset: ``pipeline.ingest.downloads.VROD_RELEASE``."""


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
        env = Environment()
        return cls(
            raw_dir=env.raw_dir,
            curated_db=env.curated_db,
            work_db=env.work_db or env.curated_db.parent / "work" / "pipeline.duckdb",
            ledger_db=env.ledger_db or env.curated_db.parent / "ledger.duckdb",
            policy=env.policy,
            reference_dir=env.reference_dir,
        )
