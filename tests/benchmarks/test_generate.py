"""The benchmark generator writes native-format, internally consistent registry exports."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from benchmarks.generate import Scale, generate, read_pool, to_int

REGISTRY_DATASETS = {
    "verra": {"projects", "transactions"},
    "gold-standard": {"projects", "issuances", "retirements"},
    "american-carbon-registry": {"projects", "issuances", "retirements", "cancellations"},
    "climate-action-reserve": {"projects", "issuances", "retirements", "cancellations"},
    "art-trees": {"projects", "issuances", "retirements", "cancellations"},
}
ID_COLUMN = {"verra": "ID", "gold-standard": "GSID", "art-trees": "Program ID"}
ISSUED = {
    "gold-standard": "Quantity",
    "american-carbon-registry": "Credits Issued to Project",
    "climate-action-reserve": "Total Offset Credits Issued",
    "art-trees": "Credits Verified",
}
SPENT = {
    "gold-standard": "Quantity",
    "american-carbon-registry": "Quantity of Credits",
    "climate-action-reserve": "Quantity of Offset Credits",
    "art-trees": "Quantity of Credits",
}


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory):
    return generate(Scale(projects=60, transactions=3_000), tmp_path_factory.mktemp("bench") / "raw", seed=7)


def read(raw_dir, registry, dataset) -> pd.DataFrame:
    return pd.read_csv(raw_dir / registry / f"{dataset}.csv", dtype=str, keep_default_na=False)


def test_every_registry_has_its_datasets_in_the_raw_layout(raw_dir):
    for registry, datasets in REGISTRY_DATASETS.items():
        written = {p.stem for p in (raw_dir / registry).glob("*.csv")}
        assert written == datasets, f"{registry}: wrote {sorted(written)}, expected {sorted(datasets)}"


def test_headers_are_the_native_ones(raw_dir):
    """Same headers as the bundled real exports; APX files end with the empty trailing-comma header."""
    for registry, datasets in REGISTRY_DATASETS.items():
        for dataset in datasets:
            header = (raw_dir / registry / f"{dataset}.csv").open(encoding="utf-8", newline="").readline()
            expected = list(read_pool(registry, dataset).columns)
            if registry in ("american-carbon-registry", "climate-action-reserve", "art-trees"):
                assert header.rstrip("\n").endswith(","), f"{registry}/{dataset}: no trailing comma in header"
                expected = [*expected, ""]
            got = next(iter(pd.read_csv(pd.io.common.StringIO(header), header=None, dtype=str).fillna("").values))
            assert list(got) == expected, f"{registry}/{dataset}: header differs from the real export"
    verra = (raw_dir / "verra" / "transactions.csv").read_bytes()
    assert verra.count(b"\r\n") == verra.count(b"\n"), "Verra exports must use CRLF line endings"


def test_every_transaction_names_an_existing_project(raw_dir):
    for registry, datasets in REGISTRY_DATASETS.items():
        id_column = ID_COLUMN.get(registry, "Project ID")
        projects = read(raw_dir, registry, "projects")
        assert projects[id_column].is_unique, f"{registry}: duplicate project ids"
        for dataset in datasets - {"projects"}:
            unknown = set(read(raw_dir, registry, dataset)[id_column]) - set(projects[id_column])
            assert not unknown, f"{registry}/{dataset}: transactions for unknown projects {sorted(unknown)[:5]}"


def test_spent_credits_never_exceed_issued_per_project_vintage(raw_dir):
    for registry in ISSUED:
        id_column = ID_COLUMN.get(registry, "Project ID")
        issued = read(raw_dir, registry, "issuances")
        held = to_int(issued[ISSUED[registry]])
        if registry == "climate-action-reserve":  # the total includes the reserve buffer contribution
            held = held - to_int(issued["Offset Credits Currently in Reserve Buffer Pool"])
        issued_total = issued.assign(q=held).groupby([id_column, "Vintage"])["q"].sum()
        spent = pd.concat([read(raw_dir, registry, d) for d in REGISTRY_DATASETS[registry] - {"projects", "issuances"}])
        spent_total = spent.assign(q=to_int(spent[SPENT[registry]])).groupby([id_column, "Vintage"])["q"].sum()
        balance = issued_total.reindex(spent_total.index, fill_value=0) - spent_total
        assert (balance >= 0).all(), f"{registry}: spent > issued for {balance[balance < 0].head().to_dict()}"
    verra = read(raw_dir, "verra", "transactions")
    blocks = verra.assign(q=to_int(verra["Quantity Issued"]), total=to_int(verra["Total Vintage Quantity"]))
    per_vintage = blocks.groupby(["ID", "Vintage End"]).agg(
        q=("q", "sum"), totals=("total", "nunique"), total=("total", "first")
    )
    assert (per_vintage["totals"] == 1).all(), "Verra: one Total Vintage Quantity per project-vintage"
    assert (per_vintage["q"] <= per_vintage["total"]).all(), "Verra: serial blocks exceed the vintage total"


def test_dates_are_ordered_and_not_after_the_snapshot(raw_dir):
    retirements = read(raw_dir, "gold-standard", "retirements")
    issued = pd.to_datetime(retirements["Issuance Date"])
    retired = pd.to_datetime(retirements["Retirement Date"])
    assert (issued <= retired).all(), "Gold Standard: a retirement precedes its issuance"
    assert retired.max() <= pd.Timestamp("2026-04-14"), "dates after the export snapshot"
    verra = read(raw_dir, "verra", "transactions")
    vintage_end = pd.to_datetime(verra["Vintage End"])
    assert (pd.to_datetime(verra["Issuance Date"]) > vintage_end).all(), "Verra: issued before vintage ended"


def test_same_seed_same_bytes(raw_dir, tmp_path):
    again = generate(Scale(projects=60, transactions=3_000), tmp_path / "raw", seed=7)
    for path in sorted(raw_dir.rglob("*.csv")):
        twin = again / path.relative_to(raw_dir)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest == hashlib.sha256(twin.read_bytes()).hexdigest(), f"{path.name} differs between runs"
