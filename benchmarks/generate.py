"""Deterministic, registry-wide-scale exports in each registry's native format.

Every value that is not a key, a quantity, a date or a serial number is resampled from the bundled
real exports in ``data/raw/`` (the pools), so names, methodologies, statuses, beneficiaries and their
quirks (thousands separators, float artefacts, placeholders, non-ASCII text) follow the real
distributions. What the generator builds itself is what must be consistent across files:

- every transaction names a generated project, and carries that project's name, country, type and
  methodology (columns shared with the projects export are copied from the project row);
- per project-vintage, retired + cancelled credits never exceed issued credits (for Verra: the serial
  blocks of a project-vintage never exceed its ``Total Vintage Quantity``);
- serial ranges are contiguous and disjoint within a project-vintage; dates are ordered
  (vintage end < issuance <= retirement <= snapshot date).

Files are written in the raw layout the pipeline reads (``<out>/<registry>/<dataset>.csv``) with the
headers of FORMATS.md: APX exports (ACR, CAR, ART) end every line with a trailing comma (an empty last
header), Verra uses CRLF line endings, the Gold Standard projects export quotes every field.

    python -m benchmarks.generate --projects 20000 --transactions 1000000

Everything is vectorized numpy/pandas: 1M transactions take a few seconds, most of it CSV writing.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
POOL_DIR = REPO_ROOT / "data" / "raw"
DATA_DIR = Path(__file__).resolve().parent / ".data"

SNAPSHOT = pd.Timestamp("2026-04-14")
"""The export date: no generated date is later than this."""
VINTAGES = np.arange(2005, 2026)

PROJECT_SHARE = {
    "verra": 0.40,
    "gold-standard": 0.33,
    "climate-action-reserve": 0.13,
    "american-carbon-registry": 0.12,
    "art-trees": 0.02,
}
TRANSACTION_SHARE = {
    "verra": 0.55,
    "gold-standard": 0.20,
    "climate-action-reserve": 0.12,
    "american-carbon-registry": 0.10,
    "art-trees": 0.03,
}
# Within a registry, how transaction rows split over the export files.
DATASET_SHARE = {
    "gold-standard": {"issuances": 0.35, "retirements": 0.65},
    "american-carbon-registry": {"issuances": 0.25, "retirements": 0.60, "cancellations": 0.15},
    "climate-action-reserve": {"issuances": 0.25, "retirements": 0.60, "cancellations": 0.15},
    "art-trees": {"issuances": 0.20, "retirements": 0.65, "cancellations": 0.15},
}
VERRA_BLOCKS_PER_VINTAGE = 6
VERRA_RETIRED_SHARE = 0.75


# --------------------------------------------------------------------------------------------- helpers


def read_pool(registry: str, dataset: str) -> pd.DataFrame:
    """A bundled real export as strings, exactly as written (no NA guessing), trailing column dropped."""
    pool = pd.read_csv(POOL_DIR / registry / f"{dataset}.csv", dtype=str, keep_default_na=False)
    return pool.loc[:, ~pool.columns.str.startswith("Unnamed:")]


def to_int(values: pd.Series) -> np.ndarray:
    """Real quantities ('1,454,054', '550369.0', '') as int64; blanks become 0."""
    cleaned = values.str.replace(",", "", regex=False).replace("", "0")
    return pd.to_numeric(cleaned).fillna(0).astype("int64").to_numpy()


def text(values) -> np.ndarray:
    """Any array as a numpy object array of str, so that ``+`` concatenates element-wise."""
    return np.asarray(values).astype(str).astype(object)


def join(*parts) -> np.ndarray:
    """Element-wise concatenation of arrays and literal strings."""
    out = None
    for part in parts:
        piece = part if isinstance(part, str) else text(part)
        out = piece if out is None else out + piece
    return out


def format_days(days: np.ndarray, fmt: str) -> np.ndarray:
    """Days since 1970-01-01 as strings; each distinct day is formatted once."""
    unique, inverse = np.unique(days, return_inverse=True)
    return pd.to_datetime(unique, unit="D").strftime(fmt).to_numpy(dtype=object)[inverse]


_SECONDS = pd.to_datetime(np.arange(86_400), unit="s")
_TIME_12H = _SECONDS.strftime("%-I:%M:%S %p").to_numpy(dtype=object)
_TIME_24H = _SECONDS.strftime("%H:%M:%S").to_numpy(dtype=object)


def with_time(days: np.ndarray, fmt: str, rng: np.random.Generator, twelve_hour: bool = True) -> np.ndarray:
    seconds = rng.integers(0, 86_400, len(days))
    times = _TIME_12H if twelve_hour else _TIME_24H
    return format_days(days, fmt) + " " + times[seconds]


def thousands(values: np.ndarray) -> np.ndarray:
    """Integers with a thousands separator, as Verra writes quantities ('1,454,054')."""
    unique, inverse = np.unique(values, return_inverse=True)
    return np.array([f"{v:,}" for v in unique.tolist()], dtype=object)[inverse]


def day_number(ts: pd.Timestamp) -> int:
    return int((ts - pd.Timestamp("1970-01-01")).days)


SNAPSHOT_DAY = day_number(SNAPSHOT)


def vintage_end_days(vintages: np.ndarray) -> np.ndarray:
    return (
        (pd.to_datetime(vintages.astype(str), format="%Y") + pd.offsets.YearEnd(0))
        .to_numpy()
        .astype("datetime64[D]")
        .astype("int64")
    )


def resample(pool: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    return pool.iloc[rng.integers(0, len(pool), n)].reset_index(drop=True)


def project_weights(n: int, rng: np.random.Generator) -> np.ndarray:
    """Heavy-tailed activity: a few projects carry most transactions, as in every registry."""
    weights = rng.pareto(1.2, n) + 0.05
    return weights / weights.sum()


def country_codes(pool_pairs: list[tuple[pd.Series, pd.Series]]) -> dict[str, str]:
    """Country name -> ISO2 as the real serial numbers and country columns pair them."""
    mapping: dict[str, str] = {}
    for names, codes in pool_pairs:
        pairs = pd.DataFrame({"name": names, "code": codes}).dropna()
        pairs = pairs[pairs["code"].str.fullmatch(r"[A-Z]{2}")]
        mapping.update(pairs.drop_duplicates("name").set_index("name")["code"].to_dict())
    return mapping


def iso2_for(countries: np.ndarray, mapping: dict[str, str]) -> np.ndarray:
    """ISO2 for serial numbers; unmapped names fall back to their first two letters (serials only)."""
    series = pd.Series(countries, dtype=object)
    fallback = series.str.replace(r"[^A-Za-z]", "", regex=True).str[:2].str.upper().replace("", "XX")
    return series.map(mapping).fillna(fallback).to_numpy(dtype=object)


@dataclass
class ProjectVintages:
    """Distinct (project, vintage) pairs that carry credits, with their first issuance day."""

    project: np.ndarray  # index into the registry's projects frame
    vintage: np.ndarray
    issued_day: np.ndarray


def draw_project_vintages(n_keys: int, weights: np.ndarray, rng: np.random.Generator) -> ProjectVintages:
    n_keys = max(1, min(n_keys, len(weights) * len(VINTAGES)))
    vintage_weights = np.linspace(0.3, 1.0, len(VINTAGES))  # recent vintages dominate
    pair_weights = np.outer(weights, vintage_weights / vintage_weights.sum()).ravel()
    pairs = rng.choice(pair_weights.size, size=n_keys, replace=False, p=pair_weights)
    project, vintage_index = np.divmod(pairs, len(VINTAGES))
    vintage = VINTAGES[vintage_index]
    issued_day = np.minimum(vintage_end_days(vintage) + rng.integers(45, 900, n_keys), SNAPSHOT_DAY - 30)
    return ProjectVintages(project, vintage, issued_day)


def split_exactly(totals: np.ndarray, key: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Split each key's total over its rows (random shares, >= 1 each) so the rows sum to the total."""
    weights = rng.uniform(0.5, 1.5, len(key))
    weight_sum = np.bincount(key, weights=weights, minlength=len(totals))
    shares = np.floor(totals[key] * weights / weight_sum[key]).astype("int64")
    shares = np.maximum(shares, 1)
    remainder = totals - np.bincount(key, weights=shares, minlength=len(totals)).astype("int64")
    first_row = np.unique(key, return_index=True)[1]
    shares[first_row] += remainder[key[first_row]]
    return shares


