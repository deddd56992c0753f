"""Work-DB inputs for the buyer tests, following the stage contracts.

Project-vintages and quantities are real rows of the bundled exports in ``data/raw`` (CAR1745 and CAR1749
Mexican restoration, ACR701 Windrock IFM) and of ART TREES (ART102 Guyana). ``credits`` passes the ingest
schema and ``eligible_inventory`` the inventory contract (``pipeline.inventory``); the warehouse's supply view
(``pipeline.ingest.supply``, no VROD file) is defined over ``credits`` as the warehouse defines it; tiers and scores are
hand-set. Buyers and orders are made up, like the bundled examples.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from pipeline.buyers.schemas import BuyersSchema, OrdersSchema
from pipeline.ingest.schemas import CreditsSchema, LoadAuditSchema, empty_frame
from pipeline.ingest.supply import define_views
from pipeline.inventory.inventory import INVENTORY_COLUMNS, validate_inventory_frame
from pipeline.registries import REGISTRIES

POLICY_VERSION = "2026.11-v1"
AS_OF = pd.Timestamp("2026-11-29")

# project_id, registry, transaction type, vintage, quantity, date, beneficiary, note
CREDITS = [
    ("ART102", "art-trees", "issuance", 2023, 9_085_923, "2025-12-21", None, None),
    ("ART102", "art-trees", "retirement", 2023, 46_404, "2026-04-08", None, None),
    ("ART102", "art-trees", "cancellation", 2023, 1_000, "2026-02-28", None, None),
    ("ACR701", "american-carbon-registry", "issuance", 2025, 40_088, "2026-03-02", None, None),
    ("ACR701", "american-carbon-registry", "issuance", 2025, 23_897, "2026-03-02", None, None),
    ("ACR701", "american-carbon-registry", "retirement", 2025, 5_000, "2026-03-20", None, None),
    ("CAR1745", "climate-action-reserve", "issuance", 2025, 4_933, "2025-12-19", None, None),
    ("CAR1749", "climate-action-reserve", "issuance", 2025, 3_563, "2025-12-19", None, None),
    ("CAR1749", "climate-action-reserve", "retirement", 2025, 1_000, "2026-03-01", None, None),
]

# project_id -> (name, country_code, country, activity, protocol)
PROJECTS = {
    "ART102": ("Guyana", "GY", "Guyana", "JREDD", "art-trees"),
    "ACR701": ("Finite Carbon - Windrock Land Company IFM", "US", "United States", "IFM", "acr-ifm-nonfederal"),
    "CAR1745": ("Restauración Forestal Adolfo de la Huerta", "MX", "Mexico", "ARR", "car-mexico-forest"),
    "CAR1749": ("Restauración Forestal Chunkanan", "MX", "Mexico", "ARR", "car-mexico-forest"),
}

# (project_id, vintage) -> (quality tier, limiting score)
TIERS = {("ART102", 2023): ("high", 4), ("ACR701", 2025): ("eligible", 3), ("CAR1745", 2025): ("high", 4),
         ("CAR1749", 2025): ("high", 4)}  # fmt: skip


def credits_frame(rows: list[tuple] = CREDITS) -> pd.DataFrame:
    records = [
        {"project_id": pid, "registry": reg, "transaction_type": kind, "vintage": vintage, "quantity": qty,
         "transaction_date": pd.Timestamp(day), "serial_number": None, "buffer_quantity": None,
         "methodology_version": None, "product_type": None, "ccp_label": None, "corsia_phase": None,
         "corresponding_adjustment": None, "is_removal": None, "is_reversible": None,
         "additional_certifications": None, "retirement_beneficiary": who, "retirement_reason": None,
         "retirement_note": note, "project_known": True,
         "source_file": f"data/raw/{reg}/{kind}s.csv", "source_line": line}
        for line, (pid, reg, kind, vintage, qty, day, who, note) in enumerate(rows, start=2)
    ]  # fmt: skip
    frame = pd.DataFrame(records)
    for column in ("buffer_quantity", "vintage", "quantity"):
        frame[column] = frame[column].astype("Int64")
    return CreditsSchema.validate(frame, lazy=True)


def inventory_frame(credits: pd.DataFrame, tiers: dict = TIERS) -> pd.DataFrame:
    """``eligible_inventory`` as the inventory contract defines it (nothing retired for buyers yet)."""
    totals = credits.pivot_table(index=["project_id", "registry", "vintage"], columns="transaction_type",
                                 values="quantity", aggfunc="sum", fill_value=0)  # fmt: skip
    totals = totals.reindex(columns=["issuance", "retirement", "cancellation"], fill_value=0).reset_index()
    rows = []
    for t in totals.itertuples(index=False):
        if (t.project_id, t.vintage) not in tiers:
            continue
        tier, score = tiers[(t.project_id, t.vintage)]
        name, code, country, activity, protocol = PROJECTS[t.project_id]
        available = int(t.issuance - t.retirement - t.cancellation)
        rows.append(
            {"project_id": t.project_id, "registry": t.registry, "name": name, "country": country,
             "country_code": code, "activity": activity, "protocol": protocol, "vintage": int(t.vintage),
             "issued": int(t.issuance), "retired": int(t.retirement), "cancelled": int(t.cancellation),
             "buffer": None, "available": available, "retired_for_buyers": 0, "available_net": available,
             "haircut_pct": 0.0, "risk_adjusted_available": available, "additionality_score": score,
             "permanence_score": score, "leakage_score": score + 1, "over_crediting_score": score,
             "limiting_score": score, "quality_tier": tier, "badges": [],
             "registry_url": REGISTRIES[t.registry].project_url.format(number=t.project_id.lstrip("ACRTVS")),
             "policy_version": POLICY_VERSION, "source": "registry-export", "as_of": AS_OF}
        )  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["buffer"] = frame["buffer"].astype("Int64")
    return validate_inventory_frame(frame.loc[:, list(INVENTORY_COLUMNS)])


def write_work_db(path: Path, credits_rows: list[tuple] = CREDITS, tiers: dict = TIERS) -> None:
    """Create (or replace) ``credits``, ``eligible_inventory`` and the supply view in the work DB at ``path``."""
    credits = credits_frame(credits_rows)
    inventory = inventory_frame(credits, tiers)
    path.parent.mkdir(parents=True, exist_ok=True)
    tables = {"credits": credits, "eligible_inventory": inventory, "load_audit": empty_frame(LoadAuditSchema)}
    with duckdb.connect(str(path)) as conn:
        for table, frame in tables.items():
            conn.register("frame", frame)
            conn.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM frame")
            conn.unregister("frame")
        define_views(conn, None)


BUYER = {
    "buyer_id": "B1", "name": "Alder Valley Foods (fictional)", "relationship": "supplier",
    "net_zero_target_year": 2045, "net_zero_scopes": "1;2;3", "last_disclosure_date": "2026-04-30",
    "disclosure_cadence": "annual", "science_target_status": "validated", "science_target_date": "2024-03-12",
    "evidence_urls": "https://example.com/fictional/b1", "is_fictional": True,
}  # fmt: skip

ORDER = {
    "order_id": "O1", "buyer_id": "B1", "ordered_at": "2026-09-01", "tonnes": 100, "activities": None,
    "min_tier": None, "vintage_floor": None, "countries": None, "registries": None,
    "latest_delivery_date": None, "is_fictional": False,
}  # fmt: skip
"""Test orders are executed like real ones (``is_fictional`` false); tests of the dry run set it true."""


def buyers_frame(*changes: dict) -> pd.DataFrame:
    """Buyers ``B1``, ``B2``, ... : the qualifying ``BUYER`` with each dict's changes applied."""
    rows = [{**BUYER, "buyer_id": f"B{i}", **change} for i, change in enumerate(changes or ({},), start=1)]
    frame = pd.DataFrame(rows).assign(source_line=lambda f: range(2, len(f) + 2))
    for column in ("last_disclosure_date", "science_target_date"):
        frame[column] = pd.to_datetime(frame[column])
    return BuyersSchema.validate(frame, lazy=True)


