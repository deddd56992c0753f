"""Berkeley's Voluntary Registry Offsets Database (VROD): the PROJECTS sheet, one row per project of the five
registries, with its credits per year in four wide blocks (``/work/shared/docs/vrod.md``, ``docs/sources.md``).

Three layouts are read, told apart by their header names (an unknown one is an :class:`IngestError` naming what
was expected):

- the native workbook (``projects.xlsx``, sheet ``PROJECTS``): title rows, the header on a row of the first ten
  that holds ``Project ID`` (the 4th in every release), four blocks of the *same* year headers;
- the pandas conversion (``projects.parquet``): the repeated year headers became ``1996``, ``1996.1``,
  ``1996.2``, ``1996.3``;
- the 2021 CSV conversion (``projects.csv``): ``Issued by Reporting 1996``, ``Retired 1996``,
  ``Remaining 1996``, ``Issued 1996``.

The blocks, in order (:data:`BLOCKS`), each checked per project against its total column; a project whose
block disagrees is a rejected row with the difference in its reason:

1. credits issued by **vintage** (sum = ``Total Credits Issued``);
2. credits retired by **retirement year**, then ``Year Unknown`` (sum = ``Total Credits Retired``). Berkeley's
   header only says the year; the data says which year: on v2025-12 the block exceeds the vintage's issuance in
   4,616 projects, and for VCS641 it equals, year by year, Verra's VCU retirements grouped by retirement date;
3. credits remaining by **vintage** (sum = ``Total Credits Remaining``; never above the vintage's issuance);
4. credits issued by **issuance year** (sum = ``Total Credits Issued``).

Per vintage, then, VROD gives issued and remaining; ``retired`` per vintage is ``issued - remaining`` (it
includes the ``Year Unknown`` retirements, whose retirement year is unknown, not their vintage). Blocks 1 and 3
are unpivoted into ``vrod_vintages`` in DuckDB; blocks 2 and 4 are checked and summarized per project. Year
cells may be negative (Berkeley's corrections: 48 projects have a negative remaining vintage in v2025-12) and
are kept as they are; a value that is not a whole number rejects the project.

Project attributes are normalized with the registry readers' own functions (``pipeline.ingest.normalize``), so
every rule scores a VROD project as it scores the same project read from its registry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pandera.typing import Series

from pipeline.ingest import normalize
from pipeline.ingest.dataset import DatasetLoad, finish, flag_duplicate_projects
from pipeline.ingest.files import Column, IngestError, Layout, RawTable, file_sha256, map_columns, normalize_header
from pipeline.ingest.parsing import (
    ARROW_TEXT,
    RowChecks,
    arrow_strings,
    arrow_text,
    clean_text,
    column,
    dates,
    fail_values,
    parse_float,
)
from pipeline.ingest.schemas import LoadAuditSchema, ProjectsSchema, RejectedRowsSchema, text
from pipeline.registries import REGISTRIES, REGISTRY_KEYS
from pipeline.snapshots import latest_snapshot, snapshot_order

SOURCE = "berkeley-vrod"
"""The raw folder (``data/raw/berkeley-vrod/``) and the ``source`` value of every row VROD supplies."""
DATASET = "vrod-projects"
"""The ``dataset`` of VROD's ``load_audit`` and ``rejected_rows`` entries."""
SHEET = "PROJECTS"
EXTENSIONS = (".xlsx", ".parquet", ".csv")

REGISTRY_OF_CODE = {
    "VCS": "verra",
    "GOLD": "gold-standard",
    "ACR": "american-carbon-registry",
    "CAR": "climate-action-reserve",
    "ART": "art-trees",
}
"""``Voluntary Registry`` code -> registry key."""

BLOCKS = ("issued", "retired_in_year", "remaining", "issued_in_year")
"""The four year blocks in sheet order: issued by vintage, retired by retirement year (+ Year Unknown),
remaining by vintage, issued by issuance year."""
BLOCK_WORDS = {
    "issued": "credits issued by vintage",
    "retired_in_year": "credits retired by retirement year (incl. Year Unknown)",
    "remaining": "credits remaining by vintage",
    "issued_in_year": "credits issued by issuance year",
}
BLOCK_TOTAL = {
    "issued": "total_issued",
    "retired_in_year": "total_retired",
    "remaining": "total_remaining",
    "issued_in_year": "total_issued",
}
PREFIXED_BLOCK = {"issued by reporting": 0, "retired": 1, "remaining": 2, "issued": 3}
"""The 2021 CSV conversion's year-header prefixes."""

