"""The warehouse contract checked in DuckDB must mean what the pandera models mean, row for row."""

from __future__ import annotations

import duckdb
import pandas as pd
import pandera.pandas as pa
import pytest

from pipeline.ingest.load import load_registry
from pipeline.ingest.schemas import CreditsSchema, ProjectsSchema
from pipeline.ingest.sql_contract import contract_failures
from pipeline.settings import REPO_ROOT

BUNDLED = REPO_ROOT / "data" / "raw"


@pytest.fixture(scope="module")
def art_trees():
    load = load_registry("art-trees", BUNDLED)
    assert load is not None and len(load.credits) > 20, "the bundled ART TREES files hold credits"
    return load


def pandera_failures(frame: pd.DataFrame, model: type[pa.DataFrameModel]) -> dict[tuple[str, str], int]:
    """(column, check name) -> failing rows, as pandera reports them."""
    try:
        model.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        names = cases["check"].astype(str).str.split("(").str[0]
        return cases.assign(name=names).groupby(["column", "name"])["index"].nunique().to_dict()
    return {}


def sql_failures(frame: pd.DataFrame, table: str, model: type[pa.DataFrameModel]) -> dict[tuple[str, str], int]:
    with duckdb.connect() as conn:
        conn.register("incoming", frame)
        conn.execute(f"CREATE TABLE {table} AS SELECT * FROM incoming")
        found = contract_failures(conn, table, model)
    return {
        (c, k.split("(")[0]): None if pd.isna(n) else int(n)
        for c, k, n in found[["column", "check", "failing_rows"]].values
    }


def test_a_clean_registry_passes_in_duckdb_as_in_pandera(art_trees):
    assert sql_failures(art_trees.credits, "credits", CreditsSchema) == {}, "clean credits must pass in SQL"
    assert sql_failures(art_trees.projects, "projects", ProjectsSchema) == {}, "clean projects must pass in SQL"


def test_every_kind_of_bad_credit_fails_the_same_checks_on_the_same_rows(art_trees):
    bad = art_trees.credits.copy()
    bad.loc[0:2, "quantity"] = -5
    bad.loc[3, "transaction_type"] = "gift"
    bad.loc[4, "vintage"] = 3021
    bad.loc[5, "project_id"] = "XYZ12"
    bad.loc[6, "project_id"] = None
    bad.loc[7, "registry"] = "nowhere"
    bad.loc[8, "source_line"] = 0
    bad.loc[9, "buffer_quantity"] = -1
    expected = pandera_failures(bad, CreditsSchema)
    assert len(expected) == 8, f"pandera itself must see the eight planted faults: {expected}"
    assert sql_failures(bad, "credits", CreditsSchema) == expected, "DuckDB and pandera disagree on bad credits"


def test_duplicate_project_ids_and_bad_codes_fail_in_duckdb_as_in_pandera(art_trees):
    bad = pd.concat([art_trees.projects, art_trees.projects.iloc[:2]], ignore_index=True)
    bad.loc[0, "country_code"] = "gy"
    bad.loc[1, "activity"] = "SOLAR"
    bad.loc[2, "status"] = "sleeping"
    bad.loc[3, "estimated_annual_reductions"] = -1.0
    expected = pandera_failures(bad, ProjectsSchema)
    assert ("project_id", "field_uniqueness") in expected, f"pandera must flag the repeated ids: {expected}"
    assert sql_failures(bad, "projects", ProjectsSchema) == expected, "DuckDB and pandera disagree on bad projects"


def test_a_column_of_the_wrong_type_must_cast_and_a_missing_column_is_reported(art_trees):
    frame = art_trees.credits.assign(vintage=art_trees.credits["vintage"].astype(str))
    assert sql_failures(frame, "credits", CreditsSchema) == {}, "vintage as castable text passes, as pandera coerces"
    frame.loc[0, "vintage"] = "twenty-twenty"
    found = sql_failures(frame, "credits", CreditsSchema)
    assert found.get(("vintage", "coerce_dtype")) == 1, f"text that is not a year must fail the dtype: {found}"
    found = sql_failures(art_trees.credits.drop(columns=["quantity"]), "credits", CreditsSchema)
    assert ("quantity", "column_in_dataframe") in found, f"a dropped contract column must be reported: {found}"
