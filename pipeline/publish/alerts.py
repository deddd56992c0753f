"""Alerts a publish raises, so that news reaches a person: eligible tonnes removed, rejected-share jumps,
registry files that shrank.

They compare the new file with the previous publish (nothing to compare on the first publish):

- ``eligible_tonnes_removed``: the previous publish's ``available_net`` of project-vintages that left the
  inventory because they became ineligible or vanished from the registry data. Credits that sold out
  (retired at the registry or for our buyers) are business as usual and do not count.
- ``rejected_share_jump``: per registry, ``sum(rows_rejected) / sum(rows_read)`` over its files in
  ``load_audit``, against the same share at the previous publish.
- ``registry_file_shrank``: per registry file, its accepted rows against the previous publish's, and every load
  held back at ingest because its file shrank (:mod:`pipeline.publish.shrunk_files`).

Alerts are appended to the published ``alerts`` table (history is carried like the change log), surfaced
by warning checks in Dagster, and optionally POSTed to a webhook (off by default).
"""

from __future__ import annotations

import json
import logging
import urllib.request
from datetime import datetime

import duckdb
import pandas as pd

from pipeline.ingest.supply import REGISTRY_EXPORT, VROD
from pipeline.ingest.vrod import DATASET as VROD_DATASET
from pipeline.publish.history import has_table
from pipeline.publish.policy import AlertPolicy, PublishPolicy, ShrunkFilesPolicy
from pipeline.publish.shrunk_files import HELD_LOADS, shrunk_file_message, shrunk_files
from pipeline.sql import identifier

log = logging.getLogger(__name__)

ALERTS_DDL = """
    publish_id BIGINT, raised_at TIMESTAMP, alert_type VARCHAR, severity VARCHAR, registry VARCHAR,
    metric DOUBLE, threshold DOUBLE, message VARCHAR, details VARCHAR
"""
REMOVAL_REASONS = ("became_ineligible", "not_in_registry_data")


def removed_tonnes_alert(
    conn: duckdb.DuckDBPyConnection, pub: str, prev: str | None, publish_id: int, policy: AlertPolicy
) -> dict | None:
    """The eligible-tonnes-removed alert of this publish, or None below the thresholds."""
    if not has_table(conn, prev, "eligible_inventory"):
        return None
    previous_total = conn.execute(f"SELECT coalesce(sum(available_net), 0) FROM {prev}.main.eligible_inventory")
    previous_total = int(previous_total.fetchone()[0])
    removed = conn.execute(
        f"""
        SELECT project_id, registry, vintage, reason, previous_available_net AS tonnes
        FROM {pub}.main.inventory_changes
        WHERE publish_id = ? AND change = 'left' AND reason_code IN {REMOVAL_REASONS}
        ORDER BY tonnes DESC, project_id, vintage
        """,
        [publish_id],
    ).df()
    tonnes = int(removed["tonnes"].sum()) if len(removed) else 0
    share = tonnes / previous_total if previous_total else 0.0
    hit_tonnes = policy.removed_tonnes_threshold > 0 and tonnes >= policy.removed_tonnes_threshold
    hit_share = tonnes > 0 and share >= policy.removed_share_threshold
    if not (hit_tonnes or hit_share):
        return None
    return {
        "alert_type": "eligible_tonnes_removed",
        "registry": None,
        "metric": float(tonnes),
        "threshold": float(policy.removed_tonnes_threshold) if hit_tonnes else policy.removed_share_threshold,
        "message": (
            f"{tonnes:,} eligible tonnes ({share:.1%} of the previous {previous_total:,}) left the inventory "
            f"because {len(removed)} project-vintage(s) became ineligible or vanished from the registry data"
        ),
        "details": {
            "removed_tonnes": tonnes,
            "previous_eligible_tonnes": previous_total,
            "share": round(share, 6),
            "tonnes_threshold": policy.removed_tonnes_threshold,
            "share_threshold": policy.removed_share_threshold,
            "project_vintages": removed.head(50).to_dict(orient="records"),
        },
    }


def _rejected_shares(conn: duckdb.DuckDBPyConnection, catalog: str) -> pd.DataFrame:
    """Per registry and source: a registry's own export and VROD's rows of it are judged apart, so a broken
    export is not diluted by the market-wide file's rows."""
    return conn.execute(
        f"""
        SELECT registry, CASE WHEN dataset = $vrod THEN $vrod_source ELSE $export END AS source,
               sum(rows_read)::BIGINT AS rows_read, sum(rows_rejected)::BIGINT AS rows_rejected,
               CASE WHEN sum(rows_read) > 0 THEN sum(rows_rejected) / sum(rows_read) ELSE 0 END AS share
        FROM {identifier(catalog, "main", "load_audit")} GROUP BY ALL
        """,
        {"vrod": VROD_DATASET, "vrod_source": VROD, "export": REGISTRY_EXPORT},
    ).df()


