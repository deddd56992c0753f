"""Headless run of the whole pipeline (``make run``): every registry partition, then everything downstream.

Runs are recorded in the instance at ``$DAGSTER_HOME`` (the Makefile points it at ``.dagster_home``), so they
show up in the UI's run history. One registry failing does not stop the others; the exit code is non-zero if
any run failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import dagster as dg
import duckdb

from assets.automation import DOWNSTREAM_ASSETS, REGISTRY_ASSETS
from assets.definitions import defs
from assets.resources import PipelineSettings
from pipeline.registries import REGISTRY_KEYS

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
"""Step-by-step logs stay in the run history (make ui); the terminal gets warnings, failures and the summary."""


def _materializable():
    return [*defs.assets, *(defs.asset_checks or [])]


def run_pipeline(settings: PipelineSettings, instance: dg.DagsterInstance) -> dict[str, bool]:
    """Materialize every asset: one run per registry partition, then one run for all downstream assets.
    Prints each failed asset check (errors and warnings) as it happens."""
    outcome: dict[str, bool] = {}
    resources = {**defs.resources, "settings": settings}
    for registry in REGISTRY_KEYS:
        result = dg.materialize(
            _materializable(),
            selection=REGISTRY_ASSETS,
            partition_key=registry,
            instance=instance,
            resources=resources,
            raise_on_error=False,
            tags={"source": "make run"},
            run_config=QUIET,
        )
        outcome[registry] = result.success
        _print_failed_checks(result, registry)
        if not result.success:
            print(f"  {registry}: FAILED: {_failure(result)}", file=sys.stderr)
    result = dg.materialize(
        _materializable(),
        selection=DOWNSTREAM_ASSETS,
        instance=instance,
        resources=resources,
        raise_on_error=False,
        tags={"source": "make run"},
        run_config=QUIET,
    )
    outcome["downstream"] = result.success
    _print_failed_checks(result, "downstream")
    if not result.success:
        print(f"  downstream: FAILED: {_failure(result)}", file=sys.stderr)
    return outcome


def _print_failed_checks(result: dg.ExecuteInProcessResult, run: str) -> None:
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            severity = "warning" if evaluation.severity == dg.AssetCheckSeverity.WARN else "ERROR"
            key = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            print(f"  {run}: check {key} {severity}", file=sys.stderr)


def _failure(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        data = event.step_failure_data if event.is_step_failure else None
        if data and data.user_failure_data and data.user_failure_data.description:
            return f"{event.step_key}: {data.user_failure_data.description}"
        if data and data.error:
            error = data.error.cause or data.error
            return f"{event.step_key}: {error.message.strip().splitlines()[-1]}"
    return "see the run in the Dagster UI"


def summary(settings: PipelineSettings) -> str:
    """Rows per registry, rejected rows, inventory size (per registry and activity), the data's as-of dates per
    source, and where the files are."""
    paths = settings.paths
    source = paths.curated_db if paths.curated_db.exists() else paths.work_db
    lines = []
    with duckdb.connect(str(source), read_only=True) as conn:
        tables = {name for (name,) in conn.execute("SELECT table_name FROM duckdb_tables() UNION "
                                                    "SELECT view_name FROM duckdb_views()").fetchall()}  # fmt: skip
        if "load_audit" in tables:
            lines.append(f"{'registry':<26}{'files':>6}{'rows read':>11}{'accepted':>10}{'rejected':>10}")
            for registry, files, read, accepted, rejected in conn.execute(
                "SELECT CASE WHEN dataset = 'vrod-projects' THEN 'berkeley-vrod' ELSE registry END AS source, "
                "count(DISTINCT file), sum(rows_read), sum(rows_accepted), sum(rows_rejected) "
                "FROM load_audit GROUP BY source ORDER BY source"
            ).fetchall():
                lines.append(f"{registry:<26}{files:>6}{read:>11,}{accepted:>10,}{rejected:>10,}")
        for table in ("projects", "credits", "rejected_rows", "quality_scores", "eligible_inventory"):
            if table in tables:
                count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                lines.append(f"{table:<26}{count:>10,} rows")
        if "eligible_inventory" in tables:
            tonnes = conn.execute("SELECT coalesce(sum(available_net), 0) FROM eligible_inventory").fetchone()[0]
            lines.append(f"{'eligible tonnes available':<26}{int(tonnes):>10,}")
            lines.append("eligible project-vintages and available tonnes by registry and activity:")
            for registry, activity, vintages, available in conn.execute(
                "SELECT registry, coalesce(activity, '-'), count(*), sum(available_net) FROM eligible_inventory "
                "GROUP BY ALL ORDER BY ALL"
            ).fetchall():
                lines.append(f"  {registry:<26}{activity:<8}{vintages:>8,}{int(available):>14,}")
        if "projects" in tables and "source" in _columns(conn, "projects"):
            for source, as_of in conn.execute(
                """SELECT source, CASE WHEN count(DISTINCT source_as_of) = 1 THEN any_value(source_as_of)::VARCHAR
                   ELSE string_agg(DISTINCT registry || ' ' || coalesce(source_as_of::VARCHAR, '?'), ', ') END
                   FROM projects GROUP BY ALL ORDER BY ALL"""
            ).fetchall():
                lines.append(f"data as of ({source}): {as_of}")
    lines.append(f"DuckDB for analysts: {paths.curated_db}" + ("" if paths.curated_db.exists() else " (not published)"))
    lines.append(f"Working DuckDB:      {paths.work_db}")
    report = paths.curated_dir / "report.html"
    if report.exists():
        lines.append(f"HTML report:         {report}")
    return "\n".join(lines)


def _columns(conn: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {row[0] for row in conn.execute(f"DESCRIBE {table}").fetchall()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--export-only", action="store_true", help="only export the published inventory")
    args = parser.parse_args(argv)
    settings = PipelineSettings.from_env()
    if args.export_only:
        from pipeline.publish.exports import export_inventory

        for path in export_inventory(Path(settings.curated_db)):
            print(f"wrote {path}")
        return 0
    if not os.environ.get("DAGSTER_HOME"):
        print("DAGSTER_HOME is not set; run through `make run` so run history persists", file=sys.stderr)
        return 2
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    instance = dg.DagsterInstance.get()
    print(f"Raw data: {settings.raw_dir}")
    outcome = run_pipeline(settings, instance)
    print(summary(settings))
    failed = [name for name, ok in outcome.items() if not ok]
    if failed:
        print(f"FAILED: {', '.join(failed)} (details in the Dagster UI: make ui)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
