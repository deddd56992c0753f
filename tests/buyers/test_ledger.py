"""The retirement ledger: idempotent re-runs, pending retirements, registry recognition, crashes, statements."""

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.buyers import ledger
from pipeline.buyers.ledger import availability_violations, execute_orders, ledger_totals, read_ledger
from pipeline.buyers.screening import screen_buyers
from pipeline.buyers.statement import buyer_statement_view_sql, write_buyer_statements
from pipeline.policy import load_policy
from pipeline.settings import REPO_ROOT
from tests.buyers.scenario import AS_OF, CREDITS, POLICY_VERSION, TIERS, buyers_frame, orders_frame, write_work_db

POLICY = load_policy(REPO_ROOT / "data" / "policy.yaml").buyers
ELIGIBILITY = screen_buyers(buyers_frame({}, {"name": "Brightwater Logistics (fictional)"}), POLICY, AS_OF,
                            POLICY_VERSION)  # fmt: skip
ONLY_CAR1745 = {("CAR1745", 2025): ("high", 4)}
BENEFICIARY = "Alder Valley Foods (fictional)"


@pytest.fixture
def dbs(tmp_path) -> tuple[Path, Path]:
    work, ledger_db = tmp_path / "work.duckdb", tmp_path / "ledger.duckdb"
    write_work_db(work)
    return work, ledger_db


def run(work: Path, ledger_db: Path, orders: pd.DataFrame, now: str = "2026-11-29 10:00"):
    with duckdb.connect(str(work)) as conn:
        return execute_orders(conn, ledger_db, orders, ELIGIBILITY, POLICY, POLICY_VERSION, AS_OF, pd.Timestamp(now))


def ledger_rows(ledger_db: Path) -> pd.DataFrame:
    rows = read_ledger(ledger_db)
    return rows.sort_values("retirement_id", ignore_index=True) if not rows.empty else rows


def statuses(execution) -> dict:
    return dict(zip(execution.order_allocations["order_id"], execution.order_allocations["status"], strict=True))


def test_rerunning_the_same_orders_appends_nothing(dbs):
    work, ledger_db = dbs
    orders = orders_frame({"order_id": "O1", "tonnes": 5000, "activities": "ARR"},
                          {"order_id": "O2", "tonnes": 300, "buyer_id": "B2", "min_tier": "high"})  # fmt: skip
    first = run(work, ledger_db, orders)
    before = ledger_rows(ledger_db)
    second = run(work, ledger_db, orders, now="2026-11-30 10:00")
    assert first.retirements_appended == 3 and first.tonnes_retired == 5300, (
        f"first run should retire 5000 t (two ARR vintages) + 300 t (ART102), got {first.retirements_appended} rows, "
        f"{first.tonnes_retired} t"
    )
    assert second.retirements_appended == 0 and second.tonnes_retired == 0, "a re-run must append nothing"
    pd.testing.assert_frame_equal(ledger_rows(ledger_db), before, obj="ledger after a re-run")
    assert statuses(second) == statuses(first) == {"O1": "filled", "O2": "filled"}, statuses(second)
    assert not second.order_allocations["executed_this_run"].any(), "nothing is executed again on a re-run"
    assert before["retired_at"].eq(pd.Timestamp("2026-11-29 10:00")).all(), "retired_at is the first run's stamp"


def test_ledger_rows_carry_order_buyer_quality_and_policy(dbs):
    work, ledger_db = dbs
    run(work, ledger_db, orders_frame({"order_id": "O1", "tonnes": 10, "activities": "IFM"}))
    row = ledger_rows(ledger_db).iloc[0]
    assert (row["order_id"], row["buyer_id"], row["beneficiary"], row["project_id"], row["vintage"], row["tonnes"]) == (
        "O1",
        "B1",
        BENEFICIARY,
        "ACR701",
        2025,
        10,
    ), f"unexpected ledger row {row.to_dict()}"
    assert (row["quality_tier"], row["limiting_score"], row["policy_version"]) == ("eligible", 3.0, POLICY_VERSION)
    assert row["idempotency_key"] == "O1|ACR701|2025" and row["retirement_id"].startswith("CQR-")


