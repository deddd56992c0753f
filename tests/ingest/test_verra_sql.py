"""The DuckDB SQL path for Verra's VCU export (``pipeline.ingest.verra_sql``) against today's pandas reader
(``pipeline.ingest.verra``): the same accepted rows (values and dtypes), the same rejected rows (line, reason, raw
record) and the same audit, on the bundled file, the shared real exports, a generated benchmark set and hand-made
files holding every kind of bad input the reader knows. Kept while both paths exist."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchmarks.generate import Scale, generate
from pipeline.ingest import verra, verra_sql
from pipeline.ingest.parsing import IngestError
from pipeline.settings import REPO_ROOT
from tests.ingest.test_verra import SHARED, TRANSACTIONS_HEADER, block, requires_shared, write_csv


def assert_same_load(path: Path) -> verra_sql.DatasetLoad:
    """Read ``path`` both ways; every accepted row, rejected row and audit figure must be identical."""
    old, new = verra.read_transactions(path), verra_sql.read_transactions(path)
    assert new.audit_row() == old.audit_row(), f"{path}: audit differs: SQL {new.audit_row()} pandas {old.audit_row()}"
    pd.testing.assert_frame_equal(new.rejected, old.rejected, obj=f"{path}: rejected rows (SQL vs pandas)")
    pd.testing.assert_frame_equal(new.accepted, old.accepted, obj=f"{path}: credits (SQL vs pandas)")
    return new


def test_bundled_vcu_export_is_identical():
    load = assert_same_load(REPO_ROOT / "data" / "raw" / "verra" / "transactions.csv")
    assert load.rows_read == 200 and len(load.accepted) == 187, "the bundled export changed"


@requires_shared
@pytest.mark.parametrize(
    "relative", ["verra-vcus-country-subsets/vcus.csv", "carbonplan-offsets-db-data/tests-data/verra/transactions.csv"]
)
def test_real_vcu_exports_are_identical(relative):
    assert_same_load(SHARED / relative)


def test_generated_benchmark_export_is_identical(tmp_path):
    raw = generate(Scale(projects=100, transactions=20_000), tmp_path / "raw", seed=11)
    load = assert_same_load(raw / "verra" / "transactions.csv")
    assert load.rows_read > 10_000, "the generated Verra export should hold about 55% of 20k transactions"


BAD_VALUES = [
    {"Quantity Issued": "abc"},
    {"Quantity Issued": "-5"},
    {"Quantity Issued": "12.5"},
    {"Quantity Issued": "99999999999999999999"},
    {"Quantity Issued": "N/A"},
    {"Total Vintage Quantity": "1,000.0", "Quantity Issued": " 10 "},
    {"ID": "1/28/1914"},
    {"ID": "2019-01-28"},
    {"ID": "ABC12"},
    {"ID": "—"},
    {"ID": "VCS1340"},
    {"ID": "01340.0"},
    {"Vintage Start": "1985-01-01", "Vintage End": "1985-12-31"},
    {"Vintage Start": "3021-01-01"},
    {"Vintage Start": "2021-01-01"},
    {"Vintage Start": "2020-2-1"},
    {"Issuance Date": "03/04/2026"},
    {"Issuance Date": "2026-02-30"},
    {"Issuance Date": "2026-04-03T10:20:30"},
    {"Issuance Date": ""},
    {"Serial Number": "Article 6 Authorized"},
    {"Serial Number": "  "},
    {"Serial Number": " 4147-11-20-VCU-016-MER-AU-14-1340-16042012-15042013-0\t"},
    {"Serial Number": "1-1-10-VCS-VCU-1-VER-ET-14-999-01012020-31122020-1"},
    {"Quantity Issued": "9"},
    {"Quantity Issued": "30"},
    {"Retirement/Cancellation Date": "2026-01-01"},
    {"Retirement/Cancellation Date": "2026-04-03T12:00:00"},
    {"Retirement/Cancellation Date": "soon"},
    {"Additional Certifications": "ICVCM CCP; CORSIA – Pilot Phase; CORSIA - First Phase (2024-2026)"},
    {"Additional Certifications": " article 6 authorized – for NDC use;GHG Emissions Reductions"},
    {"Additional Certifications": "Carbon Dioxide Removals; ghg emission reductions"},
    {"Additional Certifications": "CCB-Gold"},
    {"Retirement Beneficiary": "  Acme\u00a0", "Retirement Reason": "n/a", "Retirement Details": "multi\nline"},
]


def test_every_bad_value_is_rejected_alike(tmp_path):
    rows = [block(1, 10, total="20")]
    for i, overrides in enumerate(BAD_VALUES):
        first = 1 + 10 * i
        rows.append(block(first, first + 9, project_id=str(2000 + i), total="20", **overrides))
    load = assert_same_load(write_csv(tmp_path / "transactions.csv", TRANSACTIONS_HEADER, rows))
    assert load.rows_rejected > 20, "most of the cases are rejections"


def test_overdrawn_vintages_and_issuance_order_are_alike(tmp_path):
    rows = [
        block(101, 400, **{"Issuance Date": "2026-04-05", "Retirement/Cancellation Date": "2026-04-10"}),
        block(1, 100, **{"Issuance Date": "2026-04-03"}),
        block(1, 600, project_id="981", total="1,000", **{"Retirement/Cancellation Date": "2026-04-10"}),
        block(601, 1200, project_id="981", total="1,000"),
        block(1, 10, project_id="982", total="10", **{"Issuance Date": "2025-01-01"}),
        block(11, 20, project_id="982", total="10", **{"Quantity Issued": "abc"}),
    ]
    assert_same_load(write_csv(tmp_path / "transactions.csv", TRANSACTIONS_HEADER, rows))


def test_malformed_records_blank_lines_and_multi_line_fields_keep_their_lines(tmp_path):
    rows = [block(1 + 10 * i, 10 + 10 * i, total="100") for i in range(6)]
    rows[1]["Retirement Details"] = "first line\r\nsecond line"
    path = write_csv(tmp_path / "transactions.csv", TRANSACTIONS_HEADER, rows)
    lines = path.read_bytes().split(b"\r\n")
    lines[5] += b",surplus"  # the fourth record: one field too many
    lines[6] = lines[6].rsplit(b",", 2)[0]  # the fifth: two fields too few
    lines.insert(4, b"")  # a blank line before the third record
    path.write_bytes(b"\r\n".join(lines))
    load = assert_same_load(path)
    assert load.rows_read == 6 and load.rows_rejected == 2, load.rejected.to_dict("records")


def test_optional_columns_dropped_cp1252_and_bom_are_alike(tmp_path):
    header = [h for h in TRANSACTIONS_HEADER if h not in ("Additional Certifications", "Retirement Details")]
    rows = [{h: v for h, v in block(1, 10, Name="Caf\u00e9").items() if h in header}]
    plain = write_csv(tmp_path / "transactions.csv", header, rows)
    assert_same_load(plain)
    cp1252 = tmp_path / "cp1252.csv"
    cp1252.write_bytes(plain.read_text(encoding="utf-8").encode("cp1252"))
    assert_same_load(cp1252)
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    assert_same_load(bom)


def test_unreadable_files_fail_alike(tmp_path):
    empty = tmp_path / "transactions.csv"
    empty.write_bytes(b"")
    with pytest.raises(IngestError, match="file is empty"):
        verra_sql.read_transactions(empty)
    header = [h for h in TRANSACTIONS_HEADER if h != "Quantity Issued"]
    path = write_csv(tmp_path / "missing.csv", header, [])
    with pytest.raises(IngestError, match=r"missing required column\(s\) 'Quantity Issued'"):
        verra_sql.read_transactions(path)
