"""The buyer assets materialized with real Dagster against temporary DuckDB files and the bundled examples."""

import dagster as dg
import duckdb
import pandas as pd

from assets.buyers import STATEMENTS_DIR, buyer_eligibility, order_allocations, retirement_ledger
from pipeline.buyers.ledger import read_ledger
from tests.buyers.scenario import CREDITS, write_work_db
from tests.conftest import make_settings

BUYER_ASSETS = [buyer_eligibility, order_allocations, retirement_ledger]
RUN_CONFIG = dg.RunConfig(ops={"buyer_eligibility": {"config": {"as_of": "2026-11-29"}},
                               "order_allocations": {"config": {"as_of": "2026-11-29"}}})  # fmt: skip


def materialize(settings, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(BUYER_ASSETS, resources={"settings": settings}, run_config=RUN_CONFIG, **kwargs)


def table(settings, name: str) -> pd.DataFrame:
    with duckdb.connect(settings.work_db, read_only=True) as conn:
        return conn.execute(f"SELECT * FROM {name} ORDER BY 1").df()


def checks(result) -> dict:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def as_real_orders(settings) -> None:
    """Mark the bundled example orders as real, so that they are retired into this test's own ledger."""
    orders_csv = settings.paths.raw_dir / "buyers" / "orders.csv"
    orders_csv.write_text(orders_csv.read_text().replace(",true\n", ",false\n"))


def test_bundled_made_up_orders_are_only_simulated(tmp_path):
    settings = make_settings(tmp_path)
    write_work_db(settings.paths.work_db)
    assert materialize(settings).success, "the buyer assets should materialize on the bundled examples"
    orders = table(settings, "order_allocations")
    assert orders["dry_run"].all(), "every bundled order is made up and must only be simulated"
    assert read_ledger(settings.paths.ledger_db).empty, "made-up orders must never reach the ledger"
    assert orders.set_index("order_id").at["EX-2026-0006", "status"] == "filled", "the simulation still allocates"


def test_buyer_assets_screen_allocate_retire_and_export(tmp_path):
    settings = make_settings(tmp_path)
    write_work_db(settings.paths.work_db)
    as_real_orders(settings)
    result = materialize(settings)
    assert result.success, "the buyer assets should materialize on the bundled examples"
    assert checks(result) == {"no_changed_executed_orders": True, "ledger_within_availability": True}, checks(result)

    eligibility = table(settings, "buyer_eligibility").set_index("buyer_id")
    assert eligibility["is_eligible"].to_dict() == {
        "FB001": True,
        "FB002": True,
        "FB003": False,
        "FB004": False,
        "FB005": False,
        "FB006": False,
    }, eligibility["reason"].to_dict()
    orders = table(settings, "order_allocations").set_index("order_id")
    assert orders["status"].to_dict() == {
        "EX-2026-0001": "filled", "EX-2026-0002": "filled", "EX-2026-0003": "refused",
        "EX-2026-0004": "filled", "EX-2026-0005": "refused", "EX-2026-0006": "filled",
    }, orders[["status", "reason"]].to_dict("index")  # fmt: skip
    assert (
        orders.at["EX-2026-0003", "reason"] == "buyer FB003 does not qualify: net-zero target 2055 is later than 2050"
    )

    retirements = read_ledger(settings.paths.ledger_db)
    assert retirements["tonnes"].sum() == 1200 + 500 + 250 + 50000, "every filled order is retired in full"
    statements = sorted(p.name for p in (settings.paths.curated_dir / STATEMENTS_DIR).iterdir())
    assert statements == ["FB001.csv", "FB002.csv"], f"one statement per buyer with retirements, got {statements}"

    again = materialize(settings)
    assert again.success, "a re-run should succeed"
    appended = again.asset_materializations_for_node("order_allocations")[0].metadata["retirements_appended"].value
    assert appended == 0, f"a re-run must append nothing to the ledger, appended {appended}"
    pd.testing.assert_frame_equal(read_ledger(settings.paths.ledger_db), retirements, obj="ledger after a re-run")


def test_ledger_beyond_availability_fails_the_blocking_check(tmp_path):
    settings = make_settings(tmp_path)
    write_work_db(settings.paths.work_db)
    as_real_orders(settings)
    assert materialize(settings).success
    # A later snapshot: someone else retired almost all of ART102 2023, below what we hold pending there.
    write_work_db(settings.paths.work_db, [*CREDITS, ("ART102", "art-trees", "retirement", 2023, 9_038_000,
                                                      "2026-12-01", "Another buyer", None)])  # fmt: skip
    result = dg.materialize([retirement_ledger], resources={"settings": settings}, raise_on_error=False)
    assert checks(result) == {"ledger_within_availability": False}, "the oversold project-vintage must fail the check"


def test_a_bad_buyers_file_fails_and_keeps_the_previous_table(tmp_path):
    settings = make_settings(tmp_path)
    write_work_db(settings.paths.work_db)
    assert materialize(settings).success
    before = table(settings, "buyer_eligibility")
    buyers_csv = settings.paths.raw_dir / "buyers" / "buyers.csv"
    buyers_csv.write_text(buyers_csv.read_text().replace(",supplier,", ",vendor,"))
    result = dg.materialize([buyer_eligibility], resources={"settings": settings}, run_config=dg.RunConfig(
        ops={"buyer_eligibility": {"config": {"as_of": "2026-11-29"}}}), raise_on_error=False)  # fmt: skip
    assert not result.success, "an invalid buyers file must fail the run"
    error, failure = result.get_step_failure_events()[0].event_specific_data.error, ""
    while error is not None:
        failure, error = failure + error.message, error.cause
    assert "buyers.csv" in failure and "vendor" in failure, f"the error should name the file and value: {failure}"
    pd.testing.assert_frame_equal(table(settings, "buyer_eligibility"), before, obj="buyer_eligibility after a failure")
