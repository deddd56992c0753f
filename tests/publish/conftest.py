"""Fixtures of the publish tests: an isolated pipeline instance with a seeded work DB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from assets.resources import PipelineSettings
from pipeline.buyers.ledger import open_ledger, retirement_id
from pipeline.buyers.schemas import RetirementsSchema
from pipeline.inventory.inventory import write_eligible_inventory
from pipeline.policy import Policy, load_policy
from pipeline.publish.publish import PublishResult, publish_inventory
from pipeline.settings import Paths
from tests.conftest import make_settings
from tests.publish.scenario import POLICY_VERSION, PROJECTS, Snapshot


def instance_settings(tmp_path: Path) -> PipelineSettings:
    """An isolated instance whose stages are seeded by the tests (no raw files)."""
    return make_settings(tmp_path, raw_dir=tmp_path / "raw")


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


def publish_under(conn: duckdb.DuckDBPyConnection, paths: Paths, policy: Policy, **options) -> PublishResult:
    """Publish the work DB behind ``conn`` under ``policy`` as the ``published_inventory`` asset does: its
    ``publish`` section, its version and its fingerprint."""
    return publish_inventory(
        conn, paths, policy.publish, policy_version=policy.policy_version, policy_sha256=policy.sha256, **options
    )


def append_ledger(paths: Paths, rows: list[tuple], recognized: tuple[str, ...] = ()) -> None:
    """Append retirements (order_id, buyer_id, project_id, vintage, tonnes, retired_at) to the real ledger
    (created by the buyers stage's ``open_ledger``); orders in ``recognized`` are marked shown in the registry."""
    frame = pd.DataFrame(rows, columns=["order_id", "buyer_id", "project_id", "vintage", "tonnes", "retired_at"])
    frame["idempotency_key"] = frame["order_id"] + "|" + frame["project_id"] + "|" + frame["vintage"].astype(str)
    frame["retirement_id"] = retirement_id(frame["idempotency_key"])
    frame["beneficiary"] = "Buyer " + frame["buyer_id"]
    frame["registry"] = frame["project_id"].map({p[0]: p[1] for p in PROJECTS})
    frame["policy_version"] = frame["scores_policy_version"] = POLICY_VERSION
    frame["quality_tier"] = "high"
    frame["activity"] = frame["project_id"].map({p[0]: p[5] for p in PROJECTS})
    frame["country_code"] = frame["project_id"].map({p[0]: p[3] for p in PROJECTS})
    for score in ("additionality_score", "permanence_score", "leakage_score", "over_crediting_score", "limiting_score"):
        frame[score] = 4.0
    frame = RetirementsSchema.validate(frame[list(RetirementsSchema.to_schema().columns)], lazy=True)
    ledger = open_ledger(paths.ledger_db)
    try:
        ledger.register("new_rows", frame)
        ledger.execute("INSERT INTO retirements BY NAME SELECT * FROM new_rows")
        ledger.execute(
            "INSERT INTO registry_recognitions SELECT retirement_id, 'reference', 'test', 2, retired_at::DATE, "
            "beneficiary, now() FROM new_rows WHERE list_contains(?, order_id)",
            [list(recognized)],
        )
    finally:
        ledger.close()