def test_later_orders_never_reuse_tonnes_already_in_the_ledger(dbs):
    work, ledger_db = dbs
    run(work, ledger_db, orders_frame({"order_id": "O1", "tonnes": 4000, "activities": "ARR"}))
    later = run(work, ledger_db, orders_frame({"order_id": "O1", "tonnes": 4000, "activities": "ARR"},
                                              {"order_id": "O2", "tonnes": 9000, "activities": "ARR"}))  # fmt: skip
    o2 = later.order_allocations.set_index("order_id").loc["O2"]
    # CAR1745 4933 + CAR1749 2563 = 7496 t of ARR; O1 already holds 4000 of them in the ledger.
    assert (o2["status"], o2["tonnes_allocated"]) == ("partially_filled", 3496), (
        f"O2 should get only the 3496 t O1 left, got {o2.to_dict()}"
    )
    totals = ledger_totals(ledger_db).set_index("project_id")
    assert totals["tonnes_retired_for_buyers"].to_dict() == {"CAR1745": 4933, "CAR1749": 2563}, totals.to_dict()
    assert (totals["tonnes_pending_in_registry"] == totals["tonnes_retired_for_buyers"]).all(), (
        "nothing is in the registry data yet, so every tonne is pending"
    )


def registry_retirement(tonnes: int, beneficiary=None, note=None, day="2026-12-02") -> tuple:
    return ("CAR1745", "climate-action-reserve", "retirement", 2025, tonnes, day, beneficiary, note)


def test_retirement_recognized_by_reference_is_not_subtracted_twice(tmp_path):
    work, ledger_db = tmp_path / "work.duckdb", tmp_path / "ledger.duckdb"
    write_work_db(work, tiers=ONLY_CAR1745)
    run(work, ledger_db, orders_frame({"order_id": "O1", "tonnes": 1000}))
    reference = ledger_rows(ledger_db).at[0, "retirement_id"]
    # The next registry snapshot shows our retirement, with our reference in the note.
    write_work_db(work, [*CREDITS, registry_retirement(1000, "Alder Valley", f"Retired for buyer, ref {reference}")],
                  tiers=ONLY_CAR1745)  # fmt: skip
    later = run(work, ledger_db, orders_frame({"order_id": "O1", "tonnes": 1000}, {"order_id": "O2", "tonnes": 9000}))
    o2 = later.order_allocations.set_index("order_id").loc["O2"]
    assert o2["tonnes_allocated"] == 3933, (
        f"4933 issued - 1000 shown retired by the registry = 3933 t left; got {o2['tonnes_allocated']} "
        "(3933 - 1000 would mean our retirement was subtracted twice)"
    )
    assert later.recognitions_appended == 1, "the registry retirement should be recorded as recognized once"
    recognitions = read_ledger(ledger_db, "registry_recognitions").set_index("retirement_id")
    assert recognitions.at[reference, "matched_by"] == "reference", recognitions.to_dict()


def test_retirement_recognized_by_beneficiary_tonnes_and_date(tmp_path):
    work, ledger_db = tmp_path / "work.duckdb", tmp_path / "ledger.duckdb"
    write_work_db(work, tiers=ONLY_CAR1745)
    run(work, ledger_db, orders_frame({"order_id": "O1", "tonnes": 1000}))
    write_work_db(work, [*CREDITS, registry_retirement(1000, "ALDER VALLEY FOODS, (Fictional)")], tiers=ONLY_CAR1745)
    with duckdb.connect(str(work)) as conn:
        assert availability_violations(conn, ledger_db).empty, "a recognized retirement is within availability"
    run(work, ledger_db, orders_frame({"order_id": "O1", "tonnes": 1000}))
    totals = ledger_totals(ledger_db).set_index("project_id").loc["CAR1745"]
    assert (totals["tonnes_recognized_in_registry"], totals["tonnes_pending_in_registry"]) == (1000, 0), (
        f"beneficiary, tonnes and date match, so the retirement is recognized: {totals.to_dict()}"
    )