LAYOUT = Layout(
    "Berkeley VROD PROJECTS sheet (native .xlsx, its .parquet conversion, or the 2021 .csv conversion)",
    (
        Column("project_id", ("Project ID",)),
        Column("name", ("Project Name",)),
        Column("registry_code", ("Voluntary Registry",)),
        Column("status", ("Voluntary Status",)),
        Column("scope", ("Scope",)),
        Column("type", ("Type",)),
        Column("reduction_removal", ("Reduction / Removal",), required=False),
        Column("methodology", ("Methodology / Protocol",)),
        Column("methodology_version", ("Methodology Version",), required=False),
        Column("region", ("Region",), required=False),
        Column("country", ("Country",)),
        Column("developer", ("Project Developer",), required=False),
        Column("total_issued", ("Total Credits Issued",)),
        Column("total_retired", ("Total Credits Retired",)),
        Column("total_remaining", ("Total Credits Remaining",)),
        Column("buffer_deposits", ("Total Buffer Pool Deposits",), required=False),
        Column("reversals_covered", ("Reversals Covered by Buffer Pool",), required=False),
        Column("reversals_not_covered", ("Reversals Not Covered by Buffer",), required=False),
        Column("buffer_released", ("Buffer Credits Released to Project",), required=False),
        Column("first_year", ("First Year of Project (Vintage)", "First Year of Project"), required=False),
        Column("retired_year_unknown", ("Year Unknown",)),
        Column("estimated_annual_reductions", ("Estimated Annual Emission Reductions",), required=False),
        Column("listed", ("Project Listed",), required=False),
        Column("registered", ("Project Registered",), required=False),
        Column("registry_type", ("Project Type From the Registry", "Project Type"), required=False),
        Column("date_added", ("Date Project Added to Database", "Date added to database"), required=False),
    ),
    sheet=SHEET,
)
WHOLE_NUMBER_COLUMNS = (
    "total_issued", "total_retired", "total_remaining", "buffer_deposits", "reversals_covered",
    "reversals_not_covered", "buffer_released", "retired_year_unknown",
)  # fmt: skip
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%y", "%m/%d/%Y", "%Y%m", "ISO8601")
"""Dates as the workbook (real dates), the parquet (timestamps) and the 2021 CSV (``5/29/13``, ``202112``) hold them."""


class VrodVintagesSchema(pa.DataFrameModel):
    """Per project and vintage, VROD's credits (table ``vrod_vintages``): blocks 1 and 3 of the PROJECTS sheet."""

    project_id: Series[pd.StringDtype] = text()
    registry: Series[pd.StringDtype] = text(isin=REGISTRY_KEYS)
    vintage: Series[int] = pa.Field(ge=1990, le=2100)
    issued: Series[int] = pa.Field(ge=0)
    remaining: Series[int]
    retired: Series[int]
    """``issued - remaining``: retirements and cancellations of the vintage, incl. those of unknown year."""
    source_file: Series[pd.StringDtype] = text()
    source_line: Series[int] = pa.Field(ge=1)

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check
    def retired_is_issued_minus_remaining(cls, df: pd.DataFrame) -> Series[bool]:
        return df["retired"] == df["issued"] - df["remaining"]


@dataclass
class VrodLoad:
    """One VROD file, read: accepted projects and their vintages, rejected rows, and one audit row per registry."""

    file: Path
    projects: pd.DataFrame
    vintages: pd.DataFrame
    rejected: pd.DataFrame
    audit: pd.DataFrame
    as_of: date | None
    """The snapshot folder's date, else the latest ``Date Project Added to Database``."""

    @property
    def rows_read(self) -> int:
        return int(self.audit["rows_read"].sum())

    @property
    def rows_rejected(self) -> int:
        return int(self.audit["rows_rejected"].sum())


