"""Inventory and publish on the bundled real registry exports, ingested by the real ingest assets.

Two scorings: the real scoring engine (``pipeline.quality``), and a stand-in built in SQL from the real
credits that scores every nature-based project-vintage eligible, so that the eligible path runs on real
quantities whatever the engine's verdicts on the bundled sample. Quantities, projects, rejected rows and
load audit are always the real ones.
"""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from assets import ingest
from assets.publish import available_reconciles_with_credits, eligible_inventory, inventory_exports, published_inventory
from pipeline.policy import load_policy
from pipeline.quality.engine import score_project_vintages
from pipeline.quality.reference import load_reference
from pipeline.quality.store import write_quality_scores
from pipeline.registries import REGISTRY_KEYS
from tests.conftest import make_settings

pytestmark = pytest.mark.slow

STAND_IN_SCORES = """
CREATE OR REPLACE TABLE quality_scores AS
SELECT c.project_id, c.registry, c.vintage::BIGINT AS vintage, p.activity,
       coalesce(p.is_nature_based, false) AS is_nature_based, p.protocol,
       3 AS additionality_score, 4 AS permanence_score, 3 AS leakage_score, 3 AS over_crediting_score,
       3 AS limiting_score,
       CASE WHEN coalesce(p.is_nature_based, false) THEN 'eligible' ELSE 'ineligible' END AS quality_tier,
       coalesce(p.is_nature_based, false) AS is_eligible,
       CASE WHEN coalesce(p.is_nature_based, false) THEN []::VARCHAR[] ELSE ['G7'] END AS gates_failed,
       CASE WHEN coalesce(p.is_nature_based, false) THEN []
            ELSE [{'code': 'G7_NOT_NATURE_BASED', 'criterion': 'gate', 'message': 'not a nature-based project',
                   'source': ['data/reference/quality-framework.md 7.3']}] END AS reasons,
       0.0 AS haircut_pct, sum(c.quantity)::BIGINT AS issued, sum(c.quantity)::BIGINT AS risk_adjusted_issued,
       NULL::DOUBLE AS buffer_pct_observed, bool_or(c.ccp_label) AS ccp_label,
       any_value(c.corsia_phase) AS corsia_phase,
       bool_or(c.corresponding_adjustment) AS corresponding_adjustment, []::VARCHAR[] AS co_benefit_labels,
       '2026.11-v1' AS policy_version
FROM credits AS c LEFT JOIN projects AS p USING (project_id)
WHERE c.transaction_type = 'issuance' AND c.vintage IS NOT NULL
GROUP BY ALL
"""


def real_scores(settings) -> None:
    with duckdb.connect(settings.work_db) as conn:
        projects = conn.execute("SELECT * FROM projects").df()
        credits = conn.execute("SELECT * FROM credits").df()
        policy = load_policy(settings.paths.policy)
        scores = score_project_vintages(
            projects, credits, load_reference(settings.paths.reference_dir), policy.scoring, policy.policy_version
        )
        write_quality_scores(conn, scores)


@pytest.fixture
def ingested(tmp_path):
    settings = make_settings(tmp_path)
    for registry in REGISTRY_KEYS:
        dg.materialize(
            [ingest.registry_tables, ingest.warehouse],
            selection=dg.AssetSelection.assets("registry_tables"),
            partition_key=registry,
            resources={"settings": settings},
        )
    dg.materialize(
        [ingest.registry_tables, ingest.warehouse],
        selection=dg.AssetSelection.assets("projects").required_multi_asset_neighbors(),
        resources={"settings": settings},
    )
    return settings


def materialize_publish(settings):
    return dg.materialize(
        [eligible_inventory, available_reconciles_with_credits, published_inventory, inventory_exports],
        resources={"settings": settings},
        raise_on_error=False,
    )


