"""Precedence and reconciliation between the registry exports and Berkeley's VROD, on real overlapping data: the
bundled registry samples, the Verra VCU exports of ../shared/registry-data, and the VROD v2025-12 release."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from pipeline.ingest.load import load_registry
from pipeline.ingest.supply import RECONCILIATION_TABLE, SUPPLY_VIEW, replace_vrod_slice, write_reconciliation
from pipeline.ingest.vrod import load_vrod
from pipeline.ingest.warehouse import build_warehouse, contract_failures, replace_registry_slice
from pipeline.registries import REGISTRY_KEYS
from tests.conftest import BUNDLED_RAW, SHARED_DATA

VCUS = SHARED_DATA / "verra-vcus-country-subsets" / "vcus.csv"
pytestmark = pytest.mark.skipif(not VCUS.is_file(), reason=f"Verra VCU exports not present at {VCUS}")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """The bundled registry samples, with Verra's VCU exports of three countries as its transactions, and VROD."""
    root = tmp_path_factory.mktemp("overlap")
    raw = root / "raw"
    shutil.copytree(BUNDLED_RAW, raw)
    shutil.copy(VCUS, raw / "verra" / "transactions.csv")
    conn = duckdb.connect(str(root / "work.duckdb"))
    for registry in REGISTRY_KEYS:
        replace_registry_slice(conn, load_registry(registry, raw))
    replace_vrod_slice(conn, load_vrod(raw))
    build_warehouse(conn)
    write_reconciliation(conn, tolerance_pct=1.0)
    yield conn
    conn.close()


def rows(conn, sql: str) -> list[tuple]:
    return conn.execute(sql).fetchall()


def test_projects_take_the_registry_export_first_and_vrod_for_the_rest(warehouse):
    assert contract_failures(warehouse, "projects").empty, "projects breaks its contract (unique ids ...)"
    by_source = dict(rows(warehouse, "SELECT source, count(*) FROM projects GROUP BY ALL"))
    exported = rows(warehouse, "SELECT count(*) FROM projects WHERE source_file NOT LIKE '%berkeley-vrod%'")[0][0]
    assert by_source["registry-export"] == exported, "a project of a registry export is not marked as such"
    assert by_source["berkeley-vrod"] >= 10_000 - exported
    assert {r for (r,) in rows(warehouse, "SELECT DISTINCT registry FROM projects")} == set(REGISTRY_KEYS)
    # Gold Standard's and ART's exports list every project VROD lists; VROD adds ACR, CAR and Verra projects.
    added = {r for (r,) in rows(warehouse, "SELECT DISTINCT registry FROM projects WHERE source = 'berkeley-vrod'")}
    assert added == {"american-carbon-registry", "climate-action-reserve", "verra"}
    # ART102 is in ART's own projects export: its attributes are the export's, VROD adds what the export lacks.
    name, source, reduction, buffer = rows(
        warehouse, "SELECT name, source, reduction_removal, buffer_deposits FROM projects WHERE project_id = 'ART102'"
    )[0]
    assert source == "registry-export" and reduction is not None and buffer is not None
    assert name == rows(warehouse, "SELECT name FROM staging.projects_art_trees WHERE project_id = 'ART102'")[0][0]
    as_of = rows(warehouse, "SELECT DISTINCT source, source_as_of IS NOT NULL FROM projects")
    assert all(dated for _, dated in as_of), "a project without its source's as-of date"


def test_each_project_vintage_is_supplied_by_one_source_and_the_export_wins(warehouse):
    assert not rows(warehouse, f"SELECT project_id, vintage FROM {SUPPLY_VIEW} GROUP BY ALL HAVING count(*) > 1"), (
        "a project-vintage is supplied twice"
    )
    not_from_export = rows(
        warehouse,
        f"""SELECT c.project_id, c.vintage FROM credits AS c JOIN {SUPPLY_VIEW} AS s USING (project_id, vintage)
            WHERE c.transaction_type = 'issuance' AND s.source <> 'registry-export'""",
    )
    assert not not_from_export, f"VROD supplies project-vintages whose issuances an export holds: {not_from_export[:5]}"


def test_a_vintage_period_the_sources_file_under_different_years_is_never_counted_twice(warehouse):
    # VCS641's VCU periods run April-June across two years: the export files them under 2010/2011/2012,
    # VROD under 2011/2012/2013, with the same quantities.
    supplied = rows(
        warehouse, f"SELECT vintage, issued, source FROM {SUPPLY_VIEW} WHERE project_id = 'VCS641' ORDER BY 1"
    )
    assert supplied == [(2010, 95_762, "registry-export"), (2011, 144_582, "registry-export"),
                        (2012, 155_435, "registry-export")]  # fmt: skip
    vrod_total = rows(warehouse, "SELECT total_issued FROM staging.vrod_projects WHERE project_id = 'VCS641'")[0][0]
    assert sum(issued for _, issued, _ in supplied) == vrod_total == 395_779
    # Every project supplied by both sources is one whose export vintages VROD lists under the same years.
    mixed = rows(
        warehouse,
        f"""SELECT project_id FROM {SUPPLY_VIEW} GROUP BY ALL HAVING count(DISTINCT source) = 2
            INTERSECT
            SELECT project_id FROM {SUPPLY_VIEW} AS s WHERE source = 'registry-export'
              AND NOT EXISTS (SELECT 1 FROM staging.vrod_vintages AS v
                              WHERE v.project_id = s.project_id AND v.vintage = s.vintage)""",
    )
    assert not mixed, f"projects whose vintages the sources label differently take credits from both: {mixed}"


def test_the_reconciliation_lists_where_the_exports_and_vrod_disagree(warehouse):
    vcs641 = rows(
        warehouse,
        f"""SELECT vintage, export_issued, vrod_issued, issued_difference, issued_within_tolerance, supplied_by
            FROM {RECONCILIATION_TABLE} WHERE project_id = 'VCS641' ORDER BY vintage""",
    )
    assert vcs641[0] == (2010, 95_762, 0, 95_762, False, "registry-export")
    assert vcs641[-1] == (2013, 0, 155_435, -155_435, False, None), "VROD's 2013 is supplied by nobody"
    art = rows(
        warehouse,
        f"SELECT bool_and(issued_within_tolerance), count(*) FROM {RECONCILIATION_TABLE} WHERE project_id = 'ART102'",
    )[0]
    assert art == (True, 8), "ART's issuance export and VROD agree on ART102's eight vintages"
    registries = {r for (r,) in rows(warehouse, f"SELECT DISTINCT registry FROM {RECONCILIATION_TABLE}")}
    assert registries == set(REGISTRY_KEYS), "every registry sample overlaps VROD"
    year_unknown = rows(warehouse, f"SELECT max(vrod_retired_year_unknown) FROM {RECONCILIATION_TABLE}")[0][0]
    assert year_unknown > 0, "VROD's retirements of unknown year are reported beside the project's vintages"
