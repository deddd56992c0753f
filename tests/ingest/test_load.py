"""load_registry's union of a registry's files and its schema-level check of that union."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
import pytest

from pipeline.ingest.dataset import schema_failures
from pipeline.ingest.load import load_registry
from pipeline.ingest.schemas import CreditsSchema, CreditTransactionsSchema, ProjectsSchema, check_columns_and_dtypes
from tests.conftest import BUNDLED_RAW

APX_REGISTRIES = ("american-carbon-registry", "climate-action-reserve", "art-trees")


@pytest.mark.parametrize("registry", ["verra", "gold-standard", *APX_REGISTRIES])
def test_loaded_registry_holds_the_contract_dtypes(registry):
    load = load_registry(registry, BUNDLED_RAW)
    for frame, schema in ((load.credits, CreditsSchema), (load.projects, ProjectsSchema)):
        expected = {name: column.dtype.type for name, column in schema.to_schema().columns.items()}
        actual = {name: frame[name].dtype for name in expected}
        assert actual == expected, f"{registry}: {schema.__name__} columns do not hold the contract dtypes"


def test_schema_level_check_names_each_broken_column():
    credits = load_registry("art-trees", BUNDLED_RAW).credits
    check_columns_and_dtypes(credits, CreditsSchema)  # the real union passes
    broken = credits.drop(columns=["serial_number"]).assign(
        quantity=credits["quantity"].astype("float64"),
        transaction_date=credits["transaction_date"].astype("datetime64[us]"),
        project_known=credits["project_known"].astype(object),
    )
    broken.loc[0, "project_known"] = None
    with pytest.raises(pa.errors.SchemaError) as failure:
        check_columns_and_dtypes(broken, CreditsSchema)
    message = str(failure.value)
    for expected in (
        "column 'serial_number' is missing",
        "column 'quantity' has dtype float64, the contract's is Int64",
        "column 'transaction_date' has dtype datetime64[us]",
        "column 'project_known' has dtype object",
    ):
        assert expected in message, f"the error does not say {expected!r}: {message}"


def test_schema_level_check_rejects_missing_values_in_a_required_column():
    projects = load_registry("art-trees", BUNDLED_RAW).projects
    projects["project_id"] = projects["project_id"].where(projects.index != 0)
    with pytest.raises(pa.errors.SchemaError, match="'project_id' has missing values"):
        check_columns_and_dtypes(projects, ProjectsSchema)


def test_finish_validation_coerces_only_columns_off_the_contract_dtype():
    credits = load_registry("art-trees", BUNDLED_RAW).credits.drop(columns=["project_known"])
    off_contract = credits.assign(
        transaction_date=credits["transaction_date"].dt.strftime("%Y-%m-%d"),
        source_line=credits["source_line"].astype("int32"),
    )
    reasons = schema_failures(off_contract, CreditTransactionsSchema)
    assert (reasons == "").all(), f"valid rows were rejected: {reasons[reasons != ''].head().tolist()}"
    assert off_contract["transaction_date"].dtype == "datetime64[ns]", "a text date column is coerced to the contract"
    assert off_contract["source_line"].dtype == "int64", "an int32 column is coerced to the contract's int64"
    pd.testing.assert_series_equal(off_contract["transaction_date"], credits["transaction_date"], obj="coerced dates")
    bad = credits.assign(quantity=credits["quantity"].where(credits.index != 0, -5))
    assert (
        schema_failures(bad, CreditTransactionsSchema).iloc[0].startswith("quantity failed greater_than_or_equal_to")
    ), "a column already on the contract dtype is still checked row by row"
