"""Benchmark our pipeline beside the peer (CarbonPlan offsets-db-data) and the I/O floor, on the same files.

    python -m benchmarks.run                      # 10k, 100k and 1M transactions, 3 runs each (make bench)
    python -m benchmarks.run --scales 10k,100k --runs 3

For each scale: generate the five-registry raw set (benchmarks/generate.py, cached in benchmarks/.data),
then, run by run, measure every contender in a fresh subprocess (benchmarks/measure.py): ``make run`` as a
user runs it (the whole process), the engine stage by stage, the peer's per-registry harmonization in its own
virtualenv (benchmarks/.peer-venv, installed from the package registry on first use), and DuckDB's, pandas'
and pyarrow's bare ``read_csv``. Prints the medians, the ratios and the targets met and writes them, with the
machine's cores and memory, to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from benchmarks.generate import DATA_DIR, Scale, generate, is_current

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
MEASURE = BENCH_DIR / "measure.py"
PEER_VENV = BENCH_DIR / ".peer-venv"
PEER_REQUIREMENT = "offsets-db-data==2026.5.6"
RESULTS = BENCH_DIR / "RESULTS.md"
MARKET_DIR = DATA_DIR / "market"
MARKET_HEADING = "## The whole market: registry samples + Berkeley VROD v2025-12"

SCALES = {
    "10k": Scale(projects=200, transactions=10_000),
    "100k": Scale(projects=2_000, transactions=100_000),
    "1m": Scale(projects=20_000, transactions=1_000_000),
}
FLOORS = ("duckdb", "pandas", "pyarrow")
OURS = ("make-run", "engine")
"""What a user runs (``python -m assets.run``, Dagster included) and the engine's stages without Dagster."""
CONTENDERS = (*OURS, "peer", *FLOORS)

# Targets from issue 16: on the largest scale measured (1M), and no slower than the peer on the smallest (10k).
TARGET_PEER_RATIO = 0.25
TARGET_DUCKDB_RATIO = 2.5
TARGET_PEAK_MIB = 1.5e9 / 2**20  # 1.5 GB
TARGET_SMALL_PEER_RATIO = 1.0
TARGET_SCALING = 11.0  # issue 7: 10x the data, at most 11x the time


@dataclass
class Measurement:
    """All runs of one contender at one scale."""

    contender: str
    runs: list[dict] = field(default_factory=list)

    @property
    def failures(self) -> list[str]:
        return [r["error"] for r in self.runs if r["status"] != "ok"]

    @property
    def ok(self) -> bool:
        return bool(self.runs) and not self.failures

    def stage_names(self) -> list[str]:
        return [s["name"] for s in self.runs[0]["stages"]] if self.runs else []

    def stage_seconds(self, name: str) -> float | None:
        values = [s["seconds"] for r in self.runs for s in r["stages"] if s["name"] == name]
        return statistics.median(values) if values and None not in values else None

    def stage_peak(self, name: str) -> float | None:
        values = [s["peak_mib"] for r in self.runs for s in r["stages"] if s["name"] == name]
        return statistics.median(values) if values and None not in values else None

    def stage_note(self, name: str) -> str:
        return next((s.get("note", "") for r in self.runs for s in r["stages"] if s["name"] == name), "")

    @property
    def seconds(self) -> float | None:
        """Median over runs of the summed measured stages."""
        if not self.ok:
            return None
        totals = [sum(s["seconds"] for s in r["stages"] if s["seconds"] is not None) for r in self.runs]
        return statistics.median(totals)

    @property
    def cpu_seconds(self) -> float | None:
        if not self.ok:
            return None
        totals = [sum(s.get("cpu_seconds") or 0 for s in r["stages"]) for r in self.runs]
        return statistics.median(totals)

    @property
    def peak_mib(self) -> float | None:
        if not self.ok:
            return None
        peaks = [max((s["peak_mib"] or 0) for s in r["stages"]) for r in self.runs]
        return statistics.median(peaks)

    @property
    def missing_stages(self) -> list[str]:
        return [n for n in self.stage_names() if self.stage_seconds(n) is None]

    def part(self, name: str) -> float | None:
        """Median over runs of one part of a whole-process stage (``make-run``: start-up, steps ...)."""
        values = [r["parts"][name] for r in self.runs if name in r.get("parts", {})]
        return statistics.median(values) if values and self.ok else None

    def step_names(self) -> list[str]:
        """The Dagster steps a whole-process stage ran (``make-run``), in the order of its first run."""
        return [step["name"] for step in self.runs[0].get("steps", [])] if self.ok else []

    def step(self, name: str) -> tuple[float, float] | None:
        """Median seconds and median peak MiB over runs of one Dagster step."""
        found = [s for r in self.runs for s in r.get("steps", []) if s["name"] == name]
        if not found or not self.ok:
            return None
        return statistics.median(s["seconds"] for s in found), statistics.median(s["peak_mib"] for s in found)


