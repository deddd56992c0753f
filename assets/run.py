"""Headless run of the whole pipeline (``make run``): every registry partition, then everything downstream.

It launches the code location's named jobs (``registry_refresh`` once per registry partition, then
``inventory_refresh``) in the instance at ``$DAGSTER_HOME`` (the Makefile points it at ``.dagster_home``).
Each run is recorded as the UI records its own launches, with the origin of its job in the ``workspace.yaml``
code location, so it shows on the Overview timeline under its job and "Re-execute" works on it (a run from
``dg.materialize`` is an ``__ephemeral_asset_job__`` run without an origin, which the UI cannot re-execute).
The steps run in this process, as with ``materialize``. One registry failing does not stop the others; the
exit code is non-zero if any run failed.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import yaml
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.execution.api import execute_run
from dagster._core.execution.execution_result import ExecutionResult
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.remote_representation.code_location import CodeLocation
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster_shared.error import SerializableErrorInfo

from assets.automation import inventory_refresh_job, registry_refresh_job
from assets.definitions import definitions
from assets.resources import PipelineSettings
from pipeline.registries import REGISTRY_KEYS
from pipeline.settings import REPO_ROOT
from pipeline.sql import relations

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
"""Step-by-step logs stay in the run history (make ui); the terminal gets warnings, failures and the summary."""

TAGS = {"source": "make run"}


@contextmanager
def workspace_location(instance: dg.DagsterInstance) -> Iterator[CodeLocation]:
    """The code location ``workspace.yaml`` declares (the one ``make ui`` serves), loaded in this process."""
    (entry,) = yaml.safe_load((REPO_ROOT / "workspace.yaml").read_text())["load_from"]
    module = entry["python_module"]
    origin = InProcessCodeLocationOrigin(
        loadable_target_origin=LoadableTargetOrigin(
            executable_path=sys.executable, module_name=module["module_name"], working_directory=str(REPO_ROOT)
        ),
        location_name=module["location_name"],
    )
    with origin.create_location(instance) as location:
        yield location


def launch(
    location: CodeLocation,
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    partition: str | None = None,
) -> ExecutionResult:
    """Run ``job`` (bound to this run's settings) in this process, recorded in ``instance`` as a run of the
    same-named job of ``location``."""
    (repository,) = location.get_repositories().values()
    origin = repository.get_full_job(job.name)
    run = instance.create_run_for_job(
        job_def=job,
        run_config=QUIET,
        tags={**job.run_tags, **TAGS, **({"dagster/partition": partition} if partition else {})},
        remote_job_origin=origin.get_remote_origin(),
        job_code_origin=origin.get_python_origin(),
    )
    return execute_run(InMemoryJob(job), run, instance)


def run_pipeline(settings: PipelineSettings, instance: dg.DagsterInstance) -> dict[str, bool]:
    """Run ``registry_refresh`` for each registry partition, then ``inventory_refresh``, as recorded runs of
    those jobs in ``instance``. Prints each failed asset check (errors and warnings) as it happens."""
    runs = [(registry, registry_refresh_job.name, registry) for registry in REGISTRY_KEYS]
    runs.append(("downstream", inventory_refresh_job.name, None))
    jobs = definitions(settings)
    outcome: dict[str, bool] = {}
    with workspace_location(instance) as location:
        for label, job_name, partition in runs:
            result = launch(location, jobs.resolve_job_def(job_name), instance, partition)
            outcome[label] = result.success
            _print_failed_checks(result, label)
            if not result.success:
                print(f"  {label}: FAILED: {_failure(result)}", file=sys.stderr)
    return outcome


def _print_failed_checks(result: ExecutionResult, run: str) -> None:
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


def _failure(result: ExecutionResult) -> str:
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
    """Rows per registry, rejected rows, inventory size (per registry and activity), the data's as-of dates per
    source, and where the files are."""
    paths = settings.paths
    source = paths.curated_db if paths.curated_db.exists() else paths.work_db
    lines = []
    with duckdb.connect(str(source), read_only=True) as conn:
        tables = relations(conn)
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
                   ELSE string_agg(DISTINCT registry || ' ' || coalesce(source_as_of::VARCHAR, '?'), ', '
                                   ORDER BY registry || ' ' || coalesce(source_as_of::VARCHAR, '?')) END
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