def orders_frame(*orders: dict) -> pd.DataFrame:
    """Orders built from ``ORDER`` with each dict's changes applied (give each its own ``order_id``)."""
    frame = pd.DataFrame([{**ORDER, **o} for o in orders]).assign(source_line=lambda f: range(2, len(f) + 2))
    for column in ("ordered_at", "latest_delivery_date"):
        frame[column] = pd.to_datetime(frame[column])
    frame["vintage_floor"] = frame["vintage_floor"].astype("Int64")
    return OrdersSchema.validate(frame, lazy=True)


def write_inputs(raw_dir: Path, buyers: pd.DataFrame, orders: pd.DataFrame) -> None:
    """Write the frames as ``buyers.csv`` and ``orders.csv`` under ``raw_dir/buyers``."""
    folder = raw_dir / "buyers"
    folder.mkdir(parents=True, exist_ok=True)
    for frame, name in ((buyers, "buyers.csv"), (orders, "orders.csv")):
        out = frame.drop(columns="source_line").copy()
        for column in out.columns:
            if pd.api.types.is_datetime64_any_dtype(out[column]):
                out[column] = out[column].dt.strftime("%Y-%m-%d")
        out["is_fictional"] = out["is_fictional"].map({True: "true", False: "false"})
        out.to_csv(folder / name, index=False)
