"""The published file under concurrency and failure, with real separate processes."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipeline.publish.publish import PublishError
from pipeline.settings import REPO_ROOT
from tests.publish.conftest import publish_under, stage
from tests.publish.scenario import first_snapshot, second_snapshot

pytestmark = pytest.mark.slow
PROCESS_TIMEOUT = 120  # seconds; a generous bound against hangs, not a performance assertion


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tests.publish.processes", *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=PROCESS_TIMEOUT,
    )  # fmt: skip


def publish(paths, policy):
    with duckdb.connect(str(paths.work_db), read_only=True) as conn:
        return publish_under(conn, paths, policy)


def temp_files(paths) -> list[Path]:
    return sorted(paths.curated_db.parent.glob(f".{paths.curated_db.name}.publish-*"))


def test_reader_keeps_working_during_a_publish_and_a_new_connection_sees_the_new_as_of(paths, policy):
    stage(first_snapshot(), paths)
    publish(paths, policy)
    reader = subprocess.Popen(
        [sys.executable, "-m", "tests.publish.processes", "reader", str(paths.curated_db)],
        cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    answers: dict[str, list[str]] = {}

    def ask_reader(step: str = "before") -> None:
        reader.stdin.write("query\n")
        reader.stdin.flush()
        answers[step] = reader.stdout.readline().split()

    try:
        assert reader.stdout.readline().strip() == "READY", f"reader did not start: {reader.stderr.read()}"
        ask_reader()
        assert answers["before"] == ["2026-04-14", "4"], "reader sees the first publish"

        stage(second_snapshot(), paths)
        with duckdb.connect(str(paths.work_db), read_only=True) as conn:
            result = publish_under(conn, paths, policy, progress=ask_reader)  # the reader queries at every step
        assert str(result.as_of) == "2026-04-28", "the second publish must go through while the reader is connected"
    finally:
        reader.stdin.close()
        reader.wait(timeout=PROCESS_TIMEOUT)
    assert reader.returncode == 0, f"the reader must not fail during a publish: {reader.stderr.read()}"
    steps = ["before", "attached", "copied", "history", "documented", "validated", "swapped"]
    assert answers == {step: ["2026-04-14", "4"] for step in steps}, (
        f"the reader must answer at every publish step, from its snapshot of the old file: {answers}"
    )

    fresh = run("as-of", str(paths.curated_db))
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.split() == ["2026-04-28", "3"], "a new connection after the swap must see the new as_of"


@pytest.mark.parametrize("crash_at", ["attached", "copied", "history", "documented", "validated"])
def test_a_publisher_killed_mid_way_leaves_the_published_file_byte_identical(paths, policy, crash_at):
    stage(first_snapshot(), paths)
    publish(paths, policy)
    before = sha256(paths.curated_db)
    stage(second_snapshot(), paths)

    crashed = run(
        "publish", str(paths.work_db), str(paths.curated_db), str(paths.ledger_db), str(paths.policy), crash_at
    )
    assert crashed.returncode == -signal.SIGKILL, f"the publisher should die at {crash_at}: {crashed.stderr}"
    assert f"STEP {crash_at}" in crashed.stdout and "PUBLISHED" not in crashed.stdout
    assert sha256(paths.curated_db) == before, f"a crash after step {crash_at!r} must not touch the published file"
    assert run("as-of", str(paths.curated_db)).stdout.split() == ["2026-04-14", "4"], "readers still see publish 1"

    result = publish(paths, policy)  # the next run recovers: stale temp file removed, publish 2 goes through
    assert temp_files(paths) == [], "the crashed run's temporary file must be cleaned up by the next publish"
    assert (result.publish_id, str(result.as_of)) == (2, "2026-04-28"), "the crash must not consume a publish id"


def test_a_hand_broken_inventory_fails_validation_and_changes_nothing(paths, policy):
    stage(first_snapshot(), paths)
    publish(paths, policy)
    before = sha256(paths.curated_db)
    stage(second_snapshot(), paths)
    with duckdb.connect(str(paths.work_db)) as conn:
        conn.execute("UPDATE eligible_inventory SET available = available + 1000 WHERE project_id = 'ART102'")

    with pytest.raises(PublishError, match="does not reconcile with credits") as failure:
        publish(paths, policy)
    assert "ART102" in str(failure.value), "the error must name the broken project"
    assert sha256(paths.curated_db) == before, "a failed validation must leave the published file byte-identical"
    assert temp_files(paths) == [], "a failed run removes its own temporary file"


def test_missing_input_tables_fail_before_anything_is_written(paths, policy):
    stage(first_snapshot(), paths)
    publish(paths, policy)
    before = sha256(paths.curated_db)
    with duckdb.connect(str(paths.work_db)) as conn:
        conn.execute("DROP TABLE quality_scores")
    with pytest.raises(PublishError, match="quality_scores"):
        publish(paths, policy)
    assert sha256(paths.curated_db) == before, "bad input must leave the published file byte-identical"
    assert temp_files(paths) == []


def test_an_unreadable_published_file_is_not_silently_replaced(paths, policy):
    stage(first_snapshot(), paths)
    paths.curated_db.write_bytes(b"not a duckdb file")
    with pytest.raises(PublishError, match="carry its history forward"):
        publish(paths, policy)
    assert paths.curated_db.read_bytes() == b"not a duckdb file", "history must never be dropped silently"


def test_changes_only_in_the_work_dbs_write_ahead_log_are_published(paths, policy):
    stage(first_snapshot(), paths)
    renamed = run(
        "write-and-die",
        str(paths.work_db),
        "UPDATE staging.projects_climate_action_reserve SET name = 'Renamed' WHERE project_id = 'CAR1335'",
    )
    assert renamed.returncode == -signal.SIGKILL and "WRITTEN" in renamed.stdout, renamed.stderr
    assert Path(f"{paths.work_db}.wal").exists(), "the scenario needs a work DB whose last change is only in its log"

    publish(paths, policy)  # from a read-only connection, which cannot checkpoint the log into the file
    with duckdb.connect(str(paths.curated_db), read_only=True) as conn:
        name = conn.execute("SELECT name FROM projects WHERE project_id = 'CAR1335'").fetchone()[0]
    assert name == "Renamed", "the published file must hold the work DB's committed state, log included"
    assert temp_files(paths) == [], "the copied log must not be left next to the published file"


def test_what_the_work_db_holds_beyond_the_published_relations_stays_out(paths, policy):
    stage(first_snapshot(), paths)
    with duckdb.connect(str(paths.work_db)) as conn:
        conn.execute("CREATE TABLE scratch_notes AS SELECT 'an engineer was here' AS note")
        conn.execute("CREATE SCHEMA experiments; CREATE TABLE experiments.trial AS SELECT 1 AS x")
    publish(paths, policy)
    with duckdb.connect(str(paths.curated_db), read_only=True) as conn:
        tables = {f"{s}.{t}" for s, t in conn.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}
        schemas = {s for (s,) in conn.execute("SELECT schema_name FROM duckdb_schemas() WHERE NOT internal").fetchall()}
        views = {v for (v,) in conn.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    assert "main.scratch_notes" not in tables, "a work-DB table no stage publishes must not reach analysts"
    assert "experiments" not in schemas, f"only main and the warehouse's slices are published, got {sorted(schemas)}"
    assert {"main.quality_scores", "main.eligible_inventory"} <= tables, sorted(tables)
    assert "credits" in views, "credits is published as the view over the registry slices"
