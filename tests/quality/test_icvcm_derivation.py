"""ccp_status in methodologies.csv is derived, version-scoped, from the verbatim ICVCM decisions table."""

from __future__ import annotations

import copy
import json
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from pipeline.quality.icvcm import (
    IcvcmError,
    derive_ccp_status,
    disagreements,
    main,
    table_date,
    update_csv,
)
from pipeline.quality.reference import Reference, load_reference
from pipeline.settings import REPO_ROOT
from tests.conftest import SHARED_DATA, requires_shared_data

REFERENCE_DIR = REPO_ROOT / "data" / "reference"


@pytest.fixture(scope="module")
def reference() -> Reference:
    return load_reference(REFERENCE_DIR)


def status_of(table: pd.DataFrame, protocol: str, version_min: str | None) -> str:
    rows = table[(table["protocol"] == protocol) & (table["version_min"].fillna("") == (version_min or ""))]
    assert len(rows) == 1, f"expected one methodologies.csv row for {protocol} from version {version_min!r}"
    return rows["ccp_status"].iloc[0]


def test_csv_agrees_with_the_derivation(reference: Reference):
    diff = disagreements(reference.methodologies, reference.icvcm_decisions)
    assert diff.empty, f"methodologies.csv ccp_* columns differ from the ICVCM table:\n{diff.to_string()}"


@requires_shared_data
def test_decisions_file_is_a_verbatim_copy():
    shared = SHARED_DATA / "icvcm-ccp-decisions" / "icvcm-decisions.json"
    assert (REFERENCE_DIR / "icvcm-decisions.json").read_bytes() == shared.read_bytes(), (
        "data/reference/icvcm-decisions.json is not a byte-for-byte copy of the shared ICVCM table"
    )


@pytest.mark.parametrize(
    ("protocol", "version_min", "expected"),
    [
        ("vm0047", "1.0", "approved"),  # VM0047 v1.0 and v1.1 approved separately
        ("vm0047", "1.1", "approved"),
        ("acr-ifm-nonfed", "1.0", "not_submitted"),  # v1.0-1.2 not in the table
        ("acr-ifm-nonfed", "1.3", "approved"),
        ("acr-ifm-nonfed", "2.0", "approved_conditional"),  # dynamic-baseline tool only
        ("acr-ifm-nonfed", "2.1", "approved_conditional"),  # leakage deduction condition
        ("art-trees", "1.0", "not_submitted"),
        ("art-trees", "2.0", "approved_conditional"),  # TREES (non-HFLD) level; HFLD and removals remedial
        ("vm0042", "2.0", "withdrawn"),
        ("vm0042", "2.2", "approved"),
        ("car-forest-mx", "2.0", "under_assessment"),
        ("car-forest-mx", "3.0", "approved_conditional"),
        ("car-landfill", "4.0", "withdrawn"),
        ("car-landfill", "6.0", "approved"),
        ("acm0002", "1.0", "rejected"),  # grid renewables: Does not meet
        ("ams-i-d", "1.0", "rejected"),
        ("vm0007", None, "not_submitted"),  # legacy REDD never submitted
        ("vm0048", "1.0", "approved"),
        ("gs-tpddtec", "2.0", "approved_conditional"),
    ],
)
def test_version_scoped_statuses(reference: Reference, protocol: str, version_min: str | None, expected: str):
    derived = derive_ccp_status(reference.methodologies, reference.icvcm_decisions)
    got = status_of(reference.methodologies.assign(ccp_status=derived["ccp_status"]), protocol, version_min)
    assert got == expected, f"{protocol} from {version_min}: derived {got}, expected {expected}"


def test_cdm_methodology_takes_both_programmes_decision_documents(reference: Reference):
    derived = derive_ccp_status(reference.methodologies, reference.icvcm_decisions)
    acm0002 = derived[reference.methodologies["protocol"] == "acm0002"].iloc[0]
    assert "VCS_ACM0002" in acm0002["ccp_source_url"] and "GS_ACM0002" in acm0002["ccp_source_url"], (
        f"ACM0002 is decided under both Verra and Gold Standard; got {acm0002['ccp_source_url']}"
    )


