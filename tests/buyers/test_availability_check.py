"""The blocking ``ledger_within_availability`` check counts supply on its own, not from what allocated it."""

import duckdb

from pipeline.buyers.ledger import availability_violations, read_ledger
from tests.buyers.scenario import CREDITS, orders_frame, write_work_db
from tests.buyers.test_ledger import run

ART102_2023_ISSUED = 9_085_923
ART102_2023_USED = 46_404 + 1_000
ORDER = {"order_id": "O1", "tonnes": 10_000_000, "registries": "art-trees"}


def test_an_issuance_counted_twice_upstream_fails_the_availability_check(tmp_path):
    # ART102 2023's issuance listed twice in credits, as if the ingest's repeat rule had been bypassed: the
    # allocation trusts that supply and retires beyond the real issuance; the check must not trust it too.
    work, ledger_db = tmp_path / "work.duckdb", tmp_path / "ledger.duckdb"
    write_work_db(work, [CREDITS[0], *CREDITS])
    run(work, ledger_db, orders_frame(ORDER))
    assert read_ledger(ledger_db)["tonnes"].sum() == 10_000_000, "the inflated supply let the order fill in full"
    with duckdb.connect(str(work)) as conn:
        violations = availability_violations(conn, ledger_db)
    found = violations[["project_id", "vintage", "retired_for_buyers", "registry_issued", "registry_available"]]
    assert found.values.tolist() == [
        ["ART102", 2023, 10_000_000, ART102_2023_ISSUED, ART102_2023_ISSUED - ART102_2023_USED]
    ], f"10 Mt retired from a 9,085,923 t issuance must fail the check: {violations.to_dict('records')}"


def test_the_same_order_on_credits_listed_once_stays_within_availability(tmp_path):
    work, ledger_db = tmp_path / "work.duckdb", tmp_path / "ledger.duckdb"
    write_work_db(work)
    run(work, ledger_db, orders_frame(ORDER))
    retired = read_ledger(ledger_db)["tonnes"].sum()
    assert retired == ART102_2023_ISSUED - ART102_2023_USED, f"only what ART102 2023 has left is retired: {retired}"
    with duckdb.connect(str(work)) as conn:
        assert availability_violations(conn, ledger_db).empty, "a ledger within the real supply passes the check"
