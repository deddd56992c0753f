"""The retirement ledger: the system of record of every tonne retired on a buyer's behalf.

The ledger is its own DuckDB file (``Paths.ledger_db``), never rebuilt and only ever appended to:

- ``retirements``: one row per order and project-vintage retired (``retirement_id``, ``idempotency_key`` =
  ``order_id|project_id|vintage``, order, buyer, beneficiary, project, vintage, tonnes, ``retired_at``,
  policy version and the quality tier and scores at retirement time);
- ``order_executions``: one row per executed order (tonnes ordered and retired, status, a fingerprint of
  the order as executed);
- ``registry_recognitions``: one row per ledger retirement that the registry data now shows, with the
  registry row it was matched to.

**Crash safety and idempotency.** :func:`execute_orders` holds the ledger file for the whole step (DuckDB
lets one process write a file at a time) and, in ONE transaction, records new recognitions, reads what is
already retired, allocates the open orders and appends their retirements and executions. A crash anywhere
before the commit leaves the ledger as it was (nothing half-written); a crash after it leaves the orders
executed, and the next run finds them in ``order_executions`` and does not retire them again. An order is
executed once: re-running the same orders appends nothing, and a partial fill stays partial (the buyer
orders the rest anew). An executed order whose CSV row changed afterwards is reported as a ``conflict``.

**When the registry shows one of our retirements.** We retire on the registry with the ledger's
``retirement_id`` in the retirement note (or beneficiary) field and the buyer's name as beneficiary. A
ledger row is *recognized* in registry data (``credits``) by a registry retirement of the same
project-vintage that

1. carries its ``retirement_id`` in ``retirement_note`` or ``retirement_beneficiary`` (case-insensitive), or
   failing that
2. names the ledger row's beneficiary (compared lower-case, punctuation ignored), retires exactly its tonnes
   and is dated on or after its ``retired_at`` day; several such rows pair one-to-one in date order.

Until recognized, a ledger retirement is *pending* (:func:`pending`, the one place the rule is written):
allocation subtracts it from the registry's availability. Recognized ones are already in the registry's
``retired`` sums. An unrecognized retirement is never forgotten, so a registry that never shows it understates
our availability rather than overselling.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.buyers.allocation import allocate
from pipeline.buyers.policy import BuyerPolicy
from pipeline.buyers.schemas import (
    OrderAllocationLinesSchema,
    OrderAllocationsSchema,
    OrdersSchema,
    RetirementsSchema,
)
from pipeline.ingest.supply import STAGING, SUPPLY_VIEW, VROD_VINTAGES
from pipeline.sql import identifier, relations, transaction

RETIREMENTS = "retirements"
ORDER_EXECUTIONS = "order_executions"
RECOGNITIONS = "registry_recognitions"
LEDGER_TABLES = (RETIREMENTS, ORDER_EXECUTIONS, RECOGNITIONS)

LEDGER_DDL = (
    f"""CREATE TABLE IF NOT EXISTS {RETIREMENTS} (
        retirement_id VARCHAR PRIMARY KEY,
        idempotency_key VARCHAR NOT NULL UNIQUE,
        order_id VARCHAR NOT NULL,
        buyer_id VARCHAR NOT NULL,
        beneficiary VARCHAR NOT NULL,
        project_id VARCHAR NOT NULL,
        registry VARCHAR NOT NULL,
        vintage BIGINT NOT NULL,
        tonnes BIGINT NOT NULL CHECK (tonnes > 0),
        retired_at TIMESTAMP NOT NULL,
        policy_version VARCHAR NOT NULL,
        quality_tier VARCHAR NOT NULL,
        activity VARCHAR,
        country_code VARCHAR,
        additionality_score DOUBLE,
        permanence_score DOUBLE,
        leakage_score DOUBLE,
        over_crediting_score DOUBLE,
        limiting_score DOUBLE,
        scores_policy_version VARCHAR
    )""",
    f"""CREATE TABLE IF NOT EXISTS {ORDER_EXECUTIONS} (
        order_id VARCHAR PRIMARY KEY,
        buyer_id VARCHAR NOT NULL,
        order_fingerprint VARCHAR NOT NULL,
        tonnes_ordered BIGINT NOT NULL,
        tonnes_retired BIGINT NOT NULL CHECK (tonnes_retired > 0 AND tonnes_retired <= tonnes_ordered),
        status VARCHAR NOT NULL,
        reason VARCHAR NOT NULL,
        executed_at TIMESTAMP NOT NULL,
        policy_version VARCHAR NOT NULL
    )""",
    f"""CREATE TABLE IF NOT EXISTS {RECOGNITIONS} (
        retirement_id VARCHAR PRIMARY KEY,
        matched_by VARCHAR NOT NULL,
        registry_source_file VARCHAR,
        registry_source_line BIGINT,
        registry_transaction_date DATE,
        registry_beneficiary VARCHAR,
        recognized_at TIMESTAMP NOT NULL
    )""",
)

_RETIREMENT_COLUMNS = tuple(RetirementsSchema.to_schema().columns)


class LedgerError(Exception):
    """The ledger or its inputs are unusable; the message says which."""


class LedgerBusy(LedgerError):
    """Another process has the ledger file open (DuckDB lets a file be written only when no other process holds
    it, even read-only), so nothing was written: the buyers stage is deferred to its next run."""


def pending(recognitions: str) -> str:
    """The SQL condition on a ledger row's ``retirement_id`` that makes it *pending*: ``recognitions`` (the recorded
    ``registry_recognitions``, or those the registry data shows now) does not hold it."""
    return f"retirement_id NOT IN (SELECT retirement_id FROM {recognitions})"


def open_ledger(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-write connection to the ledger, creating the file and its tables if they do not exist yet.

    Raises :class:`LedgerBusy` when another process holds the file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        raise LedgerBusy(
            f"the ledger {path} is open in another process, so nothing can be retired or recorded now ({exc}). "
            "Close that connection; to read the ledger without blocking, query its copy in the published file "
            "(tables retirements, registry_recognitions, order_executions)."
        ) from exc
    for ddl in LEDGER_DDL:
        conn.execute(ddl)
    return conn


def retirement_id(idempotency_key: pd.Series) -> pd.Series:
    """``CQR-`` + 16 hex digits of the key's SHA-256: the reference written into the registry retirement note."""
    return idempotency_key.map(lambda key: "CQR-" + hashlib.sha256(key.encode()).hexdigest()[:16])


