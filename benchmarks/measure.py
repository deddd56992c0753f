"""One measurement in a fresh process: ``python benchmarks/measure.py <contender> <raw_dir> <scratch_dir>``.

Prints one JSON line: per stage the wall time, the CPU time (all threads; robust to a busy machine, above
the wall time when a library runs in parallel) and the process's peak RSS during that stage (Linux
``/proc/self/clear_refs`` resets the high-water mark between stages; elsewhere the peak is cumulative).
Runs as a plain script so the peer's own virtualenv can execute it: it imports only the standard library
at module level, and each contender imports what it measures.

Contenders: ``make-run`` (what a user runs: ``python -m assets.run`` in a child process, timed from outside
as a whole, imports and Dagster included), ``engine`` (this pipeline's stages in this process, without
Dagster), ``peer`` (CarbonPlan offsets-db-data's per-registry harmonization), and the floors ``duckdb``,
``pandas``, ``pyarrow`` (a bare ``read_csv`` of every file, all columns materialized).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
REGISTRIES = ("verra", "gold-standard", "american-carbon-registry", "climate-action-reserve", "art-trees")


class StageUnavailable(Exception):
    """The stage's module is not there yet (being written in parallel): reported as n/a, not a failure."""


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class Stopwatch:
    """Stage timings and per-stage peak RSS, in order; a repeated stage name accumulates."""

    def __init__(self) -> None:
        self.stages: dict[str, dict] = {}
        self.parts: dict[str, float] = {}
        """A whole-process stage's wall time split into parts (they overlap no stage; reported apart)."""
        self.steps: list[dict] = []
        """A whole-process stage's Dagster steps: name, seconds, peak_mib (within the stage; reported apart)."""

    @contextmanager
    def stage(self, name: str):
        _reset_peak()
        started, cpu_started = time.perf_counter(), time.process_time()
        entry = self.stages.setdefault(
            name, {"name": name, "seconds": 0.0, "cpu_seconds": 0.0, "peak_mib": 0.0, "rows": 0}
        )
        try:
            yield entry
        except StageUnavailable as missing:
            entry.update(seconds=None, cpu_seconds=None, peak_mib=None, note=str(missing))
            return
        except Exception as failure:
            entry.update(
                seconds=None, cpu_seconds=None, peak_mib=None, note=f"failed: {type(failure).__name__}: {failure}"
            )
            raise
        if entry["seconds"] is not None:
            entry["seconds"] += time.perf_counter() - started
            entry["cpu_seconds"] += time.process_time() - cpu_started  # all threads of this process
            entry["peak_mib"] = max(entry["peak_mib"], _peak_mib())

    def record(self, name: str, seconds: float, cpu_seconds: float, peak_mib: float, rows: int) -> None:
        """A stage measured from outside this process (a child's wall time, CPU and peak)."""
        self.stages[name] = {"name": name, "seconds": seconds, "cpu_seconds": cpu_seconds, "peak_mib": peak_mib,
                             "rows": rows}  # fmt: skip


def csv_files(raw_dir: Path, registry: str) -> list[Path]:
    return sorted((raw_dir / registry).glob("*.csv"))


# ------------------------------------------------------------------------------------------------ floors


def floor_duckdb(raw_dir: Path, scratch: Path, watch: Stopwatch) -> None:
    import duckdb

    con = duckdb.connect()
    for registry in REGISTRIES:
        with watch.stage(registry) as stage:
            for path in csv_files(raw_dir, registry):
                escaped = str(path).replace("'", "''")
                con.execute(f"CREATE OR REPLACE TABLE t AS SELECT * FROM read_csv('{escaped}')")
                stage["rows"] += con.execute("SELECT count(*) FROM t").fetchone()[0]


def floor_pandas(raw_dir: Path, scratch: Path, watch: Stopwatch) -> None:
    import pandas as pd

    for registry in REGISTRIES:
        with watch.stage(registry) as stage:
            for path in csv_files(raw_dir, registry):
                stage["rows"] += len(pd.read_csv(path, low_memory=False))


def floor_pyarrow(raw_dir: Path, scratch: Path, watch: Stopwatch) -> None:
    from pyarrow import csv

    options = csv.ParseOptions(newlines_in_values=True)  # Gold Standard descriptions span lines
    for registry in REGISTRIES:
        with watch.stage(registry) as stage:
            for path in csv_files(raw_dir, registry):
                stage["rows"] += csv.read_csv(path, parse_options=options).num_rows


# -------------------------------------------------------------------------------------------------- peer


