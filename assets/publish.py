"""Inventory and publish: the eligible inventory in the work DB, the analyst file, its exports and alerts."""

from datetime import timedelta

import dagster as dg
import duckdb

from assets.metadata import markdown_table, table_metadata
from assets.resources import PipelineSettings
from pipeline.inventory.inventory import (
    INVENTORY_TABLE,
    ledger_view,
    reconciliation_mismatches,
    validate_inventory_frame,
    write_eligible_inventory,
)
from pipeline.publish.exports import export_published
from pipeline.publish.policy import PublishPolicy
from pipeline.publish.publish import publish_inventory

RECONCILIATION_CHECK = "available_reconciles_with_credits"
TONNES_REMOVED_CHECK = "eligible_tonnes_removed"
REJECTED_SHARE_CHECK = "rejected_share_jump"
SHRUNK_FILE_CHECK = "registry_file_shrank"
DICTIONARY_CHECK = "data_dictionary_complete"


def freshness(settings: PipelineSettings) -> dg.FreshnessPolicy:
    """The published file's freshness expectation (policy ``publish.max_published_age_hours``), read from the
    settings' policy file when the definitions are built on them (Dagster holds a freshness policy in the asset's
    definition, not in a run); the default if the file is unreadable, so a policy typo surfaces in the run that
    validates the policy, not as a code location that fails to load."""
    try:
        hours = settings.policy().publish.max_published_age_hours
    except Exception:  # noqa: BLE001
        hours = PublishPolicy().max_published_age_hours
    return dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=hours))


def _inventory_summary(conn: duckdb.DuckDBPyConnection, table: str = INVENTORY_TABLE) -> dict:
    by_activity = conn.execute(
        f"SELECT coalesce(activity, '(none)') AS activity, count(*) AS project_vintages, "
        f"sum(available_net)::BIGINT AS available_tonnes FROM {table} GROUP BY ALL ORDER BY available_tonnes DESC"
    ).df()
    by_tier = conn.execute(
        f"SELECT quality_tier, count(*) AS project_vintages, sum(available_net)::BIGINT AS available_tonnes "
        f"FROM {table} GROUP BY ALL ORDER BY available_tonnes DESC"
    ).df()
    rows, tonnes, risk_adjusted = conn.execute(
        f"SELECT count(*), coalesce(sum(available_net), 0)::BIGINT, coalesce(sum(risk_adjusted_available), 0)::BIGINT "
        f"FROM {table}"
    ).fetchone()
    return {
        "dagster/row_count": rows,
        "available_tonnes": tonnes,
        "risk_adjusted_tonnes": risk_adjusted,
        "tonnes_by_activity": markdown_table(by_activity),
        "tier_distribution": markdown_table(by_tier),
    }