# --------------------------------------------------------------------------------------------------------------
# Files and layouts
# --------------------------------------------------------------------------------------------------------------


def vrod_file(raw_dir: Path) -> Path | None:
    """The ``projects.<ext>`` of the latest VROD snapshot under ``raw_dir`` (None when there is none)."""
    folder = latest_snapshot(Path(raw_dir), SOURCE)
    if folder is None:
        return None
    files = [p for p in sorted(folder.iterdir()) if p.stem.lower() == "projects" and p.suffix.lower() in EXTENSIONS]
    if len(files) > 1:
        raise IngestError(f"{folder}: several VROD files ({', '.join(p.name for p in files)}); keep one")
    return files[0] if files else None


@dataclass(frozen=True)
class YearColumns:
    """Where the year blocks are: ``columns[block][i]`` is the header of ``years[i]`` in that block."""

    years: tuple[int, ...]
    columns: tuple[tuple[str, ...], ...]


_YEAR_HEADER = re.compile(
    r"^(?:(?P<prefix>issued by reporting|retired|remaining|issued) )?(?P<year>\d{4})(?:\.(?P<copy>\d))?$"
)


def year_columns(path: Path, headers: list[str]) -> YearColumns:
    """The four year blocks among ``headers``: repeated bare years (the workbook: the n-th ``1996`` is block n),
    pandas' copies (``1996.2`` is block 2) or the 2021 prefixes. Raises :class:`IngestError` unless there are
    exactly four blocks of the same years."""
    blocks: list[dict[int, str]] = [{} for _ in BLOCKS]
    bare_seen: dict[int, int] = {}
    for header in headers:
        match = _YEAR_HEADER.match(normalize_header(header))
        if match is None:
            continue
        year = int(match["year"])
        if match["prefix"]:
            block = PREFIXED_BLOCK[match["prefix"]]
        elif match["copy"]:
            block = int(match["copy"])
        else:
            block = bare_seen.get(year, 0)
            bare_seen[year] = block + 1
        if block >= len(BLOCKS) or year in blocks[block]:
            raise IngestError(f"{path}: year column {header!r} is a fifth copy of {year}; {_EXPECTED_BLOCKS}")
        blocks[block][year] = header
    years = sorted(blocks[0])
    if not years or any(sorted(block) != years for block in blocks):
        found = "; ".join(f"{BLOCK_WORDS[b]}: {sorted(blocks[i]) or 'none'}" for i, b in enumerate(BLOCKS))
        raise IngestError(f"{path}: unknown layout for {LAYOUT.description}: {_EXPECTED_BLOCKS}. Found {found}")
    return YearColumns(tuple(years), tuple(tuple(block[y] for y in years) for block in blocks))


_EXPECTED_BLOCKS = (
    "expected four blocks of the same year columns (" + ", ".join(BLOCK_WORDS.values()) + ") as repeated year "
    "headers (1996 ... 1996), pandas copies (1996, 1996.1, 1996.2, 1996.3) or the 2021 prefixes (Issued by "
    "Reporting 1996, Retired 1996, Remaining 1996, Issued 1996)"
)


def _strings(values: pa_arrow.ChunkedArray | pa_arrow.Array) -> pa_arrow.Array:
    """Any Arrow column as text the way the sheet shows it: whole floats without ``.0``, dates as ``YYYY-MM-DD``."""
    if isinstance(values, pa_arrow.ChunkedArray):
        values = values.combine_chunks()
    kind = values.type
    if pa_arrow.types.is_floating(kind):
        whole = pc.fill_null(pc.equal(values, pc.floor(values)), True)
        if pc.all(whole).as_py():
            values = pc.cast(values, pa_arrow.int64())
    elif pa_arrow.types.is_timestamp(kind):
        values = pc.cast(values, pa_arrow.date32())
    elif pa_arrow.types.is_null(kind):
        return pa_arrow.nulls(len(values), pa_arrow.string())
    return pc.cast(values, pa_arrow.string())


def _read_parquet(path: Path) -> tuple[pa_arrow.Table, np.ndarray]:
    table = pq.read_table(path)
    return table, np.arange(2, table.num_rows + 2, dtype=np.int64)  # record n is line n + 1 (1 = header)