def peer(raw_dir: Path, scratch: Path, watch: Stopwatch) -> None:
    """CarbonPlan's offsets-db-data, as its own pipeline calls it: pandas read, then the per-registry
    ``process_*_credits`` per export file and ``process_*_projects`` with those credits."""
    import warnings

    import pandas as pd
    from offsets_db_data import apx, gld, vcs  # noqa: F401  (registers the DataFrame methods)

    warnings.simplefilter("ignore")
    for registry in REGISTRIES:
        with watch.stage(registry) as stage:
            folder = raw_dir / registry
            if registry == "verra":
                credits = pd.read_csv(folder / "transactions.csv").process_vcs_credits()
                projects = pd.read_csv(folder / "projects.csv").process_vcs_projects(credits=credits)
            elif registry == "gold-standard":
                credits = pd.concat(
                    pd.read_csv(folder / f"{d}.csv").process_gld_credits(download_type=d)
                    for d in ("issuances", "retirements")
                )
                projects = pd.read_csv(folder / "projects.csv").process_gld_projects(credits=credits)
            else:
                credits = pd.concat(
                    pd.read_csv(folder / f"{d}.csv").process_apx_credits(download_type=d, registry_name=registry)
                    for d in ("issuances", "retirements", "cancellations")
                    if (folder / f"{d}.csv").exists()
                )
                projects = pd.read_csv(folder / "projects.csv").process_apx_projects(
                    credits=credits, registry_name=registry
                )
            stage["rows"] = len(credits) + len(projects)


