"""ACR reader: real APX CSV and platform JSON exports, the buffer semantics, and hand-made bad inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline.ingest import american_carbon_registry as acr
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

REGISTRY = "american-carbon-registry"
BUNDLED = BUNDLED_RAW / REGISTRY
CARBONPLAN = SHARED_DATA / "carbonplan-offsets-db-data" / "tests-data" / REGISTRY
PLATFORM = SHARED_DATA / "rb-carbon-scraper-fixtures"
PLATFORM_FILES = {
    "projects": "acr-projects.json",
    "issuances": "acr-issuances.json",
    "retirements": "acr-retirements.json",
    "cancellations": "acr-cancellations.json",
}


# --------------------------------------------------------------------------------------------------------------
# Real exports
# --------------------------------------------------------------------------------------------------------------


@requires_shared_data
@pytest.mark.parametrize(
    ("dataset", "records"), [("projects", 50), ("issuances", 100), ("retirements", 100), ("cancellations", 50)]
)
def test_every_carbonplan_apx_file_loads_completely(dataset, records):
    load = acr.DATASETS[dataset](CARBONPLAN / f"{dataset}.csv")
    assert_conserved(load, read=records, accepted=records)


@requires_shared_data
@pytest.mark.parametrize(
    ("dataset", "records", "rows"),
    [("projects", 12, 12), ("issuances", 31, 20), ("retirements", 21, 21), ("cancellations", 7, 7)],
)
def test_every_platform_json_file_loads_completely(tmp_path, dataset, records, rows):
    path = shutil.copy(PLATFORM / PLATFORM_FILES[dataset], tmp_path / f"{dataset}.json")
    load = acr.DATASETS[dataset](Path(path))
    assert_conserved(load, read=records, accepted=records)
    assert len(load.accepted) == rows, f"{dataset}.json: expected {rows} harmonized rows, got {len(load.accepted)}"


@requires_shared_data
def test_platform_json_registry_load_normalises_zero_padded_ids(tmp_path):
    folder = tmp_path / REGISTRY
    folder.mkdir()
    for dataset, name in PLATFORM_FILES.items():
        shutil.copy(PLATFORM / name, folder / f"{dataset}.json")
    load = load_registry(REGISTRY, tmp_path)
    assert "ACR885" in set(load.projects["project_id"]), "platform id ACR0885 must be written ACR885"
    assert not load.projects["project_id"].str.contains(r"ACR0").any(), "no zero-padded id may survive"
    assert load.rows_rejected == 0, f"real platform rows rejected: {load.rejected['reason'].tolist()}"
    # ACR119's retirements are the only credits whose project is not among the 12 platform projects.
    unknown = load.credits.loc[~load.credits["project_known"], "project_id"]
    assert unknown.tolist() == ["ACR119"] * 3, f"unexpected unknown-project credits: {unknown.tolist()}"


@requires_shared_data
def test_platform_issuance_is_one_row_per_issuance_key(tmp_path):
    path = shutil.copy(PLATFORM / PLATFORM_FILES["issuances"], tmp_path / "issuances.json")
    credits = acr.read_issuances(Path(path)).accepted
    razorback_2024 = credits[(credits["project_id"] == "ACR885") & (credits["vintage"] == 2024)]
    assert razorback_2024["quantity"].tolist() == [209118], "ACR885 2024: three holdings make one issuance"
    assert razorback_2024["serial_number"].iloc[0].count(" to ") == 3, "the issuance must list its three blocks"
    assert razorback_2024["buffer_quantity"].isna().all(), "the platform does not say which holding is buffer"


@requires_shared_data
def test_platform_labels_become_flags(tmp_path):
    path = shutil.copy(PLATFORM / PLATFORM_FILES["retirements"], tmp_path / "retirements.json")
    credits = acr.read_retirements(Path(path)).accepted
    removal = credits[credits["additional_certifications"] == "VERIFIED_REMOVAL"]
    assert removal["is_removal"].tolist() == [True], "a VERIFIED_REMOVAL label marks a removal"
    pending = credits["additional_certifications"].fillna("").str.contains("CORSIA_PENDING")
    assert pending.any() and credits.loc[pending, "corsia_phase"].isna().all(), (
        "a pending CORSIA label is not an eligibility"
    )
    assert set(credits["retirement_reason"]) == {"Environmental Benefit"}


def test_bundled_exports_load_through_load_registry():
    load = load_registry(REGISTRY, BUNDLED_RAW)
    read = dict(zip(load.audit["dataset"], load.audit["rows_read"], strict=True))
    assert read == {"projects": 50, "issuances": 100, "retirements": 100, "cancellations": 50}, read
    assert load.rows_rejected == 0, f"bundled ACR rows rejected: {load.rejected['reason'].tolist()}"
    assert len(load.credits) == 250 and load.unknown_project_credits == 203, (
        "the 50-project sample names few of the transactions' projects: they are kept and flagged"
    )


def test_issuance_buffer_is_issued_or_transferred_to_the_pool():
    credits = acr.read_issuances(BUNDLED / "issuances.csv").accepted
    by_line = credits.set_index("source_line")
    # Line 33 (ACR279): 19440 total = 15707 to project + 3733 to buffer.
    assert (by_line.loc[33, "quantity"], by_line.loc[33, "buffer_quantity"]) == (15707, 3733)
    # Line 17 (ACR851): 58806 issued to the project, 16941 of them then transferred to the buffer.
    assert (by_line.loc[17, "quantity"], by_line.loc[17, "buffer_quantity"]) == (58806 - 16941, 16941)
    assert by_line.loc[17, "total_issued"] == 58806, "the registry's total is kept"


def test_projects_status_and_classification():
    projects = acr.read_projects(BUNDLED / "projects.csv").accepted.set_index("project_id")
    assert projects.loc["ACR586", ["status", "protocol", "activity"]].tolist() == [
        "registered",
        "acr-ifm-nonfed",
        "IFM",
    ], "ACR586 is a registered IFM project"
    # ACR206 has no voluntary status: its compliance status 'ARB Completed' is used.
    assert projects.loc["ACR206", ["status_raw", "status"]].tolist() == ["ARB Completed", "completed"]
    assert not projects.loc["ACR206", "is_nature_based"], "an ODS project is not nature-based"


# --------------------------------------------------------------------------------------------------------------
# Hand-made bad inputs (first rows of the real bundled exports, one defect each)
# --------------------------------------------------------------------------------------------------------------


def test_missing_required_column_is_a_clear_error(tmp_path):
    path = without(BUNDLED / "retirements.csv", tmp_path / "retirements.csv", "Quantity of Credits")
    with pytest.raises(IngestError, match=r"retirements\.csv: unknown layout .*'Quantity of Credits'"):
        acr.read_retirements(path)


def test_renamed_column_alias_is_accepted_and_unknown_name_is_an_error(tmp_path):
    old_name = renamed(
        BUNDLED / "issuances.csv", tmp_path / "old" / "issuances.csv", "Date Issued (GMT)", "Date Issued"
    )
    assert_conserved(acr.read_issuances(old_name), read=3, accepted=3)
    unknown = renamed(BUNDLED / "issuances.csv", tmp_path / "new" / "issuances.csv", "Date Issued (GMT)", "Issued On")
    with pytest.raises(IngestError, match=r"missing required column\(s\) 'Date Issued \(GMT\)' \| 'Date Issued'"):
        acr.read_issuances(unknown)


def test_dropped_optional_column_keeps_the_flag_unknown(tmp_path):
    path = without(BUNDLED / "retirements.csv", tmp_path / "retirements.csv", "CCP Approved")
    load = acr.read_retirements(path)
    assert_conserved(load, read=3, accepted=3)
    assert load.accepted["ccp_label"].isna().all(), "without the CCP column the label is unknown, not false"


def test_non_numeric_quantity_is_rejected_with_file_line_and_reason(tmp_path):
    path = edited(BUNDLED / "retirements.csv", tmp_path / "retirements.csv", {(1, "Quantity of Credits"): "abc"})
    load = acr.read_retirements(path)
    assert_conserved(load, read=3, accepted=2)
    assert rejected_reasons(load) == {3: "quantity of credits 'abc' is not a number"}
    assert load.file == str(path)
    assert '"Quantity of Credits":"abc"' in load.rejected["raw_record"].iloc[0], "the raw record must be kept"


def test_negative_quantity_is_rejected(tmp_path):
    path = edited(BUNDLED / "cancellations.csv", tmp_path / "cancellations.csv", {(0, "Quantity of Credits"): "-85847"})
    load = acr.read_cancellations(path)
    assert "quantity of credits '-85847' is negative" in rejected_reasons(load)[2]


def test_issuance_whose_parts_do_not_add_up_is_rejected(tmp_path):
    path = edited(BUNDLED / "issuances.csv", tmp_path / "issuances.csv", {(0, "Credits Issued to Buffer Pool"): "10"})
    load = acr.read_issuances(path)
    assert rejected_reasons(load) == {
        2: "total credits issued '74344' is not credits issued to project + to buffer pool"
    }


def test_serial_range_not_matching_the_quantity_is_rejected(tmp_path):
    path = edited(BUNDLED / "retirements.csv", tmp_path / "retirements.csv", {(0, "Quantity of Credits"): "4213"})
    reasons = rejected_reasons(acr.read_retirements(path))
    assert reasons == {2: "serial range 'ACR-FR-1129-2025-2917-30932 to 35143' does not hold the row's quantity"}


def test_duplicate_project_with_conflicting_data_rejects_every_copy(tmp_path):
    header, body = sample(BUNDLED / "projects.csv", 3)
    body.append(list(body[0]))
    body[-1][header.index("Project Name")] = "Another name"
    load = acr.read_projects(write(tmp_path / "projects.csv", header, body))
    reasons = rejected_reasons(load)
    assert set(reasons) == {2, 5}, f"both copies of ACR586 must be rejected, got {reasons}"
    assert all("duplicate project id ACR586 with conflicting data" in r for r in reasons.values())


def test_excel_damaged_project_id_is_rejected(tmp_path):
    path = edited(BUNDLED / "issuances.csv", tmp_path / "issuances.csv", {(2, "Project ID"): "1/28/1914"})
    reasons = rejected_reasons(acr.read_issuances(path))
    assert reasons == {4: "project id '1/28/1914' looks like an Excel-damaged date"}


def test_line_with_an_extra_field_is_rejected_not_shifted(tmp_path):
    path = with_extra_field(BUNDLED / "retirements.csv", tmp_path / "retirements.csv", row=1)
    load = acr.read_retirements(path)
    assert_conserved(load, read=3, accepted=2)
    assert "malformed record: 33 fields, more than the header's 32" in rejected_reasons(load)[3]
    assert load.accepted["source_line"].tolist() == [2, 4], "the neighbours keep their own lines and values"


def test_empty_file_and_wrong_delimiter_are_clear_errors(tmp_path):
    empty = tmp_path / "projects.csv"
    empty.write_bytes(b"")
    with pytest.raises(IngestError, match="file is empty"):
        acr.read_projects(empty)
    header, body = sample(BUNDLED / "projects.csv", 2)
    semicolons = write(tmp_path / "semi" / "projects.csv", header, body, delimiter=";")
    with pytest.raises(IngestError, match="wrong delimiter"):
        acr.read_projects(semicolons)


def test_platform_json_with_unknown_layout_is_a_clear_error(tmp_path):
    path = tmp_path / "retirements.json"
    path.write_text(json.dumps({"datasets": {"retiredCredits": {"rows": [{"holdingKey": "H1", "vintage": "2024"}]}}}))
    with pytest.raises(IngestError, match=r"retirements\.json: unknown layout .*holdingSerialNumber"):
        acr.read_retirements(path)
    wrong_key = tmp_path / "cancellations.json"
    wrong_key.write_text(json.dumps({"datasets": {"retiredCredits": {"rows": []}}}))
    with pytest.raises(IngestError, match=r"expected datasets\.cancelledCredits\.rows"):
        acr.read_cancellations(wrong_key)


@requires_shared_data
def test_platform_holdings_exceeding_their_issuance_are_rejected(tmp_path):
    doc = json.loads((PLATFORM / PLATFORM_FILES["issuances"]).read_text(encoding="utf-8"))
    rows = doc["datasets"]["issuedCredits"]["rows"]
    first = rows[0]  # ACR1187's single 16,820-credit holding
    rows.append(
        {
            **first,
            "holdingKey": "extra",
            "holdingSerialNumber": "ACR-US-1187-2025-2-16821 to 16830",
            "holdingQuantity": 10,
        }
    )
    path = tmp_path / "issuances.json"
    path.write_text(json.dumps(doc))
    load = acr.read_issuances(path)
    reasons = rejected_reasons(load)
    assert reasons == {
        1: "holdings of this issuanceKey add up to more than its issuanceQuantity",
        len(rows): "holdings of this issuanceKey add up to more than its issuanceQuantity",
    }, reasons
    assert_conserved(load, read=len(rows), accepted=len(rows) - 2)


def test_platform_json_with_no_rows_loads_as_an_empty_dataset(tmp_path):
    path = tmp_path / "issuances.json"
    path.write_text(json.dumps({"datasets": {"issuedCredits": {"rows": [], "totalCount": 0}}}))
    load = acr.read_issuances(path)
    assert (load.rows_read, len(load.accepted), load.rows_rejected) == (0, 0, 0), "an empty page is not an error"
