"""Gold Standard reader: the full projects export (multi-line descriptions), issuances and both retirement
layouts load with conserved counts; PERs, cancellations and labels follow the decided semantics; bad input is
rejected with file, line and reason."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.ingest import gold_standard
from pipeline.ingest.files import IngestError
from pipeline.ingest.load import load_registry
from pipeline.settings import REPO_ROOT

SHARED = REPO_ROOT.parent / "shared" / "registry-data"
requires_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared registry exports not present at {SHARED}")
FULL_EXPORT = "gold-standard-projects-export/GSF Registry Projects Export 2026-06-04.csv"
CARBONPLAN = "carbonplan-offsets-db-data/tests-data/gold-standard"

PROJECTS_HEADER = [
    "GSID",
    "Project Name",
    "Project Developer Name",
    "Status",
    "Sustainable Development Goals",
    "Project Type",
    "Country",
    "Description",
    "Estimated Annual Credits",
    "Methodology",
    "Size",
    "Programme of Activities",
    "POA GSID",
]
ISSUANCES_HEADER = [
    "Vintage",
    "Credit Status",
    "Quantity",
    "GSID",
    "Project Name",
    "Project Developer",
    "Country",
    "Project Type",
    "Methodology",
    "Programme of Activities",
    "POA GSID",
    "Product Type",
    "Issuance Date",
    "Monitoring Period Start",
    "Monitoring Period End",
    "Serial Number",
    "Label",
    "Article Six Authorization",
]
RETIREMENTS_HEADER = [
    "Vintage",
    "Credit Status",
    "Quantity",
    "GSID",
    "Project Name",
    "Project Developer",
    "Country",
    "Product Type",
    "Project Type",
    "Methodology",
    "Programme of Activities",
    "POA GSID",
    "Issuance Date",
    "Retirement Date",
    "Monitoring Period Start",
    "Monitoring Period End",
    "Serial Number",
    "Note",
    "Aeroplane Operator Name",
    "Label",
    "Use Case",
    "Using Entity",
    "Article Six Authorization",
]
OLD_RETIREMENTS_HEADER = [
    *RETIREMENTS_HEADER[: RETIREMENTS_HEADER.index("Note") + 1],
    "Eligible for CORSIA?",
    "Retired for CORSIA?",
    "CORSIA Authorisation",
    "Aeroplane Operator Name",
]


def project(**overrides) -> dict:
    row = dict.fromkeys(PROJECTS_HEADER, "")
    row.update(
        {
            "GSID": "11236",
            "Project Name": "BioLite Improved Cook stoves Programme - CPA 028",
            "Project Developer Name": "BioLite Inc.",
            "Status": "Gold Standard Certified Project",
            "Sustainable Development Goals": "5,13,3",
            "Project Type": "Energy Efficiency - Domestic",
            "Country": "Uganda",
            "Description": "Cookstoves for households.\nSecond paragraph, on its own line.",
            "Estimated Annual Credits": "30000",
            "Methodology": "GS TPDDTEC v3.1",
            "Size": "Small Scale",
            "Programme of Activities": "VPA",
            "POA GSID": "11191.0",
        }
    )
    row.update(overrides)
    return row


def credit(header: list[str], quantity: int = 100, *, gsid: str = "11236", vintage: str = "2024", **overrides) -> dict:
    row = dict.fromkeys(header, "")
    row.update(
        {
            "Vintage": vintage,
            "Credit Status": "Issued",
            "Quantity": str(quantity),
            "GSID": gsid,
            "Project Name": "BioLite Improved Cook stoves Programme - CPA 028",
            "Country": "Uganda",
            "Product Type": "VER",
            "Issuance Date": "2026-04-13T12:35:58.842275",
            "Monitoring Period Start": "2024-01-01",
            "Monitoring Period End": "2024-12-08",
            "Serial Number": f"GS1-1-UG-GS{gsid}-16-{vintage}-30307-1-{quantity}",
            "Label": "Emission Reduction",
        }
    )
    if "Retirement Date" in header:
        row.update({"Credit Status": "Retired", "Issuance Date": "2026-03-31", "Retirement Date": "2026-04-10"})
    if "Article Six Authorization" in header:
        row["Article Six Authorization"] = "Not Applicable"
    row.update(overrides)
    return {h: row[h] for h in header}  # the older layout has no Label / Article Six Authorization


def write_csv(path: Path, header: list[str], rows: list[dict], quoting: int = csv.QUOTE_MINIMAL) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n", quoting=quoting)
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def record_start_lines(path: Path) -> list[int]:
    """Where each record starts, by the csv module (an independent count of physical lines)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        starts, start = [], reader.line_num + 1
        for _ in reader:
            starts.append(start)
            start = reader.line_num + 1
    return starts


