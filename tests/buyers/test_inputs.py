"""The buyers and orders files: the bundled made-up examples parse, bad files fail naming line and column."""

import pytest

from pipeline.buyers.inputs import BuyerInputError, buyer_input_paths, read_buyers, read_orders
from pipeline.settings import REPO_ROOT

BUYERS_CSV, ORDERS_CSV = buyer_input_paths(REPO_ROOT / "data" / "raw")


def test_bundled_examples_parse_and_are_labelled_fictional():
    buyers, orders = read_buyers(BUYERS_CSV), read_orders(ORDERS_CSV)
    assert len(buyers) >= 5 and len(orders) >= 5, "the bundled examples should cover several buyers and orders"
    assert buyers["is_fictional"].all() and orders["is_fictional"].all(), "every bundled row must be marked fictional"
    assert buyers["name"].str.contains("fictional").all(), "bundled buyer names must say they are fictional"
    assert set(orders["buyer_id"]) <= set(buyers["buyer_id"]), "bundled orders should reference bundled buyers"
    assert "MADE UP" in (BUYERS_CSV.parent / "README.md").read_text(), "the folder README must say the data is made up"


def test_a_bad_value_names_file_line_and_column(tmp_path):
    text = BUYERS_CSV.read_text().splitlines()
    text[2] = text[2].replace(",partner,", ",friend,")
    path = tmp_path / "buyers.csv"
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(BuyerInputError) as error:
        read_buyers(path)
    assert "line 3" in str(error.value) and "relationship" in str(error.value) and "friend" in str(error.value), (
        f"the error should name line 3, the column and the value: {error.value}"
    )


def test_bad_date_and_missing_column_are_errors(tmp_path):
    text = ORDERS_CSV.read_text().splitlines()
    dated = tmp_path / "dated.csv"
    dated.write_text("\n".join([text[0], text[1].replace("2026-09-01", "01/09/2026")]) + "\n")
    with pytest.raises(BuyerInputError, match=r"line 2: ordered_at '01/09/2026' is not a YYYY-MM-DD date"):
        read_orders(dated)
    header_only = tmp_path / "short.csv"
    header_only.write_text(text[0].replace(",registries", "") + "\n")
    with pytest.raises(BuyerInputError, match=r"missing column\(s\) \['registries'\]"):
        read_orders(header_only)
    with pytest.raises(BuyerInputError, match="file not found"):
        read_orders(tmp_path / "absent.csv")


def test_duplicate_order_ids_are_rejected(tmp_path):
    text = ORDERS_CSV.read_text().splitlines()
    path = tmp_path / "orders.csv"
    path.write_text("\n".join([text[0], text[1], text[1]]) + "\n")
    with pytest.raises(BuyerInputError, match="order_id"):
        read_orders(path)