def order_fingerprint(orders: pd.DataFrame) -> pd.Series:
    """A digest of what an order asks for, to notice an executed order whose row was edited afterwards."""
    fields = ["buyer_id", "ordered_at", "tonnes", "activities", "min_tier", "vintage_floor", "countries",
              "registries", "latest_delivery_date"]  # fmt: skip
    text = orders[fields[0]].astype("string").fillna("")
    for field in fields[1:]:
        text = text + "|" + orders[field].astype("string").fillna("")
    return text.map(lambda t: hashlib.sha256(t.encode()).hexdigest()[:16])


# --------------------------------------------------------------------------------------------------------------
# Reading the work DB
# --------------------------------------------------------------------------------------------------------------

_REQUIRED_WORK_TABLES = ("eligible_inventory", "credits", SUPPLY_VIEW)

SUPPLY_SQL = f"""
    SELECT i.project_id, i.registry, i.vintage::BIGINT AS vintage, i.activity, i.country_code, i.quality_tier,
           greatest(least(i.available, coalesce(r.available, 0)), 0)::BIGINT AS registry_available,
           i.additionality_score::DOUBLE AS additionality_score, i.permanence_score::DOUBLE AS permanence_score,
           i.leakage_score::DOUBLE AS leakage_score, i.over_crediting_score::DOUBLE AS over_crediting_score,
           i.limiting_score::DOUBLE AS limiting_score, i.policy_version AS scores_policy_version
    FROM eligible_inventory AS i
    LEFT JOIN {SUPPLY_VIEW} AS r ON r.project_id = i.project_id AND r.vintage = i.vintage
    ORDER BY i.project_id, i.vintage
"""
"""Eligible project-vintages with the registry's availability recomputed from the warehouse's supply (registry
exports and Berkeley's VROD, ``pipeline/ingest/supply.py``): the lower of it and the inventory's ``available``, so that
neither a stale inventory nor a stale column can oversell."""

