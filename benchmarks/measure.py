"""One measurement in a fresh process: ``python benchmarks/measure.py <contender> <raw_dir> <scratch_dir>``.

Prints one JSON line: per stage the wall time, the CPU time (all threads; robust to a busy machine, above
the wall time when a library runs in parallel) and the process's peak RSS during that stage (Linux
``/proc/self/clear_refs`` resets the high-water mark between stages; elsewhere the peak is cumulative).
Runs as a plain script so the peer's own virtualenv can execute it: it imports only the standard library
at module level, and each contender imports what it measures.

Contenders: ``ours`` (this pipeline, stage by stage), ``peer`` (CarbonPlan offsets-db-data's
per-registry harmonization), and the floors ``duckdb``, ``pandas``, ``pyarrow`` (a bare ``read_csv`` of
every file, all columns materialized).
"""

from __future__ import annotations

import contextlib
import json
import resource
import sys
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


# -------------------------------------------------------------------------------------------------- ours


def _optional(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as missing:
        raise StageUnavailable(f"{module} not importable yet ({missing})") from None


def ours(raw_dir: Path, scratch: Path, watch: Stopwatch, stages: list | None = None) -> None:
    """This pipeline, stage by stage (default :data:`OUR_STAGES`), on a real work DuckDB file in ``scratch``; each
    stage is what the corresponding Dagster asset calls (see assets/), without Dagster's own overhead."""
    sys.path.insert(0, str(REPO_ROOT))
    import duckdb

    _import_pipeline()
    scratch.mkdir(parents=True, exist_ok=True)
    context = {"raw_dir": raw_dir, "scratch": scratch, "ledger_db": scratch / "ledger.duckdb"}
    with duckdb.connect(str(scratch / "pipeline.duckdb")) as conn:
        context["conn"] = conn
        for name, run in stages or OUR_STAGES:
            with watch.stage(name) as stage:
                stage["rows"] = run(context) or 0


def _import_pipeline() -> None:
    """Import every stage's modules before the clock starts, as the peer's are: imports are not the work."""
    import importlib

    for module in (
        "pipeline.ingest.load",  # every registry's reader
        "pipeline.warehouse",
        "pipeline.ingest.vrod",
        "pipeline.supply",
        "pipeline.quality.engine",
        "pipeline.quality.reference",
        "pipeline.inventory",
        "pipeline.publish.publish",
        "pipeline.policy",
    ):
        with contextlib.suppress(ImportError):  # a stage not there yet: reported n/a by the stage itself
            importlib.import_module(module)


def _ingest(registry: str) -> Callable[[dict], int]:
    def run(context: dict) -> int:
        from pipeline.ingest.load import load_registry
        from pipeline.warehouse import replace_registry_slice

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
    from pipeline.warehouse import build_warehouse, contract_failures

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
    inventory = _optional("pipeline.inventory")
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


OUR_STAGES: list[tuple[str, Callable[[dict], int]]] = [
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
    supply = _optional("pipeline.supply")
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
    ours(raw_dir, scratch, watch, MARKET_STAGES)


CONTENDERS = {
    "ours": ours,
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
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