def rejected_share_alerts(
    conn: duckdb.DuckDBPyConnection, pub: str, prev: str | None, policy: AlertPolicy
) -> list[dict]:
    """One alert per registry and source whose rejected-row share rose by at least the policy's jump."""
    if not has_table(conn, prev, "load_audit"):
        return []
    shares = _rejected_shares(conn, pub).merge(
        _rejected_shares(conn, prev), on=["registry", "source"], how="left", suffixes=("", "_previous")
    )
    shares["share_previous"] = shares["share_previous"].fillna(0.0)
    jumped = shares[shares["share"] - shares["share_previous"] >= policy.rejected_share_jump]
    return [
        {
            "alert_type": "rejected_share_jump",
            "registry": row.registry,
            "metric": float(row.share),
            "threshold": policy.rejected_share_jump,
            "message": (
                f"{row.registry} ({row.source}): {row.share:.1%} of raw rows rejected ({row.rows_rejected:,} of "
                f"{row.rows_read:,}), up from {row.share_previous:.1%} at the previous publish"
            ),
            "details": {
                "source": row.source,
                "rows_read": int(row.rows_read),
                "rows_rejected": int(row.rows_rejected),
                "share": round(float(row.share), 6),
                "previous_share": round(float(row.share_previous), 6),
                "jump_threshold": policy.rejected_share_jump,
            },
        }
        for row in jumped.sort_values(["registry", "source"]).itertuples()
    ]


def shrunk_file_alerts(
    conn: duckdb.DuckDBPyConnection, pub: str, prev: str | None, work: str, policy: ShrunkFilesPolicy
) -> list[dict]:
    """One alert per registry file that shrank by the policy's threshold since the previous publish, or whose
    load is held back in the work DB ``work`` (its registry's previous slice kept)."""
    found = []
    if has_table(conn, prev, "load_audit"):
        current, previous = (f"SELECT * FROM {catalog}.main.load_audit" for catalog in (pub, prev))
        found.append(shrunk_files(conn, current, previous, policy).assign(held=False))
    if has_table(conn, work, HELD_LOADS):  # held last: it wins over the same file seen in the publish
        found.append(conn.execute(f"SELECT * FROM {identifier(work, 'main', HELD_LOADS)}").df())
    files = [f for f in found if len(f)]
    if not files:
        return []
    shrunk = pd.concat(files, ignore_index=True).drop_duplicates(["registry", "dataset"], keep="last")
    return [
        {
            "alert_type": "registry_file_shrank",
            "registry": file.registry,
            "metric": float(file.drop_share),
            "threshold": policy.threshold,
            "message": shrunk_file_message(file),
            "details": {
                "dataset": file.dataset,
                "file": file.file,
                "previous_file": file.previous_file,
                "rows_accepted": int(file.rows_accepted),
                "previous_rows_accepted": int(file.previous_rows_accepted),
                "held_previous_slice": bool(file.held),
            },
        }
        for file in shrunk.sort_values(["registry", "dataset"]).itertuples()
    ]


def append_alerts(
    conn: duckdb.DuckDBPyConnection,
    pub: str,
    prev: str | None,
    work: str,
    publish_id: int,
    raised_at: datetime,
    policy: PublishPolicy,
) -> pd.DataFrame:
    """Create ``pub.alerts`` (previous alerts + this publish's) and return this publish's alerts; ``work`` is the
    work DB's catalog (loads held back)."""
    if has_table(conn, prev, "alerts"):
        conn.execute(f"CREATE TABLE {pub}.main.alerts AS SELECT * FROM {prev}.main.alerts")
    else:
        conn.execute(f"CREATE TABLE {pub}.main.alerts ({ALERTS_DDL})")
    found = [a for a in [removed_tonnes_alert(conn, pub, prev, publish_id, policy.alerts)] if a]
    found += rejected_share_alerts(conn, pub, prev, policy.alerts)
    found += shrunk_file_alerts(conn, pub, prev, work, policy.shrunk_files)
    new = pd.DataFrame(
        [
            {
                "publish_id": publish_id,
                "raised_at": raised_at,
                "severity": "warning",
                **alert,
                "details": json.dumps(alert["details"], default=str, sort_keys=True),
            }
            for alert in found
        ],
        columns=["publish_id", "raised_at", "alert_type", "severity", "registry", "metric", "threshold",
                 "message", "details"],
    )  # fmt: skip
    if len(new):
        conn.register("new_alerts", new)
        try:
            conn.execute(f"INSERT INTO {pub}.main.alerts BY NAME SELECT * FROM new_alerts")
        finally:
            conn.unregister("new_alerts")
    return new


def send_webhook(alerts: pd.DataFrame, policy: AlertPolicy) -> str | None:
    """POST the alerts as JSON to the policy's webhook, if one is configured.

    Returns None on success or when there is nothing to send, else the error text. Never raises: the
    alerts are already in the published file, a failed delivery must not undo a good publish."""
    if policy.webhook_url is None or alerts.empty:
        return None
    payload = json.dumps(
        {"alerts": json.loads(alerts.to_json(orient="records", date_format="iso"))}, sort_keys=True
    ).encode()
    request = urllib.request.Request(
        str(policy.webhook_url), data=payload, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=policy.webhook_timeout_seconds) as response:
            if response.status >= 300:
                return f"webhook answered HTTP {response.status}"
    except Exception as exc:  # noqa: BLE001 - any delivery failure is reported, none may fail the publish
        log.warning("alert webhook %s failed: %s", policy.webhook_url, exc)
        return f"{type(exc).__name__}: {exc}"
    return None