# --------------------------------------------------------------------------------------------- running


def peer_python(install: bool) -> tuple[Path | None, str]:
    """The peer's interpreter, creating its virtualenv from the package registry if asked; else a reason."""
    python = PEER_VENV / "bin" / "python"
    if not python.exists() and install:
        print(f"installing {PEER_REQUIREMENT} into {PEER_VENV} (package registry) ...", flush=True)
        created = subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], capture_output=True, text=True)
        installed = created.returncode == 0 and subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", PEER_REQUIREMENT], capture_output=True, text=True
        )
        if not installed or installed.returncode != 0:
            shutil.rmtree(PEER_VENV, ignore_errors=True)
            detail = (installed.stderr if installed else created.stderr).strip().splitlines()[-1:]
            return None, f"could not install {PEER_REQUIREMENT}: {' '.join(detail)}"
    if not python.exists():
        return None, f"{PEER_VENV} absent (run without --no-peer-install to create it)"
    return python, ""


def measure_once(python: Path, contender: str, raw_dir: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"bench-{contender}-") as scratch:
        done = subprocess.run(
            [str(python), str(MEASURE), contender, str(raw_dir), scratch],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
        )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = " ".join(done.stderr.strip().splitlines()[-3:])
        return {"contender": contender, "status": "failed", "error": f"exit {done.returncode}: {tail}", "stages": []}
    return json.loads(lines[-1])


def run_scale(raw_dir: Path, runs: int, contenders: dict[str, Path]) -> dict[str, Measurement]:
    """Runs interleave the contenders (run 1 of each, then run 2 ...) so drift hits them alike."""
    results = {name: Measurement(name) for name in contenders}
    for run in range(1, runs + 1):
        for name, python in contenders.items():
            outcome = measure_once(python, name, raw_dir)
            results[name].runs.append(outcome)
            total = sum(s["seconds"] or 0 for s in outcome["stages"])
            status = "" if outcome["status"] == "ok" else f"  FAILED: {outcome['error'][:200]}"
            print(f"  run {run}/{runs} {name:8s} {total:8.2f} s{status}", flush=True)
    return results


# ------------------------------------------------------------------------------------------- reporting


def machine() -> dict[str, str]:
    memory = (
        next(
            (
                int(line.split()[1]) * 1024
                for line in Path("/proc/meminfo").read_text().splitlines()
                if "MemTotal" in line
            ),
            0,
        )
        if Path("/proc/meminfo").exists()
        else 0
    )
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    ) if Path("/proc/cpuinfo").exists() else platform.processor()  # fmt: skip
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cores": f"{usable} usable ({os.cpu_count()} logical)",
        "memory": f"{memory / 2**30:.1f} GiB",
        "cpu": cpu or "unknown",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        # Other processes on the machine inflate every contender alike; a high load makes the run noisy.
        "load average at report time": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def versions(peer: Path | None) -> str:
    ours = ", ".join(f"{p} {metadata.version(p)}" for p in ("pandas", "pandera", "duckdb", "pyarrow", "numpy"))
    if peer is None:
        return ours
    query = "import importlib.metadata as m; print(m.version('offsets-db-data'), m.version('pandas'))"
    got = subprocess.run([str(peer), "-c", query], capture_output=True, text=True).stdout.split()
    return f"{ours}; peer: offsets-db-data {got[0]} (pandas {got[1]})" if len(got) == 2 else ours


def fmt_seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def fmt_ratio(numerator: float | None, denominator: float | None) -> str:
    return "n/a" if numerator is None or not denominator else f"{numerator / denominator:.2f}x"


def data_summary(raw_dir: Path) -> tuple[int, int]:
    files = list(raw_dir.rglob("*.csv"))
    return sum(f.stat().st_size for f in files), len(files)


