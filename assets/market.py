"""The market-wide source: Berkeley's Voluntary Registry Offsets Database beside the registry exports."""

import dagster as dg

from assets.metadata import markdown_table
from assets.resources import PipelineSettings
from pipeline.ingest.files import IngestError
from pipeline.ingest.snapshots import snapshot_fingerprint
from pipeline.ingest.supply import RECONCILIATION_TABLE, SUPPLY_VIEW, replace_vrod_slice, write_reconciliation
from pipeline.ingest.vrod import SOURCE, load_vrod

ROWS_CONSERVED_CHECK = "vrod_rows_conserved"
AGREES_CHECK = "registry_exports_agree_with_vrod"


@dg.asset(
    group_name="market",
    kinds={"python", "duckdb"},
    check_specs=[
        dg.AssetCheckSpec(
            ROWS_CONSERVED_CHECK,
            asset="vrod_tables",
            blocking=True,
            description="Every VROD project row is accounted for: rows read = accepted + rejected, per registry.",
        )
    ],
)
def vrod_tables(context: dg.AssetExecutionContext, settings: PipelineSettings):
    """Reads the latest Berkeley VROD PROJECTS file (``data/raw/berkeley-vrod/[<YYYY-MM-DD>/]projects.xlsx|parquet|
    csv``): one row per project of the five registries with credits issued and remaining per vintage. Checks each
    project's year blocks against its totals (a project whose blocks disagree is a rejected row), normalizes its
    attributes as the registry readers do and replaces VROD's staging tables in one transaction. Without a VROD
    file the tables are emptied and the pipeline scores the registry exports alone."""
    try:
        load = load_vrod(settings.paths.raw_dir)
    except IngestError as err:
        raise dg.Failure(description=str(err), metadata={"source": "berkeley-vrod"}) from err
    with settings.work_db_connection() as conn:
        replace_vrod_slice(conn, load)
    if load is None:
        note = f"no VROD file under {settings.paths.raw_dir}/berkeley-vrod; VROD supplies nothing"
        context.log.info(note)
        return dg.MaterializeResult(
            metadata={"note": note, "rows_read": 0},
            check_results=[dg.AssetCheckResult(check_name=ROWS_CONSERVED_CHECK, passed=True)],
        )
    audit = load.audit
    conserved = bool((audit["rows_read"] == audit["rows_accepted"] + audit["rows_rejected"]).all())
    return dg.MaterializeResult(
        metadata={
            # what the new-snapshot sensor compares with the raw folder to start the next refresh
            "fingerprint": snapshot_fingerprint(settings.paths.raw_dir, SOURCE),
            "file": str(load.file),
            "as_of": str(load.as_of),
            "rows_read": load.rows_read,
            "rows_rejected": load.rows_rejected,
            "projects": len(load.projects),
            "project_vintages": len(load.vintages),
            "issued_project_vintages": int((load.vintages["issued"] > 0).sum()),
            "issued_tonnes": int(load.vintages["issued"].sum()),
            "remaining_tonnes": int(load.vintages["remaining"].sum()),
            "load_audit": markdown_table(audit.drop(columns=["file_sha256", "file"])),
            "rejected_preview": markdown_table(load.rejected[["registry", "source_line", "reason"]]),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=ROWS_CONSERVED_CHECK,
                passed=conserved,
                metadata={"rows_by_registry": markdown_table(audit.drop(columns=["file_sha256", "file"]))},
            )
        ],
    )


@dg.asset(
    deps=["projects", "credits"],
    group_name="market",
    kinds={"duckdb"},
    check_specs=[
        dg.AssetCheckSpec(
            AGREES_CHECK,
            asset=RECONCILIATION_TABLE,
            description="Warns when a registry export and VROD disagree, beyond the policy's tolerance, on the "
            "credits issued or retired of a project-vintage both hold.",
        )
    ],
)
def supply_reconciliation(context: dg.AssetExecutionContext, settings: PipelineSettings):
    """Compares, per project-vintage of every project both a registry export and VROD list, the credits issued and
    retired in each, with the difference and whether it is within ``sources.reconciliation_tolerance_pct`` of the
    policy (table ``supply_reconciliation``). The supply itself takes each project-vintage from one source only
    (``project_vintage_supply``), so a disagreement never double counts: it says which figures to look at."""
    tolerance = settings.policy().sources.reconciliation_tolerance_pct
    with settings.work_db_connection() as conn:
        outside = write_reconciliation(conn, tolerance)
        rows = conn.execute(f"SELECT count(*) FROM {RECONCILIATION_TABLE}").fetchone()[0]
        by_source = conn.execute(
            f"SELECT source, registry, count(*) AS project_vintages, sum(issued) AS issued, "
            f"sum(available) AS available FROM {SUPPLY_VIEW} GROUP BY ALL ORDER BY ALL"
        ).df()
    worst = outside.reindex(outside["issued_difference"].abs().sort_values(ascending=False).index)
    shown = ["project_id", "vintage", "export_issued", "vrod_issued", "export_retired", "vrod_retired"]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "tolerance_pct": tolerance,
            "outside_tolerance": len(outside),
            "supply_by_source": markdown_table(by_source, 30),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=AGREES_CHECK,
                passed=outside.empty,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "project_vintages_compared": rows,
                    "outside_tolerance": len(outside),
                    "largest_differences": markdown_table(worst[shown], 20),
                },
            )
        ],
    )
