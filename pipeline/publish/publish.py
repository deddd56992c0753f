"""Atomic, validated publish of the analyst file (``Paths.curated_db``).

Analysts hold read-only connections on the published file at any time, so it is never written in place:

1. the work DB's file is copied to a temporary file next to it (same filesystem, so the final rename is
   atomic): the warehouse slices and the scores keep their compressed blocks, and ``projects``, ``credits``,
   ``rejected_rows``, ``load_audit`` and ``quality_scores`` stay views over them, inside the new file;
2. what is not published is dropped, the ledger's tables are copied in, and ``eligible_inventory`` is
   re-netted against the ledger as it is *now* (the buyers stage may have retired since it was built);
3. history is carried forward from the current published file (attached read-only) and this publish is
   appended: ``publishes``, ``inventory_history``, ``inventory_changes``, ``alerts``;
4. analyst views and a ``COMMENT ON`` for every table, view and column are added;
5. the closed file is reopened and validated: tables present, row counts equal to the sources, the
   inventory reconciles with ``credits``, its pandera schema passes, every object carries a comment;
6. only then ``os.replace`` swaps it in.

Any failure before step 6, including a crash, leaves the published file byte-identical; a failed run's
temporary file is removed, a crashed one's on the next publish. A reader holding the old file keeps its
snapshot (DuckDB keeps the replaced inode open) and sees the new one after reconnecting. Readers never
block a publish: the previous file is only ever attached read-only, which coexists with other readers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import uuid4

import duckdb
import pandas as pd

from pipeline.atomic import fsync
from pipeline.ingest.supply import RECONCILIATION_TABLE, REGISTRY_AS_OF_SQL, SUPPLY_VIEW
from pipeline.ingest.warehouse import STAGING_SCHEMA, WAREHOUSE_TABLES
from pipeline.inventory.inventory import (
    INVENTORY_COLUMNS,
    INVENTORY_TABLE,
    LEDGER_VIEW,
    PENDING_LEDGER_SQL,
    InventoryError,
    ledger_view,
    pending_retirements_sql,
    reconciliation_mismatches,
    require_tables,
    validate_inventory_frame,
)
from pipeline.publish.alerts import append_alerts, send_webhook
from pipeline.publish.dictionary import apply_comments, missing_comments
from pipeline.publish.history import (
    PUBLISHES_DDL,
    append_inventory_changes,
    append_inventory_history,
    carry_forward,
    previous_publish_id,
)
from pipeline.publish.policy import PublishPolicy
from pipeline.publish.views import create_views
from pipeline.quality.store import STORED_TABLES
from pipeline.quality.store import TABLE as SCORES_TABLE
from pipeline.settings import Paths
from pipeline.sql import identifier, relations

WORK_TABLES = ("projects", "credits", "quality_scores", INVENTORY_TABLE, "rejected_rows", "load_audit", SUPPLY_VIEW)
"""Work-DB relations every publish needs."""
OPTIONAL_WORK_TABLES = (
    "buyer_eligibility", "order_allocations", "order_allocation_lines", RECONCILIATION_TABLE, *STORED_TABLES,
)  # fmt: skip
"""Buyer-stage tables, the sources' reconciliation, and what the ``quality_scores`` view reads, published when their
stage has produced them."""
LEDGER_TABLES = ("retirements", "registry_recognitions", "order_executions")
"""The ledger's tables (``pipeline/buyers/ledger.py``), copied when present at publish time."""
PUB, PREV = "publishing", "previous"


class PublishError(Exception):
    """The new file was not published; the previous one is untouched. The message lists every problem."""


@dataclass(frozen=True)
class PublishResult:
    publish_id: int
    path: Path
    published_at: datetime
    as_of: date | None
    row_counts: dict[str, int]
    changes: pd.DataFrame
    alerts: pd.DataFrame
    undocumented: list[str] = field(default_factory=list)
    webhook_error: str | None = None


def temp_path_for(target: Path) -> Path:
    """A unique temporary file next to ``target`` whose name carries this process id."""
    return target.with_name(f".{target.name}.publish-{os.getpid()}-{uuid4().hex[:8]}.tmp")