def _read_csv(path: Path) -> tuple[pa_arrow.Table, np.ndarray]:
    from pyarrow import csv as pa_csv

    try:
        names = pa_csv.open_csv(path).schema.names
        table = pa_csv.read_csv(
            path, convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa_arrow.string()))
        )
    except pa_arrow.ArrowInvalid as exc:
        raise IngestError(f"{path}: not a readable CSV file for {LAYOUT.description} ({exc})") from exc
    # A quoted value spanning lines moves every later record down: count the line breaks inside each record.
    breaks = np.zeros(table.num_rows, dtype=np.int64)
    for values in table.columns:
        breaks += pc.fill_null(pc.count_substring(values, "\n"), 0).to_numpy(zero_copy_only=False)
    starts = 2 + np.arange(table.num_rows, dtype=np.int64) + np.concatenate([[0], np.cumsum(breaks)[:-1]])
    return table, starts


def _read_xlsx(path: Path) -> tuple[pa_arrow.Table, np.ndarray]:
    """The PROJECTS sheet by calamine (Rust): 1.8 s for the 16 MB workbook where openpyxl's read-only mode takes
    about 45 s (benchmarks/RESULTS.md)."""
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own types for damaged workbooks
        raise IngestError(f"{path}: not a readable XLSX workbook ({exc})") from exc
    if SHEET not in book.sheet_names:
        raise IngestError(f"{path}: sheet {SHEET!r} not found for {LAYOUT.description}; sheets: {book.sheet_names}")
    rows = book.get_sheet_by_name(SHEET).to_python(skip_empty_area=False)  # rows[i] is worksheet row i + 1
    header_at = next(
        (i for i, row in enumerate(rows[:10]) if any(normalize_header(cell) == "project id" for cell in row)), None
    )
    if header_at is None:
        raise IngestError(f"{path}: no 'Project ID' header in the first 10 rows of sheet {SHEET!r}")
    headers = [_header_text(cell) for cell in rows[header_at]]
    cells = rows[header_at + 1 :]
    lines = np.arange(header_at + 2, header_at + 2 + len(cells), dtype=np.int64)
    width = len(headers)
    # Column by column (calamine hands the cells out row by row; no per-row logic here).
    columns = list(zip(*(row[:width] for row in cells), strict=True)) if cells else [()] * width
    table = pa_arrow.table(
        {name: _column_text(values) for name, values in zip(_unique_labels(headers), columns, strict=True)}
    )
    blank = np.ones(table.num_rows, dtype=bool)
    for values in table.columns:
        blank &= pc.is_null(values).to_numpy(zero_copy_only=False)
    return table.filter(pa_arrow.array(~blank)), lines[~blank]


def _header_text(cell: object) -> str:
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return "" if cell is None else str(cell)


def _column_text(values: tuple) -> pa_arrow.Array:
    """One sheet column as text, rendered as :func:`_strings` renders a typed column: typed by Arrow in one go when
    its cells share a type (numbers, dates or text, empty cells missing), else cell by cell."""
    cells = pd.Series(values, dtype=object)
    try:
        typed = pa_arrow.array(cells.mask(cells.eq("")), from_pandas=True)
    except (pa_arrow.ArrowInvalid, pa_arrow.ArrowTypeError):
        return pa_arrow.array([_cell_text(value) for value in values], pa_arrow.string())
    return _strings(typed)


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d")
    text_value = str(value)
    return text_value if text_value.strip() else None


def _unique_labels(headers: list[str]) -> list[str]:
    """Header labels made unique the way pandas does (``1996``, ``1996.1`` ...), so every layout reads alike."""
    seen: dict[str, int] = {}
    labels = []
    for header in headers:
        header = header or "Unnamed"
        count = seen.get(header, 0)
        seen[header] = count + 1
        labels.append(header if count == 0 else f"{header}.{count}")
    return labels


READERS = {".parquet": _read_parquet, ".csv": _read_csv, ".xlsx": _read_xlsx}


# --------------------------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------------------------