def rejected_reasons(load) -> dict[int, str]:
    return dict(zip(load.rejected["source_line"], load.rejected["reason"], strict=True))


# ---------------------------------------------------------------------------------------------------------------
# Real files
# ---------------------------------------------------------------------------------------------------------------

REAL_FILES = {
    # file: (reader, records, accepted, rejected)
    FULL_EXPORT: ("projects", 4105, 4105, 0),
    f"{CARBONPLAN}/projects.csv": ("projects", 50, 50, 0),
    f"{CARBONPLAN}/issuances.csv": ("issuances", 100, 100, 0),
    f"{CARBONPLAN}/retirements.csv": ("retirements", 100, 100, 0),
}


@requires_shared
@pytest.mark.parametrize("relative", REAL_FILES)
def test_every_real_gold_standard_file_loads_with_conserved_counts(relative):
    dataset, records, accepted, rejected = REAL_FILES[relative]
    path = SHARED / relative
    load = gold_standard.DATASETS[dataset](path)
    assert len(record_start_lines(path)) == records, f"{relative}: the fixture's record count changed"
    assert (load.rows_read, load.rows_accepted, load.rows_rejected) == (records, accepted, rejected), (
        f"{relative}: {load.rows_read}/{load.rows_accepted}/{load.rows_rejected}: "
        f"{load.rejected['reason'].tolist()[:5]}"
    )
    assert len(load.accepted) == accepted, f"{relative}: one harmonized row per accepted record"
    assert load.accepted["project_id"].str.fullmatch(r"GLD[1-9]\d*").all(), f"{relative}: ids are GLD<gsid>"


@requires_shared
def test_full_projects_export_keeps_multi_line_descriptions_and_their_line_numbers():
    path = SHARED / FULL_EXPORT
    load = gold_standard.read_projects(path)
    assert load.accepted["source_line"].tolist() == record_start_lines(path), (
        "source_line must be the physical line where each (multi-line) record starts"
    )
    multi_line = load.accepted["description"].str.contains("\n", regex=False).sum()
    assert multi_line > 600, f"the export has hundreds of multi-line descriptions, found {multi_line}"
    projects = load.accepted.set_index("project_id")
    assert set(projects["status"]) == {"registered", "listed", "under_validation"}, set(projects["status"])
    assert (projects.loc[projects["project_type_raw"] == "A/R", "activity"] == "ARR").all(), "A/R projects are ARR"
    assert projects["country_code"].isna().sum() == 21, "only the 21 'International' projects lack a country code"
    assert projects.loc["GLD23647", "poa_id"] == "GLD23645", "POA GSID becomes a GLD id"


@requires_shared
def test_real_retirements_split_retired_from_canceled():
    load = gold_standard.read_retirements(SHARED / CARBONPLAN / "retirements.csv")
    credits = load.accepted
    assert credits["transaction_type"].value_counts().to_dict() == {"retirement": 94, "cancellation": 6}, (
        "Credit Status Retired/Canceled must become retirement/cancellation"
    )
    cancelled = credits[credits["transaction_type"] == "cancellation"]
    assert cancelled["transaction_date"].isna().all(), "the export dates no cancellation: never guessed"
    retired = credits[credits["transaction_type"] == "retirement"]
    assert retired["transaction_date"].notna().all(), "every retirement has its Retirement Date"
    assert credits["ccp_label"].sum() == 7 and credits["is_removal"].sum() == 3, "labels become flags"
    assert (credits["corresponding_adjustment"] == False).all(), "'Not Applicable' authorization means no CA"  # noqa: E712
    hilti = credits[credits["retirement_beneficiary"] == "Hilti Corporation"]
    assert len(hilti) and (hilti["retirement_reason"] == "Voluntary").all(), "Using Entity/Use Case are kept"


def test_bundled_gold_standard_files_load_through_load_registry():
    load = load_registry("gold-standard", REPO_ROOT / "data" / "raw")
    assert load is not None, "data/raw/gold-standard holds the bundled files"
    audit = load.audit.set_index("dataset")
    assert audit["rows_read"].to_dict() == {"issuances": 100, "projects": 4105, "retirements": 100}, (
        f"bundled GS files changed: {audit['rows_read'].to_dict()}"
    )
    assert (audit["rows_read"] == audit["rows_accepted"] + audit["rows_rejected"]).all(), "rows not conserved"
    assert load.rows_rejected == 0, f"bundled GS rows rejected: {load.rejected['reason'].tolist()[:5]}"
    assert load.credits["project_known"].all(), "the full projects export covers every bundled transaction"


# ---------------------------------------------------------------------------------------------------------------
# Decided semantics on hand-made exports
# ---------------------------------------------------------------------------------------------------------------