def remove_stale_temp_files(target: Path) -> list[Path]:
    """Delete temporary files left by publishes whose process no longer runs (crashed)."""
    removed = []
    for tmp in target.parent.glob(f".{target.name}.publish-*.tmp*"):
        try:
            pid = int(tmp.name.split(".publish-", 1)[1].split("-", 1)[0])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _renet_inventory(conn: duckdb.DuckDBPyConnection, work: str) -> None:
    """``eligible_inventory`` in the new file: the work DB's rows, net of the ledger as it is now.

    Runs with the new file as current database, so the ledger-pending SQL reads the copied credits and
    load_audit; rows our buyers have since exhausted drop out."""
    conn.execute(
        f"""
        CREATE TABLE {INVENTORY_TABLE} AS
        WITH pending AS ({PENDING_LEDGER_SQL})
        SELECT {", ".join(INVENTORY_COLUMNS)} FROM (
            SELECT i.* REPLACE (
                coalesce(p.retired_for_buyers, 0)::BIGINT AS retired_for_buyers,
                (i.available - coalesce(p.retired_for_buyers, 0))::BIGINT AS available_net,
                floor((i.available - coalesce(p.retired_for_buyers, 0))
                      * greatest(0, 1 - coalesce(i.haircut_pct, 0) / 100))::BIGINT AS risk_adjusted_available
            )
            FROM {identifier(work, "main", INVENTORY_TABLE)} AS i
            LEFT JOIN pending AS p ON p.project_id = i.project_id AND p.vintage = i.vintage
        )
        WHERE available_net > 0
        ORDER BY registry, project_id, vintage
        """
    )


def _record_publish(
    conn: duckdb.DuckDBPyConnection, publish_id: int, published_at: datetime, policy_stamp: dict, counts: dict
) -> None:
    conn.execute(
        f"""
        INSERT INTO publishes BY NAME
        WITH files AS (
            SELECT list({{'registry': registry, 'dataset': dataset, 'file': file, 'file_sha256': file_sha256}}
                        ORDER BY registry, dataset, file) AS input_files
            FROM load_audit
        )
        SELECT $publish_id::BIGINT AS publish_id, $published_at::TIMESTAMP AS published_at,
               (SELECT max(as_of) FROM ({REGISTRY_AS_OF_SQL})) AS as_of,
               $policy_version AS policy_version, $policy_sha256 AS policy_sha256,
               sha256(coalesce(list_transform(input_files, lambda f: f.file_sha256)::VARCHAR, '')
                      || $policy_sha256) AS inputs_fingerprint,
               input_files,
               MAP($tables::VARCHAR[], $rows::BIGINT[]) AS row_counts,
               (SELECT count(*) FROM {INVENTORY_TABLE}) AS eligible_project_vintages,
               (SELECT coalesce(sum(available_net), 0) FROM {INVENTORY_TABLE})::BIGINT AS eligible_tonnes,
               (SELECT count(*) FILTER (change = 'entered') FROM inventory_changes WHERE publish_id = $publish_id)
                   AS entered,
               (SELECT count(*) FILTER (change = 'left') FROM inventory_changes WHERE publish_id = $publish_id)
                   AS "left",
               (SELECT count(*) FILTER (change = 'tier_changed') FROM inventory_changes
                WHERE publish_id = $publish_id) AS tier_changed,
               (SELECT count(*) FROM alerts WHERE publish_id = $publish_id) AS alerts
        FROM files
        """,
        {
            "publish_id": publish_id,
            "published_at": published_at.replace(tzinfo=None),
            **policy_stamp,
            "tables": list(counts),
            "rows": list(counts.values()),
        },
    )


def _row_counts(conn: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, int]:
    """Rows of every published relation in ``catalog``: its tables and the views that stand for stored data (the
    warehouse relations over the per-registry slices, ``quality_scores`` over its compact rows); the analyst views
    are derived, so not counted."""
    present = relations(conn, catalog=catalog)
    views = (*WAREHOUSE_TABLES, SUPPLY_VIEW, SCORES_TABLE)
    counted = sorted(name for name, kind in present.items() if kind == "TABLE" or name in views)
    return {name: _count(conn, catalog, name) for name in counted}


def validate_published(path: Path, expected_counts: dict[str, int], publish_id: int) -> list[str]:
    """Every reason the closed file at ``path`` must not be published; empty when it is good."""
    problems: list[str] = []
    with duckdb.connect(str(path), read_only=True) as conn:
        try:
            require_tables(conn, (*WORK_TABLES, "publishes", "inventory_history", "inventory_changes", "alerts"))
        except InventoryError as exc:
            return [str(exc)]
        actual = _row_counts(conn, conn.execute("SELECT current_database()").fetchone()[0])
        for table, expected in expected_counts.items():
            if actual.get(table) != expected:
                problems.append(f"{table}: {actual.get(table)} rows published, {expected} in the source")
        catalog = conn.execute("SELECT current_database()").fetchone()[0]
        conn.execute(f"CREATE TEMP VIEW {LEDGER_VIEW} AS {pending_retirements_sql(conn, catalog)}")
        mismatches = reconciliation_mismatches(conn)
        if len(mismatches):
            problems.append(
                f"eligible_inventory does not reconcile with credits ({len(mismatches)} problem(s)):\n"
                + mismatches.head(20).to_string(index=False)
            )
        try:
            validate_inventory_frame(conn.execute(f"SELECT * FROM {INVENTORY_TABLE}").df())
        except Exception as exc:  # pandera SchemaErrors: report it with the others
            problems.append(f"eligible_inventory fails its schema: {exc}")
        latest = conn.execute("SELECT max(publish_id), count(*) FILTER (publish_id = ?) FROM publishes", [publish_id])
        latest_id, rows = latest.fetchone()
        if latest_id != publish_id or rows != 1:
            problems.append(f"publishes: expected exactly one row for publish {publish_id} as the latest")
        undocumented = missing_comments(conn)
        if undocumented:
            problems.append(f"objects without a COMMENT: {', '.join(undocumented[:30])}")
    return problems