PLAIN_INTEGER = r"^-?[0-9]{1,15}$"
"""A whole number float64 holds exactly, once thousands separators are dropped: cast by Arrow in C++."""


def integers(checks: RowChecks, raw: pd.Series, what: str) -> np.ndarray:
    """Signed whole numbers (missing = 0: an empty year cell is no credits) from text; a value that is not a whole
    number rejects the record, in plain words. A column of plain integers (every year column of a clean release)
    is cast by Arrow; the others go through the parser, which is where every reason comes from."""
    digits = pc.utf8_trim_whitespace(pc.replace_substring(arrow_strings(raw), ",", ""))
    digits = pc.if_else(pc.equal(digits, ""), pa_arrow.scalar(None, pa_arrow.string()), digits)
    if pc.all(pc.fill_null(pc.match_substring_regex(digits, PLAIN_INTEGER), True)).as_py():
        return pc.fill_null(pc.cast(digits, pa_arrow.int64()), 0).to_numpy(zero_copy_only=False)
    values, not_numeric = parse_float(raw)
    fail_values(checks, not_numeric, raw, f"{what} {{value}} is not a number")
    fractional = (values.notna() & (values != np.floor(values))).to_numpy(dtype=bool, na_value=False)
    fail_values(checks, fractional, raw, f"{what} {{value}} is not a whole number")
    return values.where(~fractional).fillna(0).round().astype("int64").to_numpy()


def _block_matrix(checks: RowChecks, records: pd.DataFrame, headers: tuple[str, ...], years: tuple[int, ...],
                  block: str) -> np.ndarray:  # fmt: skip
    return np.column_stack(
        [
            integers(checks, records[h], f"{h.strip()} ({BLOCK_WORDS[block]} {y})")
            for h, y in zip(headers, years, strict=True)
        ]
    )


def _check_block_sums(checks: RowChecks, totals: dict[str, np.ndarray], sums: dict[str, np.ndarray]) -> None:
    for block in BLOCKS:
        total_name = BLOCK_TOTAL[block]
        difference = sums[block] - totals[total_name]
        wrong = difference != 0
        if wrong.any():
            reason = pd.Series(
                BLOCK_WORDS[block]
                + " sum to "
                + pd.Series(sums[block]).map("{:,}".format)
                + ", but "
                + total_name.replace("_", " ")
                + " is "
                + pd.Series(totals[total_name]).map("{:,}".format)
                + " (difference "
                + pd.Series(difference).map("{:+,}".format)
                + ")"
            )
            checks.fail(wrong, reason.set_axis(checks.index))


# --------------------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------------------


