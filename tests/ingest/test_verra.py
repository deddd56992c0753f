"""Verra reader: every real projects/VCU export loads with conserved counts, the rolling-issuance decisions hold,
and each kind of bad input is rejected with file, line and reason (or fails the file with a clear error)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ingest import normalize, verra
from pipeline.ingest.files import IngestError
from pipeline.ingest.load import load_registry
from pipeline.ingest.parsing import extract
from pipeline.settings import REPO_ROOT

SHARED = REPO_ROOT.parent / "shared" / "registry-data"
requires_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared registry exports not present at {SHARED}")
pytestmark = pytest.mark.filterwarnings("ignore:Workbook contains no default style")

PROJECTS_HEADER = [
    "ID",
    "Name",
    "Proponent",
    "Project Type",
    "AFOLU Activities",
    "Methodology",
    "Status",
    "Country/Area",
    "Estimated Annual Emission Reductions",
    "Region",
    "Project Registration Date",
    "Crediting Period Start Date",
    "Crediting Period End Date",
]
TRANSACTIONS_HEADER = [
    "Issuance Date",
    "Sustainable Development Goals",
    "Vintage Start",
    "Vintage End",
    "ID",
    "Name",
    "Country/Area",
    "Project Type",
    "Methodology",
    "Total Vintage Quantity",
    "Quantity Issued",
    "Serial Number",
    "Additional Certifications",
    "Retirement/Cancellation Date",
    "Retirement Beneficiary",
    "Retirement Reason",
    "Retirement Details",
]
AFOLU = "Agriculture Forestry and Other Land Use"


def project(**overrides) -> dict:
    row = dict.fromkeys(PROJECTS_HEADER, "")
    row.update(
        {
            "ID": "1340",
            "Name": "Bale Mountains Eco-region REDD+ project",
            "Proponent": "Oromia Forest and Wildlife Enterprise",
            "Project Type": AFOLU,
            "AFOLU Activities": "REDD",
            "Methodology": "VM0015",
            "Status": "Registered",
            "Country/Area": "Ethiopia",
            "Estimated Annual Emission Reductions": "1,454,054",
            "Region": "Africa",
            "Project Registration Date": "2019-10-23",
            "Crediting Period Start Date": "2017-01-01",
            "Crediting Period End Date": "2036-12-31",
        }
    )
    row.update(overrides)
    return row


def block(first: int, last: int, *, project_id: str = "1340", total: str = "1,000", **overrides) -> dict:
    """One VCU serial block of a 2020 vintage of ``project_id``."""
    row = dict.fromkeys(TRANSACTIONS_HEADER, "")
    row.update(
        {
            "Issuance Date": "2026-04-03",
            "Vintage Start": "2020-01-01",
            "Vintage End": "2020-12-31",
            "ID": project_id,
            "Name": "Bale Mountains Eco-region REDD+ project",
            "Country/Area": "Ethiopia",
            "Project Type": AFOLU,
            "Methodology": "VM0015",
            "Total Vintage Quantity": total,
            "Quantity Issued": f"{last - first + 1:,}",
            "Serial Number": f"19385-{first}-{last}-VCS-VCU-1507-VER-ET-14-{project_id}-01012020-31122020-1",
        }
    )
    row.update(overrides)
    return row


def write_csv(path: Path, header: list[str], rows: list[dict], line_end: str = "\r\n") -> Path:
    """A file as Verra writes it (CRLF, quoted only where needed)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator=line_end)
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def csv_record_count(path: Path) -> int:
    """Raw records counted independently of the reader (the csv module; header excluded)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def rejected_reasons(load) -> dict[int, str]:
    return dict(zip(load.rejected["source_line"], load.rejected["reason"], strict=True))


# ---------------------------------------------------------------------------------------------------------------
# Real files
# ---------------------------------------------------------------------------------------------------------------

REAL_PROJECT_FILES = {
    # file: (records, accepted, rejected)
    "verra-allprojects-snapshots/2023-10_Jacob-C-Smith/allprojects.csv": (3867, 3867, 0),
    "verra-allprojects-snapshots/2024-10_Hang-Ruan/allprojects.csv": (4395, 4395, 0),
    "verra-allprojects-snapshots/2025-01_Swayam2004/allprojects.csv": (4502, 4502, 0),
    "carbonplan-offsets-db-data/tests-data/verra/projects.csv": (50, 50, 0),
    "verra-allprojects-snapshots/2024-04_yc-wang00-xlsx/allprojects.xlsx": (4030, 4029, 1),
}


@requires_shared
@pytest.mark.parametrize("relative", REAL_PROJECT_FILES)
def test_every_real_verra_projects_export_loads_with_conserved_counts(relative):
    path = SHARED / relative
    records, accepted, rejected = REAL_PROJECT_FILES[relative]
    load = verra.read_projects(path)
    if path.suffix == ".csv":
        assert csv_record_count(path) == records, f"{relative}: the fixture's record count changed"
    assert (load.rows_read, load.rows_accepted, load.rows_rejected) == (records, accepted, rejected), (
        f"{relative}: read/accepted/rejected {load.rows_read}/{load.rows_accepted}/{load.rows_rejected}, "
        f"rejections: {load.rejected['reason'].tolist()[:5]}"
    )
    assert load.rows_read == load.rows_accepted + load.rows_rejected, f"{relative}: a record was lost"
    assert len(load.accepted) == accepted, f"{relative}: one projects row per accepted record expected"
    assert load.accepted["project_id"].str.fullmatch(r"VCS[1-9]\d*").all(), f"{relative}: ids not VCS<number>"
    assert load.accepted["project_id"].is_unique, f"{relative}: a project id appears twice"


@requires_shared
def test_xlsx_export_duplicate_row_is_rejected_as_an_exact_duplicate_with_its_worksheet_row():
    load = verra.read_projects(SHARED / "verra-allprojects-snapshots/2024-04_yc-wang00-xlsx/allprojects.xlsx")
    assert rejected_reasons(load) == {3067: "exact duplicate of project VCS120 on line 3066"}, (
        f"the XLSX export lists VCS120 twice (rows 3066 and 3067); got {rejected_reasons(load)}"
    )
    kenya = load.accepted.set_index("project_id").loc["VCS4898"]
    assert kenya["crediting_period_start"] == pd.Timestamp("2021-03-01"), "Excel dates must become dates"
    assert kenya["estimated_annual_reductions"] == 184724, "Excel numbers must stay exact"


@requires_shared
def test_2024_export_quoted_thousands_and_multivalued_afolu():
    load = verra.read_projects(SHARED / "verra-allprojects-snapshots/2025-01_Swayam2004/allprojects.csv")
    projects = load.accepted.set_index("project_id")
    first = projects.loc["VCS5401"]
    assert first["estimated_annual_reductions"] == 424726, "'424,726' must parse as 424726"
    assert first["activity"] == "ARR" and first["is_nature_based"], "AFOLU 'ARR' gives activity ARR"
    multi = projects[projects["afolu_activities"].str.contains(";", na=False)]
    assert len(multi) > 50, "the 2025 export has projects with several AFOLU activities"
    listed = multi["afolu_activities"].str.split(";")
    implied = multi["protocol"].map(normalize.PROTOCOL_ACTIVITY)
    implied_listed = pd.Series([i in codes for i, codes in zip(implied, listed, strict=True)], index=multi.index)
    expected = implied.where(implied_listed, listed.str[0])
    assert (multi["activity"] == expected).all(), (
        "a multi-activity project takes the activity its methodology implies when listed, else the first listed: "
        f"{multi.loc[multi['activity'] != expected, ['afolu_activities', 'protocol', 'activity']].head()}"
    )
    assert implied_listed.any() and (~implied_listed).any(), "the export has both kinds of multi-activity project"
    assert (projects["is_nature_based"] == projects["activity"].notna()).all(), "nature-based iff an activity"
    assert set(projects["status"]) <= {
        "listed",
        "under_validation",
        "registered",
        "on_hold",
        "withdrawn",
        "inactive",
        "rejected",
    }, f"unexpected statuses {set(projects['status'])}"
    assert projects["country_code"].notna().all(), "every Verra country name must map to an ISO code"


def test_kariba_lists_arr_and_redd_and_is_redd_as_its_methodology_says():
    load = verra.read_projects(REPO_ROOT / "data" / "raw" / "verra" / "projects.csv")
    kariba = load.accepted.set_index("project_id").loc["VCS902"]
    assert kariba["afolu_activities"] == "ARR;REDD", "the real export lists Kariba as 'ARR; REDD'"
    assert kariba["protocol"] == "vm0009", "Kariba uses VM0009, a REDD methodology"
    assert kariba["activity"] == "REDD", f"Kariba (VM0009) must be REDD, not the first listed: {kariba['activity']}"


REAL_TRANSACTION_FILES = {
    # file: (records, accepted, rejected, issuances, retirements)
    "verra-vcus-country-subsets/vcus.csv": (731, 731, 0, 11, 731),
    "carbonplan-offsets-db-data/tests-data/verra/transactions.csv": (200, 200, 0, 87, 100),
}


@requires_shared
@pytest.mark.parametrize("relative", REAL_TRANSACTION_FILES)
def test_every_real_vcu_export_loads_with_conserved_counts(relative):
    path = SHARED / relative
    records, accepted, rejected, issuances, retirements = REAL_TRANSACTION_FILES[relative]
    load = verra.read_transactions(path)
    assert csv_record_count(path) == records, f"{relative}: the fixture's record count changed"
    assert (load.rows_read, load.rows_accepted, load.rows_rejected) == (records, accepted, rejected), (
        f"{relative}: {load.rows_read}/{load.rows_accepted}/{load.rows_rejected}: "
        f"{load.rejected['reason'].tolist()[:5]}"
    )
    types = load.accepted["transaction_type"].value_counts().to_dict()
    assert types == {"issuance": issuances, "retirement": retirements}, f"{relative}: transaction types {types}"
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    retired_raw = raw[raw["Retirement/Cancellation Date"] != ""]
    retired_total = retired_raw["Quantity Issued"].str.replace(",", "").astype(int).sum()
    retirements_total = load.accepted.loc[load.accepted["transaction_type"] == "retirement", "quantity"].sum()
    assert retirements_total == retired_total, f"{relative}: retired credits {retirements_total} != {retired_total}"


@requires_shared
@pytest.mark.parametrize("relative", REAL_TRANSACTION_FILES)
def test_real_vcu_exports_never_retire_more_than_was_issued(relative):
    credits = verra.read_transactions(SHARED / relative).accepted
    totals = credits.pivot_table(
        index=["project_id", "vintage"], columns="transaction_type", values="quantity", aggfunc="sum", fill_value=0
    )
    over = totals[totals["retirement"] > totals["issuance"]]
    assert over.empty, f"{relative}: retired exceeds reconstructed issuance for {over.head().to_dict('index')}"


@requires_shared
def test_real_multi_year_vintage_is_assigned_to_its_earliest_year():
    credits = verra.read_transactions(SHARED / "verra-vcus-country-subsets/vcus.csv").accepted
    spanning = credits[credits["vintage_start"].dt.year != credits["vintage_end"].dt.year]
    assert len(spanning) > 700, "vcus.csv is mostly vintage periods spanning two years"
    assert (spanning["vintage"] == spanning["vintage_start"].dt.year).all(), "vintage must be the earliest year"


@requires_shared
def test_real_additional_certifications_become_flags():
    credits = verra.read_transactions(SHARED / "carbonplan-offsets-db-data/tests-data/verra/transactions.csv")
    rows = credits.accepted
    tagged = rows["additional_certifications"].fillna("")
    assert (rows["ccp_label"] == tagged.str.contains("ICVCM CCP")).all(), "ccp_label follows the ICVCM CCP tag"
    first = tagged.str.contains("CORSIA - First Phase")
    assert (rows.loc[first, "corsia_phase"] == "first").all() and first.sum() == 23, "CORSIA first phase"
    pilot = tagged.str.contains("Pilot Phase")
    assert (rows.loc[pilot, "corsia_phase"] == "pilot").all() and pilot.sum() == 1, "CORSIA pilot phase"
    authorized = tagged.str.contains("Article 6 Authorized")
    assert (rows["corresponding_adjustment"] == authorized).all(), "Article 6 authorization sets the CA flag"
    assert rows.loc[tagged.str.contains("Carbon Dioxide Removals"), "is_removal"].all(), "removal tag"


def test_bundled_verra_files_load_through_load_registry():
    load = load_registry("verra", REPO_ROOT / "data" / "raw")
    assert load is not None, "data/raw/verra holds the bundled Verra files"
    audit = load.audit.set_index("dataset")
    assert audit.loc["projects", "rows_read"] == 4502 and audit.loc["transactions", "rows_read"] == 200, (
        f"bundled Verra files changed: {audit[['rows_read', 'rows_accepted', 'rows_rejected']].to_dict('index')}"
    )
    assert (audit["rows_read"] == audit["rows_accepted"] + audit["rows_rejected"]).all(), "rows not conserved"
    assert load.rows_rejected == 0, f"bundled Verra rows rejected: {load.rejected['reason'].tolist()[:5]}"
    unknown = sorted(load.credits.loc[~load.credits["project_known"], "project_id"].unique())
    assert unknown == ["VCS5209"] or len(unknown) < 5, f"transactions of projects missing from the list: {unknown}"
    assert load.credits["project_known"].mean() > 0.9, "the full 2025 project list covers the VCU sample"


# ---------------------------------------------------------------------------------------------------------------
# Rolling issuance, decided and tested on hand-made exports
# ---------------------------------------------------------------------------------------------------------------


def test_blocks_of_one_vintage_are_one_issuance_dated_at_the_first_block(tmp_path):
    path = write_csv(
        tmp_path / "transactions.csv",
        TRANSACTIONS_HEADER,
        [
            block(101, 400, **{"Issuance Date": "2026-04-05", "Retirement/Cancellation Date": "2026-04-10"}),
            block(1, 100, **{"Issuance Date": "2026-04-03"}),  # held: counts towards the issuance only
            block(401, 450, **{"Issuance Date": "2026-04-05", "Retirement/Cancellation Date": "2026-04-12"}),
        ],
    )
    load = verra.read_transactions(path)
    assert load.rows_rejected == 0, f"valid blocks rejected: {load.rejected['reason'].tolist()}"
    issuance = load.accepted[load.accepted["transaction_type"] == "issuance"]
    assert len(issuance) == 1, "three blocks of one project-vintage are one issuance"
    assert issuance["quantity"].iloc[0] == 1000, "the issuance is the Total Vintage Quantity"
    assert issuance["transaction_date"].iloc[0] == pd.Timestamp("2026-04-03"), "dated at the first block"
    assert issuance["source_line"].iloc[0] == 3, "attributed to the earliest block's line"
    retirements = load.accepted[load.accepted["transaction_type"] == "retirement"]
    assert retirements["quantity"].tolist() == [300, 50], "one retirement per retired block"
    assert retirements["source_line"].tolist() == [2, 4], "retirements keep their own lines"


def test_blocks_holding_more_than_the_vintage_total_are_all_rejected(tmp_path):
    path = write_csv(
        tmp_path / "transactions.csv",
        TRANSACTIONS_HEADER,
        [
            block(1, 600, total="1,000", **{"Retirement/Cancellation Date": "2026-04-10"}),
            block(601, 1200, total="1,000"),
            block(1, 10, project_id="981", total="10"),  # another project, consistent
        ],
    )
    load = verra.read_transactions(path)
    reasons = rejected_reasons(load)
    assert set(reasons) == {2, 3}, f"both blocks of the overdrawn vintage must be rejected, got {reasons}"
    assert all("more credits than its Total Vintage Quantity" in r for r in reasons.values()), reasons
    assert load.accepted["project_id"].tolist() == ["VCS981"], "the consistent project still loads"


def test_multi_year_vintage_period_takes_the_earliest_year(tmp_path):
    path = write_csv(
        tmp_path / "transactions.csv",
        TRANSACTIONS_HEADER,
        [block(1, 10, **{"Vintage Start": "2011-07-01", "Vintage End": "2012-04-15"})],
    )
    credits = verra.read_transactions(path).accepted
    assert credits["vintage"].tolist() == [2011], "a 2011-07-01..2012-04-15 vintage is vintage 2011"


# ---------------------------------------------------------------------------------------------------------------
# Bad input: rejected with file, line and reason, or a clear error
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"Quantity Issued": "abc"}, "quantity 'abc' is not a number"),
        ({"Quantity Issued": "-5"}, "quantity '-5' is negative"),
        ({"Quantity Issued": "12.5"}, "quantity '12.5' is not a whole number"),
        ({"ID": "1/28/1914"}, "project id '1/28/1914' looks like an Excel-damaged date"),
        ({"Vintage Start": "1985-01-01", "Vintage End": "1985-12-31"}, "vintage '1985' outside 1990-2100"),
        ({"Vintage Start": "3021-01-01"}, "vintage start '3021-01-01' is not a date (expected YYYY-MM-DD)"),
        ({"Issuance Date": "03/04/2026"}, "issuance date '03/04/2026' is not a date (expected YYYY-MM-DD)"),
        ({"Serial Number": "Article 6 Authorized"}, "serial number 'Article 6 Authorized' is not a Verra VCU serial"),
        ({"Serial Number": "1-1-10-VCS-VCU-1-VER-ET-14-999-01012020-31122020-1"}, "names another project"),
        ({"Quantity Issued": "9"}, "does not hold Quantity Issued credits"),
        ({"Retirement/Cancellation Date": "2026-01-01"}, "retired on '2026-01-01', before the block was issued"),
    ],
)
def test_bad_vcu_values_reject_the_record_with_a_plain_reason(tmp_path, overrides, reason):
    path = write_csv(
        tmp_path / "transactions.csv", TRANSACTIONS_HEADER, [block(1, 10, total="20"), block(11, 20, **overrides)]
    )
    load = verra.read_transactions(path)
    assert load.rows_read == 2 and load.rows_accepted == 1 and load.rows_rejected == 1, (
        f"the bad block must be rejected and the good one kept: {load.rejected.to_dict('records')}"
    )
    rejected = load.rejected.iloc[0]
    assert rejected["source_line"] == 3, "the rejection names the block's line"
    assert reason in rejected["reason"], f"expected {reason!r} in {rejected['reason']!r}"
    column, value = next(iter(overrides.items()))
    assert json.loads(rejected["raw_record"])[column] == value, "the raw record is kept verbatim"
    assert load.file == str(path), "the rejection is traceable to its file"


def test_bad_project_values_reject_the_record_with_a_plain_reason(tmp_path):
    path = write_csv(
        tmp_path / "projects.csv",
        PROJECTS_HEADER,
        [
            project(),
            project(ID="1/28/1914"),
            project(ID="982", **{"Estimated Annual Emission Reductions": "lots"}),
            project(ID="983", **{"AFOLU Activities": "ARR; XYZ"}),
            project(ID="984", **{"Crediting Period Start Date": "2040-01-01"}),
            project(ID="985", **{"Project Registration Date": "23/10/2019"}),
        ],
    )
    load = verra.read_projects(path)
    reasons = rejected_reasons(load)
    assert reasons == {
        3: "project id '1/28/1914' looks like an Excel-damaged date",
        4: "estimated annual emission reductions 'lots' is not a number",
        5: "AFOLU activity 'XYZ' is not one of ARR, IFM, REDD, WRC, ALM, ACoGS",
        6: "crediting period starts '2040-01-01' after it ends",
        7: "registration date '23/10/2019' is not a date (expected YYYY-MM-DD)",
    }, f"got {reasons}"
    assert load.accepted["project_id"].tolist() == ["VCS1340"], "only the clean project is accepted"


def test_duplicate_project_with_conflicting_data_rejects_every_copy(tmp_path):
    path = write_csv(
        tmp_path / "projects.csv",
        PROJECTS_HEADER,
        [project(), project(ID="981", Name="Other"), project(Status="Withdrawn"), project(ID="981", Name="Other")],
    )
    load = verra.read_projects(path)
    reasons = rejected_reasons(load)
    assert set(reasons) == {2, 4, 5}, f"both conflicting VCS1340 copies and the exact VCS981 repeat: {reasons}"
    assert (
        reasons[2]
        == reasons[4]
        == "duplicate project id VCS1340 with conflicting data in 2 copies, the first on line 2; every copy rejected"
    )
    assert reasons[5] == "exact duplicate of project VCS981 on line 3", reasons[5]
    assert load.accepted["project_id"].tolist() == ["VCS981"], "the first of an exact repeat is kept"


def test_line_with_an_extra_field_is_rejected_never_shifted(tmp_path):
    path = write_csv(tmp_path / "projects.csv", PROJECTS_HEADER, [project(), project(ID="981")])
    data = path.read_bytes()
    assert b"2036-12-31\r\n981" in data, "fixture: the first record ends before the second starts"
    path.write_bytes(data.replace(b"2036-12-31\r\n981", b"2036-12-31,surplus\r\n981", 1))
    load = verra.read_projects(path)
    assert load.rows_read == 2 and load.rows_rejected == 1, f"got {load.rejected.to_dict('records')}"
    assert load.rejected.iloc[0]["source_line"] == 2, "the malformed line is named"
    assert "more than the header's 13" in load.rejected.iloc[0]["reason"], load.rejected.iloc[0]["reason"]
    assert load.rejected.iloc[0]["raw_record"].endswith(",surplus"), "the raw line is kept as it was"
    assert load.accepted["project_id"].tolist() == ["VCS981"], "the next line is read normally"


def test_header_drift_whitespace_is_accepted_but_an_unknown_rename_is_an_error(tmp_path):
    drifted = ["ID ", "Name", " Proponent", *PROJECTS_HEADER[3:9], "Region", "Project  Registration Date"]
    rows = [{new: project()[old] for new, old in zip(drifted, PROJECTS_HEADER, strict=False)}]
    load = verra.read_projects(write_csv(tmp_path / "projects.csv", drifted, rows))
    assert load.rows_accepted == 1, f"whitespace drift and dropped optional columns must load: {load.rejected}"
    assert pd.isna(load.accepted["crediting_period_start"].iloc[0]), "a dropped optional column is null"

    renamed = ["Project ID", *PROJECTS_HEADER[1:]]
    rows = [{new: project()[old] for new, old in zip(renamed, PROJECTS_HEADER, strict=True)}]
    with pytest.raises(IngestError, match=r"missing required column\(s\) 'ID'.*Found columns: 'Project ID'"):
        verra.read_projects(write_csv(tmp_path / "renamed.csv", renamed, rows))


def test_missing_required_column_names_the_file_and_the_expected_columns(tmp_path):
    header = [h for h in TRANSACTIONS_HEADER if h != "Quantity Issued"]
    rows = [{h: v for h, v in block(1, 10).items() if h != "Quantity Issued"}]
    path = write_csv(tmp_path / "transactions.csv", header, rows)
    with pytest.raises(IngestError) as error:
        verra.read_transactions(path)
    message = str(error.value)
    assert str(path) in message and "'Quantity Issued'" in message and "Expected columns" in message, message


def test_empty_file_and_wrong_delimiter_fail_the_file_clearly(tmp_path):
    empty = tmp_path / "projects.csv"
    empty.write_bytes(b"")
    with pytest.raises(IngestError, match="file is empty"):
        verra.read_projects(empty)
    semicolons = tmp_path / "semicolons.csv"
    semicolons.write_text(";".join(PROJECTS_HEADER) + "\n" + ";".join(project().values()) + "\n", encoding="utf-8")
    with pytest.raises(IngestError, match="wrong delimiter"):
        verra.read_projects(semicolons)


def test_xlsx_export_with_an_excel_damaged_id_cell(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Results"
    sheet.append(PROJECTS_HEADER)
    sheet.append(list(project().values()))
    damaged = list(project().values())
    damaged[0] = pd.Timestamp("1914-01-28").to_pydatetime()  # what Excel does to '1/28/1914'
    sheet.append(damaged)
    path = tmp_path / "projects.xlsx"
    book.save(path)
    load = verra.read_projects(path)
    assert rejected_reasons(load) == {3: "project id '1914-01-28' looks like an Excel-damaged date"}, (
        f"got {rejected_reasons(load)}"
    )
    assert load.accepted["project_id"].tolist() == ["VCS1340"], "the clean row loads"


SERIAL_LIKE = st.lists(
    st.sampled_from(["1", "12345678", "0641", "VCS", "VCU", "a", "", " ", "\t", "\u00a0", "-", "8"]), max_size=14
).map("-".join)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(SERIAL_LIKE, st.none(), st.text(max_size=30)), min_size=1, max_size=20))
def test_serial_parts_equals_the_full_serial_pattern(values):
    real = ["6476-796998892-797012569-VCS-VCU-219-VER-CN-1-5286-01012025-31122025-1"]
    older = [" 4147-176338408-176338907-VCU-016-MER-AU-14-641-16042012-15042013-0\n"]
    for dtype in (object, "string[pyarrow]"):
        serials = pd.Series(real + older + values, dtype=dtype)
        expected = extract(serials, verra.SERIAL, numbers=("first", "last", "project"))
        expected["serial"] = expected["serial"].astype("string[pyarrow]")
        pd.testing.assert_frame_equal(verra.serial_parts(serials), expected, obj=f"serial parts of {dtype} serials")