def serial_offsets(key: np.ndarray, quantity: np.ndarray) -> np.ndarray:
    """First serial of each row: blocks are contiguous and disjoint within a key, starting at 1."""
    frame = pd.DataFrame({"key": key, "quantity": quantity})
    return (frame.groupby("key")["quantity"].cumsum() - frame["quantity"] + 1).to_numpy()


def copy_project_columns(rows: pd.DataFrame, projects: pd.DataFrame, project: np.ndarray, renames=None):
    """Columns a transaction export shares with the projects export take the project's values."""
    renames = dict(renames or {})
    shared = {c: c for c in rows.columns if c in projects.columns}
    for credit_column, project_column in {**shared, **renames}.items():
        rows[credit_column] = projects[project_column].to_numpy()[project]


def per_project_columns(rows, pool, columns, projects, project, match, rng):
    """Attributes the registry fixes per project (protocol version, removal flag) from one pool row,
    preferably a row whose ``match`` column (e.g. Project Type) equals the project's."""
    template = rng.integers(0, len(pool), len(projects))
    if match in pool and match in projects:
        candidates = pool.groupby(match).indices
        for value, positions in projects.groupby(match).indices.items():
            if value in candidates:
                template[positions] = rng.choice(candidates[value], len(positions))
    for column in columns:
        rows[column] = pool[column].to_numpy()[template[project]]