def read_vrod(path: Path, snapshot_day: date | None = None) -> VrodLoad:
    """Read one VROD PROJECTS file (see the module docstring); ``snapshot_day`` is its dated folder's day."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise IngestError(f"{path}: not a VROD file; expected projects{' | projects'.join(EXTENSIONS)}")
    table, lines = reader(path)
    headers = table.column_names
    mapping, _ = map_columns(path, headers, LAYOUT)
    years = year_columns(path, headers)
    raw_headers = {**mapping,
                   **{f"{b}_{y}": h for b, block in zip(BLOCKS, years.columns, strict=True)
                      for y, h in zip(years.years, block, strict=True)}}  # fmt: skip
    records = pd.DataFrame({name: arrow_text(_strings(table[raw])) for name, raw in raw_headers.items()})
    records["source_line"] = lines
    # Raw records keep the file's header, with the block named where the workbook repeats a bare year.
    raw = RawTable(path, records, _raw_labels(raw_headers), _no_rows(), file_sha256(path), path.suffix.lstrip("."))

    checks = RowChecks(records.index)
    code = clean_text(records["registry_code"])
    registry = code.astype("string").str.upper().map(REGISTRY_OF_CODE)
    project_id = _project_ids(checks, clean_text(records["project_id"]), registry, code)

    totals = {name: integers(checks, column(records, name), name.replace("_", " ")) for name in WHOLE_NUMBER_COLUMNS}
    matrices = {
        block: _block_matrix(checks, records, tuple(f"{block}_{y}" for y in years.years), years.years, block)
        for block in BLOCKS
    }
    sums = {block: matrix.sum(axis=1) for block, matrix in matrices.items()}
    sums["retired_in_year"] = sums["retired_in_year"] + totals["retired_year_unknown"]
    _check_block_sums(checks, totals, sums)
    for name in ("total_issued", "buffer_deposits", "retired_year_unknown"):
        fail_values(checks, totals[name] < 0, column(records, name), f"{name.replace('_', ' ')} {{value}} is negative")

    projects = _projects(checks, records, project_id, registry, totals, path)
    flag_duplicate_projects(projects, checks, compare=["name", "status_raw", "methodology_raw", "total_issued"])
    load = finish(raw, SOURCE, DATASET, projects, checks, VrodProjectsSchema)

    accepted = load.accepted
    vintages = _unpivot(records, years, matrices, accepted["source_line"].to_numpy(), project_id, registry, path)
    rejected_registry = _registry_of_lines(load.rejected["source_line"], records["source_line"], registry)
    added = pd.to_datetime(accepted["date_added"]).max() if len(accepted) else pd.NaT
    return VrodLoad(
        file=path,
        projects=accepted,
        vintages=VrodVintagesSchema.validate(vintages, lazy=True),
        rejected=_rejected(load, rejected_registry),
        audit=_audit(load, registry, rejected_registry),
        as_of=snapshot_day or (None if pd.isna(added) else added.date()),
    )


def _no_rows() -> pd.DataFrame:
    return pd.DataFrame({"source_line": pd.Series(dtype="int64"), "reason": pd.Series(dtype=object),
                         "raw_record": pd.Series(dtype=object)})  # fmt: skip


def _raw_labels(raw_headers: dict[str, str]) -> dict[str, str]:
    labels = {}
    for name, header in raw_headers.items():
        block = next((b for b in BLOCKS if name.startswith(f"{b}_") and name.removeprefix(f"{b}_").isdigit()), None)
        labels[name] = f"{name.removeprefix(f'{block}_')} ({BLOCK_WORDS[block]})" if block else header
    return labels


def _project_ids(checks: RowChecks, raw: pd.Series, registry: pd.Series, code: pd.Series) -> pd.Series:
    """``VCS902``-style ids as VROD writes them, checked against the row's registry (``GS1234`` -> ``GLD1234``)."""
    fail_values(checks, registry.isna().to_numpy(), code.fillna(""),
                f"Voluntary Registry {{value}} is none of {', '.join(REGISTRY_OF_CODE)}")  # fmt: skip
    parts = raw.astype("string").str.upper().str.extract(r"^(?P<prefix>VCS|GLD|GS|ACR|CAR|ART)0*(?P<number>[1-9]\d*)$")
    prefix = parts["prefix"].replace("GS", "GLD")
    expected = registry.map({key: r.id_prefix for key, r in REGISTRIES.items()})
    bad = (parts["number"].isna() | (prefix != expected)).fillna(True) & registry.notna()
    fail_values(
        checks,
        bad.to_numpy(dtype=bool),
        raw.fillna(""),
        "project id {value} is not an id of its Voluntary Registry (VCS902, GLD1234, ACR123, CAR123, ART102)",
    )
    return (prefix + parts["number"]).astype(object).where(~bad & registry.notna(), None)