def test_real_scores_publish_with_every_column_described_and_reasons_shown(ingested):
    settings = ingested
    real_scores(settings)
    result = materialize_publish(settings)
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert result.success, "inventory, publish and exports must succeed on real scores"
    assert checks["available_reconciles_with_credits"].passed, checks["available_reconciles_with_credits"].metadata
    undocumented = checks["data_dictionary_complete"].metadata["undocumented"].value
    assert checks["data_dictionary_complete"].passed, f"real columns without a description:\n{undocumented}"
    with duckdb.connect(settings.curated_db, read_only=True) as conn:
        scored, ineligible, explained = conn.execute(
            "SELECT (SELECT count(*) FROM quality_scores), "
            "(SELECT count(*) FROM quality_scores WHERE NOT is_eligible), "
            "(SELECT count(*) FROM ineligible_projects WHERE first_failed_reason IS NOT NULL)"
        ).fetchone()
    assert scored > 0, "the engine scores the bundled project-vintages"
    assert explained == ineligible, "every ineligible project-vintage shows its first failed reason"
    with duckdb.connect(settings.curated_db, read_only=True) as conn:
        wrong = conn.execute(
            "SELECT project_id, vintage, gates_failed, first_failed_code FROM ineligible_projects "
            "WHERE CASE WHEN len(gates_failed) > 0 THEN NOT list_contains(gates_failed, split_part(first_failed_code, "
            "'_', 1)) ELSE first_failed_criterion <> 'tier' END"
        ).fetchall()
    assert wrong == [], f"first failed reason is not a failed gate's (or, with no gate failed, the tier's): {wrong}"


def test_real_exports_publish_a_reconciled_documented_inventory(ingested):
    settings = ingested
    with duckdb.connect(settings.work_db) as conn:
        conn.execute(STAND_IN_SCORES)
    result = materialize_publish(settings)
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert result.success, "inventory, publish and exports must succeed on the bundled real data"
    assert checks["available_reconciles_with_credits"].passed, checks["available_reconciles_with_credits"].metadata
    undocumented = checks["data_dictionary_complete"].metadata["undocumented"].value
    assert checks["data_dictionary_complete"].passed, f"real columns without a description:\n{undocumented}"

    with duckdb.connect(settings.curated_db, read_only=True) as conn:
        offered, tonnes = conn.execute("SELECT count(*), sum(available_net) FROM eligible_inventory").fetchone()
        copied = conn.execute("SELECT count(*) FROM credits").fetchone()[0]
    with duckdb.connect(settings.work_db, read_only=True) as conn:
        source = conn.execute("SELECT count(*) FROM credits").fetchone()[0]
    assert copied == source, "the published credits are the work DB's, row for row"
    assert offered > 0 and tonnes > 0, "nature-based projects with credits left in the bundled data are offered"


WAREHOUSE_ORDER = {
    "projects": "registry, project_id",
    "credits": "registry, project_id, vintage, transaction_type, source_file, source_line",
    "rejected_rows": "registry, dataset, source_line",
    "load_audit": "registry, dataset",
}


def test_published_warehouse_relations_are_self_contained_and_in_warehouse_order(ingested):
    settings = ingested
    with duckdb.connect(settings.work_db) as conn:
        conn.execute(STAND_IN_SCORES)
    assert materialize_publish(settings).success, "publish must succeed on the bundled real data"
    with duckdb.connect(settings.work_db, read_only=True) as work:
        expected = {table: work.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
                    for table, order in WAREHOUSE_ORDER.items()}  # fmt: skip
    # Opened alone, as an analyst would: the views must read the published file's own slices.
    with duckdb.connect(settings.curated_db, read_only=True) as conn:
        for table, order in WAREHOUSE_ORDER.items():
            published = conn.execute(f"SELECT * FROM {table}").fetchall()
            assert published == expected[table], f"published {table} must be the work DB's rows in ({order}) order"
        registries = conn.execute("SELECT count(DISTINCT registry) FROM credits").fetchone()[0]
        assert registries >= 4, f"the order must be checked across registries, got {registries}"
        (slice_comment,) = conn.execute(
            "SELECT comment FROM duckdb_tables() WHERE schema_name = 'staging' AND table_name = 'credits_verra'"
        ).fetchone()
    assert slice_comment.startswith("The verra slice of credits (query credits"), (
        f"a slice must tell analysts which relation to query instead, got {slice_comment!r}"
    )
