"""Fixtures shared by every test area: temporary pipeline instances on real data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assets.resources import PipelineSettings
from pipeline.settings import REPO_ROOT

SHARED_DATA = (REPO_ROOT.parent / "shared" / "registry-data").resolve()
BUNDLED_RAW = REPO_ROOT / "data" / "raw"

requires_shared_data = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"shared registry exports not present at {SHARED_DATA}"
)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared registry exports not present at {SHARED_DATA}")
    return SHARED_DATA


def make_settings(tmp_path: Path, raw_dir: Path | None = None) -> PipelineSettings:
    """Settings for an isolated pipeline instance under ``tmp_path`` (raw data copied, never shared)."""
    curated = tmp_path / "curated"
    curated.mkdir(parents=True, exist_ok=True)
    if raw_dir is None:
        raw_dir = tmp_path / "raw"
        shutil.copytree(BUNDLED_RAW, raw_dir)
    return PipelineSettings(
        raw_dir=str(raw_dir),
        curated_db=str(curated / "inventory.duckdb"),
        work_db=str(curated / "work" / "pipeline.duckdb"),
        ledger_db=str(curated / "ledger.duckdb"),
        policy_file=str(REPO_ROOT / "data" / "policy.yaml"),
        reference_dir=str(REPO_ROOT / "data" / "reference"),
    )


@pytest.fixture
def settings(tmp_path: Path) -> PipelineSettings:
    """A pipeline instance on a private copy of the bundled real registry data."""
    return make_settings(tmp_path)