@contextmanager
def _using(conn: duckdb.DuckDBPyConnection, catalog: str) -> Iterator[None]:
    """Make ``catalog`` the current database for SQL that names tables without a catalog."""
    current = conn.execute("SELECT current_database()").fetchone()[0]
    conn.execute(f"USE {identifier(catalog)}")
    try:
        yield
    finally:
        conn.execute(f"USE {identifier(current)}")


def _snapshot_work_db(work: duckdb.DuckDBPyConnection, target: Path) -> None:
    """Copy the work DB's file (and its write-ahead log, if any) to ``target``: the new file starts as the work DB.

    Why a file copy: DuckDB compresses every column it writes, and re-writing ``credits`` and
    ``quality_scores`` into a new file was nearly all of a publish (about 3 s at a million credits); a copy
    of the already compressed blocks takes a fraction of that. The work connection is ours and idle, so a
    checkpoint leaves the file complete; a read-only one cannot checkpoint, so its log is copied with it and
    replayed when the copy is attached. The price: the copy also carries the work DB's free blocks, which DuckDB
    leaves when a slice is replaced and reuses on the next write (about 1.8x the live data at steady state)."""
    path, read_only = work.execute(
        "SELECT path, readonly FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    if not path:
        raise PublishError("the work DB is in memory; publishing copies the work DB's file, so it must be one")
    if not read_only:
        work.execute("CHECKPOINT")
    shutil.copyfile(path, target)
    log = Path(f"{path}.wal")
    if log.exists():
        shutil.copyfile(log, Path(f"{target}.wal"))


def _prune(conn: duckdb.DuckDBPyConnection, published: set[str]) -> None:
    """Drop from the new file what the work DB holds but the analyst file does not publish: relations of
    ``main`` not in ``published`` and schemas other than ``main`` and the warehouse's slices."""
    for name, kind in relations(conn, catalog=PUB).items():
        if name not in published:
            conn.execute(f"DROP {kind} {identifier(PUB, 'main', name)}")
    schemas = conn.execute(
        "SELECT schema_name FROM duckdb_schemas() WHERE database_name = ? AND NOT internal "
        "AND schema_name NOT IN ('main', ?)",
        [PUB, STAGING_SCHEMA],
    ).fetchall()
    for (schema,) in schemas:
        conn.execute(f"DROP SCHEMA {identifier(PUB, schema)} CASCADE")


def _publish_sources(work: duckdb.DuckDBPyConnection, work_catalog: str, ledger_db: Path) -> dict[str, int]:
    """Make the new file (a copy of the work DB, see :func:`_snapshot_work_db`) hold what is published: the
    work DB's relations, the ledger's tables, and ``eligible_inventory`` re-netted against the ledger as it is
    now. Returns the source row count of every published relation, for validation."""
    with ledger_view(work, ledger_db) as has_ledger:
        present = relations(work, catalog=work_catalog)
        published = [t for t in (*WORK_TABLES, *OPTIONAL_WORK_TABLES) if t in present]
        _prune(work, set(published) - {INVENTORY_TABLE})
        counts = {t: _count(work, work_catalog, t) for t in published if t != INVENTORY_TABLE}
        ledger = relations(work, catalog="ledger") if has_ledger else {}
        for table in LEDGER_TABLES:
            if table in ledger:
                work.execute(f"CREATE TABLE {PUB}.main.{table} AS SELECT * FROM ledger.main.{table}")
                counts[table] = _count(work, "ledger", table)
        with _using(work, PUB):
            _renet_inventory(work, work_catalog)
    return counts


def _count(conn: duckdb.DuckDBPyConnection, catalog: str, relation: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {identifier(catalog, 'main', relation)}").fetchone()[0]


def _append_history(
    work: duckdb.DuckDBPyConnection,
    work_catalog: str,
    prev: str | None,
    publish_id: int,
    previous_id: int | None,
    published_at: datetime,
    policy: PublishPolicy,
    policy_stamp: dict,
) -> pd.DataFrame:
    """History, change log and alerts of the new file, carried from ``prev``; returns this publish's alerts."""
    append_inventory_history(work, PUB, prev, publish_id)
    append_inventory_changes(work, PUB, prev, publish_id, previous_id)
    alerts = append_alerts(work, PUB, prev, work_catalog, publish_id, published_at.replace(tzinfo=None), policy)
    carry_forward(work, PUB, prev, "publishes", PUBLISHES_DDL)
    with _using(work, PUB):
        _record_publish(work, publish_id, published_at, policy_stamp, _row_counts(work, PUB))
    return alerts


def _attach_previous(work: duckdb.DuckDBPyConnection, target: Path) -> str | None:
    """Attach the current published file read-only as ``previous`` (None when there is none yet)."""
    if not target.exists():
        return None
    try:
        work.execute(f"ATTACH $path AS {PREV} (READ_ONLY)", {"path": str(target)})
    except duckdb.Error as exc:
        raise PublishError(
            f"cannot read the current published file {target} to carry its history forward: {exc}. "
            "Move it away to start a new history."
        ) from exc
    return PREV


def publish_inventory(
    work: duckdb.DuckDBPyConnection,
    paths: Paths,
    policy: PublishPolicy,
    *,
    policy_version: str,
    policy_sha256: str,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> PublishResult:
    """Publish the work DB behind ``work`` (an open connection, read-only is enough) to ``paths.curated_db``.

    ``policy`` is the policy file's ``publish:`` section (alerts, webhook); ``policy_version`` and
    ``policy_sha256`` (of the whole policy) are recorded in ``publishes`` and its inputs fingerprint.

    ``progress`` is called with each completed step's name (attached, copied, history, documented,
    validated, swapped): the Dagster asset logs them. Raises :class:`PublishError` (or the underlying
    error) without touching the published file."""
    step = progress or (lambda _name: None)
    target = paths.curated_db
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(target)
    try:
        require_tables(work, WORK_TABLES)
    except InventoryError as exc:
        raise PublishError(f"cannot publish: {exc}") from exc

    work_catalog = work.execute("SELECT current_database()").fetchone()[0]
    published_at = now or datetime.now(UTC)
    tmp = temp_path_for(target)
    attached: list[str] = []
    try:
        _snapshot_work_db(work, tmp)
        work.execute(f"ATTACH $path AS {PUB} (READ_WRITE)", {"path": str(tmp)})
        attached.append(PUB)
        prev = _attach_previous(work, target)
        attached += [prev] if prev else []
        previous_id = previous_publish_id(work, prev)
        publish_id = (previous_id or 0) + 1
        step("attached")

        expected_counts = _publish_sources(work, work_catalog, paths.ledger_db)
        step("copied")
        stamp = {"policy_version": policy_version, "policy_sha256": policy_sha256}
        alerts = _append_history(work, work_catalog, prev, publish_id, previous_id, published_at, policy, stamp)
        step("history")
        create_views(work, PUB)
        undocumented = apply_comments(work, PUB, upstream_catalog=work_catalog)
        step("documented")

        changes = work.execute(
            f"SELECT * FROM {PUB}.main.inventory_changes WHERE publish_id = ? ORDER BY abs(tonnes_delta) DESC",
            [publish_id],
        ).df()
        as_of = work.execute(f"SELECT as_of FROM {PUB}.main.publishes WHERE publish_id = ?", [publish_id]).fetchone()[0]
        counts = _row_counts(work, PUB)
        while attached:
            work.execute(f"DETACH {attached.pop()}")

        problems = validate_published(tmp, expected_counts, publish_id)
        if problems:
            raise PublishError(f"validation of the new file failed; {target} is unchanged:\n- " + "\n- ".join(problems))
        step("validated")

        fsync(tmp)
        os.replace(tmp, target)
        fsync(target.parent)
        step("swapped")
    except BaseException:
        while attached:
            with contextlib.suppress(duckdb.Error):
                work.execute(f"DETACH {attached.pop()}")
        work.execute(f"USE {identifier(work_catalog)}")
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
        raise

    return PublishResult(
        publish_id=publish_id,
        path=target,
        published_at=published_at,
        as_of=as_of,
        row_counts=counts,
        changes=changes,
        alerts=alerts,
        undocumented=undocumented,
        webhook_error=send_webhook(alerts, policy.alerts),
    )
