"""Climate Action Reserve reader: real APX exports, both projects layouts, buffers, and hand-made bad inputs."""

from __future__ import annotations

import pytest

from pipeline.ingest import climate_action_reserve as car
from pipeline.ingest.files import IngestError
from pipeline.ingest.load import load_registry
from tests.conftest import BUNDLED_RAW, SHARED_DATA, requires_shared_data
from tests.ingest.apx_samples import (
    assert_conserved,
    edited,
    rejected_reasons,
    renamed,
    sample,
    with_extra_field,
    without,
    write,
)

REGISTRY = "climate-action-reserve"
BUNDLED = BUNDLED_RAW / REGISTRY
CARBONPLAN = SHARED_DATA / "carbonplan-offsets-db-data" / "tests-data" / REGISTRY
AUG_2026_DROPPED = ("ARB ID", "WA ECO", "ARB Project Status", "WA ECO Project Status")


@requires_shared_data
@pytest.mark.parametrize(
    ("dataset", "records"), [("projects", 50), ("issuances", 100), ("retirements", 100), ("cancellations", 50)]
)
def test_every_carbonplan_file_loads_completely(dataset, records):
    load = car.DATASETS[dataset](CARBONPLAN / f"{dataset}.csv")
    assert_conserved(load, read=records, accepted=records)


def test_bundled_exports_load_through_load_registry():
    load = load_registry(REGISTRY, BUNDLED_RAW)
    read = dict(zip(load.audit["dataset"], load.audit["rows_read"], strict=True))
    assert read == {"projects": 50, "issuances": 100, "retirements": 100, "cancellations": 50}, read
    assert load.rows_rejected == 0, f"bundled CAR rows rejected: {load.rejected['reason'].tolist()}"
    assert set(load.credits["transaction_type"]) == {"issuance", "retirement", "cancellation"}


def test_aug_2026_projects_layout_without_the_arb_and_wa_columns_loads(tmp_path):
    header, body = sample(BUNDLED / "projects.csv", 4)
    keep = [i for i, h in enumerate(header) if h not in AUG_2026_DROPPED]
    header = [header[i] for i in keep]
    body = [[row[i] for i in keep] for row in body]
    body[1][header.index("Authorized Project Designee")] = "None"  # literal placeholders of the raw export
    body[1][header.index("Project Notes")] = "N/A"
    load = car.read_projects(write(tmp_path / "projects.csv", header, body))
    assert_conserved(load, read=4, accepted=4)
    assert load.accepted["notes"].isna().iloc[1], "'N/A' is a placeholder, not a note"


def test_projects_status_protocol_and_activity_from_project_type():
    projects = car.read_projects(BUNDLED / "projects.csv").accepted.set_index("project_id")
    assert projects.loc["CAR1957", ["status", "protocol", "activity", "is_nature_based"]].tolist() == [
        "listed",
        "arb-forest",
        "ARR",
        True,
    ], "CAR1957 is a listed ARB reforestation project"
    assert projects.loc["CAR1460", ["protocol", "activity"]].tolist() == ["car-grassland", "AGC"]
    assert projects.loc["CAR655", "status"] == "transitioned"
    assert str(projects.loc["CAR1458", "registration_date"].date()) == "2021-01-28"


def test_issuance_quantity_is_net_of_reserve_and_compliance_buffers():
    credits = car.read_issuances(BUNDLED / "issuances.csv").accepted.set_index("source_line")
    # Line 13, CAR1865 (Mexico forest): 58013 issued, 16879 currently in the Reserve buffer pool.
    assert credits.loc[13, ["quantity", "buffer_quantity", "total_issued"]].tolist() == [41134, 16879, 58013]
    # Line 45, CAR1098 (ARB compliance IFM): 34444 issued, 6626 intended for the compliance buffer pool.
    assert credits.loc[45, ["quantity", "buffer_quantity"]].tolist() == [34444 - 6626, 6626]
    assert credits.loc[13, "is_removal"], "Reduction/Removal 'Removal' marks a removal"
    assert (credits["quantity"] + credits["buffer_quantity"].fillna(0) == credits["total_issued"]).all(), (
        "quantity + buffer must give back the registry's total on every issuance"
    )


