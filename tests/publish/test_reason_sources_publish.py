"""Reason sources are lists in the published file, and a file published before they were still republishes."""

from datetime import UTC, datetime

import duckdb

from pipeline.inventory.inventory import write_eligible_inventory
from pipeline.policy import load_policy
from tests.conftest import make_settings
from tests.publish.conftest import publish_under
from tests.publish.scenario import first_snapshot, second_snapshot

AS_ONE_STRING = """
CREATE OR REPLACE TABLE quality_scores AS SELECT * REPLACE (
    list_transform(reasons, lambda r: {'code': r.code, 'criterion': r.criterion, 'message': r.message,
                                  'source': array_to_string(r.source, ' | ')}) AS reasons)
FROM quality_scores
"""
"""``quality_scores`` as the scoring stage wrote it before ``source`` became a list."""


def _publish(settings, snapshot, day: int, before=None) -> None:
    paths = settings.paths
    snapshot.write(paths.work_db)
    with duckdb.connect(str(paths.work_db)) as conn:
        if before:
            conn.execute(before)
        write_eligible_inventory(conn, paths.ledger_db)
        publish_under(conn, paths, load_policy(paths.policy), now=datetime(2026, 4, day, tzinfo=UTC))


def test_a_file_with_string_sources_republishes_with_list_sources(tmp_path):
    settings = make_settings(tmp_path, raw_dir=tmp_path / "raw")
    _publish(settings, first_snapshot(), 14, before=AS_ONE_STRING)
    _publish(settings, second_snapshot(), 28)
    with duckdb.connect(settings.curated_db, read_only=True) as conn:
        kind = conn.execute("SELECT typeof(first_failed_source) FROM ineligible_projects LIMIT 1").fetchone()[0]
        left = conn.execute(
            "SELECT reason FROM inventory_changes WHERE publish_id = 2 AND project_id = 'ACR701'"
        ).fetchone()
        entered = conn.execute(
            "SELECT reason FROM inventory_changes WHERE publish_id = 2 AND project_id = 'CAR1865'"
        ).fetchone()
    assert kind == "VARCHAR[]", f"ineligible_projects.first_failed_source must be a list, is {kind}"
    assert left and "(data/reference/quality-framework.md" in left[0], f"the new file's reason cites: {left}"
    was = "was: TIER_LIMITING_SCORE: ineligible: limiting score 2 (additionality) < 3 required"
    assert entered and f"{was} (data/reference/quality-framework.md 7.8)" in entered[0], (
        f"the old file's string source is read as it was: {entered}"
    )
