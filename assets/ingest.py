"""Ingest: each registry's raw files -> validated, harmonized warehouse relations in the working DuckDB."""

import dagster as dg
import pandas as pd

from assets.metadata import markdown_table, table_metadata
from assets.partitions import registry_partitions
from assets.resources import PipelineSettings
from pipeline.ingest.files import IngestError
from pipeline.ingest.load import load_registry
from pipeline.ingest.warehouse import build_warehouse, clear_registry_slice, contract_failures
from pipeline.publish.shrunk_files import replace_unless_shrunk, shrunk_file_message


@dg.asset(
    partitions_def=registry_partitions,
    deps=["registry_snapshot"],
    group_name="ingest",
    kinds={"python", "duckdb"},
    check_specs=[
        dg.AssetCheckSpec(
            "rows_conserved",
            asset="registry_tables",
            blocking=True,
            description="For every raw file, rows read = rows accepted + rows rejected: nothing is lost.",
        ),
        dg.AssetCheckSpec(
            "transactions_have_known_projects",
            asset="registry_tables",
            description="Counts transactions whose project is missing from the registry's projects export "
            "(kept and flagged project_known = false, never dropped). Warns when there are any.",
        ),
    ],
)
def registry_tables(context: dg.AssetExecutionContext, settings: PipelineSettings):
    """Reads the registry's latest raw snapshot (projects and credit transactions), harmonizes it to the warehouse
    contract (pandera-validated), and replaces the registry's slice of the working DuckDB in one transaction.

    Rows that fail parsing or validation go to ``rejected_rows`` with file, line and reason. A registry with no
    raw files is skipped with a note and its previous slice removed. A file that cannot be read at all fails
    the run with a message naming the file; the other registries' slices are untouched. A file much smaller
    than at the previous load is noted and, by policy (``publish.shrunk_files``), the previous slice kept."""
    registry = context.partition_key
    try:
        load = load_registry(registry, settings.paths.raw_dir)
    except IngestError as err:
        # The message names the file and what was expected; surface it as the run's failure reason in the UI.
        raise dg.Failure(description=str(err), metadata={"registry": registry}) from err
    with settings.work_db_connection() as conn:
        if load is None:
            removed = clear_registry_slice(conn, registry)
            note = f"no raw files for {registry} under {settings.paths.raw_dir}; skipped" + (
                " and its previous slice removed" if removed else ""
            )
            context.log.info(note)
            return dg.MaterializeResult(
                metadata={"note": note, "rows_read": 0},
                check_results=[
                    dg.AssetCheckResult(check_name="rows_conserved", passed=True, metadata={"note": note}),
                    dg.AssetCheckResult(check_name="transactions_have_known_projects", passed=True),
                ],
            )
        shrunk = replace_unless_shrunk(conn, load, settings.policy().publish.shrunk_files)
    load.notes.extend(shrunk_file_message(file) for file in shrunk.itertuples())

    for note in load.notes:
        context.log.warning(note)
    audit = load.audit
    conserved = bool((audit["rows_read"] == audit["rows_accepted"] + audit["rows_rejected"]).all())
    unknown = load.unknown_project_credits
    unknown_sample = load.credits.loc[~load.credits["project_known"], "project_id"].value_counts().head(10)
    return dg.MaterializeResult(
        metadata={
            "snapshot": str(load.snapshot_dir),
            "rows_read": load.rows_read,
            "rows_accepted": int(audit["rows_accepted"].sum()),
            "rows_rejected": load.rows_rejected,
            "projects": len(load.projects),
            "credit_transactions": len(load.credits),
            "credits_with_unknown_project": unknown,
            "load_audit": markdown_table(audit.drop(columns=["file_sha256"])),
            "rejected_preview": markdown_table(load.rejected[["dataset", "source_line", "reason"]]),
            "projects_preview": markdown_table(load.projects[["project_id", "name", "status", "protocol", "activity"]]),
            "notes": dg.MetadataValue.md("\n".join(f"- {n}" for n in load.notes) or "_none_"),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="rows_conserved",
                passed=conserved,
                metadata={"files": markdown_table(audit.drop(columns=["file_sha256"]))},
            ),
            dg.AssetCheckResult(
                check_name="transactions_have_known_projects",
                passed=unknown == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "transactions_with_unknown_project": unknown,
                    "most_frequent_unknown_projects": markdown_table(
                        unknown_sample.rename("transactions").reset_index()
                    ),
                },
            ),
        ],
    )