def _projects(checks: RowChecks, records: pd.DataFrame, project_id: pd.Series, registry: pd.Series,
              totals: dict[str, np.ndarray], path: Path) -> pd.DataFrame:  # fmt: skip
    """The ``projects`` rows of VROD: the contract's columns, derived with the registry readers' normalizations,
    plus what VROD adds (Berkeley's classification, methodology version, buffer and credit totals, dates)."""
    methodology = clean_text(records["methodology"])
    protocol, protocols = _protocols(methodology, clean_text(column(records, "registry_type")))
    berkeley_type = clean_text(records["type"]).astype("string").str.lower().astype(object)
    berkeley_type = normalize.first_non_null(berkeley_type.where(berkeley_type.notna(), None),
                                             normalize.berkeley_project_types(project_id))  # fmt: skip
    # As the registry readers: Berkeley's type names the activity; the protocol only where Berkeley has no type.
    activity = normalize.first_non_null(
        berkeley_type.map(normalize.BERKELEY_ACTIVITY),
        normalize.activities(protocol).where(berkeley_type.isna(), None),
    )
    when = {
        name: dates(checks, clean_text(column(records, name)), name.replace("_", " "), DATE_FORMATS, "a date")
        for name in ("listed", "registered", "date_added")
    }
    annual, not_numeric = parse_float(clean_text(column(records, "estimated_annual_reductions")))
    fail_values(checks, not_numeric, column(records, "estimated_annual_reductions"),
                "estimated annual emission reductions {value} is not a number")  # fmt: skip
    first_year, bad_year = parse_float(clean_text(column(records, "first_year")))
    fail_values(checks, bad_year, column(records, "first_year"), "first year of project {value} is not a year")
    return pd.DataFrame(
        {
            "project_id": project_id,
            "registry": registry.astype(object),
            "name": clean_text(records["name"]),
            "proponent": clean_text(column(records, "developer")),
            **normalize.status_and_country(clean_text(records["status"]), clean_text(records["country"])),
            "region": clean_text(column(records, "region")),
            "methodology_raw": methodology,
            "protocol": protocol,
            "protocols": protocols,
            "project_type_raw": clean_text(column(records, "registry_type")),
            **normalize.classification(
                berkeley_type,
                pd.Series(None, index=records.index, dtype=object),
                "registry",
                protocol,
                normalize.as_object(activity),
            ),  # fmt: skip
            "scope": clean_text(records["scope"]),
            "reduction_removal": clean_text(column(records, "reduction_removal")),
            "methodology_version": clean_text(column(records, "methodology_version")),
            "crediting_period_start": pd.Series(pd.NaT, index=records.index, dtype="datetime64[ns]"),
            "crediting_period_end": pd.Series(pd.NaT, index=records.index, dtype="datetime64[ns]"),
            "registration_date": when["registered"],
            "listed_date": when["listed"],
            "date_added": when["date_added"],
            "first_vintage": first_year.astype("Int64"),
            "estimated_annual_reductions": annual.astype("float64"),
            **{name: pd.Series(totals[name], index=records.index) for name in WHOLE_NUMBER_COLUMNS},
            "source_file": str(path),
            "source_line": records["source_line"],
        }
    )


def _protocols(methodology: pd.Series, registry_type: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``normalize.protocols`` of the methodology; where it maps to no protocol, of the methodology without the
    registry prefix Berkeley adds (``ACR Improved Forest Management (IFM) on Non-Federal U.S. Forestlands``), else
    of the registry's own project type (``Forestry - MX``: the CAR reader reads CAR's protocol from it)."""
    protocol, protocols = normalize.protocols(methodology)
    unprefixed = methodology.astype("string").str.replace(r"^(?:ACR|CAR|VCS|GS|ART)\s+", "", regex=True)
    for alternative in (unprefixed.astype(object).where(unprefixed.notna(), None), registry_type):
        found, every = normalize.protocols(alternative)
        use = (protocol.isna() | (protocol == "unknown")) & found.notna() & (found != "unknown")
        protocol, protocols = protocol.where(~use, found), protocols.where(~use, every)
    return protocol, protocols


class VrodProjectsSchema(ProjectsSchema):
    """VROD's ``projects`` rows: the contract plus what VROD adds."""

    registry: Series[pd.StringDtype] = text(isin=REGISTRY_KEYS)
    region: Series[pd.StringDtype] = text(nullable=True)
    project_type_raw: Series[pd.StringDtype] = text(nullable=True)
    project_type_source: Series[pd.StringDtype] = text(nullable=True)
    scope: Series[pd.StringDtype] = text(nullable=True)
    methodology_version: Series[pd.StringDtype] = text(nullable=True)
    reduction_removal: Series[pd.StringDtype] = text(nullable=True)
    listed_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    date_added: Series[pd.Timestamp] = pa.Field(nullable=True)
    first_vintage: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    total_issued: Series[int] = pa.Field(ge=0)
    total_retired: Series[int]
    total_remaining: Series[int]
    buffer_deposits: Series[int] = pa.Field(ge=0)
    reversals_covered: Series[int]
    reversals_not_covered: Series[int]
    buffer_released: Series[int]
    retired_year_unknown: Series[int] = pa.Field(ge=0)