def test_per_issuances_are_kept_and_flagged(tmp_path):
    path = write_csv(
        tmp_path / "issuances.csv",
        ISSUANCES_HEADER,
        [
            credit(ISSUANCES_HEADER, Methodology="GS TPDDTEC v3.1"),
            credit(ISSUANCES_HEADER, 50, **{"Product Type": "PER"}),
        ],
    )
    load = gold_standard.read_issuances(path)
    assert load.rows_accepted == 2, f"PERs are issued credits and must load: {load.rejected.to_dict('records')}"
    assert load.accepted["product_type"].tolist() == ["VER", "PER"], "product_type flags the PER"
    assert (load.accepted["transaction_type"] == "issuance").all(), "issuances file -> issuance rows"
    assert load.accepted["methodology_version"].fillna("(none)").tolist() == ["3.1", "(none)"], (
        "the version named in Methodology; none where it names none"
    )
    assert load.accepted["transaction_date"].iloc[0] == pd.Timestamp("2026-04-13 12:35:58.842275"), "ISO + µs"


def test_older_retirements_layout_with_corsia_columns(tmp_path):
    rows = [
        credit(
            OLD_RETIREMENTS_HEADER,
            **{
                "Eligible for CORSIA?": "Yes",
                "Retired for CORSIA?": "Yes",
                "CORSIA Authorisation": "Authorized",
                "Aeroplane Operator Name": "Air Example",
            },
        ),
        credit(OLD_RETIREMENTS_HEADER, 40, **{"Eligible for CORSIA?": "No", "Retired for CORSIA?": "No"}),
    ]
    load = gold_standard.read_retirements(write_csv(tmp_path / "retirements.csv", OLD_RETIREMENTS_HEADER, rows))
    assert load.rows_accepted == 2, f"the older layout must load: {load.rejected.to_dict('records')}"
    first, second = load.accepted.iloc[0], load.accepted.iloc[1]
    assert first["corsia_eligible"] and not second["corsia_eligible"], "Eligible for CORSIA? is kept"
    assert first["retirement_reason"] == "CORSIA" and first["retirement_beneficiary"] == "Air Example", (
        "a CORSIA retirement names the aeroplane operator as beneficiary"
    )
    assert first["corresponding_adjustment"], "a CORSIA authorisation commits the corresponding adjustment"
    assert pd.isna(second["retirement_reason"]), "no reason is invented for a voluntary old-layout retirement"


# ---------------------------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"Quantity": "abc"}, "quantity 'abc' is not a number"),
        ({"Quantity": "-100"}, "quantity '-100' is negative"),
        ({"GSID": "1/28/1914"}, "GSID '1/28/1914' looks like an Excel-damaged date"),
        ({"Vintage": "3021"}, "vintage '3021' outside 1990-2100"),
        ({"Product Type": "XYZ"}, "product type 'XYZ' is not one of VER, PER, CER"),
        ({"Credit Status": "Pending"}, "credit status 'Pending' is neither Retired nor Canceled"),
        ({"Retirement Date": ""}, "retirement date is missing for retired credits"),
        ({"Retirement Date": "10/04/2026"}, "retirement date '10/04/2026' is not a date (expected YYYY-MM-DD)"),
        ({"Serial Number": "GS1-1-UG-GS999-16-2024-30307-1-100"}, "names another GSID than the row's"),
        ({"Serial Number": "GS1-1-UG-GS11236-16-2023-30307-1-100"}, "names another vintage than the row's"),
        ({"Serial Number": "GS1-1-UG-GS11236-16-2024-30307-1-90"}, "does not hold Quantity credits"),
    ],
)
def test_bad_retirement_values_reject_the_record_with_a_plain_reason(tmp_path, overrides, reason):
    rows = [credit(RETIREMENTS_HEADER), credit(RETIREMENTS_HEADER, **overrides)]
    path = write_csv(tmp_path / "retirements.csv", RETIREMENTS_HEADER, rows)
    load = gold_standard.read_retirements(path)
    assert (load.rows_read, load.rows_accepted, load.rows_rejected) == (2, 1, 1), (
        f"the bad record must be rejected and the good one kept: {load.rejected.to_dict('records')}"
    )
    assert load.rejected.iloc[0]["source_line"] == 3, "the rejection names the record's line"
    assert reason in load.rejected.iloc[0]["reason"], f"expected {reason!r} in {load.rejected.iloc[0]['reason']!r}"


def test_canceled_credits_without_a_date_are_cancellations(tmp_path):
    row = credit(RETIREMENTS_HEADER, **{"Credit Status": "Canceled", "Retirement Date": ""})
    load = gold_standard.read_retirements(write_csv(tmp_path / "retirements.csv", RETIREMENTS_HEADER, [row]))
    assert load.rows_accepted == 1, f"a dateless cancellation is valid: {load.rejected.to_dict('records')}"
    assert load.accepted["transaction_type"].tolist() == ["cancellation"], "Canceled -> cancellation"