# ---------------------------------------------------------------------------------------------- make run


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux ``/proc/<pid>/task/<tid>/children``)."""
    pids = [pid]
    for parent in pids:  # grows while walked
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            with contextlib.suppress(OSError, ValueError):
                pids.extend(int(child) for child in children.read_text().split())
    return pids


def _pss_mib(pid: int) -> float:
    """Proportional set size: pages shared between processes (a child forked but not yet exec'd) count once."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    return 0.0


class TreeMemory(threading.Thread):
    """The summed PSS of a process and its descendants (Dagster's log tailers and orphan watchers), sampled every
    50 ms until :meth:`stop`: ``samples`` of (epoch seconds, MiB)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.samples, self._stopped = pid, [(time.time(), 0.0)], threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(0.05):
            self.samples.append((time.time(), sum(_pss_mib(p) for p in _process_tree(self.pid))))

    def stop(self) -> list[tuple[float, float]]:
        self._stopped.set()
        self.join()
        return self.samples


def make_run(raw_dir: Path, scratch: Path, watch: Stopwatch) -> None:
    """``make run`` as a user runs it: ``python -m assets.run`` in a fresh process on ``raw_dir``, with a fresh
    ``DAGSTER_HOME`` and curated/work files in ``scratch``. Wall time of the whole process (imports, Dagster, the
    summary), CPU (user + system) of the process and the children it waited for, and the peak memory of its process
    tree (the sampled PSS sum, or the main process's exact peak RSS if higher)."""
    home = scratch / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {name: value for name, value in os.environ.items() if not name.startswith("CREDIT_QUALITY_")}
    env.update(
        DAGSTER_HOME=str(home),
        CREDIT_QUALITY_RAW_DIR=str(raw_dir),
        CREDIT_QUALITY_CURATED_DB=str(scratch / "curated" / "inventory.duckdb"),
    )
    log = scratch / "make-run.log"
    with log.open("wb") as output:
        started_at, started = time.time(), time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "assets.run"], cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        sampler = TreeMemory(child.pid)
        sampler.start()
        _, status, usage = os.wait4(child.pid, 0)
        seconds, finished_at = time.perf_counter() - started, time.time()
        child.returncode = os.waitstatus_to_exitcode(status)
        memory = sampler.stop()
    if child.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(f"python -m assets.run exited {child.returncode}: {' / '.join(tail)}")
    rows = _published_rows(scratch / "curated" / "inventory.duckdb")
    peak = max(max(mib for _, mib in memory), usage.ru_maxrss / 1024)
    watch.record("make run", seconds, usage.ru_utime + usage.ru_stime, peak, rows)
    watch.parts, watch.steps = _where_the_time_went(home, started_at, finished_at, memory)


def _published_rows(curated_db: Path) -> int:
    """Credits + projects in the analyst file the run published (what the engine's warehouse stage counts)."""
    import duckdb

    with duckdb.connect(str(curated_db), read_only=True) as conn:
        return conn.execute("SELECT (SELECT count(*) FROM credits) + (SELECT count(*) FROM projects)").fetchone()[0]


def _where_the_time_went(
    dagster_home: Path, started_at: float, finished_at: float, memory: list[tuple[float, float]]
) -> tuple[dict[str, float], list[dict]]:
    """The process's wall time split by its Dagster run records (start-up before the first run is created, the
    steps' own time with their events, Dagster around the steps: creating, starting and closing each run, then
    the summary and exit), and each step's time (summed over the registry partitions) and peak sampled memory."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        records = instance.get_run_records()
        stats = [s for r in records for s in instance.get_run_step_stats(r.dagster_run.run_id) if s.end_time]
    steps: dict[str, dict] = {}
    for stat in sorted(stats, key=lambda s: s.start_time):
        step = steps.setdefault(stat.step_key, {"name": stat.step_key, "seconds": 0.0, "peak_mib": 0.0})
        step["seconds"] += stat.end_time - stat.start_time
        during = [mib for at, mib in memory if stat.start_time <= at <= stat.end_time]
        step["peak_mib"] = max(step["peak_mib"], *during) if during else step["peak_mib"]
    first = min(r.create_timestamp.timestamp() for r in records)
    last = max(r.end_time for r in records)
    in_steps = sum(step["seconds"] for step in steps.values())
    parts = {
        "runs": len(records),
        "start-up": first - started_at,
        "steps": in_steps,
        "around the steps": last - first - in_steps,
        "summary and exit": finished_at - last,
    }
    return parts, list(steps.values())


# ------------------------------------------------------------------------------------------------ engine


def _optional(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as missing:
        raise StageUnavailable(f"{module} not importable yet ({missing})") from None


def engine(raw_dir: Path, scratch: Path, watch: Stopwatch, stages: list | None = None) -> None:
    """This pipeline, stage by stage (default :data:`ENGINE_STAGES`), on a real work DuckDB file in ``scratch``;
    each stage is what the corresponding Dagster asset calls (see assets/), without Dagster's own overhead."""
    sys.path.insert(0, str(REPO_ROOT))
    import duckdb

    _import_pipeline()
    scratch.mkdir(parents=True, exist_ok=True)
    context = {"raw_dir": raw_dir, "scratch": scratch, "ledger_db": scratch / "ledger.duckdb"}
    with duckdb.connect(str(scratch / "pipeline.duckdb")) as conn:
        context["conn"] = conn
        for name, run in stages or ENGINE_STAGES:
            with watch.stage(name) as stage:
                stage["rows"] = run(context) or 0


def _import_pipeline() -> None:
    """Import every stage's modules before the clock starts, as the peer's are: imports are not the work."""
    import importlib

    for module in (
        "pipeline.ingest.load",  # every registry's reader
        "pipeline.ingest.warehouse",
        "pipeline.ingest.vrod",
        "pipeline.ingest.supply",
        "pipeline.quality.engine",
        "pipeline.quality.reference",
        "pipeline.inventory.inventory",
        "pipeline.publish.publish",
        "pipeline.policy",
    ):
        with contextlib.suppress(ImportError):  # a stage not there yet: reported n/a by the stage itself
            importlib.import_module(module)


def _ingest(registry: str) -> Callable[[dict], int]:
    def run(context: dict) -> int:
        from pipeline.ingest.load import load_registry
        from pipeline.ingest.warehouse import replace_registry_slice

        try:
            load = load_registry(registry, context["raw_dir"])
        except ModuleNotFoundError as missing:  # this registry's reader has not landed yet
            raise StageUnavailable(f"reader not there yet ({missing})") from None
        if load is None:
            return 0
        replace_registry_slice(context["conn"], load)
        return load.rows_read

    return run


def _warehouse(context: dict) -> int:
    """build_warehouse, then the whole-table contract validation the ``warehouse`` asset runs."""
    from pipeline.ingest.warehouse import build_warehouse, contract_failures

    counts = build_warehouse(context["conn"])
    for table in ("projects", "credits"):
        failures = contract_failures(context["conn"], table)
        if len(failures):
            raise RuntimeError(f"{table} fails its contract:\n{failures}")
    return counts["credits"] + counts["projects"]


def _score(context: dict) -> int:
    """What the ``quality_scores`` asset runs: score the warehouse tables in the work DB, write ``quality_scores``."""
    engine = _optional("pipeline.quality.engine")
    reference = _optional("pipeline.quality.reference")
    store = _optional("pipeline.quality.store")
    from pipeline.policy import load_policy

    conn = context["conn"]
    try:
        tables = reference.load_reference(REPO_ROOT / "data" / "reference")
    except reference.ReferenceError as missing:
        raise StageUnavailable(str(missing)) from None
    policy = load_policy(REPO_ROOT / "data" / "policy.yaml")
    scores = engine.score_warehouse(conn, tables, policy.scoring, policy.policy_version)
    store.write_quality_scores(conn, scores)
    return len(scores)


def _require_tables(conn, *tables: str) -> None:
    from pipeline.sql import relations

    present = relations(conn)
    missing = [t for t in tables if t not in present]
    if missing:
        raise StageUnavailable(f"needs {', '.join(missing)} from an earlier stage that is n/a")


def _inventory(context: dict) -> int:
    inventory = _optional("pipeline.inventory.inventory")
    _require_tables(context["conn"], "quality_scores")
    return inventory.write_eligible_inventory(context["conn"], context["ledger_db"])


def _publish(context: dict) -> int:
    """The analyst file: new DuckDB file, validated, swapped in (what the published_inventory asset runs)."""
    publish = _optional("pipeline.publish.publish")
    from pipeline.policy import load_policy
    from pipeline.settings import Paths

    _require_tables(context["conn"], "quality_scores", "eligible_inventory")
    scratch = context["scratch"]
    paths = Paths(
        raw_dir=context["raw_dir"],
        curated_db=scratch / "curated" / "inventory.duckdb",
        work_db=scratch / "pipeline.duckdb",
        ledger_db=context["ledger_db"],
        policy=REPO_ROOT / "data" / "policy.yaml",
        reference_dir=REPO_ROOT / "data" / "reference",
    )
    policy = load_policy(paths.policy)
    result = publish.publish_inventory(
        context["conn"], paths, policy.publish, policy_version=policy.policy_version, policy_sha256=policy.sha256
    )
    return sum(result.row_counts.values())


ENGINE_STAGES: list[tuple[str, Callable[[dict], int]]] = [
    *((f"ingest {registry}", _ingest(registry)) for registry in REGISTRIES),
    ("warehouse", _warehouse),
    ("score", _score),
    ("inventory", _inventory),
    ("publish", _publish),
]
"""Adding a stage is one line here (and its function above)."""


def _ingest_vrod(context: dict) -> int:
    """What the ``vrod_tables`` asset runs: read the VROD file of the raw folder, replace VROD's staging tables."""
    vrod = _optional("pipeline.ingest.vrod")
    supply = _optional("pipeline.ingest.supply")
    load = vrod.load_vrod(context["raw_dir"])
    supply.replace_vrod_slice(context["conn"], load)
    return 0 if load is None else load.rows_read


def _read_vrod_workbook(context: dict) -> int:
    """The same release as the native workbook (``<raw_dir>/../projects.xlsx``, written by benchmarks/run.py)."""
    vrod = _optional("pipeline.ingest.vrod")
    workbook = Path(context["raw_dir"]).parent / "projects.xlsx"
    if not workbook.is_file():
        raise StageUnavailable(f"{workbook} not written")
    return vrod.read_vrod(workbook).rows_read


MARKET_STAGES: list[tuple[str, Callable[[dict], int]]] = [
    ("read VROD native workbook (.xlsx)", _read_vrod_workbook),
    *((f"ingest {registry}", _ingest(registry)) for registry in REGISTRIES),
    ("ingest berkeley-vrod (.parquet)", _ingest_vrod),
    ("warehouse", _warehouse),
    ("score", _score),
    ("inventory", _inventory),
    ("publish", _publish),
]
"""The whole market: the bundled registry samples and Berkeley's VROD, as ``make run`` reads them."""


def market(raw_dir: Path, scratch: Path, watch: Stopwatch) -> None:
    """This pipeline on the default data set (registry samples + VROD v2025-12), stage by stage."""
    engine(raw_dir, scratch, watch, MARKET_STAGES)


CONTENDERS = {
    "make-run": make_run,
    "engine": engine,
    "market": market,
    "peer": peer,
    "duckdb": floor_duckdb,
    "pandas": floor_pandas,
    "pyarrow": floor_pyarrow,
}


def main(argv: list[str]) -> int:
    contender, raw_dir, scratch = argv[0], Path(argv[1]), Path(argv[2])
    watch = Stopwatch()
    result = {"contender": contender, "status": "ok"}
    report, sys.stdout = sys.stdout, sys.stderr  # libraries' progress prints must not corrupt the JSON line
    try:
        CONTENDERS[contender](raw_dir, scratch, watch)
    except Exception as failure:  # reported in the table, the other contenders still run
        result.update(status="failed", error=f"{type(failure).__name__}: {failure}", trace=traceback.format_exc())
    finally:
        sys.stdout = report
    result["stages"] = list(watch.stages.values())
    result["parts"], result["steps"] = watch.parts, watch.steps
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