_NORMALIZE = "trim(regexp_replace(lower(coalesce({}::VARCHAR, '')), '[^a-z0-9]+', ' ', 'g'))"

RECOGNITION_SQL = f"""
    WITH ledger AS (SELECT * FROM ledger_rows),
    registry AS (
        SELECT c.project_id, c.vintage::BIGINT AS vintage, c.quantity::BIGINT AS quantity,
               c.transaction_date::DATE AS transaction_date, c.retirement_beneficiary, c.retirement_note,
               c.source_file, c.source_line::BIGINT AS source_line
        FROM credits AS c
        WHERE c.transaction_type = 'retirement'
          AND EXISTS (SELECT 1 FROM ledger AS l WHERE l.project_id = c.project_id AND l.vintage = c.vintage)
    ),
    by_reference AS (
        SELECT l.retirement_id, 'reference' AS matched_by, r.source_file, r.source_line, r.transaction_date,
               r.retirement_beneficiary
        FROM ledger AS l
        JOIN registry AS r ON r.project_id = l.project_id AND r.vintage = l.vintage
         AND (contains(lower(coalesce(r.retirement_note::VARCHAR, '')), lower(l.retirement_id::VARCHAR))
              OR contains(lower(coalesce(r.retirement_beneficiary::VARCHAR, '')), lower(l.retirement_id::VARCHAR)))
        QUALIFY row_number() OVER (PARTITION BY l.retirement_id
                                   ORDER BY r.transaction_date, r.source_file, r.source_line) = 1
    ),
    ledger_left AS (
        SELECT *, {_NORMALIZE.format("beneficiary")} AS who,
               row_number() OVER (PARTITION BY project_id, vintage, {_NORMALIZE.format("beneficiary")}, tonnes
                                  ORDER BY retired_at, retirement_id) AS pair
        FROM ledger WHERE retirement_id NOT IN (SELECT retirement_id FROM by_reference)
    ),
    registry_left AS (
        SELECT *, {_NORMALIZE.format("retirement_beneficiary")} AS who,
               row_number() OVER (PARTITION BY project_id, vintage, {_NORMALIZE.format("retirement_beneficiary")},
                                  quantity ORDER BY transaction_date, source_file, source_line) AS pair
        FROM registry
        WHERE (source_file, source_line) NOT IN (SELECT (source_file, source_line) FROM by_reference)
    ),
    by_beneficiary AS (
        SELECT l.retirement_id, 'beneficiary' AS matched_by, r.source_file, r.source_line, r.transaction_date,
               r.retirement_beneficiary
        FROM ledger_left AS l
        JOIN registry_left AS r
          ON r.project_id = l.project_id AND r.vintage = l.vintage AND r.who = l.who AND l.who <> ''
         AND r.quantity = l.tonnes AND r.pair = l.pair AND r.transaction_date >= l.retired_at::DATE
    )
    SELECT * FROM by_reference UNION ALL SELECT * FROM by_beneficiary
"""
"""Ledger rows (temp ``ledger_rows``) that a registry retirement in ``credits`` shows; see the module docstring."""


def _require(conn: duckdb.DuckDBPyConnection, tables: tuple[str, ...]) -> None:
    present = relations(conn)
    missing = [t for t in tables if t not in present]
    if missing:
        raise LedgerError(f"work DB lacks table(s) {', '.join(missing)}; run the stages that build them first")