def _unpivot(records: pd.DataFrame, years: YearColumns, matrices: dict[str, np.ndarray], accepted_lines: np.ndarray,
             project_id: pd.Series, registry: pd.Series, path: Path) -> pd.DataFrame:  # fmt: skip
    """Blocks 1 and 3 of the accepted projects as rows (project, vintage, issued, remaining), by a DuckDB UNPIVOT;
    a vintage with neither issued nor remaining credits is no row."""
    keep = np.isin(records["source_line"].to_numpy(), accepted_lines)
    wide = pd.DataFrame({"project_id": project_id[keep].astype(str), "registry": registry[keep].astype(str),
                         "source_line": records["source_line"][keep]})  # fmt: skip
    for block in ("issued", "remaining"):
        for i, year in enumerate(years.years):
            wide[f"{block}_{year}"] = matrices[block][keep, i]
    pairs = ", ".join(f'(issued_{y}, remaining_{y}) AS "{y}"' for y in years.years)
    with duckdb.connect() as conn:
        conn.register("wide", wide)
        long = conn.execute(
            f"""
            SELECT project_id, registry, vintage::BIGINT AS vintage, issued, remaining,
                   issued - remaining AS retired, $file AS source_file, source_line
            FROM (UNPIVOT wide ON {pairs} INTO NAME vintage VALUE issued, remaining)
            WHERE issued <> 0 OR remaining <> 0
            ORDER BY project_id, vintage
            """,
            {"file": str(path)},
        ).df()
    for name in ("project_id", "registry", "source_file"):
        long[name] = long[name].astype(ARROW_TEXT)
    return long


def _registry_of_lines(lines: pd.Series, all_lines: pd.Series, registry: pd.Series) -> pd.Series:
    by_line = pd.Series(registry.to_numpy(), index=all_lines.to_numpy())
    return pd.Series(by_line.reindex(lines.to_numpy()).to_numpy(), index=lines.index)


def _rejected(load: DatasetLoad, registry: pd.Series) -> pd.DataFrame:
    if registry.isna().any():
        lines = ", ".join(map(str, load.rejected.loc[registry.isna(), "source_line"].head(10)))
        raise IngestError(
            f"{load.file}: line(s) {lines} name a Voluntary Registry outside {', '.join(REGISTRY_OF_CODE)}: "
            "a new registry in VROD needs its definition in pipeline/registries.py before it can be read"
        )
    frame = load.rejected.assign(registry=registry.to_numpy(), dataset=DATASET, source_file=load.file)
    return RejectedRowsSchema.validate(
        frame[["registry", "dataset", "source_file", "source_line", "reason", "raw_record"]], lazy=True
    )


def _audit(load: DatasetLoad, registry: pd.Series, rejected_registry: pd.Series) -> pd.DataFrame:
    """One ``load_audit`` row per registry: VROD's rows of that registry read, accepted and rejected."""
    read = registry.value_counts()
    rejected = rejected_registry.value_counts()
    audit = pd.DataFrame({"rows_read": read, "rows_rejected": rejected.reindex(read.index, fill_value=0)})
    audit["rows_accepted"] = audit["rows_read"] - audit["rows_rejected"]
    audit = audit.rename_axis("registry").reset_index().sort_values("registry", ignore_index=True)
    audit = audit.assign(dataset=DATASET, file=load.file, file_sha256=load.file_sha256)
    return LoadAuditSchema.validate(
        audit[["registry", "dataset", "file", "file_sha256", "rows_read", "rows_accepted", "rows_rejected"]], lazy=True
    )


def load_vrod(raw_dir: Path) -> VrodLoad | None:
    """Read the latest VROD snapshot under ``raw_dir`` (``<raw_dir>/berkeley-vrod/[<YYYY-MM-DD>/]projects.*``);
    None when there is none."""
    path = vrod_file(raw_dir)
    if path is None:
        return None
    order = snapshot_order(path.parent.name)
    return read_vrod(path, order[0] if order else None)