def test_someone_elses_retirement_is_not_taken_for_ours(tmp_path):
    work, ledger_db = tmp_path / "work.duckdb", tmp_path / "ledger.duckdb"
    write_work_db(work, tiers=ONLY_CAR1745)
    run(work, ledger_db, orders_frame({"order_id": "O1", "tonnes": 1000}))
    write_work_db(work, [*CREDITS, registry_retirement(1000, "Another Company"),
                         registry_retirement(1000, BENEFICIARY, day="2026-11-01")], tiers=ONLY_CAR1745)  # fmt: skip
    later = run(work, ledger_db, orders_frame({"order_id": "O2", "tonnes": 9000}))
    assert later.recognitions_appended == 0, "another beneficiary, or a retirement dated before ours, is not ours"
    assert later.order_allocations.set_index("order_id").at["O2", "tonnes_allocated"] == 4933 - 2000 - 1000, (
        "registry availability (2933) minus our still-pending 1000 t"
    )


def test_ledger_beyond_registry_availability_is_reported(dbs):
    work, ledger_db = dbs
    run(work, ledger_db, orders_frame({"order_id": "O1", "tonnes": 4933, "activities": "ARR"}))
    with duckdb.connect(str(work)) as conn:
        assert availability_violations(conn, ledger_db).empty, "a fresh ledger is within availability"
    write_work_db(work, [*CREDITS, registry_retirement(100, "Another Company")])
    with duckdb.connect(str(work)) as conn:
        violations = availability_violations(conn, ledger_db)
    assert violations[["project_id", "pending_in_registry", "registry_available"]].values.tolist() == [
        ["CAR1745", 4933, 4833]
    ], f"the registry now has 4833 t left against 4933 t we retired: {violations.to_dict('records')}"


def test_injected_failure_inside_the_ledger_write_leaves_no_trace(dbs, monkeypatch):
    work, ledger_db = dbs
    orders = orders_frame({"order_id": "O1", "tonnes": 5000, "activities": "ARR"})

    def fail(*args):
        raise RuntimeError("injected failure between writing retirements and executions")

    monkeypatch.setattr(ledger, "_insert_executions", fail)
    with pytest.raises(RuntimeError, match="injected failure"):
        run(work, ledger_db, orders)
    assert ledger_rows(ledger_db).empty, "a failed write must leave no retirement behind"
    monkeypatch.undo()
    retry = run(work, ledger_db, orders)
    assert retry.tonnes_retired == 5000 and ledger_rows(ledger_db)["tonnes"].sum() == 5000, (
        "the retry must retire the order exactly once"
    )


KILL_SCRIPT = """
import os, signal, sys
import duckdb, pandas as pd
sys.path.insert(0, {root!r})
from pipeline.buyers import ledger
from tests.buyers.test_ledger import run
from tests.buyers.scenario import orders_frame

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

setattr(ledger, {target!r}, die)
run(__import__("pathlib").Path({work!r}), __import__("pathlib").Path({ledger_db!r}),
    orders_frame({{"order_id": "O1", "tonnes": 5000, "activities": "ARR"}}))
"""


def killed_run(work: Path, ledger_db: Path, target: str) -> None:
    script = KILL_SCRIPT.format(root=str(REPO_ROOT), target=target, work=str(work), ledger_db=str(ledger_db))
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == -signal.SIGKILL, f"the run should have been killed: {done.returncode} {done.stderr}"


@pytest.mark.slow
def test_process_killed_before_commit_loses_nothing_and_doubles_nothing(dbs):
    work, ledger_db = dbs
    killed_run(work, ledger_db, "_insert_executions")  # retirements inserted, transaction not committed
    assert ledger_rows(ledger_db).empty, "an uncommitted ledger write must not survive a kill"
    retry = run(work, ledger_db, orders_frame({"order_id": "O1", "tonnes": 5000, "activities": "ARR"}))
    assert retry.tonnes_retired == 5000, "the retry must retire the killed run's order"
    assert ledger_rows(ledger_db)["tonnes"].sum() == 5000, "exactly one retirement of the 5000 t"


@pytest.mark.slow
def test_process_killed_after_commit_before_reporting_doubles_nothing(dbs):
    work, ledger_db = dbs
    killed_run(work, ledger_db, "_summaries")  # committed; killed before order_allocations exist
    assert ledger_rows(ledger_db)["tonnes"].sum() == 5000, "the committed retirements must survive the kill"
    retry = run(work, ledger_db, orders_frame({"order_id": "O1", "tonnes": 5000, "activities": "ARR"}))
    assert retry.tonnes_retired == 0, "the order was executed before the kill and must not be retired again"
    assert statuses(retry) == {"O1": "filled"}, "the retry reports the executed order from the ledger"
    assert ledger_rows(ledger_db)["tonnes"].sum() == 5000, "still exactly one retirement of the 5000 t"


