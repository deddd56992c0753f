"""Retirement statements: one HTML page and one CSV per executed order, the documents a buyer keeps."""

import re
from datetime import UTC, datetime

import duckdb
import pandas as pd
from markupsafe import escape

from assets.buyers import ORDER_STATEMENTS_DIR
from pipeline.buyers.ledger import read_ledger
from pipeline.buyers.statement import ORDER_STATEMENT_COLUMNS, write_order_statements
from pipeline.registries import REGISTRIES
from tests.buyers.scenario import CREDITS, PROJECTS, write_work_db
from tests.buyers.test_assets import as_real_orders, materialize
from tests.buyers.test_ledger import ONLY_CAR1745, ledger_rows, orders_frame, registry_retirement, run
from tests.conftest import make_settings
from tests.publish.test_report import chromium_render, requires_chromium

SCORES = ["additionality_score", "permanence_score", "leakage_score", "over_crediting_score", "limiting_score"]


def add_project_names(work) -> None:
    """The work DB's ``projects`` as far as statements read it: the registry's project names."""
    names = pd.DataFrame({"project_id": list(PROJECTS), "name": [p[0] for p in PROJECTS.values()]})
    with duckdb.connect(str(work)) as conn:
        conn.register("names", names)
        conn.execute("CREATE OR REPLACE TABLE projects AS SELECT * FROM names")


def test_every_executed_order_gets_an_html_and_a_csv_statement_matching_the_ledger(tmp_path):
    settings = make_settings(tmp_path)
    write_work_db(settings.paths.work_db)
    add_project_names(settings.paths.work_db)
    as_real_orders(settings)
    assert materialize(settings).success, "the buyer assets should materialize on the bundled examples"
    ledger = read_ledger(settings.paths.ledger_db)
    executed = sorted(read_ledger(settings.paths.ledger_db, "order_executions")["order_id"])
    folder = settings.paths.curated_dir / ORDER_STATEMENTS_DIR
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{o}.{ext}" for o in executed for ext in ("csv", "html")
    ), f"one HTML and one CSV per executed order ({executed})"

    for order_id in executed:
        lines = ledger.loc[ledger["order_id"] == order_id].sort_values(["project_id", "vintage"], ignore_index=True)
        csv = pd.read_csv(folder / f"{order_id}.csv")
        assert list(csv.columns) == list(ORDER_STATEMENT_COLUMNS), f"{order_id}.csv columns: {list(csv.columns)}"
        expected = lines[["order_id", "buyer_id", "beneficiary", "retirement_id", "project_id", "registry", "vintage",
                          "tonnes", "quality_tier", *SCORES, "policy_version"]]  # fmt: skip
        pd.testing.assert_frame_equal(csv[list(expected.columns)], expected, check_dtype=False, obj=order_id)
        assert (csv["registry_status"] == "pending in registry").all(), "nothing is in registry data yet"
        for _, line in lines.iterrows():
            url = REGISTRIES[line["registry"]].project_url.format(number=re.search(r"\d+$", line["project_id"])[0])
            assert (csv.loc[csv["project_id"] == line["project_id"], "verification_url"] == url).all(), url

        page = (folder / f"{order_id}.html").read_text()
        rows = re.findall(r'<tr data-project="([^"]+)" data-vintage="(\d+)" data-tonnes="(\d+)"', page)
        assert rows == [(p, str(v), str(t)) for p, v, t in zip(lines["project_id"], lines["vintage"],
                                                                lines["tonnes"], strict=True)], rows  # fmt: skip
        assert f'<dd data-field="beneficiary">{escape(lines["beneficiary"].iloc[0])}</dd>' in page, "beneficiary"
        assert f"{int(lines['tonnes'].sum()):,} tCO2e" in page, "the statement totals the order's tonnes"
        for retirement_id in lines["retirement_id"]:
            assert f"look for our reference <code>{retirement_id}</code>" in page, "pending lines give the reference"
        name = PROJECTS[lines["project_id"].iloc[0]][0]
        assert str(escape(name)) in page, f"the project is named ({name})"
        assert "/work/" not in page and "/tmp/" not in page, "no machine paths in a buyer's document"


def test_a_retirement_the_registry_shows_carries_its_serial_numbers_and_date(tmp_path):
    work, ledger_db = tmp_path / "work.duckdb", tmp_path / "ledger.duckdb"
    write_work_db(work, tiers=ONLY_CAR1745)
    run(work, ledger_db, orders_frame({"order_id": "O1", "tonnes": 1000}))
    reference = ledger_rows(ledger_db).at[0, "retirement_id"]
    write_work_db(work, [*CREDITS, registry_retirement(1000, "Alder Valley", f"Retired for buyer, ref {reference}")],
                  tiers=ONLY_CAR1745)  # fmt: skip
    serials = "CAR-1-MX-1745-2025-1001 to 2000"  # the registry row this test adds; a made-up range
    with duckdb.connect(str(work)) as conn:
        conn.execute("UPDATE credits SET serial_number = ? WHERE retirement_note LIKE ?", [serials, f"%{reference}%"])
    run(work, ledger_db, orders_frame({"order_id": "O1", "tonnes": 1000}))  # records the recognition

    with duckdb.connect(str(work), read_only=True) as conn:
        written = write_order_statements(conn, ledger_db, tmp_path / "out", now=datetime(2026, 12, 3, tzinfo=UTC))
    page_path, csv_path = written["O1"]
    row = pd.read_csv(csv_path).iloc[0]
    assert (row["registry_status"], row["registry_serial_numbers"], row["registry_matched_by"]) == (
        "shown in registry", serials, "reference"), row.to_dict()  # fmt: skip
    assert row["registry_transaction_date"].startswith("2026-12-02"), row["registry_transaction_date"]
    page = page_path.read_text()
    assert f'serial numbers <code data-field="serials">{serials}</code>' in page, "the serials are on the page"
    assert "retired 2026-12-02" in page and "Statement generated 2026-12-03 00:00 UTC" in page


def test_no_ledger_no_statements(tmp_path):
    work = tmp_path / "work.duckdb"
    write_work_db(work)
    with duckdb.connect(str(work), read_only=True) as conn:
        assert write_order_statements(conn, tmp_path / "ledger.duckdb", tmp_path / "out") == {}
    assert not (tmp_path / "out").exists(), "no folder without an executed order"


@requires_chromium
def test_a_statement_renders_in_chromium(tmp_path):
    work, ledger_db = tmp_path / "work.duckdb", tmp_path / "ledger.duckdb"
    write_work_db(work)
    add_project_names(work)
    run(work, ledger_db, orders_frame({"order_id": "O1", "tonnes": 5000, "activities": "ARR"}))
    with duckdb.connect(str(work), read_only=True) as conn:
        page, _ = write_order_statements(conn, ledger_db, tmp_path / "out")["O1"]
    dom, console = chromium_render(page, tmp_path)
    assert console == [], f"the statement logged to the console: {console}"
    assert re.findall(r'<tr data-project="([^"]+)"', dom) == ["CAR1745", "CAR1749"], "both lines are shown"
    assert "5,000 tCO2e" in dom, "the total is shown"