# ------------------------------------------------------------------------------------- credit ledgers


@dataclass
class Ledger:
    """Issuance rows and their retirement/cancellation rows, consistent per project-vintage."""

    keys: ProjectVintages
    issuance_key: np.ndarray
    issuance_quantity: np.ndarray
    issuance_day: np.ndarray
    spent_key: dict[str, np.ndarray]  # dataset -> key per row
    spent_quantity: dict[str, np.ndarray]
    spent_day: dict[str, np.ndarray]


def draw_ledger(
    n_issuances: int,
    spent_rows: dict[str, int],
    weights: np.ndarray,
    issued_pool: np.ndarray,
    spent_pool: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> Ledger:
    keys = draw_project_vintages(n_issuances, weights, rng)
    n_keys = len(keys.project)
    issuance_key = np.arange(n_issuances) % n_keys
    spent_key, spent_quantity, spent_day = {}, {}, {}
    spent_total = np.zeros(n_keys, dtype="int64")
    for dataset, n in spent_rows.items():
        key = rng.integers(0, n_keys, n)
        quantity = np.maximum(rng.choice(spent_pool[dataset], n), 1)
        spent_total += np.bincount(key, weights=quantity, minlength=n_keys).astype("int64")
        spent_key[dataset], spent_quantity[dataset] = key, quantity
        spent_day[dataset] = np.minimum(keys.issued_day[key] + rng.integers(0, 1500, n), SNAPSHOT_DAY)
    rows_per_key = np.bincount(issuance_key, minlength=n_keys)
    # Issued >= spent / share-spent: some vintages are fully retired, most keep a balance.
    issued = np.ceil(spent_total / rng.uniform(0.4, 1.0, n_keys)).astype("int64")
    issued = np.maximum.reduce([issued, rng.choice(issued_pool, n_keys), 10 * rows_per_key])
    quantity = split_exactly(issued, issuance_key, rng)
    later_tranche = np.arange(n_issuances) >= n_keys  # rows beyond the first per key: partial issuances
    day = np.minimum(keys.issued_day[issuance_key] + later_tranche * rng.integers(0, 200, n_issuances), SNAPSHOT_DAY)
    last_issued = keys.issued_day.copy()
    np.maximum.at(last_issued, issuance_key, day)
    for dataset in spent_day:  # credits are spent only once the project-vintage is fully issued
        spent_day[dataset] = np.maximum(spent_day[dataset], last_issued[spent_key[dataset]])
    return Ledger(keys, issuance_key, quantity, day, spent_key, spent_quantity, spent_day)


# ------------------------------------------------------------------------------------------ registries


def unique_ids(n: int, low: int, rng: np.random.Generator) -> np.ndarray:
    """n distinct positive integers from low upward, shuffled (registries' ids are sparse)."""
    return low + rng.permutation(int(n * 1.3) + 10)[:n]


def generate_projects(registry: str, n: int, rng: np.random.Generator) -> pd.DataFrame:
    pool = read_pool(registry, "projects")
    projects = resample(pool, n, rng)
    if registry == "verra":
        projects["ID"] = text(unique_ids(n, 1, rng))
    elif registry == "gold-standard":
        projects["GSID"] = text(unique_ids(n, 1000, rng))
    else:
        column = "Program ID" if registry == "art-trees" else "Project ID"
        prefix = {"american-carbon-registry": "ACR", "climate-action-reserve": "CAR", "art-trees": "ART"}
        projects[column] = join(prefix[registry], unique_ids(n, 100, rng))
    return projects


def verra_transactions(projects: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Verra's VCU export: one row per serial block; blocks with a retirement date are retired."""
    pool = read_pool("verra", "transactions")
    retired_pool = pool[pool["Retirement/Cancellation Date"] != ""]
    keys = draw_project_vintages(max(1, n // VERRA_BLOCKS_PER_VINTAGE), project_weights(len(projects), rng), rng)
    key = np.sort(rng.integers(0, len(keys.project), n))
    key[: len(keys.project)] = np.arange(min(n, len(keys.project)))  # every drawn vintage has a block
    key.sort()
    project = keys.project[key]

    rows = resample(pool, n, rng)
    copy_project_columns(rows, projects, project)
    quantity = np.maximum(rng.choice(to_int(pool["Quantity Issued"]), n), 1)
    in_blocks = np.bincount(key, weights=quantity, minlength=len(keys.project)).astype("int64")
    vintage_total = np.ceil(in_blocks / rng.uniform(0.5, 1.0, len(in_blocks))).astype("int64")
    vintage = keys.vintage[key]
    rows["Vintage Start"] = join(vintage, "-01-01")
    rows["Vintage End"] = join(vintage, "-12-31")
    issued_day = np.minimum(keys.issued_day[key] + rng.integers(0, 60, n), SNAPSHOT_DAY)
    rows["Issuance Date"] = format_days(issued_day, "%Y-%m-%d")
    rows["Total Vintage Quantity"] = thousands(vintage_total[key])
    rows["Quantity Issued"] = thousands(quantity)

    first = serial_offsets(key, quantity) + rng.integers(0, 900_000_000, len(keys.project))[key]
    iso2 = iso2_for(rows["Country/Area"].to_numpy(), verra_country_codes(pool))
    start, end = (
        format_days(vintage_end_days(vintage) - 364, "%d%m%Y"),
        format_days(vintage_end_days(vintage), "%d%m%Y"),
    )
    rows["Serial Number"] = join(
        rng.integers(1000, 20000, len(keys.project))[key],
        "-",
        first,
        "-",
        first + quantity - 1,
        "-VCS-VCU-",
        rng.integers(1, 1600, n),
        "-VER-",
        iso2,
        "-",
        rng.integers(1, 16, n),
        "-",
        rows["ID"].to_numpy(),
        "-",
        start,
        "-",
        end,
        "-",
        rng.integers(0, 2, n),
    )

    retired = rng.random(n) < VERRA_RETIRED_SHARE
    retirement = resample(retired_pool, n, rng)
    retired_day = np.minimum(issued_day + rng.integers(0, 1500, n), SNAPSHOT_DAY)
    rows["Retirement/Cancellation Date"] = np.where(retired, format_days(retired_day, "%Y-%m-%d"), "")
    for column in ("Retirement Beneficiary", "Retirement Reason", "Retirement Details"):
        rows[column] = np.where(retired, retirement[column].to_numpy(), "")
    return rows


def verra_country_codes(pool: pd.DataFrame) -> dict[str, str]:
    return country_codes([(pool["Country/Area"], pool["Serial Number"].str.split("-").str[7])])


def all_country_codes() -> dict[str, str]:
    """Names as Verra, Gold Standard and APX write them, paired with the ISO2 in their serials."""
    gs = read_pool("gold-standard", "issuances")
    acr = read_pool("american-carbon-registry", "issuances")
    return {
        **verra_country_codes(read_pool("verra", "transactions")),
        **country_codes([(gs["Country"], gs["Serial Number"].str.split("-").str[2])]),
        **dict(zip(acr["Project Site Country"], acr["Project Site Country"], strict=True)),
    }


def draw_registry_ledger(registry: str, projects: pd.DataFrame, rows: dict[str, int], rng) -> Ledger:
    quantity_column = {
        "gold-standard": {"issuances": "Quantity", "retirements": "Quantity"},
        "american-carbon-registry": {
            "issuances": "Credits Issued to Project",
            "retirements": "Quantity of Credits",
            "cancellations": "Quantity of Credits",
        },
        "climate-action-reserve": {
            "issuances": "Total Offset Credits Issued",
            "retirements": "Quantity of Offset Credits",
            "cancellations": "Quantity of Offset Credits",
        },
        "art-trees": {
            "issuances": "Credits Verified",
            "retirements": "Quantity of Credits",
            "cancellations": "Quantity of Credits",
        },
    }[registry]
    spent = {d: n for d, n in rows.items() if d != "issuances"}
    return draw_ledger(
        rows["issuances"],
        spent,
        project_weights(len(projects), rng),
        to_int(read_pool(registry, "issuances")[quantity_column["issuances"]]),
        {d: to_int(read_pool(registry, d)[quantity_column[d]]) for d in spent},
        rng,
    )


def gold_standard_transactions(projects, rows, rng) -> dict[str, pd.DataFrame]:
    """Issuances and retirements (Credit Status Retired or Canceled) with GS serial ranges."""
    ledger = draw_registry_ledger("gold-standard", projects, rows, rng)
    codes = all_country_codes()
    out = {}
    for dataset in ("issuances", "retirements"):
        is_issuance = dataset == "issuances"
        key = ledger.issuance_key if is_issuance else ledger.spent_key[dataset]
        quantity = ledger.issuance_quantity if is_issuance else ledger.spent_quantity[dataset]
        project, vintage = ledger.keys.project[key], ledger.keys.vintage[key]
        frame = resample(read_pool("gold-standard", dataset), len(key), rng)
        copy_project_columns(frame, projects, project, {"Project Developer": "Project Developer Name"})
        frame["Vintage"] = text(vintage)
        frame["Quantity"] = text(quantity)
        issued_day = ledger.keys.issued_day[key] if not is_issuance else ledger.issuance_day
        period_end = np.minimum(vintage_end_days(vintage), issued_day - 30)
        frame["Monitoring Period Start"] = format_days(period_end - rng.integers(90, 700, len(key)), "%Y-%m-%d")
        frame["Monitoring Period End"] = format_days(period_end, "%Y-%m-%d")
        first = serial_offsets(key, quantity)
        frame["Serial Number"] = join(
            "GS1-1-",
            iso2_for(frame["Country"].to_numpy(), codes),
            "-GS",
            frame["GSID"].to_numpy(),
            "-16-",
            vintage,
            "-",
            rng.integers(1000, 40000, len(key)),
            "-",
            first,
            "-",
            first + quantity - 1,
        )
        if is_issuance:
            frame["Issuance Date"] = join(
                with_time(issued_day, "%Y-%m-%d", rng, twelve_hour=False),
                ".",
                pd.Series(rng.integers(0, 1_000_000, len(key))).astype(str).str.zfill(6).to_numpy(),
            ).astype(object)
            frame["Issuance Date"] = frame["Issuance Date"].str.replace(" ", "T", regex=False)
        else:
            frame["Issuance Date"] = format_days(issued_day, "%Y-%m-%d")
            frame["Retirement Date"] = format_days(ledger.spent_day[dataset], "%Y-%m-%d")
        out[dataset] = frame
    return out


@dataclass(frozen=True)
class ApxFormat:
    """Where an APX registry (ACR, CAR, ART) puts ids, dates, quantities and serials."""

    id_column: str
    country_column: str
    issuance_date: str
    issuance_quantity: str
    spent_quantity: str
    spent_date: dict[str, str]
    serial_column: str
    timestamped: bool  # dates carry 'h:mm:ss AM' (ACR) or not (CAR, ART status dates)
    serial_prefix: str
    per_project: tuple[str, ...]
    match: str  # per-project attributes come from pool rows agreeing on this column


APX_FORMATS = {
    "american-carbon-registry": ApxFormat(
        id_column="Project ID",
        country_column="Project Site Country",
        issuance_date="Date Issued (GMT)",
        issuance_quantity="Credits Issued to Project",
        spent_quantity="Quantity of Credits",
        spent_date={"retirements": "Status Effective (GMT)", "cancellations": "Status Effective  (GMT)"},
        serial_column="Credit Serial Numbers",
        timestamped=True,
        serial_prefix="ACR",
        match="Project Methodology/Protocol",
        per_project=(
            "Methodology/Protocol Version",
            "ARB Eligible",
            "Ecology Eligible",
            "CCP Approved",
            "Verified Removal",
        ),
    ),
    "climate-action-reserve": ApxFormat(
        id_column="Project ID",
        country_column="Project Site Country",
        issuance_date="Date Issued",
        issuance_quantity="Total Offset Credits Issued",
        spent_quantity="Quantity of Offset Credits",
        spent_date={"retirements": "Status Effective", "cancellations": "Status Effective"},
        serial_column="Offset Credit Serial Numbers",
        timestamped=False,
        serial_prefix="CAR-1",
        match="Project Type",
        per_project=("Reduction/Removal", "Reversible/Non-Reversible", "Protocol and Version", "CCP Approved"),
    ),
    "art-trees": ApxFormat(
        id_column="Program ID",
        country_column="Program  Country",
        issuance_date="Date Approved",
        issuance_quantity="Credits Verified",
        spent_quantity="Quantity of Credits",
        spent_date={"retirements": "Status Effective", "cancellations": "Status Effective"},
        serial_column="Credit Serial Numbers",
        timestamped=False,
        serial_prefix="ART",
        match="Program Name",
        per_project=("Crediting Program and Standard", "Standard Version", "CCP Approved"),
    ),
}


def apx_date(days: np.ndarray, timestamped: bool, rng) -> np.ndarray:
    return with_time(days, "%-m/%-d/%Y", rng) if timestamped else format_days(days, "%m/%d/%Y")


def apx_transactions(registry: str, projects: pd.DataFrame, rows: dict[str, int], rng) -> dict[str, pd.DataFrame]:
    """APX issuances, retirements and cancellations with serial ranges '<prefix>-<from> to <to>'."""
    fmt = APX_FORMATS[registry]
    ledger = draw_registry_ledger(registry, projects, rows, rng)
    codes = all_country_codes()
    number = pd.Series(projects[fmt.id_column]).str[3:].to_numpy()
    out = {}
    for dataset in rows:
        is_issuance = dataset == "issuances"
        key = ledger.issuance_key if is_issuance else ledger.spent_key[dataset]
        quantity = ledger.issuance_quantity if is_issuance else ledger.spent_quantity[dataset]
        project, vintage = ledger.keys.project[key], ledger.keys.vintage[key]
        pool = read_pool(registry, dataset)
        frame = resample(pool, len(key), rng)
        copy_project_columns(frame, projects, project)
        columns = [c for c in fmt.per_project if c in pool]
        per_project_columns(frame, pool, columns, projects, project, fmt.match, rng)
        frame["Vintage"] = text(vintage)
        if is_issuance:
            issued_day = ledger.issuance_day
            frame[fmt.issuance_date] = apx_date(issued_day, registry != "climate-action-reserve", rng)
            frame[fmt.issuance_quantity] = text(quantity)
            buffer = (quantity * rng.uniform(0.05, 0.2, len(key))).astype("int64")
            if registry == "american-carbon-registry":
                buffer *= frame["Project Type"].str.contains("Forest", regex=False).to_numpy()
                frame["Credits Issued to Buffer Pool"] = text(buffer)
                frame["Total Credits Issued"] = text(quantity + buffer)
                transferred = to_int(frame["Credits Transferred to Buffer Pool"])
                frame["Credits Transferred to Buffer Pool"] = text(np.minimum(transferred, quantity))
                frame["ReportingPeriodBegin"] = format_days(vintage_end_days(vintage) - 364, "%-m/%-d/%Y")
                frame["ReportingPeriodEnd"] = format_days(vintage_end_days(vintage), "%-m/%-d/%Y")
            elif registry == "climate-action-reserve":
                # The ledger quantity is what the project holds: the export's total includes the reserve buffer.
                forest = frame["Project Type"].str.contains("Forest", regex=False).to_numpy()
                buffer *= forest
                frame["Total Offset Credits Issued"] = text(quantity + buffer)
                frame["Offset Credits Currently in Reserve Buffer Pool"] = np.where(forest, text(buffer), "")
                for column in ("Offset Credits Intended for Compliance Buffer Pool", "Canceled for Compliance"):
                    frame[column] = np.where(frame[column] == "", "", text(np.minimum(to_int(frame[column]), quantity)))
            elif registry == "art-trees":
                frame["Credits Deposited in Buffer"] = text(buffer)
                frame["Total Emission Reductions/Removals"] = text(quantity + buffer)
                frame["fiID"] = number[project]
        else:
            issued_day = ledger.keys.issued_day[key]
            frame[fmt.spent_quantity] = text(quantity)
            frame[fmt.spent_date[dataset]] = apx_date(ledger.spent_day[dataset], fmt.timestamped, rng)
            if "Date Issued (GMT)" in frame:
                frame["Date Issued (GMT)"] = apx_date(issued_day, True, rng)
            if "Date Approved" in frame:
                frame["Date Approved"] = apx_date(issued_day, True, rng)
            if "Vintage Assignment Period Start Date" in frame:
                frame["Vintage Assignment Period Start Date"] = format_days(
                    vintage_end_days(vintage) - 364, "%-m/%-d/%Y"
                )
                frame["Vintage Assignment Period End Date"] = format_days(vintage_end_days(vintage), "%-m/%-d/%Y")
            if "fiid" in frame:
                frame["fiid"] = number[project]
            first = serial_offsets(key, quantity)
            country = iso2_for(frame[fmt.country_column].to_numpy(), codes)
            frame[fmt.serial_column] = join(
                fmt.serial_prefix,
                "-",
                country,
                "-",
                number[project],
                "-",
                vintage,
                "-",
                rng.integers(1, 10000, len(key)),
                "-",
                first,
                " to ",
                first + quantity - 1,
            )
        out[dataset] = frame
    return out


# ------------------------------------------------------------------------------------------- writing


def write_csv(frame: pd.DataFrame, path: Path, registry: str, dataset: str) -> None:
    """Native layout: APX trailing comma (empty last header), Verra CRLF, GS projects fully quoted."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if registry in APX_FORMATS:
        frame = frame.assign(**{"": ""})
    quoting = csv.QUOTE_ALL if (registry, dataset) == ("gold-standard", "projects") else csv.QUOTE_MINIMAL
    lineterminator = "\r\n" if registry == "verra" else "\n"
    frame.to_csv(path, index=False, quoting=quoting, lineterminator=lineterminator)


@dataclass(frozen=True)
class Scale:
    projects: int
    transactions: int

    @property
    def name(self) -> str:
        return f"p{self.projects}-t{self.transactions}"


def split(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Integer split of a total by shares, at least one row each."""
    return {key: max(1, round(total * share)) for key, share in shares.items()}


def fingerprint(scale: Scale, seed: int) -> dict:
    """What determines the bytes written: the scale, the seed, this code and the pools."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for pool in sorted(POOL_DIR.glob("*/*.csv")):
        digest.update(pool.read_bytes())
    return {"projects": scale.projects, "transactions": scale.transactions, "seed": seed, "sha256": digest.hexdigest()}


def is_current(out_dir: Path, scale: Scale, seed: int = 20260414) -> bool:
    """True when ``out_dir`` holds exactly what :func:`generate` would write now (safe to reuse)."""
    stamp = out_dir / "generated.json"
    return stamp.exists() and json.loads(stamp.read_text()) == fingerprint(scale, seed)


def generate(scale: Scale, out_dir: Path | None = None, seed: int = 20260414) -> Path:
    """Write one complete five-registry raw directory; returns it. Same seed, same bytes."""
    out_dir = out_dir or DATA_DIR / scale.name
    (out_dir / "generated.json").unlink(missing_ok=True)
    rng = np.random.default_rng(seed)
    projects_per_registry = split(scale.projects, PROJECT_SHARE)
    transactions_per_registry = split(scale.transactions, TRANSACTION_SHARE)
    for registry in PROJECT_SHARE:
        projects = generate_projects(registry, projects_per_registry[registry], rng)
        write_csv(projects, out_dir / registry / "projects.csv", registry, "projects")
        n = transactions_per_registry[registry]
        if registry == "verra":
            files = {"transactions": verra_transactions(projects, n, rng)}
        elif registry == "gold-standard":
            files = gold_standard_transactions(projects, split(n, DATASET_SHARE[registry]), rng)
        else:
            files = apx_transactions(registry, projects, split(n, DATASET_SHARE[registry]), rng)
        for dataset, frame in files.items():
            write_csv(frame, out_dir / registry / f"{dataset}.csv", registry, dataset)
    (out_dir / "generated.json").write_text(json.dumps(fingerprint(scale, seed)))
    return out_dir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=20_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20260414)
    parser.add_argument("--out", type=Path, default=None, help="raw directory (default benchmarks/.data/<scale>)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    out = generate(Scale(args.projects, args.transactions), args.out, args.seed)
    size = sum(f.stat().st_size for f in out.rglob("*.csv"))
    print(f"wrote {out} ({size / 2**20:.0f} MiB) in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
