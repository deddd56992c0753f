"""eligible_inventory: quantities from credits, ledger netting, and the reconciliation that proves them."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from pipeline.inventory.inventory import (
    INVENTORY_TABLE,
    InventoryError,
    ledger_view,
    reconciliation_mismatches,
    validate_inventory_frame,
    write_eligible_inventory,
)
from tests.publish.conftest import append_ledger, instance_settings, stage
from tests.publish.scenario import first_snapshot


@pytest.fixture
def paths(tmp_path):
    """An isolated instance whose work DB each test seeds with a scenario snapshot (the publish tests' own)."""
    return instance_settings(tmp_path).paths


def inventory(paths) -> dict:
    with duckdb.connect(str(paths.work_db)) as conn:
        write_eligible_inventory(conn, paths.ledger_db)
        frame = conn.execute(f"SELECT * FROM {INVENTORY_TABLE}").df()
    validate_inventory_frame(frame)
    return {(r.project_id, r.vintage): r for r in frame.itertuples()}


def test_quantities_come_from_credits_and_buffer_is_reported_not_subtracted(paths):
    stage(first_snapshot(), paths)
    rows = inventory(paths)
    guyana = rows[("ART102", 2023)]
    # ART: Credits Verified 9,085,923 (quantity) + 535,461 deposited in buffer; 46,404 retired, 1,000 cancelled.
    assert (guyana.issued, guyana.retired, guyana.cancelled, guyana.buffer) == (9_085_923, 46_404, 1_000, 535_461), (
        "ART102 2023 totals must be the sums of its credits rows"
    )
    assert guyana.available == 9_085_923 - 46_404 - 1_000, "the buffer is outside issued and must not be subtracted"
    windrock = rows[("ACR701", 2025)]
    assert windrock.issued == 40_088 + 23_897, "two ACR issuances of the same vintage must be summed"
    assert windrock.risk_adjusted_available == int(58_985 * 0.9), "a 10% haircut floors 58,985 net tonnes"
    assert windrock.registry_url == "https://acr2.apx.com/mymodule/reg/prjView.asp?id1=701", "ACR page link"
    assert list(guyana.badges) == ["ICVCM CCP label", "CORSIA first phase", "SDG"], "badges from the score flags"
    assert guyana.as_of == pd.Timestamp("2026-04-14"), "as_of is the dated raw snapshot folder of the registry"
    assert guyana.name == "Guyana" and guyana.country == "Guyana", "name and country come from projects"


def test_only_eligible_project_vintages_with_credits_left_are_listed(paths):
    stage(first_snapshot(), paths)
    keys = set(inventory(paths))
    assert ("VCS1340", 2021) not in keys, "VCS1340 fails gate G4 and must not be offered"
    assert ("CAR1865", 2025) not in keys, "CAR1865 scores 2 on additionality and must not be offered"
    assert ("CAR1335", 2025) not in keys, "an unscored, non-nature project must not be offered"
    assert keys == {("ART102", 2023), ("ACR701", 2025), ("CAR1745", 2025), ("CAR1749", 2025)}


def test_as_of_falls_back_to_the_latest_transaction_without_dated_snapshots(paths):
    snapshot = first_snapshot()
    snapshot.file_suffix = "loose"  # data/raw/<registry>/loose/... : no date in the path
    stage(snapshot, paths)
    assert inventory(paths)[("ART102", 2023)].as_of == pd.Timestamp("2026-04-08"), "latest ART102 transaction date"


def test_ledger_retirements_count_until_the_registry_shows_them(paths):
    stage(first_snapshot(), paths)
    append_ledger(
        paths,
        [
            ("O-1", "B-1", "CAR1745", 2025, 900, dt.datetime(2026, 4, 20, 9, 0)),
            ("O-2", "B-1", "CAR1745", 2025, 50, dt.datetime(2026, 4, 1, 9, 0)),
            ("O-3", "B-2", "CAR1749", 2025, 2_563, dt.datetime(2026, 4, 14, 0, 0)),
        ],
        recognized=("O-2",),  # the buyers stage matched O-2 to a registry retirement: already in `retired`
    )
    rows = inventory(paths)
    assert rows[("CAR1745", 2025)].retired_for_buyers == 900, "only the unrecognized retirement is pending"
    assert rows[("CAR1745", 2025)].available_net == 4_933 - 900
    assert ("CAR1749", 2025) not in rows, "a project-vintage our buyers exhausted must leave the inventory"


def test_reconciliation_passes_on_the_built_inventory(paths):
    stage(first_snapshot(), paths)
    with duckdb.connect(str(paths.work_db), read_only=True) as conn, ledger_view(conn, paths.ledger_db):
        mismatches = reconciliation_mismatches(conn)
    assert mismatches.empty, f"a freshly built inventory must reconcile with credits:\n{mismatches}"


@pytest.mark.parametrize(
    ("breakage", "problem"),
    [
        ("UPDATE eligible_inventory SET available = available + 1 WHERE project_id = 'CAR1745'",
         "available differs from the supply"),
        ("UPDATE eligible_inventory SET issued = issued - 5 WHERE project_id = 'ART102'",
         "issued differs from credits"),
        ("DELETE FROM eligible_inventory WHERE project_id = 'CAR1749'", "eligible with credits left but missing"),
        ("INSERT INTO eligible_inventory SELECT * FROM eligible_inventory WHERE project_id = 'ACR701'",
         "duplicate project-vintage"),
        ("UPDATE eligible_inventory SET project_id = 'VCS1340', vintage = 2021 WHERE project_id = 'CAR1745'",
         "listed but not eligible in quality_scores"),
        ("UPDATE eligible_inventory SET retired_for_buyers = 10, available_net = available - 10 "
         "WHERE project_id = 'ART102'", "retired_for_buyers differs from the ledger"),
    ],
)  # fmt: skip
def test_reconciliation_names_every_hand_broken_row(paths, breakage, problem):
    stage(first_snapshot(), paths)
    with duckdb.connect(str(paths.work_db)) as conn:
        conn.execute(breakage)
        with ledger_view(conn, paths.ledger_db):
            mismatches = reconciliation_mismatches(conn)
    assert problem in set(mismatches["problem"]), f"{breakage!r} must be reported as {problem!r}; got:\n{mismatches}"


def test_missing_inputs_are_a_clear_error(paths):
    first_snapshot().write(paths.work_db)
    with duckdb.connect(str(paths.work_db)) as conn:
        conn.execute("DROP TABLE quality_scores")
        with pytest.raises(InventoryError, match="quality_scores"):
            write_eligible_inventory(conn, paths.ledger_db)