def test_projects_bad_values_and_conflicting_duplicates(tmp_path):
    rows = [
        project(),
        project(GSID="11237", **{"Estimated Annual Credits": "-5"}),
        project(GSID="1/28/1914"),
        project(Status="Listed"),  # same GSID as the first record, different status
        project(GSID="11238", **{"POA GSID": "n.a."}),
    ]
    path = write_csv(tmp_path / "projects.csv", PROJECTS_HEADER, rows, quoting=csv.QUOTE_ALL)
    load = gold_standard.read_projects(path)
    # Every record spans two lines (the description has a newline): records start on lines 2, 4, 6, 8, 10.
    conflict = (
        "duplicate project id GLD11236 with conflicting data in 2 copies, the first on line 2; every copy rejected"
    )
    assert rejected_reasons(load) == {
        2: conflict,
        4: "estimated annual credits '-5' is negative",
        6: "GSID '1/28/1914' looks like an Excel-damaged date",
        8: conflict,
        10: "POA GSID 'n.a.' is not a GSID",
    }, f"multi-line records must be named by their first line; got {rejected_reasons(load)}"
    assert load.rows_read == 5 and load.rows_accepted == 0, "every bad record rejected, nothing silently kept"


def test_renamed_developer_column_is_an_accepted_alias_but_a_missing_gsid_is_an_error(tmp_path):
    aliased = ["Project Developer" if h == "Project Developer Name" else h for h in PROJECTS_HEADER]
    row = {a: v for a, v in zip(aliased, project().values(), strict=True)}
    load = gold_standard.read_projects(write_csv(tmp_path / "projects.csv", aliased, [row]))
    assert load.accepted["proponent"].tolist() == ["BioLite Inc."], "'Project Developer' carries the proponent"

    without_id = [h for h in PROJECTS_HEADER if h != "GSID"]
    path = write_csv(tmp_path / "no_id.csv", without_id, [{h: project()[h] for h in without_id}])
    with pytest.raises(IngestError, match=r"no_id\.csv: unknown layout .* missing required column\(s\) 'GSID'"):
        gold_standard.read_projects(path)


def test_an_issuances_file_given_as_retirements_is_an_unknown_layout(tmp_path):
    path = write_csv(tmp_path / "retirements.csv", ISSUANCES_HEADER, [credit(ISSUANCES_HEADER)])
    with pytest.raises(IngestError, match="'Retirement Date'"):
        gold_standard.read_retirements(path)


# ---------------------------------------------------------------------------------------------------------------
# Registry API projects JSON
# ---------------------------------------------------------------------------------------------------------------


@requires_shared
def test_real_api_projects_json_uses_the_sustaincert_id():
    load = gold_standard.read_projects(SHARED / "rb-carbon-scraper-fixtures/gs-projects.json")
    assert (load.rows_read, load.rows_accepted, load.rows_rejected) == (5, 5, 0), load.rejected.to_dict("records")
    projects = load.accepted.set_index("project_id")
    assert "GLD23718" in projects.index and "GLD5672" not in projects.index, "id is sustaincert_id, not the API id"
    first = projects.loc["GLD23718"]
    assert first["crediting_period_start"] == pd.Timestamp("2026-06-26"), "the API carries the crediting period"
    assert first["poa_id"] == "GLD23711" and first["status"] == "listed", "POA and LISTED status are mapped"
    assert first["sdgs"] == "13,4,5,7,8", "SDG objects become goal numbers"


def test_api_projects_json_bad_values_and_layouts(tmp_path):
    good = {
        "id": "1",
        "sustaincert_id": 23718,
        "name": "Project",
        "status": "LISTED",
        "type": "A/R",
        "country": "Kenya",
        "estimated_annual_credits": 9000,
    }
    path = tmp_path / "projects.json"
    path.write_text(json.dumps([good, {**good, "sustaincert_id": 23719, "estimated_annual_credits": -5}]))
    load = gold_standard.read_projects(path)
    assert rejected_reasons(load) == {2: "estimated annual credits '-5' is negative"}, rejected_reasons(load)
    assert load.accepted["activity"].tolist() == ["ARR"], "an A/R project from the API is ARR"
    assert json.loads(load.rejected["raw_record"].iloc[0])["sustaincert_id"] == "23719", "the raw values are kept"

    path.write_text(json.dumps({"projects": [good]}))
    with pytest.raises(IngestError, match="not a list of objects"):
        gold_standard.read_projects(path)
    path.write_text(json.dumps([{k: v for k, v in good.items() if k != "sustaincert_id"}]))
    with pytest.raises(IngestError, match="missing required column\\(s\\) 'sustaincert_id'"):
        gold_standard.read_projects(path)
