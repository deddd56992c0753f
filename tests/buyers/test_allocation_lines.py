"""``order_allocation_lines``: one row per order and project-vintage, the relation analysts query instead of the
``order_allocations.allocations`` text."""

import duckdb
import pandas as pd

from pipeline.buyers.schemas import OrderAllocationLinesSchema
from pipeline.publish.dictionary import describe
from tests.buyers.scenario import write_work_db
from tests.buyers.test_assets import as_real_orders, materialize, table
from tests.buyers.test_ledger import ledger_rows, orders_frame, run
from tests.conftest import make_settings

LINE_COLUMNS = ["order_id", "buyer_id", "project_id", "registry", "vintage", "tonnes", "quality_tier", "dry_run"]


def test_lines_are_the_ledger_rows_of_executed_orders_and_the_simulated_lines_of_made_up_ones(tmp_path):
    work, ledger_db = tmp_path / "work.duckdb", tmp_path / "ledger.duckdb"
    write_work_db(work)
    orders = orders_frame(
        {"order_id": "EXAMPLE", "ordered_at": "2026-09-01", "tonnes": 7000, "activities": "ARR", "is_fictional": True},
        {"order_id": "REAL", "ordered_at": "2026-10-01", "tonnes": 7000, "activities": "ARR"},
        {"order_id": "NONE", "ordered_at": "2026-10-02", "tonnes": 10, "activities": "ARR", "min_tier": "high",
         "countries": "BR"},
    )  # fmt: skip
    execution = run(work, ledger_db, orders)
    lines = execution.order_allocation_lines
    assert list(lines.columns) == LINE_COLUMNS, f"the contract's columns: {list(lines.columns)}"
    OrderAllocationLinesSchema.validate(lines)

    retired = ledger_rows(ledger_db)[["order_id", "buyer_id", "project_id", "registry", "vintage", "tonnes",
                                      "quality_tier"]]  # fmt: skip
    real = lines.loc[~lines["dry_run"]].drop(columns="dry_run").reset_index(drop=True)
    pd.testing.assert_frame_equal(
        real, retired.sort_values(["order_id", "project_id", "vintage"], ignore_index=True), check_dtype=False,
        obj="executed orders' lines vs the ledger",
    )  # fmt: skip
    assert set(real["project_id"]) == {"CAR1745", "CAR1749"}, "7000 t of ARR come from both Mexican restorations"

    example = lines.loc[lines["dry_run"]]
    assert example["order_id"].unique().tolist() == ["EXAMPLE"], "only the made-up order is a dry run"
    assert example["tonnes"].sum() == 496 and example["registry"].eq("climate-action-reserve").all(), example
    assert "NONE" not in set(lines["order_id"]), "a refused order has no lines"

    allocated = execution.order_allocations.set_index("order_id")["tonnes_allocated"]
    per_order = lines.groupby("order_id")["tonnes"].sum()
    assert per_order.to_dict() == allocated[allocated > 0].to_dict(), "lines add up to each order's tonnes"
    texts = execution.order_allocations.set_index("order_id")["allocations"].dropna()
    for order_id, text in texts.items():
        rows = lines.loc[lines["order_id"] == order_id]
        assert text == "; ".join(
            f"{p} {v}: {t}" for p, v, t in zip(rows["project_id"], rows["vintage"], rows["tonnes"], strict=True)
        ), order_id


def test_a_rerun_keeps_the_lines_of_earlier_executed_orders(tmp_path):
    work, ledger_db = tmp_path / "work.duckdb", tmp_path / "ledger.duckdb"
    write_work_db(work)
    orders = orders_frame({"order_id": "O1", "tonnes": 5000, "activities": "ARR"})
    first = run(work, ledger_db, orders).order_allocation_lines
    again = run(work, ledger_db, orders, now="2026-11-30 10:00").order_allocation_lines
    pd.testing.assert_frame_equal(again, first, obj="lines after a re-run that executed nothing")


def test_the_asset_writes_lines_that_add_up_to_the_orders_and_are_described(tmp_path):
    settings = make_settings(tmp_path)
    write_work_db(settings.paths.work_db)
    as_real_orders(settings)
    assert materialize(settings).success, "the buyer assets should materialize on the bundled examples"
    lines = table(settings, "order_allocation_lines")
    orders = table(settings, "order_allocations")
    assert len(lines) > 0 and not lines["dry_run"].any(), "the bundled orders made real are retired line by line"
    assert lines.groupby("order_id")["tonnes"].sum().to_dict() == (
        orders.loc[orders["tonnes_allocated"] > 0].set_index("order_id")["tonnes_allocated"].to_dict()
    ), "published lines add up to order_allocations"
    for column in LINE_COLUMNS:
        assert describe("order_allocation_lines", column), f"order_allocation_lines.{column} is undescribed"
    with duckdb.connect(settings.work_db, read_only=True) as conn:
        query = conn.execute(
            "SELECT project_id, sum(tonnes) FROM order_allocation_lines WHERE NOT dry_run GROUP BY ALL ORDER BY 1"
        ).fetchall()
    assert query, "analysts can sum retired tonnes per project with plain SQL"