def report(
    results: dict[str, dict[str, Measurement]],
    scales: dict[str, Scale],
    data: dict[str, Path],
    runs: int,
    peer_note: str,
    peer: Path | None,
    market: Measurement | None = None,
) -> str:
    lines = [
        "# Benchmarks: our pipeline beside the peer and the I/O floor",
        "",
        f"Generated by `make bench` (`python -m benchmarks.run`) on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"commit `{git_commit()}`. Medians of {runs} runs; each run of each contender is a fresh process, the "
        "contenders interleaved. `make-run` is timed from outside as a whole process (imports and Dagster "
        "included; CPU of the process and its children, peak memory of its process tree); the others are timed "
        "inside their process (imports excluded; CPU = user+system over all threads, memory = peak RSS).",
        "",
        "| Machine | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in machine().items()),
        f"| libraries | {versions(peer)} |",
        "",
        "Data: `benchmarks/generate.py` (seeded, native formats, values resampled from the bundled real exports).",
        "",
        "| scale | projects | transactions | CSV files | CSV size |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, raw_dir in data.items():
        size, files = data_summary(raw_dir)
        scale = scales[name]
        lines.append(f"| {name} | {scale.projects:,} | {scale.transactions:,} | {files} | {size / 2**20:.0f} MiB |")
    lines += [
        "",
        "## Whole run per contender",
        "",
        "`make-run` = `python -m assets.run` (what `make run` runs) on the scale's raw folder "
        "(`CREDIT_QUALITY_RAW_DIR`), with a fresh `DAGSTER_HOME` and curated/work files in a temporary folder: "
        "every Dagster run and asset (VROD, buyers, report, exports too; those with no input file skip). "
        "`engine` = the same pipeline's stages called directly, without Dagster: read + harmonize + validate "
        "every registry, store in the work DuckDB, warehouse union and contract checks, score, inventory, "
        "publish (see the stage table). "
        "`peer` = offsets-db-data: pandas `read_csv` + `process_*_credits` + `process_*_projects` per registry. "
        "Floors: a bare `read_csv` of every file (DuckDB into a table, pandas, pyarrow). "
        "The last two columns are each of ours divided by this contender (wall time).",
        "",
        "| scale | contender | time (s) | CPU (s) | peak memory (MiB) | make-run / this | engine / this |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for scale, measurements in results.items():
        for name, m in measurements.items():
            peak = "n/a" if m.peak_mib is None else f"{m.peak_mib:,.0f}"
            ratios = " | ".join(
                "" if name == ours or ours not in measurements else fmt_ratio(measurements[ours].seconds, m.seconds)
                for ours in OURS
            )
            note = f" (failed: {m.failures[0][:80]})" if m.failures else ""
            times = f"{fmt_seconds(m.seconds)} | {fmt_seconds(m.cpu_seconds)}"
            lines.append(f"| {scale} | {name}{note} | {times} | {peak} | {ratios} |")
    lines += make_run_parts(results)
    lines += ["", "## Engine stages (median seconds / peak RSS MiB)", ""]
    stage_names = next((m["engine"].stage_names() for m in results.values() if "engine" in m and m["engine"].runs), [])
    lines += [
        "| stage | " + " | ".join(results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    notes = {}
    for stage in stage_names:
        cells = []
        for scale in results:
            m = results[scale].get("engine")
            seconds, peak = (m.stage_seconds(stage), m.stage_peak(stage)) if m else (None, None)
            cells.append("n/a" if seconds is None else f"{seconds:.2f} s / {peak:,.0f}")
            if seconds is None and m and m.stage_note(stage):
                notes[stage] = m.stage_note(stage)
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    if notes:
        lines += ["", *(f"- `{stage}` n/a: {note}" for stage, note in notes.items())]
    if peer_note:
        lines += ["", f"- peer n/a: {peer_note}"]
    lines += ["", "## Targets (issue 16)", "", *targets(results, scales)]
    if market is not None:
        lines += ["", *market_report(market)]
    return "\n".join(lines) + "\n"


def market_report(m: Measurement) -> list[str]:
    """The whole market: what ``make run`` reads (the bundled registry samples and Berkeley's VROD v2025-12)."""
    lines = [
        f"{MARKET_HEADING} (issue 13)",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, commit `{git_commit()}`, median of {len(m.runs)} "
        "run(s).",
        "",
        "`make run`'s default data (`data/raw`: the registry samples and `berkeley-vrod/projects.parquet`, 10,975 "
        "projects), stage by stage as the assets run them, plus the same release read as a native workbook "
        "(`benchmarks/vrod_workbook.py`; not part of the run). Median seconds / peak RSS MiB.",
        "",
        "| stage | time (s) | peak RSS (MiB) |",
        "|---|---:|---:|",
    ]
    for stage in m.stage_names():
        seconds, peak = m.stage_seconds(stage), m.stage_peak(stage)
        lines.append(f"| {stage} | {fmt_seconds(seconds)} | {'n/a' if peak is None else f'{peak:,.0f}'} |")
    read_only = m.stage_seconds("read VROD native workbook (.xlsx)") or 0
    total = None if m.seconds is None else m.seconds - read_only
    lines += [
        "",
        f"Whole market run (without the workbook read): {fmt_seconds(total)} s, peak {m.peak_mib or 0:,.0f} MiB.",
    ]
    if m.failures:
        lines.append(f"- failed: {m.failures[0][:200]}")
    return lines


def prepare_market(target: Path = MARKET_DIR) -> Path:
    """A copy of the default data set (``data/raw``) and, beside it, its VROD release as a native workbook."""
    raw = target / "raw"
    shutil.rmtree(raw, ignore_errors=True)
    shutil.copytree(REPO_ROOT / "data" / "raw", raw)
    release = raw / "berkeley-vrod" / "projects.parquet"
    workbook = target / "projects.xlsx"
    if not workbook.is_file() or workbook.stat().st_mtime < release.stat().st_mtime:
        import pandas as pd

        from benchmarks.vrod_workbook import write_native_workbook

        print(f"writing {workbook} ...", flush=True)
        write_native_workbook(pd.read_parquet(release), workbook)
    return raw


def make_run_parts(results: dict[str, dict[str, Measurement]]) -> list[str]:
    """Where ``make run``'s wall time goes, from the Dagster run records of each measured process (medians)."""
    measured = {scale: m["make-run"] for scale, m in results.items() if "make-run" in m and m["make-run"].ok}
    if not measured:
        return []
    parts = {
        "start-up": "start-up: imports, instance, code location (process start -> first run created)",
        "steps": "the assets' steps (their own events included)",
        "around the steps": "Dagster around the steps: creating, planning, starting and closing each run",
        "summary and exit": "summary and exit (last run ended -> process exit)",
    }
    runs = {m.part("runs") for m in measured.values()}
    lines = [
        "",
        f"`make-run`'s wall time, split by its Dagster run records ({', '.join(f'{r:.0f}' for r in runs)} runs; "
        "median seconds):",
        "",
        "| part | " + " | ".join(measured) + " |",
        "|---|" + "---:|" * len(measured),
    ]
    for key, label in parts.items():
        lines.append(f"| {label} | " + " | ".join(fmt_seconds(m.part(key)) for m in measured.values()) + " |")
    lines += [
        "",
        "Its Dagster steps (median seconds / peak memory MiB sampled during the step; the registry steps summed "
        "over their partitions):",
        "",
        "| step | " + " | ".join(measured) + " |",
        "|---|" + "---:|" * len(measured),
    ]
    for name in next(iter(measured.values())).step_names():
        cells = [m.step(name) for m in measured.values()]
        lines.append(
            f"| {name} | " + " | ".join("n/a" if c is None else f"{c[0]:.2f} s / {c[1]:,.0f}" for c in cells) + " |"
        )
    return lines


def targets(results: dict[str, dict[str, Measurement]], scales: dict[str, Scale]) -> list[str]:
    """Each target of issue 16, met or not, from the measured medians: ``make-run`` (what a user runs) and the
    engine, at the largest scale measured (the targets are set for 1M) and at the smallest (10k)."""
    largest, smallest = list(results)[-1], list(results)[0]

    def ratio(contender: str, scale: str, other: str) -> float | None:
        ours, them = results[scale].get(contender), results[scale].get(other)
        return ours.seconds / them.seconds if ours and them and ours.seconds and them.seconds else None

    def peak(contender: str, scale: str) -> float | None:
        m = results[scale].get(contender)
        return m.peak_mib if m else None

    # label, a contender's measured figure, its limit: a time ratio (at most) or a peak in MiB (below)
    checks = [
        (f"{largest}: time <= {TARGET_PEER_RATIO}x the peer's", lambda c: ratio(c, largest, "peer"),
         TARGET_PEER_RATIO, "x"),
        (f"{largest}: time <= {TARGET_DUCKDB_RATIO}x DuckDB's bare read", lambda c: ratio(c, largest, "duckdb"),
         TARGET_DUCKDB_RATIO, "x"),
        (f"{largest}: peak memory < 1.5 GB ({TARGET_PEAK_MIB:,.0f} MiB)", lambda c: peak(c, largest),
         TARGET_PEAK_MIB, "MiB"),
        (f"{smallest}: no slower than the peer", lambda c: ratio(c, smallest, "peer"), TARGET_SMALL_PEER_RATIO,
         "x"),
    ]  # fmt: skip

    def cell(value: float | None, limit: float, unit: str) -> str:
        if value is None:
            return "n/a"
        met = value < limit if unit == "MiB" else value <= limit
        shown = f"{value:,.0f} MiB" if unit == "MiB" else f"{value:.2f}x"
        return f"{shown}: {'met' if met else '**not met**'}"

    lines = [
        "Written by the run from the medians above (wall time): the 1M targets assessed at the largest scale "
        f"measured ({largest}), the 10k target at the smallest ({smallest}).",
        "",
        "| target | " + " | ".join(OURS) + " |",
        "|---|" + "---|" * len(OURS),
        *(
            f"| {label} | " + " | ".join(cell(figure(c), limit, unit) for c in OURS) + " |"
            for label, figure, limit, unit in checks
        ),
    ]
    notes = []
    for contender in OURS:
        m = results[largest].get(contender)
        if m and m.missing_stages:
            notes.append(f"- {contender} is partial at {largest}: stages n/a ({', '.join(m.missing_stages)}).")
    completed = [s for s in results if results[s].get("engine") and results[s]["engine"].seconds]
    for small, large in zip(completed, completed[1:], strict=False):
        data_ratio = scales[large].transactions / scales[small].transactions
        time_ratio = results[large]["engine"].seconds / results[small]["engine"].seconds
        limit = TARGET_SCALING * data_ratio / 10
        verdict = "met" if time_ratio <= limit else "**not met**"
        notes.append(
            f"- engine scaling {small} -> {large} ({data_ratio:.0f}x data; issue 7): {time_ratio:.1f}x time "
            f"(target <= {limit:.0f}x): {verdict}"
        )
    return lines + ([""] + notes if notes else [])


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO_ROOT)
    return done.stdout.strip() or "unknown"


# ---------------------------------------------------------------------------------------------------- main


def benchmark(
    scales: dict[str, Scale],
    runs: int,
    contenders: tuple[str, ...] = CONTENDERS,
    install_peer: bool = True,
    data_dir: Path = DATA_DIR,
    results_path: Path | None = RESULTS,
    market: bool = False,
) -> dict[str, dict[str, Measurement]]:
    """Generate (or reuse) each scale's data, measure every contender (and the whole market on the default data),
    print and write the report."""
    pythons = {name: Path(sys.executable) for name in contenders}
    peer, peer_note = (None, "")
    if "peer" in contenders:
        peer, peer_note = peer_python(install_peer)
        if peer is None:
            del pythons["peer"]
            print(f"peer n/a: {peer_note}")
        else:
            pythons["peer"] = peer
    results, data = {}, {}
    for name, scale in scales.items():
        raw_dir = data_dir / scale.name
        if not is_current(raw_dir, scale):
            print(f"generating {name}: {scale.projects:,} projects, {scale.transactions:,} transactions ...")
            generate(scale, raw_dir)
        data[name] = raw_dir
        print(f"scale {name} ({raw_dir})", flush=True)
        results[name] = run_scale(raw_dir, runs, pythons)
    market_runs = None
    if market:
        print("the whole market (default data + VROD)", flush=True)
        market_runs = run_scale(prepare_market(), runs, {"market": Path(sys.executable)})["market"]
    text = report(results, scales, data, runs, peer_note, peer, market_runs)
    print(text)
    if results_path is not None:
        results_path.write_text(text, encoding="utf-8")
        print(f"wrote {results_path}")
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="10k,100k,1m", help=f"comma-separated, from {', '.join(SCALES)}")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--no-peer-install", action="store_true", help="never create benchmarks/.peer-venv")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--no-market", action="store_true", help="skip the whole-market run on the default data")
    parser.add_argument(
        "--market-only", action="store_true", help="measure only the whole market; replace its section of --output"
    )
    args = parser.parse_args(argv)
    if args.market_only:
        measured = run_scale(prepare_market(), args.runs, {"market": Path(sys.executable)})["market"]
        section = "\n".join(market_report(measured)) + "\n"
        print(section)
        text = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        kept = text.split(MARKET_HEADING)[0].rstrip("\n")
        args.output.write_text((kept + "\n\n" if kept else "") + section, encoding="utf-8")
        return
    unknown = [s for s in args.scales.split(",") if s not in SCALES]
    if unknown:
        parser.error(f"unknown scale(s) {unknown}; choose from {', '.join(SCALES)}")
    benchmark(
        {s: SCALES[s] for s in args.scales.split(",")},
        args.runs,
        tuple(args.contenders.split(",")),
        install_peer=not args.no_peer_install,
        results_path=args.output,
        market=not args.no_market,
    )


if __name__ == "__main__":
    main()
