"""Headless run of the whole pipeline (``make run``): every registry partition, then everything downstream.

It launches the code location's named jobs (``registry_refresh`` once per registry partition, then
``inventory_refresh``) in the instance at ``$DAGSTER_HOME`` (the Makefile points it at ``.dagster_home``), so
the runs show in the UI's run history and on the Overview timeline under their job, and can be re-executed
from there. One registry failing does not stop the others; the exit code is non-zero if any run failed.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import dagster as dg
import duckdb
from dagster_shared.error import SerializableErrorInfo

from assets.automation import inventory_refresh_job, registry_refresh_job
from assets.definitions import defs
from assets.resources import PipelineSettings
from pipeline.registries import REGISTRY_KEYS
from pipeline.settings import REPO_ROOT

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
"""Step-by-step logs stay in the run history (make ui); the terminal gets warnings, failures and the summary."""

TAGS = {"source": "make run"}


def run_pipeline(settings: PipelineSettings, instance: dg.DagsterInstance) -> dict[str, bool]:
    """Run ``registry_refresh`` for each registry partition, then ``inventory_refresh``, as recorded runs of
    those jobs in ``instance``. Prints each failed asset check (errors and warnings) as it happens."""
    runs = [(registry, registry_refresh_job.name, registry) for registry in REGISTRY_KEYS]
    runs.append(("downstream", inventory_refresh_job.name, None))
    outcome: dict[str, bool] = {}
    for label, job_name, partition in runs:
        result = defs.resolve_job_def(job_name).execute_in_process(
            run_config=QUIET,
            instance=instance,
            partition_key=partition,
            resources={"settings": settings},
            raise_on_error=False,
            tags=TAGS,
        )
        outcome[label] = result.success
        _print_failed_checks(result, label)
        if not result.success:
            print(f"  {label}: FAILED: {_failure(result)}", file=sys.stderr)
    return outcome


def _print_failed_checks(result: dg.ExecuteInProcessResult, run: str) -> None:
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            severity = "warning" if evaluation.severity == dg.AssetCheckSeverity.WARN else "ERROR"
            key = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            print(f"  {run}: check {key} {severity}", file=sys.stderr)


_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<function>\S+)')


def _raised_at(error: SerializableErrorInfo) -> str | None:
    """``file:line in function`` of the innermost frame in this project's code, if the stack reaches it."""
    for frame in reversed(error.stack):
        match = _FRAME.search(frame)
        if match and Path(match["file"]).resolve().is_relative_to(REPO_ROOT) and ".venv" not in match["file"]:
            where = Path(match["file"]).resolve().relative_to(REPO_ROOT)
            return f"{where}:{match['line']} in {match['function']}"
    return None


def _failure(result: dg.ExecuteInProcessResult) -> str:
    """The first failed step's whole message (a DuckDB error's LINE and caret lines included) and, for an
    unexpected error, where in the project's code it was raised."""
    for event in result.all_events:
        data = event.step_failure_data if event.is_step_failure else None
        if data and data.user_failure_data and data.user_failure_data.description:
            return _indented(f"{event.step_key}: {data.user_failure_data.description}")
        if data and data.error:
            error = data.error.cause or data.error
            where = _raised_at(error)
            return _indented(
                f"{event.step_key}: {error.message.rstrip()}" + (f"\n(raised at {where})" if where else "")
            )
    return "see the run in the Dagster UI"


def _indented(message: str) -> str:
    first, *rest = message.strip("\n").splitlines()
    return "\n".join([first, *(f"    {line}" if line.strip() else "" for line in rest)])


def summary(settings: PipelineSettings) -> str:
    """Rows per registry, rejected rows, inventory size, and where the files are."""
    paths = settings.paths
    source = paths.curated_db if paths.curated_db.exists() else paths.work_db
    lines = []
    with duckdb.connect(str(source), read_only=True) as conn:
        tables = {name for (name,) in conn.execute("SELECT table_name FROM duckdb_tables() UNION "
                                                    "SELECT view_name FROM duckdb_views()").fetchall()}  # fmt: skip
        if "load_audit" in tables:
            lines.append(f"{'registry':<26}{'files':>6}{'rows read':>11}{'accepted':>10}{'rejected':>10}")
            for registry, files, read, accepted, rejected in conn.execute(
                "SELECT registry, count(*), sum(rows_read), sum(rows_accepted), sum(rows_rejected) "
                "FROM load_audit GROUP BY registry ORDER BY registry"
            ).fetchall():
                lines.append(f"{registry:<26}{files:>6}{read:>11,}{accepted:>10,}{rejected:>10,}")
        for table in ("projects", "credits", "rejected_rows", "quality_scores", "eligible_inventory"):
            if table in tables:
                count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                lines.append(f"{table:<26}{count:>10,} rows")
        if "eligible_inventory" in tables:
            tonnes = conn.execute("SELECT coalesce(sum(available_net), 0) FROM eligible_inventory").fetchone()[0]
            lines.append(f"{'eligible tonnes available':<26}{int(tonnes):>10,}")
    lines.append(f"DuckDB for analysts: {paths.curated_db}" + ("" if paths.curated_db.exists() else " (not published)"))
    lines.append(f"Working DuckDB:      {paths.work_db}")
    report = paths.curated_dir / "report.html"
    if report.exists():
        lines.append(f"HTML report:         {report}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    settings = PipelineSettings.from_env()
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