def test_an_executed_order_edited_afterwards_is_a_conflict_not_a_second_retirement(dbs):
    work, ledger_db = dbs
    run(work, ledger_db, orders_frame({"order_id": "O1", "tonnes": 100}))
    again = run(work, ledger_db, orders_frame({"order_id": "O1", "tonnes": 900}))
    row = again.order_allocations.set_index("order_id").loc["O1"]
    assert row["status"] == "conflict" and "changed after it was executed" in row["reason"], row.to_dict()
    assert ledger_rows(ledger_db)["tonnes"].sum() == 100, "an edited order must not be retired again"


def test_the_ledger_survives_a_rebuilt_work_db(dbs):
    work, ledger_db = dbs
    orders = orders_frame({"order_id": "O1", "tonnes": 4000, "activities": "ARR"})
    run(work, ledger_db, orders)
    work.unlink()
    write_work_db(work)  # a republish rebuilds the work DB from scratch; the ledger file is untouched
    again = run(work, ledger_db, orders_frame({"order_id": "O1", "tonnes": 4000, "activities": "ARR"},
                                              {"order_id": "O2", "tonnes": 9000, "activities": "ARR"}))  # fmt: skip
    assert again.order_allocations.set_index("order_id").at["O2", "tonnes_allocated"] == 3496, (
        "after a rebuild the pending 4000 t must still be subtracted"
    )


def test_statement_view_and_per_buyer_exports(dbs, tmp_path):
    work, ledger_db = dbs
    run(
        work,
        ledger_db,
        orders_frame(
            {"order_id": "O1", "tonnes": 5000, "activities": "ARR"},
            {"order_id": "O2", "buyer_id": "B2", "tonnes": 70, "activities": "IFM"},
        ),
    )
    written = write_buyer_statements(ledger_db, tmp_path / "statements")
    assert sorted(written) == ["B1", "B2"], f"one statement per buyer with retirements, got {sorted(written)}"
    b1 = pd.read_csv(written["B1"])
    assert sorted(zip(b1["project_id"], b1["tonnes"], b1["quality_tier"], strict=True)) == [
        ("CAR1745", 4933, "high"),
        ("CAR1749", 67, "high"),
    ], f"B1's statement should list what was retired, where from and at which tier: {b1.to_dict('records')}"
    assert (b1["registry_status"] == "pending in registry").all()
    with duckdb.connect(str(ledger_db)) as conn:  # the view also works on a copy holding the ledger tables
        conn.execute(buyer_statement_view_sql())
        summary = conn.execute("SELECT buyer_id, tonnes_retired, projects FROM buyer_statement_summary ORDER BY 1")
        assert summary.fetchall() == [("B1", 5000, 2), ("B2", 70, 1)], "summary per buyer"


def test_ledger_totals_of_a_missing_ledger_is_empty(tmp_path):
    totals = ledger_totals(tmp_path / "absent.duckdb")
    assert totals.empty and list(totals.columns)[:2] == ["project_id", "vintage"], list(totals.columns)
    assert "tonnes_pending_in_registry" in totals.columns, "the publish engineer relies on this column"


ORDER_SPECS = st.fixed_dictionaries(
    {
        "tonnes": st.integers(1, 6000),
        "activities": st.sampled_from([None, "ARR", "IFM", "JREDD;ARR", "IFM;ARR"]),
        "min_tier": st.sampled_from([None, "high"]),
        "buyer_id": st.sampled_from(["B1", "B2", "B9"]),
    }
)


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.lists(ORDER_SPECS, min_size=1, max_size=4), second=st.lists(ORDER_SPECS, max_size=4))
def test_property_across_runs_the_ledger_never_exceeds_availability(tmp_path_factory, first, second):
    folder = tmp_path_factory.mktemp("runs")
    work, ledger_db = folder / "work.duckdb", folder / "ledger.duckdb"
    write_work_db(work, tiers={**TIERS, ("ART102", 2023): ("high", 4)})
    specs = [{**spec, "order_id": f"O{i}"} for i, spec in enumerate(first + second)]
    run(work, ledger_db, orders_frame(*specs[: len(first)]))
    final = run(work, ledger_db, orders_frame(*specs), now="2026-11-30 10:00")

    with duckdb.connect(str(work)) as conn:
        violations = availability_violations(conn, ledger_db)
    assert violations.empty, f"the ledger exceeds registry availability: {violations.to_dict('records')}"
    rows = ledger_rows(ledger_db)
    assert not rows.duplicated(["order_id", "project_id", "vintage"]).any(), "a tonne lot was retired twice"
    decisions = final.order_allocations.set_index("order_id")
    assert sorted(decisions.index) == sorted(s["order_id"] for s in specs), "every order must have a decision"
    assert decisions["status"].isin(["filled", "partially_filled", "refused"]).all(), decisions["status"].to_dict()
    assert decisions["reason"].str.len().gt(0).all(), "every decision must carry a reason"
    retired = rows.groupby("order_id")["tonnes"].sum().reindex(decisions.index).fillna(0)
    assert (retired == decisions["tonnes_allocated"]).all(), "order_allocations must agree with the ledger"


