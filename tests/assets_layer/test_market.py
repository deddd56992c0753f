"""``make run`` on the default data scores the market: every asset materialized as ``make run`` does (one run per
registry, then everything downstream), then the published analyst file is checked."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from assets.run import run_pipeline, summary
from pipeline.buyers.ledger import SUPPLY_SQL as BUYER_SUPPLY_SQL
from pipeline.registries import REGISTRY_KEYS
from tests.conftest import make_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("market"))
    with dg.DagsterInstance.ephemeral() as instance:
        outcome = run_pipeline(settings, instance)
    assert all(outcome.values()), f"runs failed: {outcome}"
    with duckdb.connect(settings.curated_db, read_only=True) as conn:
        yield conn, summary(settings)


def one(conn, sql: str):
    return conn.execute(sql).fetchone()


def test_projects_list_the_market_of_five_registries(published):
    conn, _ = published
    projects, registries = one(conn, "SELECT count(*), count(DISTINCT registry) FROM projects")
    assert projects >= 10_000 and registries == len(REGISTRY_KEYS)
    assert one(conn, "SELECT count(*) FROM projects WHERE source IS NULL OR source_as_of IS NULL")[0] == 0


def test_every_issued_project_vintage_of_vrod_is_scored_with_its_source(published):
    conn, _ = published
    assert one(conn, "SELECT count(*) FROM quality_scores")[0] >= 26_030
    unscored = one(
        conn,
        """SELECT count(*) FROM staging.vrod_vintages AS v
           ANTI JOIN quality_scores AS s USING (project_id, vintage) WHERE v.issued > 0""",
    )[0]
    assert unscored == 0, "an issued VROD project-vintage has no score"
    assert one(conn, "SELECT count(*) FROM quality_scores WHERE source IS NULL OR source_as_of IS NULL")[0] == 0


def test_the_published_inventory_never_offers_more_than_vrod_says_remains(published):
    conn, _ = published
    rows, sources = one(conn, "SELECT count(*), count(DISTINCT source) FROM eligible_inventory")
    assert rows > 0
    over = conn.execute(
        """SELECT i.project_id, i.vintage, i.source, i.available, v.remaining
           FROM eligible_inventory AS i JOIN staging.vrod_vintages AS v USING (project_id, vintage)
           WHERE i.available > v.remaining"""
    ).fetchall()
    assert not over, f"available above VROD's remaining: {over[:5]}"
    assert one(conn, "SELECT count(*) FROM eligible_inventory WHERE as_of IS NULL")[0] == 0


def test_the_summary_prints_the_inventory_by_registry_and_activity_and_the_as_of_dates(published):
    _, text = published
    assert "eligible project-vintages and available tonnes by registry and activity" in text
    assert "data as of (berkeley-vrod): 2025-12-31" in text and "data as of (registry-export): " in text


def test_buyers_can_allocate_what_vrod_supplies(published):
    conn, _ = published
    supply = conn.execute(BUYER_SUPPLY_SQL).df()
    inventory = conn.execute("SELECT project_id, vintage, available, source FROM eligible_inventory").df()
    joined = inventory.merge(supply, on=["project_id", "vintage"])
    assert len(joined) == len(inventory)
    from_vrod = joined[joined["source"] == "berkeley-vrod"]
    assert len(from_vrod) > 0, "the default data's inventory holds VROD-supplied project-vintages"
    assert (from_vrod["registry_available"] == from_vrod["available"]).all(), (
        "the buyers stage must see VROD's availability, not zero from credits"
    )
