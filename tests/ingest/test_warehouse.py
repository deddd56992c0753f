"""The warehouse relations over the staging slices, on the bundled real registry exports."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import pytest

from pipeline.ingest.load import RegistryLoad, load_registry
from pipeline.ingest.warehouse import (
    SLICE_ORDER,
    WAREHOUSE_TABLES,
    build_warehouse,
    clear_registry_slice,
    contract_failures,
    replace_registry_slice,
)
from tests.conftest import BUNDLED_RAW

REGISTRIES = ("verra", "gold-standard", "american-carbon-registry", "climate-action-reserve", "art-trees")


@pytest.fixture(scope="module")
def loads() -> dict[str, RegistryLoad]:
    return {registry: load_registry(registry, BUNDLED_RAW) for registry in REGISTRIES}


def built(path: Path, loads: dict[str, RegistryLoad]) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(str(path))
    for load in loads.values():
        replace_registry_slice(conn, load)
    build_warehouse(conn)
    return conn


def relation_kind(conn: duckdb.DuckDBPyConnection, name: str) -> str | None:
    row = conn.execute(
        "SELECT 'table' FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = $n "
        "UNION ALL SELECT 'view' FROM duckdb_views() WHERE schema_name = 'main' AND view_name = $n",
        {"n": name},
    ).fetchone()
    return row[0] if row else None


def test_relations_scan_in_warehouse_order_with_every_slice_row(tmp_path, loads):
    with built(tmp_path / "work.duckdb", loads) as conn:
        for table in WAREHOUSE_TABLES:
            keys = ", ".join(["registry", *SLICE_ORDER[table]])
            scanned = conn.execute(f"SELECT {keys} FROM {table}").fetchall()
            ordered = conn.execute(f"SELECT {keys} FROM {table} ORDER BY {keys}").fetchall()
            assert scanned == ordered, f"a plain scan of {table} must return rows in ({keys}) order"
            expected = sum(len(frame) for frame in (_frame(load, table) for load in loads.values()))
            assert len(scanned) == expected, f"{table} must hold every row of every registry's slice"
        registries = {r for (r,) in conn.execute("SELECT DISTINCT registry FROM credits").fetchall()}
        assert len(registries) >= 4, f"the bundled data has credits from four registries, got {registries}"
        assert relation_kind(conn, "credits") == "view", "credits must be a view over the slices, not a copy"
        for table in ("projects", "credits"):
            failures = contract_failures(conn, table)
            assert failures.empty, f"bundled {table} must pass its contract through the view:\n{failures}"


def _frame(load: RegistryLoad, table: str):
    return {"projects": load.projects, "credits": load.credits, "rejected_rows": load.rejected,
            "load_audit": load.audit}[table]  # fmt: skip


def test_arrow_backed_text_columns_store_the_same_slice_as_python_strings(tmp_path, loads):
    load = loads["climate-action-reserve"]

    def arrow_backed(frame):
        text = [c for c in frame.columns if str(frame[c].dtype) in ("string", "object")]
        return frame.astype({c: "string[pyarrow]" for c in text})

    arrow = dataclasses.replace(load, projects=arrow_backed(load.projects), credits=arrow_backed(load.credits))
    assert str(arrow.credits["project_id"].dtype) == "string", "the copy must really be Arrow-backed"
    with duckdb.connect(str(tmp_path / "a.duckdb")) as a, duckdb.connect(str(tmp_path / "b.duckdb")) as b:
        replace_registry_slice(a, load)
        replace_registry_slice(b, arrow)
        for table in ("projects", "credits"):
            name = f"staging.{table}_climate_action_reserve"
            columns = "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index"
            slice_name = name.split(".")[1]
            assert a.execute(columns, [slice_name]).fetchall() == b.execute(columns, [slice_name]).fetchall(), (
                f"{name}: Arrow-backed and Python-string frames must give the same column types"
            )
            assert a.execute(f"SELECT * FROM {name}").fetchall() == b.execute(f"SELECT * FROM {name}").fetchall(), (
                f"{name}: Arrow-backed and Python-string frames must store the same rows in the same order"
            )


def test_clearing_a_registry_redefines_the_views_over_the_remaining_slices(tmp_path, loads):
    with built(tmp_path / "work.duckdb", loads) as conn:
        before = conn.execute("SELECT count(*) FROM credits WHERE registry <> 'art-trees'").fetchone()[0]
        assert clear_registry_slice(conn, "art-trees"), "art-trees had a slice to clear"
        registries = {r for (r,) in conn.execute("SELECT DISTINCT registry FROM projects").fetchall()}
        assert "art-trees" not in registries, "a cleared registry must leave the views at once"
        after = conn.execute("SELECT count(*) FROM credits").fetchone()[0]
        assert after == before, "the other registries' credits must stay readable and complete"


def test_empty_and_legacy_warehouses_get_the_contract_relations(tmp_path, loads):
    with duckdb.connect(str(tmp_path / "work.duckdb")) as conn:
        counts = build_warehouse(conn)
        assert counts == dict.fromkeys(WAREHOUSE_TABLES, 0), f"nothing loaded must give empty relations: {counts}"
        assert relation_kind(conn, "credits") == "table", "an empty warehouse is a table with the contract columns"
        assert "project_id" in conn.execute("SELECT * FROM credits").df().columns, "empty credits keeps its columns"
        replace_registry_slice(conn, loads["art-trees"])
        conn.execute("CREATE OR REPLACE TABLE projects AS SELECT 1 AS built_by_an_older_version")
        counts = build_warehouse(conn)
        assert relation_kind(conn, "projects") == "view", "a table left by an older version must become the view"
        assert counts["projects"] == len(loads["art-trees"].projects), f"projects must be the slice's: {counts}"
