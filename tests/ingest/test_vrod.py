"""Berkeley's VROD PROJECTS sheet, read from the real v2025-12 release, from a native-layout workbook built from it,
and from the 2021 CSV conversion."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from benchmarks.vrod_workbook import write_native_workbook
from pipeline.ingest.files import IngestError
from pipeline.ingest.vrod import BLOCK_WORDS, load_vrod, read_vrod
from tests.conftest import SHARED_DATA

RELEASE = SHARED_DATA / "berkeley-vrod-v2025-12" / "Voluntary-Registry-Offsets-Database--v2025-12-year-end.parquet"
CSV_2021 = SHARED_DATA / "berkeley-vrod-v3-2021-open-offsets-directory" / "projects.csv"
pytestmark = pytest.mark.skipif(not RELEASE.is_file(), reason=f"VROD release not present at {RELEASE}")

ISSUED = 2_554_813_143
REMAINING = 1_092_517_053
FIVE = {"verra", "gold-standard", "american-carbon-registry", "climate-action-reserve", "art-trees"}


@pytest.fixture(scope="module")
def release():
    return read_vrod(RELEASE)


def _raw(record: str) -> dict:
    return json.loads(record)


def test_the_v2025_12_release_is_read_whole_with_every_rejected_row_explained(release):
    assert release.rows_read == 10_975, "VROD v2025-12 has 10,975 project rows"
    assert release.rows_read == len(release.projects) + release.rows_rejected, "a project row was lost"
    assert (release.audit["rows_read"] == release.audit["rows_accepted"] + release.audit["rows_rejected"]).all()
    assert set(release.projects["registry"]) == FIVE, "projects of all five registries"
    assert release.rejected["reason"].str.len().gt(0).all(), "a rejected row without a reason"

    raw = [_raw(r) for r in release.rejected["raw_record"]]
    rejected_issued = sum(int(r["Total Credits \nIssued"]) for r in raw)
    rejected_remaining = sum(int(r["Total Credits Remaining"]) for r in raw)
    assert int(release.vintages["issued"].sum()) + rejected_issued == ISSUED
    assert int(release.vintages["remaining"].sum()) + rejected_remaining == REMAINING
    rejected_vintages = sum(1 for r in raw for k, v in r.items() if BLOCK_WORDS["issued"] in k and int(v or 0) > 0)
    assert int((release.vintages["issued"] > 0).sum()) + rejected_vintages == 26_030, "VROD's issued project-vintages"
    # The two rejected rows are Verra's plastic-program ids, which no registry project id pattern admits.
    assert sorted(r["Project ID"] for r in raw) == ["VCSOPR10", "VCSOPR2"]
    assert release.rejected["reason"].str.contains("is not an id of its Voluntary Registry").all()


def test_kariba_keeps_its_id_registry_and_project_level_buffer(release):
    kariba = release.projects.set_index("project_id").loc["VCS902"]
    assert kariba["registry"] == "verra"
    assert kariba["total_issued"] == 29_016_364
    assert kariba["buffer_deposits"] == 5_049_473 == kariba["reversals_covered"]
    assert kariba["activity"] == "REDD" and kariba["status"] == "withdrawn" and kariba["country_code"] == "ZW"
    assert release.vintages.query("project_id == 'VCS902'")["issued"].sum() == 29_016_364
    assert release.as_of == pd.Timestamp("2025-12-31").date(), "as-of: the latest 'Date Project Added to Database'"


def test_a_compliance_only_project_has_its_arb_or_ecology_status(release):
    """366 ACR projects (150M credits issued) have no voluntary status, only an ARB / Washington Ecology one: as the
    ACR reader does, that status is theirs, instead of 'unknown'; a project transferred to ARB or Ecology has
    transitioned to a compliance program."""
    acr = release.projects.query("registry == 'american-carbon-registry'")
    compliance_only = acr[acr["compliance_status"].notna() & (acr["status_raw"] == acr["compliance_status"])]
    assert len(compliance_only) == 366, f"ACR projects with only an ARB / WA status: {len(compliance_only)}"
    assert compliance_only["status"].value_counts().to_dict() == {
        "completed": 121,
        "registered": 125,
        "inactive": 54,
        "transitioned": 24,
        "listed": 21,
        "rejected": 21,
    }, "ARB Completed, Listed - Active ... Project, ARB Inactive, Transferred ARB or Ecology Project, Listed - Proposed"
    assert release.projects["compliance_status"].notna().sum() > 366, "every project's ARB / WA status is kept"


# --------------------------------------------------------------------------------------------------------------
# The native workbook, built from the release (benchmarks/vrod_workbook.py)
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    """Every 25th project of the release (all five registries, 439 rows): enough to test the layout, quick to write."""
    frame = pq.read_table(RELEASE).to_pandas()
    return frame.iloc[::25].reset_index(drop=True)


def _comparable(load) -> tuple[pd.DataFrame, pd.DataFrame]:
    drop = ["source_file", "source_line"]
    return (
        load.projects.drop(columns=drop).reset_index(drop=True),
        load.vintages.drop(columns=drop).reset_index(drop=True),
    )


def test_a_native_workbook_reads_to_the_same_tables_as_the_parquet(tmp_path, sample):
    assert {"ART", "ACR", "CAR", "GOLD", "VCS"} <= set(sample["Voluntary Registry"])
    sample.to_parquet(tmp_path / "projects.parquet")
    from_parquet = read_vrod(tmp_path / "projects.parquet")
    from_workbook = read_vrod(write_native_workbook(sample, tmp_path / "projects.xlsx"))

    assert from_workbook.rows_read == len(sample) == from_parquet.rows_read
    projects_x, vintages_x = _comparable(from_workbook)
    projects_p, vintages_p = _comparable(from_parquet)
    pd.testing.assert_frame_equal(projects_x, projects_p, check_dtype=False)
    pd.testing.assert_frame_equal(vintages_x, vintages_p, check_dtype=False)
    # Worksheet rows: the header is row 4, so the n-th project is row n + 4 (the parquet's line n + 1).
    assert (
        from_workbook.projects["source_line"].to_numpy() == from_parquet.projects["source_line"].to_numpy() + 3
    ).all()


def test_a_workbook_whose_blocks_disagree_with_its_totals_gives_rejected_rows_with_the_difference(tmp_path, sample):
    broken = sample.copy()
    issuer = broken.index[broken["Total Credits \nIssued"] > 0][0]
    broken.loc[issuer, "2020"] += 1000  # issued by vintage, now 1,000 above Total Credits Issued
    retirer = broken.index[broken["Total Credits \nRetired"] > 0][1]
    broken.loc[retirer, "Year \nUnknown"] += 7  # retired block 7 above Total Credits Retired
    load = read_vrod(write_native_workbook(broken, tmp_path / "projects.xlsx"))

    assert load.rows_read == len(broken) == len(load.projects) + load.rows_rejected
    reasons = load.rejected.set_index("source_line")["reason"]
    assert "credits issued by vintage sum to" in reasons[issuer + 5] and "(difference +1,000)" in reasons[issuer + 5]
    assert "(difference +7)" in reasons[retirer + 5] and "retired by retirement year" in reasons[retirer + 5]
    rejected_ids = {_raw(r)["Project ID"] for r in load.rejected["raw_record"]}
    assert {broken.loc[issuer, "Project ID"], broken.loc[retirer, "Project ID"]} <= rejected_ids
    assert not set(load.vintages["project_id"]) & rejected_ids, "a rejected project's vintages were kept"


def test_a_year_cell_that_is_not_a_number_rejects_its_project_with_the_value(tmp_path, sample):
    broken = sample.astype({"2019": object})
    broken.loc[3, "2019"] = "12,5OO"
    load = read_vrod(write_native_workbook(broken, tmp_path / "projects.xlsx"))
    reason = load.rejected.set_index("source_line")["reason"][3 + 5]
    assert "'12,5OO' is not a number" in reason and "credits issued by vintage 2019" in reason


def test_a_workbook_with_an_unknown_layout_is_a_clear_error(tmp_path, sample):
    with pytest.raises(IngestError, match="expected four blocks of the same year columns"):
        read_vrod(write_native_workbook(sample, tmp_path / "three_blocks.xlsx", blocks=3))
    renamed = sample.rename(columns={"Voluntary Registry": "Registry"})
    with pytest.raises(IngestError, match="missing required column.*'Voluntary Registry'"):
        read_vrod(write_native_workbook(renamed, tmp_path / "renamed.xlsx"))
    no_header = sample.rename(columns={"Project ID": "Identifier"})
    with pytest.raises(IngestError, match="no 'Project ID' header in the first 10 rows"):
        read_vrod(write_native_workbook(no_header, tmp_path / "no_header.xlsx"))


@pytest.mark.skipif(not CSV_2021.is_file(), reason="2021 CSV conversion not present")
def test_the_2021_csv_conversion_is_read_by_its_header_names():
    load = read_vrod(CSV_2021)
    assert load.rows_read == 5_805 == len(load.projects) + load.rows_rejected
    assert set(load.projects["registry"]) == FIVE - {"art-trees"}, "ART TREES joined VROD in 2024"
    issued = load.projects["total_issued"].sum()
    assert load.vintages["issued"].sum() == issued, "issued by vintage sums to the accepted projects' totals"
    assert load.as_of == pd.Timestamp("2021-12-01").date()


def test_the_latest_dated_snapshot_is_read_and_dates_its_rows(tmp_path, sample):
    folder = tmp_path / "raw" / "berkeley-vrod"
    (folder / "2026-02-01").mkdir(parents=True)
    sample.iloc[:10].to_parquet(folder / "projects.parquet")  # placed by hand, older: ignored
    sample.to_parquet(folder / "2026-02-01" / "projects.parquet")
    (folder / "2026-03-01.partial").mkdir()  # a download in progress: never read
    sample.iloc[:5].to_parquet(folder / "2026-03-01.partial" / "projects.parquet")
    load = load_vrod(tmp_path / "raw")
    assert load.file == folder / "2026-02-01" / "projects.parquet"
    assert load.rows_read == len(sample)
    assert load.as_of == pd.Timestamp("2026-02-01").date(), "a dated snapshot's rows are as of its folder's day"
    assert load_vrod(tmp_path / "nothing here") is None
