"""ART TREES reader: the real APX exports (the full programme list), buffers, flags, and hand-made bad inputs."""

from __future__ import annotations

import pytest

from pipeline.ingest import art_trees as art
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

REGISTRY = "art-trees"
BUNDLED = BUNDLED_RAW / REGISTRY
CARBONPLAN = SHARED_DATA / "carbonplan-offsets-db-data" / "tests-data" / REGISTRY


@requires_shared_data
@pytest.mark.parametrize(
    ("dataset", "records"), [("projects", 28), ("issuances", 11), ("retirements", 8), ("cancellations", 3)]
)
def test_every_carbonplan_file_loads_completely(dataset, records):
    load = art.DATASETS[dataset](CARBONPLAN / f"{dataset}.csv")
    assert_conserved(load, read=records, accepted=records)


def test_bundled_exports_load_and_every_transaction_names_a_known_programme():
    load = load_registry(REGISTRY, BUNDLED_RAW)
    assert load.rows_read == 50 and load.rows_rejected == 0, f"rejected: {load.rejected['reason'].tolist()}"
    assert load.unknown_project_credits == 0, "the ART sample is the full programme list: every credit is known"


def test_programmes_are_jurisdictional_redd_with_iso_countries():
    projects = art.read_projects(BUNDLED / "projects.csv").accepted.set_index("project_id")
    assert set(projects["activity"]) == {"JREDD"} and projects["is_nature_based"].all()
    assert projects.loc["ART130", ["country_code", "protocol", "status"]].tolist() == [
        "CI",
        "fcpf-carbon-fund",
        "registered",
    ], "ART130 (COTE D'IVOIRE, FCPF) must map to CI and its own protocol key"
    assert projects.loc["ART102", ["country_code", "protocol"]].tolist() == ["GY", "art-trees"]
    assert projects["country_code"].notna().all(), "every upper-case ART country must map to an ISO code"


def test_issuance_is_credits_verified_with_the_buffer_deposit_beside_it():
    credits = art.read_issuances(BUNDLED / "issuances.csv").accepted.set_index("source_line")
    # Line 3: Guyana 2023, 9,621,384 ERs = 9,085,923 verified + 535,461 deposited in the buffer.
    assert credits.loc[3, ["project_id", "vintage", "quantity", "buffer_quantity", "total_issued"]].tolist() == [
        "ART102",
        2023,
        9085923,
        535461,
        9621384,
    ]
    assert credits.loc[3, "methodology_version"] == "Version 2.0"


def test_corsia_flags_of_cancellations_and_retirements():
    cancellations = art.read_cancellations(BUNDLED / "cancellations.csv").accepted
    assert set(cancellations["corsia_phase"]) == {"pilot;first"}, "both CORSIA phase columns say Yes"
    assert set(cancellations["retirement_reason"]) == {"CORSIA Compliance"}
    retirements = art.read_retirements(BUNDLED / "retirements.csv").accepted
    guyana = retirements[retirements["project_id"] == "ART102"]
    assert set(guyana["corsia_phase"]) == {"pilot"}, guyana["corsia_phase"].tolist()
    assert retirements.loc[retirements["project_id"] == "ART130", "corsia_phase"].isna().all()


def test_issuance_whose_total_is_not_verified_plus_buffer_is_rejected(tmp_path):
    path = edited(BUNDLED / "issuances.csv", tmp_path / "issuances.csv", {(1, "Credits Deposited in Buffer"): "1"})
    load = art.read_issuances(path)
    assert rejected_reasons(load) == {
        3: "total emission reductions/removals '9621384' is not credits verified + credits deposited in buffer"
    }


def test_missing_and_renamed_columns(tmp_path):
    with pytest.raises(IngestError, match=r"unknown layout for ART issuances .*'Credits Verified'"):
        art.read_issuances(without(BUNDLED / "issuances.csv", tmp_path / "a" / "issuances.csv", "Credits Verified"))
    # Whitespace drift in 'Program  Country' is tolerated; a different name is not.
    single_space = renamed(
        BUNDLED / "projects.csv", tmp_path / "b" / "projects.csv", "Program  Country", "Program Country"
    )
    assert_conserved(art.read_projects(single_space), read=3, accepted=3)
    other = renamed(BUNDLED / "projects.csv", tmp_path / "c" / "projects.csv", "Program  Country", "Nation")
    with pytest.raises(IngestError, match=r"missing required column\(s\) 'Program Country'"):
        art.read_projects(other)


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("Quantity of Credits", "1000.5", "quantity of credits '1000.5' is not a whole number"),
        ("Quantity of Credits", "-1000", "quantity of credits '-1000' is negative"),
        ("Program ID", "2/28/2024", "program id '2/28/2024' looks like an Excel-damaged date"),
        ("Credit Serial Numbers", "ART-GY-103-2021-11-2759599 to 2760598", "names another project than the row"),
        ("Eligible for CORSIA 2021-2023 Compliance Period (Pilot Phase)", "Pending", "is not Yes or No"),
    ],
)
def test_bad_cancellation_values_reject_their_record(tmp_path, column, value, reason):
    path = edited(BUNDLED / "cancellations.csv", tmp_path / "cancellations.csv", {(0, column): value})
    load = art.read_cancellations(path)
    assert_conserved(load, read=3, accepted=2)
    assert reason in rejected_reasons(load)[2], f"{column}={value!r}: got {rejected_reasons(load)}"


def test_duplicate_programme_with_conflicting_data_rejects_every_copy(tmp_path):
    header, body = sample(BUNDLED / "projects.csv", 2)
    body.append(list(body[0]))
    body[-1][header.index("Status")] = "Registered"
    reasons = rejected_reasons(art.read_projects(write(tmp_path / "projects.csv", header, body)))
    assert set(reasons) == {2, 4} and all("duplicate project id ART123" in r for r in reasons.values()), reasons


def test_extra_field_empty_file_and_wrong_delimiter(tmp_path):
    load = art.read_retirements(with_extra_field(BUNDLED / "retirements.csv", tmp_path / "retirements.csv", row=0))
    assert_conserved(load, read=3, accepted=2)
    assert rejected_reasons(load)[2].startswith("malformed record: 21 fields, more than the header's 20")
    empty = tmp_path / "e" / "issuances.csv"
    empty.parent.mkdir()
    empty.write_bytes(b"")
    with pytest.raises(IngestError, match="file is empty"):
        art.read_issuances(empty)
    header, body = sample(BUNDLED / "issuances.csv", 2)
    with pytest.raises(IngestError, match="wrong delimiter"):
        art.read_issuances(write(tmp_path / "d" / "issuances.csv", header, body, delimiter="|"))
