"""Buyer program: screen buyers, allocate eligible credits to their orders, retire them in the ledger."""

from datetime import UTC, datetime

import dagster as dg
import duckdb
import pandas as pd

from assets.metadata import markdown_table, table_metadata
from assets.resources import PipelineSettings
from pipeline.buyers.inputs import buyer_input_paths, buyer_program_absent, read_buyers, read_orders
from pipeline.buyers.ledger import (
    LedgerBusy,
    availability_violations,
    execute_orders,
    ledger_totals,
    open_ledger,
    recognize_in_registry,
)
from pipeline.buyers.screening import screen_buyers
from pipeline.buyers.statement import write_buyer_statements, write_order_statements
from pipeline.sql import transaction

STATEMENTS_DIR = "buyer-statements"
"""Per-buyer statement CSVs, next to the analyst file (``<curated dir>/buyer-statements/<buyer_id>.csv``)."""
CHANGED_ORDERS_CHECK = "no_changed_executed_orders"
AVAILABILITY_CHECK = "ledger_within_availability"
ORDER_STATEMENTS_DIR = "retirement-statements"
"""Per-order retirement statements (``<curated dir>/retirement-statements/<order_id>.html`` and ``.csv``)."""


class BuyerRunConfig(dg.Config):
    """Run settings of the buyer program."""

    as_of: str = ""
    """Screening and delivery-deadline date, ``YYYY-MM-DD``; empty = today (UTC)."""


def _as_of(config: BuyerRunConfig) -> pd.Timestamp:
    return pd.Timestamp(config.as_of or datetime.now(UTC).date().isoformat()).normalize()


def _skipped(context: dg.AssetExecutionContext, note: str, checks: tuple[str, ...] = ()) -> dg.MaterializeResult:
    """A buyer step that did nothing this run (no buyer program inputs, or the ledger held by another process):
    the note says why, in the run's log and the materialization; the inventory is published without waiting."""
    context.log.warning(f"{context.asset_key.to_user_string()}: {note}")
    return dg.MaterializeResult(
        metadata={"skipped": note},
        check_results=[dg.AssetCheckResult(check_name=c, passed=True, description=f"not evaluated: {note}")
                       for c in checks],
    )  # fmt: skip