def test_icvcm_ccp_eligible_spelling_is_read_as_the_ccp_label(tmp_path):
    path = renamed(BUNDLED / "retirements.csv", tmp_path / "retirements.csv", "CCP Approved", "ICVCM CCP Eligible")
    original = car.read_retirements(BUNDLED / "retirements.csv").accepted["ccp_label"].head(3).tolist()
    load = car.read_retirements(path)
    assert_conserved(load, read=3, accepted=3)
    assert load.accepted["ccp_label"].tolist() == original, "the Aug-2026 header must carry the same label"


def test_missing_required_column_is_a_clear_error(tmp_path):
    path = without(BUNDLED / "issuances.csv", tmp_path / "issuances.csv", "Total Offset Credits Issued")
    with pytest.raises(IngestError, match=r"issuances\.csv: unknown layout .*'Total Offset Credits Issued'"):
        car.read_issuances(path)


def test_unknown_column_name_is_a_clear_error(tmp_path):
    path = renamed(BUNDLED / "retirements.csv", tmp_path / "retirements.csv", "Status Effective", "Retired On")
    with pytest.raises(IngestError, match=r"missing required column\(s\) 'Status Effective'"):
        car.read_retirements(path)


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("Quantity of Offset Credits", "5,000x", "quantity of offset credits '5,000x' is not a number"),
        ("Quantity of Offset Credits", "-5000", "quantity of offset credits '-5000' is negative"),
        ("Project ID", "1/28/1914", "project id '1/28/1914' looks like an Excel-damaged date"),
        ("Reduction/Removal", "Mixed", "Reduction/Removal 'Mixed' is neither Removal nor Reduction"),
        ("Status Effective", "2025-10-27", "status effective date '2025-10-27' is not a date"),
        ("Vintage", "3021", "vintage '3021' outside 1990-2100"),
    ],
)
def test_bad_retirement_values_reject_their_record(tmp_path, column, value, reason):
    path = edited(BUNDLED / "retirements.csv", tmp_path / "retirements.csv", {(0, column): value})
    load = car.read_retirements(path)
    assert_conserved(load, read=3, accepted=2)
    assert reason in rejected_reasons(load)[2], f"{column}={value!r}: got {rejected_reasons(load)}"


def test_buffer_larger_than_the_issuance_is_rejected(tmp_path):
    header, body = sample(BUNDLED / "issuances.csv", 12)
    body[11][header.index("Offset Credits Currently in Reserve Buffer Pool")] = "60000"
    load = car.read_issuances(write(tmp_path / "issuances.csv", header, body))
    assert rejected_reasons(load) == {
        13: "buffer contributions of '60000' credits exceed the total offset credits issued"
    }


def test_duplicate_project_with_conflicting_data_rejects_every_copy(tmp_path):
    header, body = sample(BUNDLED / "projects.csv", 2)
    body.append(list(body[1]))
    body[-1][header.index("Status")] = "Registered"
    reasons = rejected_reasons(car.read_projects(write(tmp_path / "projects.csv", header, body)))
    assert set(reasons) == {3, 4} and all("conflicting data" in r for r in reasons.values()), reasons


def test_retirement_with_24_fields_for_23_headers_is_quarantined(tmp_path):
    path = with_extra_field(BUNDLED / "retirements.csv", tmp_path / "retirements.csv", row=2)
    load = car.read_retirements(path)
    assert_conserved(load, read=3, accepted=2)
    assert rejected_reasons(load)[4].startswith("malformed record: 24 fields, more than the header's 23")


def test_empty_file_and_wrong_delimiter_are_clear_errors(tmp_path):
    empty = tmp_path / "cancellations.csv"
    empty.write_bytes(b"")
    with pytest.raises(IngestError, match="file is empty"):
        car.read_cancellations(empty)
    header, body = sample(BUNDLED / "cancellations.csv", 2)
    tabs = write(tmp_path / "tab" / "cancellations.csv", header, body, delimiter="\t")
    with pytest.raises(IngestError, match="wrong delimiter"):
        car.read_cancellations(tabs)
