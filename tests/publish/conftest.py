"""Fixtures of the publish tests: an isolated pipeline instance with a seeded work DB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from assets.resources import PipelineSettings
from pipeline.inventory import write_eligible_inventory
from pipeline.policy import Policy, load_policy
from pipeline.settings import REPO_ROOT, Paths
from tests.publish.scenario import Snapshot


def instance_settings(tmp_path: Path) -> PipelineSettings:
    curated = tmp_path / "curated"
    curated.mkdir(parents=True, exist_ok=True)
    return PipelineSettings(
        raw_dir=str(tmp_path / "raw"),
        curated_db=str(curated / "inventory.duckdb"),
        work_db=str(curated / "work" / "pipeline.duckdb"),
        ledger_db=str(curated / "ledger.duckdb"),
        policy_file=str(REPO_ROOT / "data" / "policy.yaml"),
        reference_dir=str(REPO_ROOT / "data" / "reference"),
    )


@pytest.fixture
def settings(tmp_path: Path) -> PipelineSettings:
    return instance_settings(tmp_path)


@pytest.fixture
def paths(settings: PipelineSettings) -> Paths:
    return settings.paths


@pytest.fixture
def policy(settings: PipelineSettings) -> Policy:
    return load_policy(settings.paths.policy)


def stage(snapshot: Snapshot, paths: Paths) -> None:
    """Write a snapshot's contract tables into the work DB and build the inventory, as the upstream stages
    and the inventory asset would."""
    snapshot.write(paths.work_db)
    with duckdb.connect(str(paths.work_db)) as conn:
        write_eligible_inventory(conn, paths.ledger_db)


def append_ledger(paths: Paths, rows: list[tuple]) -> None:
    """Append retirements (order_id, buyer_id, project_id, vintage, tonnes, retired_at) to the ledger DB, in
    the columns the buyers stage writes."""
    with duckdb.connect(str(paths.ledger_db)) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS retirements (order_id VARCHAR, buyer_id VARCHAR, project_id VARCHAR, "
            "vintage BIGINT, tonnes BIGINT, retired_at TIMESTAMP, policy_version VARCHAR)"
        )
        conn.executemany("INSERT INTO retirements VALUES (?, ?, ?, ?, ?, ?, '2026.11-v1')", rows)
