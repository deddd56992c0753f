"""Writing ``quality_scores``: stored in project-vintage order whatever the frame's order, each distinct reason
once in ``reason_catalog`` while the ``quality_scores`` view shows every row's reasons as DuckDB structs, and the
old scores kept when the write fails."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.quality.store import write_quality_scores
from tests.quality.builders import Case, issuance, project


@pytest.fixture
def scores():
    case = Case(
        projects=[project("VCS5001"), project("VCS5002")],
        credits=[issuance("VCS5002", 2023), issuance("VCS5001", 2024), issuance("VCS5001", 2023)],
    )
    return case.score()


def stored_keys(conn) -> list[tuple[str, int]]:
    return conn.execute("SELECT project_id, vintage FROM quality_scores").fetchall()


def test_rows_are_stored_by_project_and_vintage_even_from_a_shuffled_frame(scores, tmp_path):
    expected = [("VCS5001", 2023), ("VCS5001", 2024), ("VCS5002", 2023)]
    with duckdb.connect(str(tmp_path / "work.duckdb")) as conn:
        write_quality_scores(conn, scores)
        assert stored_keys(conn) == expected, "the engine's (sorted) output must be stored as it comes"
        write_quality_scores(conn, scores.iloc[::-1].reset_index(drop=True))
        assert stored_keys(conn) == expected, "a frame out of order must be sorted by project and vintage"


def test_reasons_are_stored_as_structs_with_their_text(scores, tmp_path):
    with duckdb.connect(str(tmp_path / "work.duckdb")) as conn:
        write_quality_scores(conn, scores)
        kind = conn.execute(
            "SELECT data_type FROM duckdb_columns() WHERE table_name = 'quality_scores' AND column_name = 'reasons'"
        ).fetchone()[0]
        stored = conn.execute("SELECT reasons FROM quality_scores ORDER BY project_id, vintage").fetchall()
    assert kind.replace('"', "") == "STRUCT(code VARCHAR, criterion VARCHAR, message VARCHAR, source VARCHAR[])[]", kind
    assert [row[0] for row in stored] == [list(reasons) for reasons in scores["reasons"]], "reason texts changed"


def as_row(reason: dict) -> tuple:
    return reason["code"], reason["criterion"], reason["message"], tuple(reason["source"])


def test_each_distinct_reason_is_stored_once_and_shown_in_every_row_that_has_it(scores, tmp_path):
    with duckdb.connect(str(tmp_path / "work.duckdb")) as conn:
        write_quality_scores(conn, scores)
        catalog = conn.execute("SELECT code, criterion, message, source FROM reason_catalog ORDER BY reason_id").df()
        ids = conn.execute("SELECT reasons FROM quality_scores_compact ORDER BY project_id, vintage").fetchall()
    catalog = [as_row(reason) for reason in catalog.to_dict("records")]
    reasons = [[as_row(reason) for reason in row] for row in scores["reasons"]]
    every = [reason for row in reasons for reason in row]
    assert sorted(catalog) == sorted(set(every)), "the catalog must hold each distinct reason exactly once"
    assert len(catalog) < len(every), "the case must have reasons shared by several project-vintages"
    assert [[catalog[i - 1] for i in row] for (row,) in ids] == reasons, "each row must point at its reasons, in order"


def test_a_subset_of_the_scores_stores_only_its_own_reasons(scores, tmp_path):
    one = scores.iloc[[2]]
    with duckdb.connect(str(tmp_path / "work.duckdb")) as conn:
        write_quality_scores(conn, one)
        catalog = conn.execute("SELECT reason_id, code FROM reason_catalog ORDER BY reason_id").fetchall()
        stored = conn.execute("SELECT reasons FROM quality_scores").fetchall()
    assert [code for _, code in catalog] == [reason["code"] for reason in one["reasons"].iloc[0]], catalog
    assert [reason_id for reason_id, _ in catalog] == list(range(1, len(catalog) + 1)), "ids must be 1, 2, ..."
    assert stored == [(list(one["reasons"].iloc[0]),)], "the stored reasons must be the subset's"


def test_a_work_db_with_a_scores_table_gets_the_view(scores, tmp_path):
    with duckdb.connect(str(tmp_path / "work.duckdb")) as conn:
        conn.execute("CREATE TABLE quality_scores AS SELECT 1 AS written_before_the_reason_catalog")
        write_quality_scores(conn, scores)
        kind = conn.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'quality_scores'").fetchone()[0]
        assert kind == 1, "quality_scores must now be the view over the compact rows"
        assert len(stored_keys(conn)) == len(scores)


def test_a_failed_write_keeps_the_old_scores(scores, tmp_path):
    with duckdb.connect(str(tmp_path / "work.duckdb")) as conn:
        write_quality_scores(conn, scores)
        before = conn.execute("SELECT * FROM quality_scores").fetchall()
        broken = scores.drop(columns=["limiting_score"])
        with pytest.raises(duckdb.Error):
            write_quality_scores(conn, broken)
        assert conn.execute("SELECT * FROM quality_scores").fetchall() == before, "a failed write must keep the scores"
