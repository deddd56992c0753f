"""``make sql``: the analysts' read-only SQL shell on the published file."""

from __future__ import annotations

import io

import duckdb

from pipeline.publish.shell import main, shell


def _published(tmp_path):
    path = tmp_path / "inventory.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE eligible_inventory AS SELECT 'ART102' AS project_id, 2023 AS vintage")
        conn.execute("COMMENT ON TABLE eligible_inventory IS 'what can be offered'")
        conn.execute("CREATE VIEW by_vintage AS SELECT vintage, count(*) AS n FROM eligible_inventory GROUP BY 1")
    return path


def test_statements_run_until_their_semicolon_and_errors_do_not_end_the_session(tmp_path):
    with duckdb.connect(str(_published(tmp_path)), read_only=True) as conn:
        out = io.StringIO()
        shell(conn, ["SELECT project_id,", "  vintage FROM eligible_inventory;",
                     "SELECT 'first' AS a; SELECT 'second' AS b;", "SELECT nope;", ".tables",
                     "SELECT n FROM by_vintage;", ".quit", "SELECT 'after quit';"], out)  # fmt: skip
    text = out.getvalue()
    assert "ART102" in text and "2023" in text, f"the multi-line statement did not print its row:\n{text}"
    assert "first" in text and "second" in text, f"two statements on one line print both results:\n{text}"
    assert "Error:" in text and "nope" in text, f"the failing statement's error is not shown:\n{text}"
    assert "what can be offered" in text and "by_vintage" in text, f".tables lists relations:\n{text}"
    assert "after quit" not in text, "statements after .quit ran"


def test_the_shell_is_read_only(tmp_path, capsys):
    path = _published(tmp_path)
    assert main([str(path), "-c", "DROP TABLE eligible_inventory;"]) == 0
    assert "read-only mode" in capsys.readouterr().out, "a write statement must be refused"
    with duckdb.connect(str(path), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM eligible_inventory").fetchone()[0] == 1


def test_a_missing_file_says_to_run_the_pipeline_first(tmp_path, capsys):
    assert main([str(tmp_path / "absent.duckdb"), "-c", "SELECT 1;"]) == 1
    assert "make run" in capsys.readouterr().err
