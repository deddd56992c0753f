"""The helpers the APX readers (ACR, CAR, ART) share: dates, Yes/No flags, serial ranges, SDGs, versions."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.ingest.apx import (
    SerialFormat,
    corsia_phases,
    credit_rows,
    flag_column,
    project_numbers,
    protocol_versions,
    sdg_numbers,
    serial_ranges,
    us_dates,
    yes_no,
)
from pipeline.ingest.parsing import RowChecks
from pipeline.ingest.schemas import CreditTransactionsSchema

ACR_SERIAL = SerialFormat("ACR", r"ACR-[A-Z]{2}-0*(?P<project>\d+)-(?P<vintage>\d{4})-\d+", "ACR-US-1-2020-1-1 to 2")


def reasons(checks: RowChecks) -> list[str]:
    return checks.reasons().tolist()


def test_apx_dates_accept_the_three_forms_seen_in_one_file():
    raw = pd.Series(["3/24/2026 9:08:01 PM", "1/15/2020", "03/09/2026", "11/15/2024 12:09:06 AM", ""])
    checks = RowChecks(raw.index)
    parsed = us_dates(checks, raw, "date issued")
    assert reasons(checks) == [""] * 5, f"real APX date forms were rejected: {reasons(checks)}"
    assert parsed.tolist()[:4] == [
        pd.Timestamp("2026-03-24 21:08:01"),
        pd.Timestamp("2020-01-15"),
        pd.Timestamp("2026-03-09"),
        pd.Timestamp("2024-11-15 00:09:06"),
    ], f"APX dates parsed wrongly: {parsed.tolist()}"
    assert pd.isna(parsed.iloc[4]), "a blank date must stay unknown, not become a date"


def test_apx_dates_reject_day_first_and_iso_with_a_reason():
    raw = pd.Series(["24/03/2026", "2026-03-24", "yesterday"])
    checks = RowChecks(raw.index)
    us_dates(checks, raw, "status effective date", required=True)
    got = reasons(checks)
    expected = "status effective date '24/03/2026' is not a date (expected M/D/YYYY, optionally with h:mm:ss AM/PM)"
    assert got[0] == expected, f"a day-first date must be rejected in plain words, got {got[0]!r}"
    assert all("is not a date" in r for r in got), f"every non-APX date must reject its record: {got}"


def test_apx_dates_midnight_noon_and_impossible_values():
    raw = pd.Series(["1/2/2024 12:05:00 AM", "1/2/2024 12:05:00 PM", "2/30/2025", "1/2/2024 13:05:00 PM"])
    checks = RowChecks(raw.index)
    parsed = us_dates(checks, raw, "date approved")
    assert parsed.tolist()[:2] == [pd.Timestamp("2024-01-02 00:05"), pd.Timestamp("2024-01-02 12:05")], (
        "12 AM is midnight and 12 PM is noon"
    )
    assert reasons(checks)[2:] == [
        "date approved '2/30/2025' is not a date (expected M/D/YYYY, optionally with h:mm:ss AM/PM)",
        "date approved '1/2/2024 13:05:00 PM' is not a date (expected M/D/YYYY, optionally with h:mm:ss AM/PM)",
    ], f"impossible dates must be rejected, got {reasons(checks)}"


@pytest.mark.parametrize("dtype", [object, "string[pyarrow]"])
def test_apx_dates_padded_or_placeholder_values_are_cleaned_then_read(dtype):
    raw = pd.Series([" 3/24/2026 9:08:01 PM ", "N/A", "1/15/2020", " 2/30/2025 ", None], dtype=dtype)
    checks = RowChecks(raw.index)
    parsed = us_dates(checks, raw, "status effective date")
    assert parsed.iloc[0] == pd.Timestamp("2026-03-24 21:08:01"), f"padding must not hide a date: {parsed.tolist()}"
    assert parsed.iloc[2] == pd.Timestamp("2020-01-15"), f"a plain date beside padded ones: {parsed.tolist()}"
    assert parsed[[1, 3, 4]].isna().all(), f"placeholder, impossible and missing dates stay unknown: {parsed.tolist()}"
    assert reasons(checks) == [
        "",
        "",
        "",
        "status effective date ' 2/30/2025 ' is not a date (expected M/D/YYYY, optionally with h:mm:ss AM/PM)",
        "",
    ], f"only the impossible date rejects its record, quoted as written: {reasons(checks)}"


def test_required_apx_date_missing_is_a_reason():
    checks = RowChecks(pd.RangeIndex(1))
    us_dates(checks, pd.Series([""]), "date issued", required=True)
    assert reasons(checks) == ["date issued is missing"], "a missing required date must reject the record"


def test_yes_no_blank_means_what_the_column_says():
    raw = pd.Series(["Yes", "No", "", "N/A"])
    checks = RowChecks(raw.index)
    as_label = yes_no(checks, raw, "CCP Approved", blank=False)
    as_unknown = yes_no(checks, raw, "ARB Eligible", blank=None)
    assert as_label.tolist() == [True, False, False, False], f"a blank label cell must read as no: {as_label.tolist()}"
    assert as_unknown.tolist()[:2] == [True, False] and as_unknown.iloc[2:].isna().all(), (
        f"a blank eligibility cell must stay unknown: {as_unknown.tolist()}"
    )
    assert reasons(checks) == [""] * 4, "Yes/No/blank/N/A are all valid flag values"


def test_yes_no_rejects_other_text_and_dropped_columns_are_unknown():
    raw = pd.Series(["Maybe", "Yes"])
    checks = RowChecks(raw.index)
    yes_no(checks, raw, "CCP Approved", blank=False)
    assert reasons(checks) == ["CCP Approved 'Maybe' is not Yes or No", ""], f"got {reasons(checks)}"
    dropped = flag_column(RowChecks(raw.index), pd.DataFrame(index=raw.index), "ccp", "CCP Approved", blank=False)
    assert dropped.isna().all(), "a column the export dropped must be unknown, not 'no'"


def test_corsia_phases_from_the_two_compliance_period_columns():
    pilot = pd.Series([True, False, True, False], dtype="boolean")
    first = pd.Series([False, True, True, pd.NA], dtype="boolean")
    assert corsia_phases(pilot, first).tolist() == ["pilot", "first", "pilot;first", None]


@pytest.mark.parametrize(
    ("serial", "quantity", "project", "vintage", "expected"),
    [
        ("ACR-US-1185-2025-3078-1 to 85847", 85847, 1185, 2025, ""),
        ("ACR-US-0885-2024-3072-119446 to 130668", 11223, 885, 2024, ""),
        ("ACR-US-1185-2025-3078-1 to 85847", 85846, 1185, 2025, "does not hold the row's quantity"),
        ("ACR-US-1185-2025-3078-1 to 85847", 85847, 1186, 2025, "names another project than the row"),
        ("ACR-US-1185-2025-3078-1 to 85847", 85847, 1185, 2024, "names another vintage than the row"),
        ("CAR-1-US-1480-46-1156-FL-2026-10272-852724 to 860723", 8000, 1480, 2026, "is not a ACR serial range"),
        ("1/28/1914", 1, 1185, 2025, "is not a ACR serial range"),
        ("", 1, 1185, 2025, "serial number is missing"),
    ],
)
def test_serial_ranges_are_checked_against_their_row(serial, quantity, project, vintage, expected):
    checks = RowChecks(pd.RangeIndex(1))
    serial_ranges(
        checks,
        pd.Series([serial]),
        ACR_SERIAL,
        quantity=pd.Series([quantity], dtype="Int64"),
        project_id=pd.Series([f"ACR{project}"]),
        vintage=pd.Series([vintage], dtype="Int64"),
    )
    got = reasons(checks)[0]
    if expected:
        assert expected in got, f"serial {serial!r} (qty {quantity}, project {project}) should fail with {expected!r}"
    else:
        assert got == "", f"a consistent serial range was rejected: {got}"


def test_project_numbers_drop_prefix_and_zero_padding():
    assert project_numbers(pd.Series(["ACR885", "CAR1957", None])).tolist()[:2] == [885, 1957]


def test_a_project_number_beyond_int64_is_another_project_not_a_crash():
    """A shifted column can put a 20-digit number in ``Project ID``: the record is rejected, the file still reads."""
    checks = RowChecks(pd.RangeIndex(1))
    serial_ranges(
        checks,
        pd.Series(["ACR-US-1185-2025-3078-1 to 2"]),
        ACR_SERIAL,
        quantity=pd.Series([2], dtype="Int64"),
        project_id=pd.Series(["ACR99999999999999999999"]),
    )
    assert reasons(checks) == ["serial number 'ACR-US-1185-2025-3078-1 to 2' names another project than the row"]


def test_sdg_numbers_from_both_apx_spellings():
    raw = pd.Series(
        [
            "03: Good Health and Well-Being;06: Clean Water and Sanitation;13: Climate Action",
            "2. Zero Hunger;3. Good Health and Well-Being;15. Life on Land",
            "",
        ]
    )
    assert sdg_numbers(raw).tolist() == ["3;6;13", "2;3;15", None]


def test_protocol_versions_take_the_trailing_version_or_date():
    raw = pd.Series(
        [
            "Forestry - MX - Version 3.0",
            "Mine Methane Capture - ARB Compliance - ARB Compliance Offset Protocol Mine Methane Capture, "
            "April 25, 2014",
            "November 14, 2014",
            "Version 1.0",
            "",
        ]
    )
    versions = protocol_versions(raw)
    assert versions.tolist()[:4] == [
        "Version 3.0",
        "April 25, 2014",
        "November 14, 2014",
        "Version 1.0",
    ], f"protocol versions read wrongly: {versions.tolist()}"
    assert pd.isna(versions.iloc[4]), "a blank protocol must give no version"
    assert versions.dtype == "string[pyarrow]", "methodology_version is contract text: Arrow-backed, as validated"


def test_credit_rows_carry_every_contract_column():
    records = pd.DataFrame({"source_line": [2, 3]})
    frame = credit_rows(
        records,
        "art-trees",
        "/x/issuances.csv",
        project_id=pd.Series(["ART102", "ART102"]),
        transaction_type="issuance",
        quantity=pd.Series([5, 6], dtype="Int64"),
        total_issued=pd.Series([7, 8], dtype="Int64"),
    )
    missing = set(CreditTransactionsSchema.to_schema().columns) - set(frame.columns)
    assert not missing, f"credit_rows left out contract columns {missing}"
    assert frame["total_issued"].tolist() == [7, 8], "extra columns must be kept"
    CreditTransactionsSchema.validate(frame)
