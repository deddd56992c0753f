"""Verra ingest by the pandas reader (``pipeline.ingest.verra``) against the DuckDB SQL path
(``pipeline.ingest.verra_sql``) on the generated sets, for issue 16's decision (benchmarks/README.md).

Each run is a fresh subprocess that imports everything and loads the bundled Verra files first (lazy imports,
caches), then times two stages: the VCU export's reader alone (the part ported to SQL) and the whole Verra registry
load (``load_registry``: projects, transactions, union, validation). Runs of the two paths are interleaved; the table
shows the minimum of the runs (on a shared machine the minimum is the run least disturbed by others) of wall time,
CPU time (user + sys, every thread) and peak RSS.

    .venv/bin/python -m benchmarks.verra_paths --scales 10k,100k,1m --runs 5
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from benchmarks.generate import DATA_DIR, generate, is_current
from benchmarks.run import SCALES

PATHS = {"pandas": "pipeline.ingest.verra", "sql": "pipeline.ingest.verra_sql"}
STAGES = ("transactions", "registry")


def measure_once(path: str, raw_dir: Path) -> dict:
    """In this process: the reader and the registry load of ``path`` (a key of :data:`PATHS`) on ``raw_dir``."""
    import importlib

    from benchmarks.measure import REPO_ROOT, Stopwatch
    from pipeline.ingest import load

    module = importlib.import_module(PATHS[path])
    load.READER_MODULES["verra"] = PATHS[path]
    load.load_registry("verra", REPO_ROOT / "data" / "raw")  # warm-up: lazy imports, caches, pandera's schemas
    watch = Stopwatch()
    with watch.stage("transactions") as stage:
        stage["rows"] = len(module.read_transactions(raw_dir / "verra" / "transactions.csv").accepted)
    with watch.stage("registry") as stage:
        stage["rows"] = len(load.load_registry("verra", raw_dir).credits)
    return watch.stages


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="10k,100k,1m")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--one", nargs=2, metavar=("PATH", "RAW_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure_once(args.one[0], Path(args.one[1]))))
        return
    print("| scale | stage | path | wall s | CPU s | peak MiB | rows |")
    print("|---|---|---|---:|---:|---:|---:|")
    for name in args.scales.split(","):
        scale = SCALES[name]
        raw_dir = DATA_DIR / scale.name
        if not is_current(raw_dir, scale):
            generate(scale, raw_dir)
        runs: dict[str, list[dict]] = {path: [] for path in PATHS}
        for _ in range(args.runs):
            for path in PATHS:
                out = subprocess.run(
                    [sys.executable, "-m", "benchmarks.verra_paths", "--one", path, str(raw_dir)],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                runs[path].append(json.loads(out.splitlines()[-1]))
        for stage in STAGES:
            for path, results in runs.items():
                best = {key: min(r[stage][key] for r in results) for key in ("seconds", "cpu_seconds", "peak_mib")}
                rows = results[0][stage]["rows"]
                print(
                    f"| {name} | {stage} | {path} | {best['seconds']:.2f} | {best['cpu_seconds']:.2f} "
                    f"| {best['peak_mib']:.0f} | {rows:,} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
