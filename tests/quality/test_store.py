"""Writing ``quality_scores``: stored in project-vintage order whatever the frame's order, reasons as DuckDB
structs, the connection's settings left as they were, and the old table kept when the write fails."""

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


def test_the_write_leaves_the_thread_setting_and_the_old_table_on_failure(scores, tmp_path):
    with duckdb.connect(str(tmp_path / "work.duckdb")) as conn:
        conn.execute("SET threads = 3")
        write_quality_scores(conn, scores)
        assert conn.execute("SELECT current_setting('threads')").fetchone()[0] == 3, "threads not restored"
        broken = scores.drop(columns=["limiting_score"])
        with pytest.raises(duckdb.Error):
            write_quality_scores(conn, broken)
        assert conn.execute("SELECT current_setting('threads')").fetchone()[0] == 3, "threads not restored on failure"
        assert len(stored_keys(conn)) == len(scores), "a failed write must keep the previous table"
