"""History, change log, alerts and the data dictionary across publishes."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import duckdb
import pydantic
import pytest

from pipeline.policy import Policy
from tests.publish.conftest import append_ledger, publish_under, stage
from tests.publish.scenario import first_snapshot, second_snapshot


def with_alerts(policy: Policy, **changes) -> Policy:
    """The policy with changed alert settings, validated like the policy file."""
    raw = policy.model_dump(mode="json")
    raw["publish"]["alerts"].update(changes)
    return Policy.model_validate(raw)


def publish(paths, policy):
    with duckdb.connect(str(paths.work_db), read_only=True) as conn:
        return publish_under(conn, paths, policy)


def published(paths, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(paths.curated_db), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def test_two_publishes_with_different_inputs_log_the_expected_changes(paths, policy):
    stage(first_snapshot(), paths)
    publish(paths, policy)
    stage(second_snapshot(), paths)
    publish(paths, policy)

    changes = published(
        paths,
        "SELECT project_id, vintage, change, reason_code, previous_tier, new_tier, tonnes_delta "
        "FROM inventory_changes WHERE publish_id = 2 ORDER BY project_id",
    )
    assert changes == [
        ("ACR701", 2025, "left", "became_ineligible", "eligible", None, -58_985),
        ("ART102", 2023, "tier_changed", "tier_changed", "high", "eligible", -10_000),
        ("CAR1749", 2025, "left", "no_credits_left_at_registry", "high", None, -2_563),
        ("CAR1865", 2025, "entered", "became_eligible", None, "eligible", 41_134),
    ], "publish 2 must log exactly: ACR701 on hold, ART102 down a tier, CAR1749 sold out, CAR1865 newly eligible"
    (reason,) = published(paths, "SELECT reason FROM inventory_changes WHERE publish_id = 2 AND project_id = 'ACR701'")[
        0
    ]
    assert reason.startswith("no longer eligible: G2: project status on hold"), (
        f"the failed gate is the reason: {reason}"
    )
    assert "data/reference/quality-framework.md" in reason, "the reason cites the rule's source"
    first = published(paths, "SELECT DISTINCT change, reason_code FROM inventory_changes WHERE publish_id = 1")
    assert first == [("entered", "first_publish")], "everything enters at the first publish"


def test_republishing_the_same_inputs_changes_nothing_but_is_recorded(paths, policy):
    stage(first_snapshot(), paths)
    first = publish(paths, policy)
    again = publish(paths, policy)
    assert again.changes.empty and again.alerts.empty, "same inputs and policy: no changes, no alerts"
    rows = published(paths, "SELECT publish_id, inputs_fingerprint, eligible_tonnes, entered FROM publishes")
    assert [r[0] for r in rows] == [1, 2], "every publish is recorded"
    assert rows[0][1] == rows[1][1], "the same inputs and policy give the same fingerprint"
    assert rows[1][2] == rows[0][2] and rows[1][3] == 0
    assert published(paths, "SELECT publish_id, count(*) FROM inventory_history GROUP BY ALL ORDER BY 1") == [
        (1, 4),
        (2, 4),
    ], "inventory_history keeps each publish's inventory"
    assert first.publish_id == 1 and again.publish_id == 2


def test_history_survives_republish_and_records_inputs(paths, policy):
    stage(first_snapshot(), paths)
    publish(paths, policy)
    stage(second_snapshot(), paths)
    publish(paths, policy)
    publishes = published(
        paths, "SELECT publish_id, as_of, policy_version, len(input_files), row_counts['eligible_inventory'] "
        "FROM publishes ORDER BY publish_id"
    )  # fmt: skip
    assert publishes == [
        (1, dt.date(2026, 4, 14), "2026.11-v1", 4, 4),
        (2, dt.date(2026, 4, 28), "2026.11-v1", 4, 3),
    ], "both publishes with their snapshot date, policy, input files and row counts"
    files = published(paths, "SELECT unnest(input_files).file_sha256 FROM publishes WHERE publish_id = 2")
    assert all(len(f[0]) == 64 for f in files), "input files are recorded with their SHA-256"
    assert published(paths, "SELECT count(*) FROM inventory_history WHERE publish_id = 1")[0][0] == 4


def test_ledger_retirements_made_after_the_inventory_build_are_netted_at_publish(paths, policy):
    stage(first_snapshot(), paths)  # inventory built with an empty ledger
    append_ledger(paths, [("O-7", "B-3", "CAR1745", 2025, 1_000, dt.datetime(2026, 4, 20, 12, 0))])
    publish(paths, policy)
    assert published(
        paths, "SELECT retired_for_buyers, available_net FROM eligible_inventory WHERE project_id = 'CAR1745'"
    ) == [(1_000, 3_933)], "the published inventory must be consistent with the ledger at publish time"
    assert published(paths, "SELECT buyer_id, project_id, tonnes, registry_status FROM buyer_statements") == [
        ("B-3", "CAR1745", 1_000, "pending in registry")
    ], "the ledger is published with the buyers stage's per-buyer statement view"
    assert published(paths, "SELECT count(*) FROM registry_recognitions")[0][0] == 0, "ledger tables are copied"


def test_alerts_for_removed_tonnes_and_a_rejected_share_jump(paths, policy):
    strict = with_alerts(policy, removed_tonnes_threshold=50_000)
    stage(first_snapshot(), paths)
    publish(paths, strict)
    stage(second_snapshot(), paths)
    result = publish(paths, strict)

    kinds = sorted(zip(result.alerts["alert_type"], result.alerts["registry"].fillna("-"), strict=True))
    assert kinds == [
        ("eligible_tonnes_removed", "-"),
        ("registry_file_shrank", "climate-action-reserve"),
        ("rejected_share_jump", "climate-action-reserve"),
    ], "CAR's 25 rejected rows of 100 are a 25-point jump and leave 25% fewer accepted rows than before"
    removed = json.loads(result.alerts.set_index("alert_type").loc["eligible_tonnes_removed", "details"])
    assert removed["removed_tonnes"] == 58_985, "only ACR701 (ineligible) counts; CAR1749 sold out normally"
    assert [p["project_id"] for p in removed["project_vintages"]] == ["ACR701"]
    assert published(paths, "SELECT count(*) FROM alerts WHERE publish_id = 2")[0][0] == 3, "alerts are published"


def test_no_removed_tonnes_alert_below_the_thresholds(paths, policy):
    stage(first_snapshot(), paths)
    publish(paths, policy)
    stage(second_snapshot(), paths)
    result = publish(paths, policy)  # 58,985 t < 100,000 t and 0.65 % < 5 %
    assert "eligible_tonnes_removed" not in set(result.alerts["alert_type"])


class _Collector(BaseHTTPRequestHandler):
    received: list = []
    status = 200

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook_server():
    _Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_alerts_are_posted_to_the_webhook_when_configured(paths, policy, webhook_server):
    hooked = with_alerts(policy, webhook_url=f"http://127.0.0.1:{webhook_server.server_address[1]}/alerts")
    stage(first_snapshot(), paths)
    publish(paths, hooked)
    assert _Collector.received == [], "no alerts, nothing posted"
    stage(second_snapshot(), paths)
    result = publish(paths, hooked)
    assert result.webhook_error is None
    assert [a["alert_type"] for a in _Collector.received[0]["alerts"]] == [
        "rejected_share_jump",
        "registry_file_shrank",
    ]


def test_a_failing_webhook_never_fails_the_publish(paths, policy, webhook_server):
    _Collector.status = 500
    try:
        hooked = with_alerts(policy, webhook_url=f"http://127.0.0.1:{webhook_server.server_address[1]}/alerts")
        stage(first_snapshot(), paths)
        publish(paths, hooked)
        stage(second_snapshot(), paths)
        result = publish(paths, hooked)
    finally:
        _Collector.status = 200
    assert result.webhook_error and "500" in result.webhook_error, "the delivery failure is reported"
    assert published(paths, "SELECT max(publish_id) FROM publishes")[0][0] == 2, "the publish itself went through"


def test_every_table_view_and_column_is_described(paths, policy):
    stage(first_snapshot(), paths)
    append_ledger(paths, [("O-1", "B-1", "ART102", 2023, 10, dt.datetime(2026, 4, 20))])
    result = publish(paths, policy)
    assert result.undocumented == [], f"columns without a description: {result.undocumented}"
    blank = published(
        paths,
        "SELECT table_name || '.' || column_name FROM duckdb_columns() "
        "WHERE NOT internal AND coalesce(comment, '') = ''",
    )
    assert blank == [], f"duckdb_columns() must be a complete data dictionary; missing: {blank}"
    views = {v for (v,) in published(paths, "SELECT view_name FROM duckdb_views() WHERE NOT internal")}
    expected = {"inventory_by_activity", "inventory_by_country", "inventory_by_registry", "inventory_by_tier",
                "ineligible_projects", "latest_changes", "buyer_statements", "buyer_statement_summary"}  # fmt: skip
    assert expected <= views, f"analyst views missing: {expected - views}"


def test_ineligible_projects_show_the_first_failed_gate(paths, policy):
    """The engine's reason codes name their gate (``G4_LEGACY_REDD`` for gate ``G4``): the first failed gate's
    reason wins over earlier non-gate reasons, and a row failing no gate shows its tier reason (the limiting
    score), never a non-failure such as a score's base reason (issue 14 item 11)."""
    stage(first_snapshot(), paths)
    publish(paths, policy)
    rows = published(
        paths, "SELECT project_id, vintage, first_failed_code, first_failed_criterion, is_nature_based "
        "FROM ineligible_projects ORDER BY project_id, vintage"
    )  # fmt: skip
    assert rows == [
        ("CAR1865", 2025, "TIER_LIMITING_SCORE", "tier", True),
        ("VCS1340", 2020, "G4_LEGACY_REDD", "gate", True),
        ("VCS1340", 2021, "G4_LEGACY_REDD", "gate", True),
    ], f"first failed reasons: {rows}"


@pytest.mark.parametrize("bad", [{"threshold": 0}, {"threshold": 1.5}, {"hold_previous_slice": "maybe"}, {"x": 1}])
def test_the_shrunk_files_policy_is_validated(policy, bad):
    raw = policy.model_dump(mode="json")
    raw["publish"]["shrunk_files"].update(bad)
    with pytest.raises(pydantic.ValidationError, match="shrunk_files"):
        Policy.model_validate(raw)