def test_table_date_is_the_tables_own(reference: Reference):
    assert table_date(reference.icvcm_decisions) == date(2026, 8, 4), "ICVCM table says 'last updated 4th August 2026'"
    assert (reference.methodologies["ccp_as_of"] == pd.Timestamp("2026-08-04")).all(), "ccp_as_of is the table date"
    with pytest.raises(IcvcmError, match="tableLastUpdated"):
        table_date({"source": {"tableLastUpdated": "recently"}})


def _with_row_change(decisions: dict, title_start: str, versions: str, **changes) -> dict:
    changed = copy.deepcopy(decisions)
    rows = [r for r in changed["rows"] if r["methodology"].startswith(title_start) and r["versions"] == versions]
    assert len(rows) == 1, f"expected one ICVCM row {title_start!r} {versions}"
    rows[0].update(changes)
    return changed


def test_a_changed_decision_shows_as_a_disagreement(reference: Reference):
    withdrawn = _with_row_change(
        dict(reference.icvcm_decisions), "VM0047 Afforestation", "1.1", decision="Withdrawn", decisionDocumentUrl=None
    )
    diff = disagreements(reference.methodologies, withdrawn)
    assert list(zip(diff["protocol"], diff["version_min"], diff["ccp_status_derived"], strict=True)) == [
        ("vm0047", "1.1", "withdrawn")
    ], f"only VM0047 v1.1 should change, to withdrawn:\n{diff.to_string()}"


def test_a_newly_listed_methodology_forces_the_row_to_be_split(reference: Reference):
    decisions = copy.deepcopy(dict(reference.icvcm_decisions))
    decisions["rows"].append(
        {
            "category": "REDD+ (Project)",
            "programme": "Verified Carbon Standard",
            "methodology": "VM0007 REDD+ Methodology Framework (REDD+MF) - 1.6",
            "methodologyId": "VM0007",
            "versions": "1.6",
            "decision": "Does not meet",
            "decisionDocumentUrl": None,
            "boardObservationsUrl": None,
        }
    )
    with pytest.raises(IcvcmError, match=r"vm0007 .*split the row"):
        derive_ccp_status(reference.methodologies, decisions)


def test_a_row_spanning_two_icvcm_ranges_is_refused(reference: Reference):
    table = reference.methodologies
    merged = table[table["protocol"] == "vm0047"].head(1).assign(version_min="1.0", version_max="1.1")
    with pytest.raises(IcvcmError, match=r"vm0047 1\.0-1\.1 overlaps ICVCM rows \['1\.0', '1\.1'\]"):
        derive_ccp_status(merged, reference.icvcm_decisions)


def test_unknown_decision_is_refused(reference: Reference):
    odd = _with_row_change(dict(reference.icvcm_decisions), "VM0047 Afforestation", "1.0", decision="Maybe")
    with pytest.raises(IcvcmError, match="unknown decision 'Maybe'"):
        derive_ccp_status(reference.methodologies, odd)


def test_update_rewrites_only_the_ccp_columns(tmp_path: Path, reference: Reference):
    folder = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, folder)
    changed = _with_row_change(
        dict(reference.icvcm_decisions), "VM0042 Methodology for Improved Agricultural Land Management", "2.2",
        decision="Withdrawn", decisionDocumentUrl=None,
    )  # fmt: skip
    (folder / "icvcm-decisions.json").write_text(json.dumps(changed), encoding="utf-8")
    before = pd.read_csv(folder / "methodologies.csv", dtype=str, keep_default_na=False)

    assert main([str(folder)]) == 1, "the check should report the stale row"
    assert update_csv(folder) == 1, "exactly one row (VM0042 v2.2) changes"
    after = pd.read_csv(folder / "methodologies.csv", dtype=str, keep_default_na=False)

    others = [c for c in before.columns if c not in ("ccp_status", "ccp_source_url", "ccp_as_of")]
    pd.testing.assert_frame_equal(before[others], after[others], obj="non-ccp columns after --update")
    row = after[(after["protocol"] == "vm0042") & (after["version_min"] == "2.2")].iloc[0]
    assert (row["ccp_status"], row["ccp_source_url"]) == ("withdrawn", "https://icvcm.org/assessment-status/")
    assert main([str(folder)]) == 0, "after --update the table agrees with the decisions"