def registry_recognitions(work_conn: duckdb.DuckDBPyConnection, ledger_rows: pd.DataFrame) -> pd.DataFrame:
    """Which ``ledger_rows`` (retirement_id, project_id, vintage, tonnes, beneficiary, retired_at) the
    ``credits`` table on ``work_conn`` shows, with the registry row matched and how."""
    _require(work_conn, ("credits",))
    work_conn.register("ledger_rows", ledger_rows)
    try:
        return work_conn.execute(RECOGNITION_SQL).df()
    finally:
        work_conn.unregister("ledger_rows")


def _ledger_rows(ledger: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return ledger.execute(
        f"SELECT retirement_id, project_id, vintage, tonnes, beneficiary, retired_at FROM {RETIREMENTS}"
    ).df()


def _pending_tonnes(ledger: duckdb.DuckDBPyConnection, shown: pd.DataFrame) -> pd.DataFrame:
    """Tonnes per project-vintage of the ledger's retirements still pending: not among ``shown`` (the
    recognitions the registry data shows now)."""
    ledger.register("shown", shown[["retirement_id"]])
    try:
        return ledger.execute(
            f"SELECT project_id, vintage, sum(tonnes)::BIGINT AS pending FROM {RETIREMENTS} "
            f"WHERE {pending('shown')} GROUP BY project_id, vintage"
        ).df()
    finally:
        ledger.unregister("shown")


def _record_recognitions(ledger: duckdb.DuckDBPyConnection, found: pd.DataFrame, now: pd.Timestamp) -> int:
    ledger.register("found_recognitions", found)
    try:
        before = ledger.execute(f"SELECT count(*) FROM {RECOGNITIONS}").fetchall()[0][0]
        ledger.execute(
            f"""INSERT INTO {RECOGNITIONS}
                SELECT retirement_id, matched_by, source_file, source_line, transaction_date,
                       retirement_beneficiary, ?::TIMESTAMP
                FROM found_recognitions
                WHERE retirement_id NOT IN (SELECT retirement_id FROM {RECOGNITIONS})""",
            [now],
        )
        return ledger.execute(f"SELECT count(*) FROM {RECOGNITIONS}").fetchall()[0][0] - before
    finally:
        ledger.unregister("found_recognitions")


def recognize_in_registry(
    work_conn: duckdb.DuckDBPyConnection, ledger: duckdb.DuckDBPyConnection, now: pd.Timestamp
) -> int:
    """Record, once each, the ledger retirements that the registry data now shows; returns how many are new."""
    found = registry_recognitions(work_conn, _ledger_rows(ledger))
    with transaction(ledger):
        return _record_recognitions(ledger, found, now)


# --------------------------------------------------------------------------------------------------------------
# Executing orders
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Execution:
    """What one run did: the decision per order (``order_allocations``), the project-vintages each order
    received (``order_allocation_lines``) and the counts appended."""

    order_allocations: pd.DataFrame
    order_allocation_lines: pd.DataFrame
    retirements_appended: int
    tonnes_retired: int
    recognitions_appended: int


def _insert_retirements(ledger: duckdb.DuckDBPyConnection, rows: pd.DataFrame) -> None:
    ledger.register("new_retirements", rows)
    try:
        ledger.execute(f"INSERT INTO {RETIREMENTS} ({', '.join(_RETIREMENT_COLUMNS)}) "
                       f"SELECT {', '.join(_RETIREMENT_COLUMNS)} FROM new_retirements")  # fmt: skip
    finally:
        ledger.unregister("new_retirements")


def _insert_executions(ledger: duckdb.DuckDBPyConnection, rows: pd.DataFrame) -> None:
    ledger.register("new_executions", rows)
    try:
        ledger.execute(
            f"INSERT INTO {ORDER_EXECUTIONS} SELECT order_id, buyer_id, order_fingerprint, tonnes_ordered, "
            "tonnes_retired, status, reason, executed_at, policy_version FROM new_executions"
        )
    finally:
        ledger.unregister("new_executions")


def _retirement_rows(lines, supply, eligibility, now, policy_version) -> pd.DataFrame:
    rows = lines.merge(supply, on=["project_id", "vintage"], how="left", validate="many_to_one").merge(
        eligibility[["buyer_id", "name"]].rename(columns={"name": "beneficiary"}), on="buyer_id", how="left"
    )
    rows["idempotency_key"] = rows["order_id"] + "|" + rows["project_id"] + "|" + rows["vintage"].astype(str)
    rows["retirement_id"] = retirement_id(rows["idempotency_key"])
    rows["retired_at"] = now
    rows["policy_version"] = policy_version
    return RetirementsSchema.validate(rows.loc[:, list(_RETIREMENT_COLUMNS)], lazy=True)


def _summaries(ledger: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Executed orders with their retirement lines as text."""
    return ledger.execute(
        f"""SELECT e.order_id, e.buyer_id, e.order_fingerprint, e.status, e.tonnes_ordered, e.tonnes_retired,
                   e.reason, e.executed_at, e.policy_version,
                   string_agg(r.project_id || ' ' || r.vintage || ': ' || r.tonnes, '; '
                              ORDER BY r.project_id, r.vintage) AS allocations
            FROM {ORDER_EXECUTIONS} AS e JOIN {RETIREMENTS} AS r USING (order_id)
            GROUP BY ALL"""
    ).df()


def _allocation_text(lines: pd.DataFrame) -> pd.DataFrame:
    lines = lines.sort_values(["order_id", "project_id", "vintage"])
    text = lines["project_id"] + " " + lines["vintage"].astype(str) + ": " + lines["tonnes"].astype(str)
    return text.groupby(lines["order_id"]).agg("; ".join).rename("allocations").reset_index()


def _allocation_lines(retired: pd.DataFrame, simulated: pd.DataFrame, supply: pd.DataFrame) -> pd.DataFrame:
    """One row per order and project-vintage: every executed order's ledger retirements (``retired``), then the
    made-up orders' simulated lines with their project-vintage's registry and tier (``dry_run``)."""
    keys = ["project_id", "vintage"]
    simulated = simulated[["order_id", "buyer_id", *keys, "tonnes"]].merge(
        supply[[*keys, "registry", "quality_tier"]], on=keys, how="left", validate="many_to_one"
    )
    parts = [part for part in (retired.assign(dry_run=False), simulated.assign(dry_run=True)) if not part.empty]
    frame = pd.concat(parts, ignore_index=True) if parts else retired.assign(dry_run=pd.Series(dtype=bool))
    frame = frame.sort_values(["order_id", *keys], ignore_index=True)
    return OrderAllocationLinesSchema.validate(frame[list(OrderAllocationLinesSchema.to_schema().columns)], lazy=True)


def _simulated_rows(simulation, policy_version) -> pd.DataFrame:
    """Decisions of made-up example orders that were only simulated (nothing retired)."""
    return simulation.decisions.merge(_allocation_text(simulation.lines), on="order_id", how="left").assign(
        reason=lambda d: "dry run, made-up example order not retired: " + d["reason"],
        executed_at=pd.NaT,
        executed_this_run=False,
        dry_run=True,
        policy_version=policy_version,
    )


def _order_allocations(
    orders, decisions, simulated, executed, fingerprints, run_orders, policy_version
) -> pd.DataFrame:
    earlier = executed.loc[~executed["order_id"].isin(run_orders)]
    earlier = earlier.merge(
        pd.DataFrame({"order_id": orders["order_id"], "current_fingerprint": fingerprints.to_numpy()}),
        on="order_id", how="left",
    )  # fmt: skip
    changed = earlier["current_fingerprint"].notna() & (earlier["current_fingerprint"] != earlier["order_fingerprint"])
    earlier_rows = pd.DataFrame(
        {
            "order_id": earlier["order_id"],
            "buyer_id": earlier["buyer_id"],
            "status": earlier["status"].where(~changed, "conflict"),
            "tonnes_ordered": earlier["tonnes_ordered"],
            "tonnes_allocated": earlier["tonnes_retired"],
            "tonnes_unfilled": earlier["tonnes_ordered"] - earlier["tonnes_retired"],
            "reason": (earlier["reason"] + " (executed " + earlier["executed_at"].dt.strftime("%Y-%m-%d") + ")")
            .where(~changed, "the order's row changed after it was executed on "
                   + earlier["executed_at"].dt.strftime("%Y-%m-%d") + "; executed orders are never re-allocated, "
                   "place a new order"),
            "allocations": earlier["allocations"],
            "executed_at": earlier["executed_at"],
            "executed_this_run": False,
            "dry_run": False,
            "policy_version": earlier["policy_version"],
        }
    )  # fmt: skip
    now_rows = decisions.merge(executed[["order_id", "allocations", "executed_at"]], on="order_id", how="left").assign(
        executed_this_run=lambda d: d["executed_at"].notna(), dry_run=False, policy_version=policy_version
    )
    dtypes = {"executed_at": "datetime64[ns]", "allocations": object, "reason": object}
    parts = [part.astype(dtypes) for part in (earlier_rows, now_rows, simulated) if not part.empty]
    frame = (
        pd.concat(parts, ignore_index=True).sort_values("order_id", ignore_index=True)
        if parts
        else now_rows.assign(dry_run=pd.Series(dtype=bool))
    )
    return OrderAllocationsSchema.validate(frame, lazy=True)


def _after(supply: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """``supply`` with the tonnes of ``lines`` taken out."""
    taken = lines.groupby(["project_id", "vintage"], as_index=False)["tonnes"].sum()
    left = supply.merge(taken, on=["project_id", "vintage"], how="left")
    return left.assign(remaining=(left["remaining"] - left["tonnes"].fillna(0)).astype("int64")).drop(columns="tonnes")


def execute_orders(
    work_conn: duckdb.DuckDBPyConnection,
    ledger_path: Path,
    orders: pd.DataFrame,
    eligibility: pd.DataFrame,
    policy: BuyerPolicy,
    policy_version: str,
    as_of: pd.Timestamp,
    now: pd.Timestamp,
) -> Execution:
    """Allocate the open ``orders`` and retire their tonnes in the ledger, atomically (see module docstring).

    ``work_conn`` holds ``eligible_inventory`` and ``credits``; ``eligibility`` is ``buyer_eligibility``;
    ``as_of`` is the run date (delivery deadlines); ``now`` the ``retired_at`` stamp of this run's rows."""
    orders = OrdersSchema.validate(orders.copy(), lazy=True)
    _require(work_conn, _REQUIRED_WORK_TABLES)
    supply = work_conn.execute(SUPPLY_SQL).df()
    now = pd.Timestamp(now).tz_localize(None) if pd.Timestamp(now).tzinfo else pd.Timestamp(now)
    fingerprints = order_fingerprint(orders)

    ledger = open_ledger(ledger_path)
    try:
        recognized = registry_recognitions(work_conn, _ledger_rows(ledger))
        with transaction(ledger):
            recognitions_added = _record_recognitions(ledger, recognized, now)
            supply = supply.merge(_pending_tonnes(ledger, recognized), on=["project_id", "vintage"], how="left")
            supply["remaining"] = (supply["registry_available"] - supply["pending"].fillna(0)).clip(lower=0)
            supply["remaining"] = supply["remaining"].astype("int64")

            executed_ids = set(ledger.execute(f"SELECT order_id FROM {ORDER_EXECUTIONS}").df()["order_id"])
            open_orders = orders.loc[~orders["order_id"].isin(executed_ids)]
            examples = open_orders["is_fictional"] & (not policy.retire_fictional_orders)
            allocation = allocate(open_orders.loc[~examples], eligibility, supply, policy, as_of)
            simulation = allocate(open_orders.loc[examples], eligibility, _after(supply, allocation.lines), policy,
                                  as_of)  # fmt: skip

            retirements = _retirement_rows(allocation.lines, supply, eligibility, now, policy_version)
            done = allocation.decisions.loc[allocation.decisions["tonnes_allocated"] > 0]
            executions = done.assign(
                order_fingerprint=done["order_id"].map(dict(zip(orders["order_id"], fingerprints, strict=True))),
                tonnes_retired=done["tonnes_allocated"],
                executed_at=now,
                policy_version=policy_version,
            )
            _insert_retirements(ledger, retirements)
            _insert_executions(ledger, executions)
        executed = _summaries(ledger)
        retired = ledger.execute(f"SELECT order_id, buyer_id, project_id, registry, vintage, tonnes, quality_tier "
                                 f"FROM {RETIREMENTS}").df()  # fmt: skip
    finally:
        ledger.close()

    frame = _order_allocations(
        orders,
        allocation.decisions,
        _simulated_rows(simulation, policy_version),
        executed,
        fingerprints,
        set(open_orders["order_id"]),
        policy_version,
    )
    return Execution(
        order_allocations=frame,
        order_allocation_lines=_allocation_lines(retired, simulation.lines, supply),
        retirements_appended=len(retirements),
        tonnes_retired=int(retirements["tonnes"].sum()),
        recognitions_appended=recognitions_added,
    )


# --------------------------------------------------------------------------------------------------------------
# Reading the ledger
# --------------------------------------------------------------------------------------------------------------

LEDGER_TOTALS_SQL = f"""
    SELECT project_id, vintage::BIGINT AS vintage,
           sum(tonnes)::BIGINT AS tonnes_retired_for_buyers,
           coalesce(sum(tonnes) FILTER (NOT {pending(RECOGNITIONS)}), 0)::BIGINT AS tonnes_recognized_in_registry,
           coalesce(sum(tonnes) FILTER ({pending(RECOGNITIONS)}), 0)::BIGINT AS tonnes_pending_in_registry
    FROM {RETIREMENTS}
    GROUP BY ALL ORDER BY project_id, vintage
"""

LEDGER_TOTALS_COLUMNS = ("project_id", "vintage", "tonnes_retired_for_buyers", "tonnes_recognized_in_registry",
                         "tonnes_pending_in_registry")  # fmt: skip


def ledger_totals(ledger_db_path: Path) -> pd.DataFrame:
    """Per project-vintage: tonnes we retired for buyers, how many the registry data shows (recognized, as
    last recorded by the buyers stage) and how many it does not yet (``tonnes_pending_in_registry``: subtract
    these from registry availability). A missing ledger file is an empty ledger."""
    path = Path(ledger_db_path)
    empty = pd.DataFrame({c: pd.Series(dtype="object" if c == "project_id" else "int64")
                          for c in LEDGER_TOTALS_COLUMNS})  # fmt: skip
    if not path.exists():
        return empty
    with duckdb.connect(str(path), read_only=True) as conn:
        if not {RETIREMENTS, RECOGNITIONS} <= relations(conn).keys():
            return empty
        return conn.execute(LEDGER_TOTALS_SQL).df()


def read_ledger(ledger_db_path: Path, table: str = RETIREMENTS) -> pd.DataFrame:
    """One ledger table as a frame, read-only (empty frame with no columns if the ledger does not exist)."""
    if table not in LEDGER_TABLES:
        raise LedgerError(f"unknown ledger table {table!r}; ledger tables are {', '.join(LEDGER_TABLES)}")
    path = Path(ledger_db_path)
    if not path.exists():
        return pd.DataFrame()
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY 1").df()


AVAILABILITY_VIOLATIONS_SQL = f"""
    WITH {{vrod}} issuances AS (  -- each issuance once, however often the registry data lists it
        SELECT DISTINCT * EXCLUDE (source_file, source_line)
        FROM credits WHERE transaction_type = 'issuance' AND vintage IS NOT NULL
    ),
    issued AS (
        SELECT project_id, vintage::BIGINT AS vintage, sum(quantity)::BIGINT AS issued FROM issuances GROUP BY ALL
    ),
    used AS (
        SELECT project_id, vintage::BIGINT AS vintage, sum(quantity)::BIGINT AS used
        FROM credits WHERE transaction_type IN ('retirement', 'cancellation') AND vintage IS NOT NULL GROUP BY ALL
    ),
    exported AS (
        SELECT project_id, vintage, coalesce(issued, 0) AS issued, coalesce(issued, 0) - coalesce(used, 0) AS available
        FROM issued FULL JOIN used USING (project_id, vintage)
    ),
    registry AS (  -- the exports' project-vintages, then VROD's for the rest
        SELECT * FROM exported
        UNION ALL
        SELECT project_id, vintage, issued, remaining AS available
        FROM vrod ANTI JOIN exported USING (project_id, vintage)
    ),
    ours AS (
        SELECT project_id, vintage::BIGINT AS vintage, sum(tonnes)::BIGINT AS retired_for_buyers,
               coalesce(sum(tonnes) FILTER ({pending("recognized")}), 0)::BIGINT AS pending_in_registry
        FROM ledger_rows
        GROUP BY ALL
    )
    SELECT o.project_id, o.vintage, o.retired_for_buyers, o.pending_in_registry,
           coalesce(r.issued, 0) AS registry_issued, coalesce(r.available, 0) AS registry_available,
           CASE WHEN o.pending_in_registry > coalesce(r.available, 0)
                THEN 'pending retirements exceed the registry''s available credits'
                ELSE 'our retirements exceed the registry''s issued credits' END AS problem
    FROM ours AS o LEFT JOIN registry AS r USING (project_id, vintage)
    WHERE o.pending_in_registry > coalesce(r.available, 0) OR o.retired_for_buyers > coalesce(r.issued, 0)
    ORDER BY o.project_id, o.vintage
"""


def availability_violations(work_conn: duckdb.DuckDBPyConnection, ledger_db_path: Path) -> pd.DataFrame:
    """Project-vintages where the ledger exceeds what the registry data (``credits`` on ``work_conn``) allows:
    pending retirements above the registry's available credits, or all our retirements above its issuance.
    Empty when the ledger is within availability everywhere.

    The supply is counted here independently of the one orders were allocated from (the supply view): an
    issuance listed twice counts once (identical but for its source line), every retirement and cancellation
    counts, so supply a repeated issuance inflated upstream cannot pass this check; a project-vintage no export
    holds is counted from VROD's own vintages table (issued, remaining)."""
    rows = read_ledger(ledger_db_path, RETIREMENTS)
    if rows.empty:
        rows = pd.DataFrame({"retirement_id": [], "project_id": [], "vintage": [], "tonnes": [], "beneficiary": [],
                             "retired_at": pd.Series(dtype="datetime64[ns]")})  # fmt: skip
    rows = rows.astype({"retirement_id": str, "project_id": str, "vintage": "int64", "tonnes": "int64",
                        "beneficiary": str, "retired_at": "datetime64[ns]"})  # fmt: skip
    recognized = registry_recognitions(work_conn, rows[["retirement_id", "project_id", "vintage", "tonnes",
                                                        "beneficiary", "retired_at"]])  # fmt: skip
    vrod = (f"vrod AS (SELECT project_id::VARCHAR AS project_id, vintage::BIGINT AS vintage, issued, remaining "
            f"FROM {identifier(STAGING, VROD_VINTAGES)})," if VROD_VINTAGES in relations(work_conn, STAGING) else
            "vrod AS (SELECT NULL::VARCHAR AS project_id, NULL::BIGINT AS vintage, 0::BIGINT AS issued, "
            "0::BIGINT AS remaining WHERE false),")  # fmt: skip
    work_conn.register("ledger_rows", rows)
    work_conn.register("recognized", recognized[["retirement_id"]])
    try:
        return work_conn.execute(AVAILABILITY_VIOLATIONS_SQL.format(vrod=vrod)).df()
    finally:
        work_conn.unregister("ledger_rows")
        work_conn.unregister("recognized")