def _replace_table(conn: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Replace ``table`` with ``frame`` in one transaction: readers see the old table or the new one."""
    conn.register("replacement", frame)
    try:
        with transaction(conn):
            conn.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM replacement")
    finally:
        conn.unregister("replacement")


@dg.asset(group_name="buyers", kinds={"python", "duckdb"})
def buyer_eligibility(
    context: dg.AssetExecutionContext, config: BuyerRunConfig, settings: PipelineSettings
) -> dg.MaterializeResult:
    """One row per buyer in ``data/raw/buyers/buyers.csv``: whether it qualifies for the buyer program.

    Three conditions (windows in the ``buyers:`` policy section), each with its own pass/fail column, the
    input value and a plain reason: (1) a net-zero target no later than 2050 covering scopes 1, 2 and 3;
    (2) a public emissions disclosure within the last 18 months, disclosed at least annually; (3) a validated
    science-based target, or a commitment less than 24 months old. ``is_eligible`` = all three pass.
    An invalid buyers file fails the run naming line, column and value; the previous table stays. Without
    buyer program inputs (a raw folder of registry exports only) it is skipped with a note."""
    absent = buyer_program_absent(settings.paths.raw_dir)
    if absent:
        return _skipped(context, absent)
    policy = settings.policy()
    buyers_path, _ = buyer_input_paths(settings.paths.raw_dir)
    as_of = _as_of(config)
    eligibility = screen_buyers(read_buyers(buyers_path), policy.buyers, as_of, policy.policy_version)
    with settings.work_db_connection() as conn:
        _replace_table(conn, "buyer_eligibility", eligibility)
        table = table_metadata(conn, "buyer_eligibility")
    failing = eligibility.loc[~eligibility["is_eligible"], ["buyer_id", "name", "reason"]]
    return dg.MaterializeResult(
        metadata={
            **table,
            "buyers": len(eligibility),
            "eligible": int(eligibility["is_eligible"].sum()),
            "not_eligible": len(failing),
            "fictional_examples": int(eligibility["is_fictional"].sum()),
            "screened_as_of": as_of.strftime("%Y-%m-%d"),
            "policy_version": policy.policy_version,
            "source": str(buyers_path),
            "not_eligible_reasons": markdown_table(failing),
        }
    )


@dg.asset(
    group_name="buyers",
    kinds={"python", "duckdb"},
    deps=["buyer_eligibility", "eligible_inventory", "credits"],
    check_specs=[
        dg.AssetCheckSpec(
            CHANGED_ORDERS_CHECK,
            asset="order_allocations",
            description="Warns when an already executed order's row in orders.csv was edited afterwards: "
            "executed orders are never re-allocated, so the edit has no effect until a new order is placed.",
        )
    ],
)
def order_allocations(
    context: dg.AssetExecutionContext, config: BuyerRunConfig, settings: PipelineSettings
) -> dg.MaterializeResult:
    """One row per order in ``data/raw/buyers/orders.csv``: filled, partially filled, refused (with the reason)
    or conflict; and ``order_allocation_lines``, one row per order and project-vintage its tonnes were retired
    (or, for made-up orders, simulated) from, with registry, tonnes and tier: the relation to query.

    Open orders of qualifying buyers are served first come, first served; each takes the highest quality
    tier first, then its preferred activity, then the oldest vintage, ties by project id, never more than is
    available: registry availability (``credits``, capped by ``eligible_inventory.available``) minus every
    retirement in our ledger that the registry does not show yet. Allocation and the ledger write happen in
    one transaction of the ledger DB, so a crash leaves no half-retired order, and an executed order is never
    retired again: re-running appends nothing. Made-up example orders (``is_fictional``) are only simulated
    on what real orders leave (``dry_run``) and never reach the ledger.

    Skipped with a note without buyer program inputs, and deferred to the next run (nothing retired, the
    previous table kept) while another process holds the ledger file."""
    absent = buyer_program_absent(settings.paths.raw_dir)
    if absent:
        return _skipped(context, absent, checks=(CHANGED_ORDERS_CHECK,))
    policy = settings.policy()
    _, orders_path = buyer_input_paths(settings.paths.raw_dir)
    orders = read_orders(orders_path)
    as_of = _as_of(config)
    with settings.work_db_connection() as conn:
        eligibility = conn.execute("SELECT * FROM buyer_eligibility").df()
        try:
            execution = execute_orders(
                conn,
                settings.paths.ledger_db,
                orders,
                eligibility,
                policy.buyers,
                policy.policy_version,
                as_of=as_of,
                now=pd.Timestamp(datetime.now(UTC)).tz_localize(None),
            )
        except LedgerBusy as exc:
            return _skipped(context, f"deferred to the next run: {exc}", checks=(CHANGED_ORDERS_CHECK,))
        _replace_table(conn, "order_allocations", execution.order_allocations)
        table = table_metadata(conn, "order_allocations")
        _replace_table(conn, "order_allocation_lines", execution.order_allocation_lines)
    frame = execution.order_allocations
    counts = frame["status"].value_counts()
    conflicts = frame.loc[frame["status"] == "conflict", ["order_id", "buyer_id", "reason"]]
    return dg.MaterializeResult(
        metadata={
            **table,
            "orders": len(frame),
            "filled": int(counts.get("filled", 0)),
            "partially_filled": int(counts.get("partially_filled", 0)),
            "refused": int(counts.get("refused", 0)),
            "conflicts": len(conflicts),
            "executed_this_run": int(frame["executed_this_run"].sum()),
            "allocation_lines": len(execution.order_allocation_lines),
            "retirements_appended": execution.retirements_appended,
            "tonnes_retired_this_run": execution.tonnes_retired,
            "registry_recognitions_appended": execution.recognitions_appended,
            "ledger": str(settings.paths.ledger_db),
            "orders_preview": markdown_table(
                frame[["order_id", "buyer_id", "status", "tonnes_ordered", "tonnes_allocated", "reason"]]
            ),  # fmt: skip
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=CHANGED_ORDERS_CHECK,
                passed=conflicts.empty,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"conflicting_orders": markdown_table(conflicts)},
            )
        ],
    )


@dg.asset(
    group_name="buyers",
    kinds={"duckdb"},
    deps=["order_allocations", "credits"],
    check_specs=[
        dg.AssetCheckSpec(
            AVAILABILITY_CHECK,
            asset="retirement_ledger",
            blocking=True,
            description="Per project-vintage, our retirements that the registry does not show yet never exceed "
            "the registry's available credits, and all our retirements never exceed its issuance: no tonne "
            "was sold twice. Blocks publishing when violated.",
        )
    ],
)
def retirement_ledger(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    """The append-only ``retirements`` ledger (``Paths.ledger_db``), the system of record of every tonne
    retired on a buyer's behalf; it survives every republish and re-run and is never rebuilt.

    This step records which ledger retirements the latest registry data now shows (by the retirement id in
    the registry's retirement note, else by beneficiary, tonnes and date; see ``pipeline.buyers.ledger``),
    checks the ledger against registry availability, and exports one statement CSV per buyer (what was
    retired for them, from which projects, at which quality) to ``<curated dir>/buyer-statements/``, and one
    retirement statement per executed order (HTML and CSV, the document the buyer keeps: beneficiary, project,
    vintage, tonnes, registry serial numbers once the registry shows the retirement, scores and policy at
    retirement, the registry page to verify it) to ``<curated dir>/retirement-statements/``.

    Skipped with a note while there is no ledger (no order executed yet). While another process holds the
    ledger file, recording recognitions is deferred to the next run; the check and the statements only read."""
    ledger_path = settings.paths.ledger_db
    if not ledger_path.exists():
        return _skipped(context, f"no ledger at {ledger_path} yet: no order executed", checks=(AVAILABILITY_CHECK,))
    now = pd.Timestamp(datetime.now(UTC)).tz_localize(None)
    deferred = {}
    with settings.work_db_connection(read_only=True) as conn:
        try:
            ledger = open_ledger(ledger_path)
        except LedgerBusy as exc:
            recognized, deferred = 0, {"deferred": f"recording registry recognitions deferred to the next run: {exc}"}
            context.log.warning(deferred["deferred"])
            table = {}
        else:
            try:
                recognized = recognize_in_registry(conn, ledger, now)
                table = table_metadata(ledger, "retirements")
            finally:
                ledger.close()
        violations = availability_violations(conn, ledger_path)
        orders = write_order_statements(conn, ledger_path, settings.paths.curated_dir / ORDER_STATEMENTS_DIR)
    totals = ledger_totals(ledger_path)
    statements = write_buyer_statements(ledger_path, settings.paths.curated_dir / STATEMENTS_DIR)
    return dg.MaterializeResult(
        metadata={
            **table,
            "ledger": str(ledger_path),
            "tonnes_retired_for_buyers": int(totals["tonnes_retired_for_buyers"].sum()),
            "tonnes_pending_in_registry": int(totals["tonnes_pending_in_registry"].sum()),
            "project_vintages": len(totals),
            "recognitions_appended": recognized,
            **deferred,
            "buyer_statements": dg.MetadataValue.md(
                "\n".join(f"- {b}: `{p}`" for b, p in statements.items()) or "_none_"
            ),  # fmt: skip
            "retirement_statements": len(orders),
            "totals": markdown_table(totals),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=AVAILABILITY_CHECK,
                passed=violations.empty,
                metadata={"violations": len(violations), "details": markdown_table(violations)},
            )
        ],
    )
