"""The analyst guide's example queries run against a published file; the Parquet and CSV exports match it."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipeline.publish.exports import export_inventory
from pipeline.publish.publish import publish_inventory
from pipeline.settings import REPO_ROOT
from tests.publish.conftest import stage
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
            publish_inventory(conn, paths, policy)


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
    written = export_inventory(paths.curated_db)
    parquet, csv = written
    assert [p.name for p in written] == ["eligible_inventory.parquet", "eligible_inventory.csv"]
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


def test_exporting_before_any_publish_is_a_clear_error(paths):
    with pytest.raises(FileNotFoundError, match="publish before exporting"):
        export_inventory(paths.curated_db)