def test_made_up_example_orders_are_simulated_never_retired(dbs):
    work, ledger_db = dbs
    orders = orders_frame(
        {"order_id": "EXAMPLE", "ordered_at": "2026-09-01", "tonnes": 7000, "activities": "ARR", "is_fictional": True},
        {"order_id": "REAL", "ordered_at": "2026-10-01", "tonnes": 7000, "activities": "ARR"},
    )
    result = run(work, ledger_db, orders).order_allocations.set_index("order_id")
    assert ledger_rows(ledger_db)["order_id"].unique().tolist() == ["REAL"], "only the real order may be retired"
    assert result.at["REAL", "tonnes_allocated"] == 7000, "an earlier made-up order must not take real supply"
    assert result.at["EXAMPLE", "dry_run"] and not result.at["REAL", "dry_run"], result["dry_run"].to_dict()
    assert result.at["EXAMPLE", "tonnes_allocated"] == 496, "the example is simulated on what real orders left"
    assert result.at["EXAMPLE", "reason"].startswith("dry run, made-up example order not retired"), result.at[
        "EXAMPLE", "reason"
    ]


def test_a_partially_filled_order_stays_partial_on_every_later_run(dbs):
    """A partial fill is executed once: re-runs with the same supply, with new supply on the same project-vintage
    and on another one never retire more for it, nor report it refused or executed again."""
    work, ledger_db = dbs
    orders = orders_frame({"order_id": "O1", "tonnes": 9000, "activities": "ARR"})  # 7,496 t of ARR available
    first = run(work, ledger_db, orders)
    o1 = first.order_allocations.set_index("order_id").loc["O1"]
    assert (o1["status"], o1["tonnes_allocated"], o1["executed_this_run"]) == ("partially_filled", 7496, True), (
        f"the first run fills 7,496 of 9,000 t, got {o1.to_dict()}"
    )
    executed = ledger_rows(ledger_db)
    new_issuance = ("CAR1745", "climate-action-reserve", "issuance", 2025, 2_000, "2026-11-01", None, None)
    other_vintage = ("CAR1749", "climate-action-reserve", "issuance", 2024, 3_000, "2026-11-01", None, None)
    supplies = {
        "the same supply": (CREDITS, TIERS),
        "new supply on the same project-vintage": ([*CREDITS, new_issuance], TIERS),
        "new supply on another project-vintage": (
            [*CREDITS, new_issuance, other_vintage], {**TIERS, ("CAR1749", 2024): ("high", 4)}),
    }  # fmt: skip
    for day, (supply, (credits_rows, tiers)) in enumerate(supplies.items(), start=1):
        write_work_db(work, credits_rows, tiers)
        again = run(work, ledger_db, orders, now=f"2026-12-0{day} 10:00")
        o1 = again.order_allocations.set_index("order_id").loc["O1"]
        assert (o1["status"], o1["tonnes_allocated"], o1["executed_this_run"]) == ("partially_filled", 7496, False), (
            f"with {supply}, O1 must stay partially filled at 7,496 t and not be executed again, got {o1.to_dict()}"
        )
        assert again.retirements_appended == 0, f"with {supply}, nothing more may enter the ledger"
        pd.testing.assert_frame_equal(ledger_rows(ledger_db), executed, obj=f"ledger after a re-run with {supply}")