WAREHOUSE_DESCRIPTIONS = {
    "projects": "One row per project across all registries (OffsetsDB/Berkeley ids such as VCS1234, GLD1234, "
    "ACR123, CAR123, ART123), with normalized status, country, protocol and nature-based activity: from the "
    "registry's own projects export where it lists the project, else from Berkeley's VROD (column source).",
    "credits": "One row per credit transaction (issuance, retirement, cancellation) with vintage, quantity, buffer "
    "contribution and the quality flags the registry exports (CCP label, CORSIA phase, corresponding adjustment).",
    "rejected_rows": "Every raw record that failed parsing or validation, with registry, file, line, the failed "
    "check(s) in plain words and the raw record.",
    "load_audit": "Row conservation per raw file: rows read = rows accepted + rows rejected.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name, deps=["registry_tables", "vrod_tables"], group_name="warehouse", description=text, kinds={"duckdb"}
        )
        for name, text in WAREHOUSE_DESCRIPTIONS.items()
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "projects_contract",
            asset="projects",
            blocking=True,
            description="projects passes its pandera contract (ProjectsSchema, checked in DuckDB on every row) "
            "across all registries: unique project_id, id convention, known statuses and activities.",
        ),
        dg.AssetCheckSpec(
            "credits_contract",
            asset="credits",
            blocking=True,
            description="credits passes its pandera contract (CreditsSchema, checked in DuckDB on every row): "
            "known transaction types, non-negative quantities, plausible vintages.",
        ),
        dg.AssetCheckSpec(
            "credits_with_unknown_project",
            asset="credits",
            description="Transactions whose project is missing from the projects export, per registry (warning).",
        ),
        dg.AssetCheckSpec(
            "rows_conserved",
            asset="load_audit",
            blocking=True,
            description="Every raw file's rows are accounted for: read = accepted + rejected.",
        ),
    ],
    can_subset=False,
)
def warehouse(context: dg.AssetExecutionContext, settings: PipelineSettings):
    """Defines the contract relations ``projects``, ``credits``, ``rejected_rows`` and ``load_audit`` in the
    working DuckDB as views over every registry's latest slice, then checks them whole against the pandera
    contract in DuckDB (every row of every registry; cross-registry rules such as a unique ``project_id``)."""
    with settings.work_db_connection() as conn:
        counts = build_warehouse(conn)
        failures = {table: contract_failures(conn, table) for table in ("projects", "credits")}

        def query(sql: str) -> pd.DataFrame:
            return conn.execute(sql).df()

        projects_by_registry = query("SELECT registry, count(*) AS projects FROM projects GROUP BY ALL ORDER BY ALL")
        nature_based = conn.execute("SELECT count_if(is_nature_based) FROM projects").fetchone()[0] or 0
        credits_by_type = query(
            "SELECT registry, transaction_type, count(*) AS size, sum(quantity) AS sum FROM credits "
            "GROUP BY ALL ORDER BY ALL"
        )
        unknown = query(
            "SELECT registry, count(*) AS transactions FROM credits WHERE NOT project_known GROUP BY ALL ORDER BY ALL"
        )
        rejected_by_registry = query(
            "SELECT registry, dataset, count(*) AS rejected FROM rejected_rows GROUP BY ALL ORDER BY ALL"
        )
        per_registry = query(
            "SELECT registry, sum(rows_read) AS rows_read, sum(rows_accepted) AS rows_accepted, "
            "sum(rows_rejected) AS rows_rejected FROM load_audit GROUP BY ALL ORDER BY ALL"
        )
        tables = {table: table_metadata(conn, table) for table in WAREHOUSE_DESCRIPTIONS}
        not_conserved = conn.execute(
            "SELECT count(*) FROM load_audit WHERE rows_read IS DISTINCT FROM rows_accepted + rows_rejected"
        ).fetchone()[0]

    yield dg.MaterializeResult(
        asset_key="projects",
        metadata={
            **tables["projects"],
            "dagster/row_count": counts["projects"],
            "by_registry": markdown_table(projects_by_registry),
            "nature_based": int(nature_based),
        },
    )
    yield dg.MaterializeResult(
        asset_key="credits",
        metadata={
            **tables["credits"],
            "dagster/row_count": counts["credits"],
            "by_registry_and_type": markdown_table(credits_by_type, 30),
        },
    )
    yield dg.MaterializeResult(
        asset_key="rejected_rows",
        metadata={
            **tables["rejected_rows"],
            "dagster/row_count": counts["rejected_rows"],
            "by_registry": markdown_table(rejected_by_registry, 30),
        },
    )
    yield dg.MaterializeResult(
        asset_key="load_audit",
        metadata={
            **tables["load_audit"],
            "dagster/row_count": counts["load_audit"],
            "rows_by_registry": markdown_table(per_registry),
        },
    )
    for table, check in (("projects", "projects_contract"), ("credits", "credits_contract")):
        cases = failures[table]
        yield dg.AssetCheckResult(
            asset_key=table,
            check_name=check,
            passed=cases.empty,
            metadata={
                "failed_checks": len(cases),
                "failing_rows": int(cases["failing_rows"].fillna(0).sum()),
                "failure_cases": markdown_table(cases),
            },
        )
    yield dg.AssetCheckResult(
        asset_key="credits",
        check_name="credits_with_unknown_project",
        passed=unknown.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "transactions_with_unknown_project": int(unknown["transactions"].sum()),
            "by_registry": markdown_table(unknown),
        },
    )
    yield dg.AssetCheckResult(
        asset_key="load_audit",
        check_name="rows_conserved",
        passed=not_conserved == 0,
        metadata={"files_not_conserved": int(not_conserved), "rows_by_registry": markdown_table(per_registry)},
    )