@dg.asset(
    deps=["quality_scores", "credits", "projects", "load_audit"],
    group_name="inventory",
    kinds={"duckdb"},
)
def eligible_inventory(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    """One row per eligible project-vintage with credits still available: issued, retired, cancelled and
    buffer summed from ``credits``, available = issued - retired - cancelled, net of our buyers' ledger
    retirements not yet visible in the registry snapshot, risk-adjusted by the scoring haircut, with the
    scores, tier, badges, registry link, policy version and snapshot date (``as_of``).

    Rebuilt in the work DB in one transaction; the buyers stage allocates from it."""
    paths = settings.paths
    with settings.work_db_connection() as conn:
        rows = write_eligible_inventory(conn, paths.ledger_db)
        validate_inventory_frame(conn.execute(f"SELECT * FROM {INVENTORY_TABLE}").df())
        metadata = _inventory_summary(conn) | table_metadata(conn, INVENTORY_TABLE)
    context.log.info(f"eligible_inventory: {rows} project-vintages, {metadata['available_tonnes']:,} tonnes")
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(asset=eligible_inventory, name=RECONCILIATION_CHECK, blocking=True)
def available_reconciles_with_credits(settings: PipelineSettings) -> dg.AssetCheckResult:
    """Every inventory row's issued, retired, cancelled, buffer and available equal the sums in `credits`,
    our ledger retirements match the ledger, and no eligible project-vintage with credits left is missing.
    Blocks everything downstream (allocation, publish) when it fails, listing each mismatch."""
    with settings.work_db_connection(read_only=True) as conn, ledger_view(conn, settings.paths.ledger_db):
        mismatches = reconciliation_mismatches(conn)
        totals = conn.execute(f"SELECT count(*), coalesce(sum(available), 0)::BIGINT FROM {INVENTORY_TABLE}").fetchone()
    return dg.AssetCheckResult(
        passed=mismatches.empty,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if mismatches.empty else f"{len(mismatches)} reconciliation problem(s) with credits",
        metadata={
            "mismatches": len(mismatches),
            "mismatch_details": markdown_table(mismatches, rows=30),
            "rows_checked": totals[0],
            "available_tonnes_checked": totals[1],
        },
    )


@dg.asset(
    deps=[
        "eligible_inventory",
        "retirement_ledger",
        "quality_scores",
        "buyer_eligibility",
        "order_allocations",
        "rejected_rows",
        "load_audit",
        "supply_reconciliation",
    ],
    group_name="publish",
    kinds={"duckdb"},
    check_specs=[
        dg.AssetCheckSpec(
            TONNES_REMOVED_CHECK,
            asset="published_inventory",
            description="Warns when this publish removed eligible tonnes (project-vintages that became "
            "ineligible or vanished from registry data) at or above the policy threshold; details list them.",
        ),
        dg.AssetCheckSpec(
            REJECTED_SHARE_CHECK,
            asset="published_inventory",
            description="Warns when a registry's rejected-row share jumped since the previous publish by at "
            "least the policy threshold.",
        ),
        dg.AssetCheckSpec(
            SHRUNK_FILE_CHECK,
            asset="published_inventory",
            description="Warns when a registry file's accepted rows fell by the policy threshold since the previous "
            "publish (a file cut off in transfer), or a registry's previous load is held back because its new file "
            "shrank (policy publish.shrunk_files).",
        ),
        dg.AssetCheckSpec(
            DICTIONARY_CHECK,
            asset="published_inventory",
            description="Warns when a published column has no description (add it to "
            "pipeline/publish/dictionary.py or COMMENT ON it in the work DB).",
        ),
    ],
)
def published_inventory(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    """The analyst-facing DuckDB file (``Paths.curated_db``): a new file started as a copy of the work DB's
    file and pruned to what is published, validated (row counts, reconciliation with credits, schema, a comment
    on every table and column) and swapped in atomically; a failed run leaves the previous file untouched and
    readers are never blocked.

    Holds projects, credits, rejected_rows and load_audit (views over the per-registry slices in ``staging``),
    quality_scores with reasons, eligible_inventory (re-netted against the ledger at publish time), buyer tables
    and the ledger's retirements when present, the carried-forward history (publishes, inventory_history,
    inventory_changes, alerts) and analyst views."""
    paths = settings.paths
    policy = settings.policy()
    with settings.work_db_connection(read_only=True) as conn:
        result = publish_inventory(
            conn,
            paths,
            policy.publish,
            policy_version=policy.policy_version,
            policy_sha256=policy.sha256,
            progress=lambda step: context.log.info(f"publish: {step}"),
        )
    if result.webhook_error:
        context.log.warning(f"alert webhook failed: {result.webhook_error}")
    for alert in result.alerts.itertuples():
        context.log.warning(f"ALERT {alert.alert_type}: {alert.message}")

    changes = result.changes
    biggest = changes.assign(tonnes=changes["tonnes_delta"].abs()).sort_values("tonnes", ascending=False)
    with duckdb.connect(str(result.path), read_only=True) as conn:
        summary = _inventory_summary(conn)

    def alert_result(check: str, kind: str) -> dg.AssetCheckResult:
        raised = result.alerts[result.alerts["alert_type"] == kind]
        return dg.AssetCheckResult(
            check_name=check,
            passed=raised.empty,
            severity=dg.AssetCheckSeverity.WARN,
            description=None if raised.empty else " | ".join(raised["message"]),
            metadata={"alerts": len(raised), "details": markdown_table(raised[["registry", "metric", "message"]])},
        )

    return dg.MaterializeResult(
        metadata={
            **summary,
            "path": dg.MetadataValue.path(str(result.path)),
            "publish_id": result.publish_id,
            "as_of": str(result.as_of),
            "published_at": result.published_at.isoformat(),
            "row_counts": dg.MetadataValue.json(result.row_counts),
            "entered": int((changes["change"] == "entered").sum()),
            "left": int((changes["change"] == "left").sum()),
            "tier_changed": int((changes["change"] == "tier_changed").sum()),
            "biggest_changes": markdown_table(
                biggest[["change", "project_id", "vintage", "tonnes_delta", "reason"]], rows=20
            ),
            "alerts": len(result.alerts),
        },
        check_results=[
            alert_result(TONNES_REMOVED_CHECK, "eligible_tonnes_removed"),
            alert_result(REJECTED_SHARE_CHECK, "rejected_share_jump"),
            alert_result(SHRUNK_FILE_CHECK, "registry_file_shrank"),
            dg.AssetCheckResult(
                check_name=DICTIONARY_CHECK,
                passed=not result.undocumented,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"undocumented": dg.MetadataValue.md("\n".join(f"- {c}" for c in result.undocumented))},
            ),
        ],
    )


@dg.asset(deps=[published_inventory], group_name="publish", kinds={"parquet", "csv"})
def inventory_exports(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    """The published eligible inventory, quality scores with their reasons, and the data dictionary as Parquet
    and CSV next to the database, for people without DuckDB (``make export`` does the same). Parquet columns
    carry their descriptions; each file is written to a temporary name and renamed into place."""
    written = export_published(settings.paths.curated_db)
    for path in written:
        context.log.info(f"wrote {path}")
    return dg.MaterializeResult(
        metadata={
            **{path.suffix.lstrip("."): dg.MetadataValue.path(str(path)) for path in written},
            "bytes": dg.MetadataValue.json({path.name: path.stat().st_size for path in written}),
        }
    )
