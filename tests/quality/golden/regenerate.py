"""Rewrite the saved run the golden test compares with: ``python -m tests.quality.golden.regenerate``.

Step 1 (``--inputs``, or when they are missing): the bundled exports (``data/raw``) are ingested into a
temporary work DB and the credits and projects the engine reads are saved. Step 2: those inputs are scored
with the importable engine, the repository's reference tables and the pinned test policy, and the scores are
saved. Run it only when a change to the rubric, the reference tables or the policy defaults is intended,
and say so in the commit; a refactor must leave the saved scores as they are.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import duckdb
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]
CREDITS = HERE / "bundled_credits.parquet"
PROJECTS = HERE / "bundled_projects.parquet"
SCORES = HERE / "bundled_scores.parquet"


def save_inputs() -> None:
    from pipeline.ingest.load import load_registry
    from pipeline.ingest.warehouse import build_warehouse, replace_registry_slice
    from pipeline.registries import REGISTRY_KEYS

    with tempfile.TemporaryDirectory() as tmp, duckdb.connect(str(Path(tmp) / "work.duckdb")) as conn:
        for registry in REGISTRY_KEYS:
            load = load_registry(registry, REPO_ROOT / "data" / "raw")
            if load is not None:
                replace_registry_slice(conn, load)
        build_warehouse(conn)
        conn.execute(f"COPY (SELECT * FROM credits) TO '{CREDITS}' (FORMAT parquet)")
        conn.execute(
            f"COPY (SELECT * FROM projects WHERE project_id IN (SELECT project_id FROM credits)) "
            f"TO '{PROJECTS}' (FORMAT parquet)"
        )


def save_scores() -> None:
    from pipeline.quality.engine import score_project_vintages
    from pipeline.quality.reference import load_reference
    from tests.quality.builders import POLICY_VERSION, policy

    scores = score_project_vintages(
        pd.read_parquet(PROJECTS),
        pd.read_parquet(CREDITS),
        load_reference(REPO_ROOT / "data" / "reference"),
        policy(),
        POLICY_VERSION,
    )
    scores.to_parquet(SCORES, index=False)
    print(f"{len(scores)} scored project-vintages written to {SCORES}")


if __name__ == "__main__":
    if "--inputs" in sys.argv or not (CREDITS.exists() and PROJECTS.exists()):
        save_inputs()
    save_scores()
