"""The ingest toolkit's own edge cases: physical line numbers, malformed records, encodings, delimiters, empty
files, header drift, the per-distinct-value fast path and the strict field rules."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.ingest.files import Column, IngestError, Layout, read_table
from pipeline.ingest.parsing import (
    ARROW_TEXT,
    ISO_DATE,
    RowChecks,
    clean_text,
    dates,
    extract,
    parse_bool,
    parse_date,
    parse_int,
    registry_project_ids,
    vintages,
    whole_numbers,
)

LAYOUT = Layout(
    "test export",
    (
        Column("id", ("ID",)),
        Column("name", ("Name", "Project Name")),
        Column("note", ("Note",), required=False),
        Column("effective", ("Status Effective (GMT)",), required=False),
    ),
    sheet="Results",
)


def csv_starts(path: Path, encoding: str = "utf-8-sig") -> list[int]:
    """Physical start line of every non-blank record, by the csv module."""
    with open(path, encoding=encoding, newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        starts, start = [], reader.line_num + 1
        for fields in reader:
            if any(fields):
                starts.append(start)
            start = reader.line_num + 1
    return starts


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


MULTI_LINE = (
    "ID,Name,Note\r\n"
    '1,"Two\r\nlines",plain\r\n'
    '2,Plain,"three\nlines\nhere"\r\n'
    "\r\n"  # a blank line between records
    '3,"Côte d\'Ivoire",""\r\n'
)


# ---------------------------------------------------------------------------------------------------------------
# Line numbers and malformed records
# ---------------------------------------------------------------------------------------------------------------


def test_multi_line_records_start_on_the_line_the_csv_module_reports(tmp_path):
    path = write(tmp_path / "export.csv", MULTI_LINE)
    table = read_table(path, LAYOUT)
    assert table.records["source_line"].tolist() == csv_starts(path) == [2, 4, 8], "record start lines differ"
    assert table.records["name"].tolist() == ["Two\r\nlines", "Plain", "Côte d'Ivoire"], "values must not shift"
    assert table.malformed.empty, "a well-formed file has no malformed records"


def test_line_numbers_stay_exact_on_the_strict_path(tmp_path):
    path = write(tmp_path / "export.csv", MULTI_LINE + "4,too,many,fields\r\n" + '5,"again\nsplit",x\r\n')
    table = read_table(path, LAYOUT)
    assert table.records["source_line"].tolist() == [2, 4, 8, 10], "lines after a malformed record must not drift"
    assert table.records["id"].tolist() == ["1", "2", "3", "5"], "the malformed record is not among the records"
    bad = table.malformed.iloc[0]
    assert (bad["source_line"], bad["raw_record"]) == (9, "4,too,many,fields"), "the bad line is kept verbatim"
    assert "4 fields, more than the header's 3; not shifted" in bad["reason"], bad["reason"]
    assert table.rows_read == 5, "rows read counts the malformed record too"


def test_a_record_with_too_few_fields_is_malformed_not_padded(tmp_path):
    path = write(tmp_path / "export.csv", "ID,Name,Note\n1,One,x\n2,Two\n3,Three,z\n")
    table = read_table(path, LAYOUT)
    assert table.records["id"].tolist() == ["1", "3"], "the short record must not be padded with empties"
    assert table.malformed["source_line"].tolist() == [3], "the short record is quarantined with its line"
    assert "fewer than the header's 3" in table.malformed["reason"].iloc[0], table.malformed["reason"].iloc[0]


def test_a_first_record_with_an_extra_field_does_not_shift_the_columns(tmp_path):
    path = write(tmp_path / "export.csv", "ID,Name,Note\n1,One,x,extra\n2,Two,y\n")
    table = read_table(path, LAYOUT)
    assert table.records[["id", "name", "note"]].values.tolist() == [["2", "Two", "y"]], "columns shifted"
    assert table.malformed["source_line"].tolist() == [2], "the over-long first record is quarantined"


# ---------------------------------------------------------------------------------------------------------------
# Encodings, delimiters, empty files, header drift
# ---------------------------------------------------------------------------------------------------------------


def test_cp1252_file_is_detected_and_decoded(tmp_path):
    path = write(tmp_path / "export.csv", "ID,Name\n1,Paraná Ambiental – Côte\n", encoding="cp1252")
    table = read_table(path, LAYOUT)
    assert table.encoding == "cp1252", "bytes that are not UTF-8 are read as Windows-1252"
    assert table.records["name"].tolist() == ["Paraná Ambiental – Côte"], "accents and en dash must survive"


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("utf-8", MULTI_LINE),
        ("cp1252", MULTI_LINE),  # line numbers are counted on the bytes before they are re-encoded as UTF-8
        ("utf-8", MULTI_LINE.rstrip("\r\n") + "\r\n4,no,final newline"),
        ("utf-8", MULTI_LINE + "4,too,many,fields\r\n"),  # the strict path
    ],
)
def test_file_hash_and_line_numbers_are_those_of_the_raw_bytes(tmp_path, encoding, text):
    path = write(tmp_path / "export.csv", text, encoding=encoding)
    table = read_table(path, LAYOUT)
    assert table.sha256 == hashlib.sha256(path.read_bytes()).hexdigest(), "the hash is not the file's own bytes'"
    starts = csv_starts(path, "utf-8-sig" if encoding == "utf-8" else encoding)
    expected_lines = [line for line in starts if line not in table.malformed["source_line"].tolist()]
    assert table.records["source_line"].tolist() == expected_lines, f"record start lines differ ({encoding})"


def test_utf8_bom_does_not_hide_the_first_header(tmp_path):
    path = write(tmp_path / "export.csv", "\ufeffID,Name\r\n7,Bom\r\n")
    table = read_table(path, LAYOUT)
    assert table.records["id"].tolist() == ["7"], "a BOM before 'ID' must not make the ID column unknown"


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_wrong_delimiter_is_a_clear_error(tmp_path, delimiter):
    path = write(tmp_path / "export.csv", f"ID{delimiter}Name\n1{delimiter}One\n")
    with pytest.raises(IngestError, match="wrong delimiter") as error:
        read_table(path, LAYOUT)
    assert str(path) in str(error.value), "the error names the file"


def test_empty_and_headerless_files(tmp_path):
    with pytest.raises(IngestError, match="file is empty"):
        read_table(write(tmp_path / "empty.csv", ""), LAYOUT)
    with pytest.raises(IngestError, match="first line is blank"):
        read_table(write(tmp_path / "blank.csv", "\n1,One\n"), LAYOUT)
    header_only = read_table(write(tmp_path / "header.csv", "ID,Name\n"), LAYOUT)
    assert header_only.rows_read == 0 and header_only.records.empty, "a header-only export has no records"


def test_header_whitespace_and_trailing_empty_header_are_tolerated(tmp_path):
    path = write(tmp_path / "export.csv", " ID ,Project Name,Status Effective  (GMT),\n1,One,3/9/2026,\n")
    table = read_table(path, LAYOUT)
    assert table.raw_headers == {"id": " ID ", "name": "Project Name", "effective": "Status Effective  (GMT)"}, (
        f"whitespace drift and the alias must map; got {table.raw_headers}"
    )
    assert table.records["effective"].tolist() == ["3/9/2026"], "the drifted column is read"


def test_unknown_layout_names_what_was_expected(tmp_path):
    path = write(tmp_path / "export.csv", "Identifier,Name\n1,One\n")
    with pytest.raises(IngestError) as error:
        read_table(path, LAYOUT)
    message = str(error.value)
    assert "missing required column(s) 'ID'" in message and "Found columns: 'Identifier'" in message, message
    assert "'Note' (optional)" in message, "the expected layout lists optional columns too"


def test_xlsx_without_the_expected_sheet_and_unsupported_types(tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "Sheet1"
    book.create_sheet("Other")
    book.save(tmp_path / "export.xlsx")
    with pytest.raises(IngestError, match="sheet 'Results' not found"):
        read_table(tmp_path / "export.xlsx", LAYOUT)
    with pytest.raises(IngestError, match="unsupported file type '.parquet'"):
        read_table(write(tmp_path / "export.parquet", "x"), LAYOUT)
    with pytest.raises(IngestError, match="not a readable XLSX workbook"):
        read_table(write(tmp_path / "broken.xlsx", "not a zip"), LAYOUT)


# ---------------------------------------------------------------------------------------------------------------
# Parsing once per distinct value gives exactly the row-by-row result, for Python strings and Arrow-backed text
# ---------------------------------------------------------------------------------------------------------------

VALUES = st.sampled_from(
    ["1,454,054", "550369.0", "84889.00", "12.5", "-3", "abc", "", " 7 ", "N/A", "None", "2026-04-03", "1/28/1914"]
)


def value_by_value(parse, series: pd.Series) -> list[pd.Series]:
    """``parse`` of each distinct value alone (a one-row column), broadcast to the rows of ``series``."""
    distinct = pd.Series(series.unique(), dtype=series.dtype)
    alone = [parse(distinct.iloc[[i]]) for i in range(len(distinct))]
    codes = pd.Index(distinct).get_indexer(series)
    return [
        pd.concat([parts[k] for parts in alone], ignore_index=True).take(codes).set_axis(series.index)
        for k in range(len(alone[0]))
    ]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example])
@given(
    st.lists(VALUES, min_size=1, max_size=12),
    st.integers(min_value=2048, max_value=6000),
    st.sampled_from([object, "string[pyarrow]"]),
    st.randoms(),
)
def test_parsing_a_column_equals_parsing_each_value_alone(pool, rows, dtype, rnd):
    series = pd.Series([rnd.choice(pool) for _ in range(rows)], index=np.arange(rows) * 3 + 5, dtype=object)
    series.iloc[::97] = None
    series = series.astype(dtype)
    parsers = {
        "parse_int": parse_int,
        "ISO dates": lambda s: parse_date(s, ISO_DATE),
        "parse_bool": parse_bool,
        "clean_text": lambda s: (clean_text(s),),
        "clean_text as Arrow text": lambda s: (clean_text(s, ARROW_TEXT),),
    }
    for what, parse in parsers.items():
        for got, expected in zip(parse(series), value_by_value(parse, series), strict=True):
            pd.testing.assert_series_equal(got, expected, check_names=False, obj=f"{what} of {dtype} text")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example])
@given(st.lists(VALUES, min_size=1, max_size=12), st.integers(min_value=1, max_value=6000), st.randoms())
def test_arrow_backed_text_parses_exactly_like_python_strings(pool, rows, rnd):
    series = pd.Series([rnd.choice(pool) for _ in range(rows)], index=np.arange(rows) * 3 + 5)
    series.iloc[::97] = None
    arrow = series.astype("string[pyarrow]")  # what read_table returns for CSV files
    for arrow_out, object_out, what in zip(
        parse_int(arrow), parse_int(series), ("parse_int values", "parse_int failures"), strict=True
    ):
        pd.testing.assert_series_equal(arrow_out, object_out, obj=f"{what} of Arrow-backed text")
    pd.testing.assert_series_equal(parse_date(arrow, ISO_DATE)[0], parse_date(series, ISO_DATE)[0], obj="dates")
    pd.testing.assert_series_equal(clean_text(arrow), clean_text(series), obj="Arrow clean_text")
    as_arrow = clean_text(series, ARROW_TEXT)
    assert as_arrow.dtype == ARROW_TEXT, f"clean_text(..., ARROW_TEXT) gave {as_arrow.dtype}"
    pd.testing.assert_series_equal(
        as_arrow.astype(object).where(as_arrow.notna(), None), clean_text(series), obj="clean_text as Arrow text"
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example])
@given(
    st.lists(
        st.one_of(
            VALUES,
            st.sampled_from(
                ["74377", "0", "000123", "999999999999999", "1234567890123456", "٣", "12 345", "257,563", ",1,2,", ","]
            ),
        ),
        min_size=1,
        max_size=12,
    ),
    st.integers(min_value=1, max_value=3000),
    st.booleans(),
    st.randoms(),
)
def test_whole_numbers_of_arrow_text_equal_those_of_python_strings(pool, rows, required, rnd):
    series = pd.Series([rnd.choice(pool) for _ in range(rows)], index=np.arange(rows) * 2 + 1, dtype=object)
    if rows > 5:
        series.iloc[::5] = None
    arrow_checks, object_checks = RowChecks(series.index), RowChecks(series.index)
    arrow_values = whole_numbers(arrow_checks, series.astype("string[pyarrow]"), "quantity", required=required)
    object_values = whole_numbers(object_checks, series, "quantity", required=required)
    pd.testing.assert_series_equal(arrow_values, object_values, obj="whole numbers of Arrow-backed text")
    pd.testing.assert_series_equal(arrow_checks.reasons(), object_checks.reasons(), obj="reasons of Arrow-backed text")


@pytest.mark.parametrize("dtype", [object, "string[pyarrow]"])
def test_plain_and_formatted_quantities_read_as_the_same_integers(dtype):
    written = ["74377", "000123", "999999999999999", "1234567890123456", "257,563", ",1,2,", " 7 ", "12 345"]
    written.append("84889.00")
    raw = pd.Series(written * 300, dtype=dtype)  # long enough to be parsed once per distinct value
    checks = RowChecks(raw.index)
    values = whole_numbers(checks, raw, "quantity", required=True)
    expected = [74377, 123, 999999999999999, 1234567890123456, 257563, 12, 7, 12345, 84889]
    assert values.iloc[: len(written)].tolist() == expected, f"quantities read differently: {values.tolist()[:9]}"
    assert (checks.reasons() == "").all(), "every one of these is a whole number"


def test_read_table_returns_arrow_backed_text_with_exact_values(tmp_path):
    path = write(tmp_path / "export.csv", 'ID,Name,Note\n1," Alpha ",\n2,"Multi\nline",N/A\n')
    records = read_table(path, LAYOUT).records
    for name in ("id", "name", "note"):
        dtype = records[name].dtype
        assert dtype == "string" and dtype.storage == "pyarrow", f"{name} is not Arrow-backed text: {dtype}"
    assert records["name"].tolist() == [" Alpha ", "Multi\nline"], "values are kept verbatim (no strip)"
    assert records["note"].tolist() == ["", "N/A"], "empty and placeholder cells stay text until clean_text"
    assert records["source_line"].tolist() == [2, 3], "record start lines are exact"


def test_extract_returns_named_groups_and_numbers_missing_where_no_match():
    serials = pd.Series([" 1-10-19-VCS-641-0 ", None, "garbage"], index=[10, 11, 12])
    parts = extract(serials, r"^\s*(?P<serial>\d+-(?P<first>\d+)-(?P<last>\d+)-.*)\s*$", numbers=("first", "last"))
    assert parts.index.tolist() == [10, 11, 12], "the result keeps the input's index"
    assert parts["serial"].tolist()[0].strip() == "1-10-19-VCS-641-0", "the matched text is returned"
    assert parts["first"].tolist()[0] == 10 and parts["last"].tolist()[0] == 19, "number groups are numbers"
    assert parts["serial"].iloc[1] is None and parts["serial"].iloc[2] is None, "no match -> missing, not ''"
    assert parts["first"].iloc[1:].isna().all(), "no match -> missing numbers"


# ---------------------------------------------------------------------------------------------------------------
# Field rules: a plain reason per bad value
# ---------------------------------------------------------------------------------------------------------------


def reasons_of(checks: RowChecks) -> list[str]:
    return checks.reasons().tolist()


def test_whole_numbers_reasons():
    raw = pd.Series(["1,454,054", "abc", "12.5", "-3", "", "550369.0"])
    checks = RowChecks(raw.index)
    values = whole_numbers(checks, raw, "quantity", required=True)
    assert reasons_of(checks) == [
        "",
        "quantity 'abc' is not a number",
        "quantity '12.5' is not a whole number",
        "quantity '-3' is negative",
        "quantity is missing",
        "",
    ], reasons_of(checks)
    assert values.tolist()[0] == 1454054 and values.tolist()[5] == 550369, "separators and float artefacts parse"


@pytest.mark.parametrize("dtype", [object, "string[pyarrow]"])
def test_whole_numbers_reject_numbers_too_large_to_count_exactly(dtype):
    raw = pd.Series(["9007199254740992", "123456789012345678901234", "99999999999999999999", "12"], dtype=dtype)
    checks = RowChecks(raw.index)
    values = whole_numbers(checks, raw, "quantity", required=True)
    assert reasons_of(checks) == [
        "",
        "quantity '123456789012345678901234' is too large to be a count of credits",
        "quantity '99999999999999999999' is too large to be a count of credits",
        "",
    ], f"a 20-digit quantity must reject its record, not crash or be rounded: {reasons_of(checks)}"
    assert values.tolist() == [2**53, pd.NA, pd.NA, 12], f"2**53 is exact and kept: {values.tolist()}"


@pytest.mark.parametrize(
    "odd_value",
    [
        "2024-02-29T23:59:59",  # plain and possible: every value takes Arrow's path
        "2023-02-29T10:00:00.5",  # plain but impossible: the whole column is read by the rules
        "2021-06-01T08:00:00+02:00",  # zoned: pandas reads later zone-less values in that zone, so the rules read all
    ],
)
@pytest.mark.parametrize("dtype", [object, "string[pyarrow]"])
def test_gold_standard_issuance_stamps_read_by_arrow_exactly_like_the_formats(odd_value, dtype):
    stamps = [
        f"20{10 + i % 15}-0{1 + i % 9}-1{i % 10}T{i % 24:02d}:{i % 60:02d}:{i % 59:02d}.{i:06d}" for i in range(3000)
    ]
    written = [odd_value, *stamps, "2025-01-01", " 2025-01-02 ", "N/A", "", "yesterday", "2025-1-01T00:00"]
    raw = pd.Series(written, dtype=dtype)
    # The formats of ISO_DATE in order, each read by pandas over the whole column (no Arrow).
    text = clean_text(raw).astype("string")
    expected = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    iso = expected.isna() & text.notna()
    expected[iso] = pd.to_datetime(text[iso], format="ISO8601", errors="coerce", utc=True).dt.tz_localize(None)
    got, bad = parse_date(raw, ISO_DATE)
    pd.testing.assert_series_equal(got, expected, check_names=False, obj=f"issuance dates beside {odd_value!r}")
    assert bad.tolist() == (text.notna() & expected.isna()).tolist(), (
        f"Arrow-read dates must reject exactly what the formats reject (beside {odd_value!r})"
    )
    if "+" not in odd_value:  # beside a zoned value pandas (and so the rules) shifts it into that zone
        assert got.iloc[1] == pd.Timestamp("2010-01-10"), f"a microsecond stamp read wrongly: {got.iloc[1]}"


def test_registry_project_ids_reasons():
    raw = pd.Series(["1340", "VCS0981", "1/28/1914", "2024-01-28", "ABC", "", "GS12"])
    checks = RowChecks(raw.index)
    ids = registry_project_ids(checks, raw, "VCS")
    assert ids.tolist()[:2] == ["VCS1340", "VCS981"], "ids follow the OffsetsDB convention without leading zeros"
    assert reasons_of(checks)[2:] == [
        "project id '1/28/1914' looks like an Excel-damaged date",
        "project id '2024-01-28' looks like an Excel-damaged date",
        "project id 'ABC' is not a VCS project number",
        "project id is missing",
        "project id 'GS12' is not a VCS project number",
    ], reasons_of(checks)
    assert all(i is None for i in ids.tolist()[2:]), "a rejected id is not half-parsed"


def test_vintage_and_date_reasons():
    checks = RowChecks(pd.RangeIndex(3))
    vintages(checks, pd.Series([2020, 3021, 1989], dtype="Int64"))
    dates(checks, pd.Series(["2026-04-03", "", "03/04/2026"]), "issuance date", ("%Y-%m-%d",), "YYYY-MM-DD")
    assert reasons_of(checks) == [
        "",
        "vintage '3021' outside 1990-2100",
        "vintage '1989' outside 1990-2100; issuance date '03/04/2026' is not a date (expected YYYY-MM-DD)",
    ], reasons_of(checks)


def test_csv_writer_round_trip_of_the_multi_line_fixture(tmp_path):
    """The fixture text above is what the csv module writes (guards the line-number tests' premise)."""
    rows = list(csv.reader(io.StringIO(MULTI_LINE, newline="")))
    assert rows[1] == ["1", "Two\r\nlines", "plain"] and rows[3] == [], "fixture parses as intended"
