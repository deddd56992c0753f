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
become ``vrod_vintages``; blocks 2 and 4 are only checked. Year cells may be negative (Berkeley's corrections:
48 projects have a negative remaining vintage in v2025-12) and are kept as they are; a value that is not a whole
number rejects the project.

Project attributes are normalized with the registry readers' own functions (``pipeline.ingest.normalize``), so
every rule scores a VROD project as it scores the same project read from its registry. The status follows the ACR
reader too: a compliance-only project (366 ACR projects in v2025-12, no ``Voluntary Status``) has its ``ARB / WA
Status``, which is kept as ``compliance_status``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pandera.typing import Series
from pyarrow import csv as pa_csv

from pipeline.ingest import normalize
from pipeline.ingest.dataset import AuditTotals, finish, flag_duplicate_projects
from pipeline.ingest.files import Column, IngestError, Layout, RawTable, file_sha256, map_columns, normalize_header
from pipeline.ingest.parsing import (
    RowChecks,
    arrow_text,
    clean_column,
    clean_text,
    column,
    dates,
    empty_rejections,
    fail_values,
    parse_float,
)
from pipeline.ingest.schemas import LoadAuditSchema, ProjectsSchema, RejectedRowsSchema, text
from pipeline.ingest.snapshots import latest_snapshot, snapshot_order
from pipeline.registries import REGISTRIES, REGISTRY_KEYS

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

BLOCKS = {
    "issued": ("credits issued by vintage", "total_issued", "issued by reporting"),
    "retired_in_year": ("credits retired by retirement year (incl. Year Unknown)", "total_retired", "retired"),
    "remaining": ("credits remaining by vintage", "total_remaining", "remaining"),
    "issued_in_year": ("credits issued by issuance year", "total_issued", "issued"),
}
"""The four year blocks in sheet order: (their words in reasons and raw records, the total column they sum to,
their year-header prefix in the 2021 CSV conversion)."""
BLOCK_WORDS = {name: words for name, (words, _, _) in BLOCKS.items()}

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
        Column("compliance_status", ("ARB / WA Status",), required=False),
        Column("compliance_program_id", ("ARB / WA ID",), required=False),
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


@dataclass
class VrodLoad(AuditTotals):
    """One VROD file, read: accepted projects and their vintages, rejected rows, and one audit row per registry."""

    file: Path
    projects: pd.DataFrame
    vintages: pd.DataFrame
    rejected: pd.DataFrame
    audit: pd.DataFrame
    as_of: date | None
    """The snapshot folder's date, else the latest ``Date Project Added to Database``."""


def vrod_file(raw_dir: Path) -> Path | None:
    """The ``projects.<ext>`` of the latest VROD snapshot under ``raw_dir`` (None when there is none)."""
    folder = latest_snapshot(Path(raw_dir), SOURCE)
    if folder is None:
        return None
    files = [p for p in sorted(folder.iterdir()) if p.stem.lower() == "projects" and p.suffix.lower() in EXTENSIONS]
    if len(files) > 1:
        raise IngestError(f"{folder}: several VROD files ({', '.join(p.name for p in files)}); keep one")
    return files[0] if files else None


def load_vrod(raw_dir: Path) -> VrodLoad | None:
    """Read the latest VROD snapshot under ``raw_dir`` (``<raw_dir>/berkeley-vrod/[<YYYY-MM-DD>/]projects.*``);
    None when there is none."""
    path = vrod_file(raw_dir)
    if path is None:
        return None
    order = snapshot_order(path.parent.name)
    return read_vrod(path, order[0] if order else None)


# --------------------------------------------------------------------------------------------------------------
# Files and layouts
# --------------------------------------------------------------------------------------------------------------


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
    try:
        names = pa_csv.open_csv(path).schema.names
        options = pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa_arrow.string()))
        table = pa_csv.read_csv(path, convert_options=options)
    except pa_arrow.ArrowInvalid as exc:
        raise IngestError(f"{path}: not a readable CSV file for {LAYOUT.description} ({exc})") from exc
    # A quoted value spanning lines moves every later record down: count the line breaks inside each record.
    breaks = sum(
        pc.fill_null(pc.count_substring(values, "\n"), 0).to_numpy(zero_copy_only=False) for values in table.columns
    )
    starts = 2 + np.arange(table.num_rows, dtype=np.int64) + np.concatenate([[0], np.cumsum(breaks)[:-1]])
    return table, starts


def _read_xlsx(path: Path) -> tuple[pa_arrow.Table, np.ndarray]:
    """The PROJECTS sheet, read by calamine (Rust: some 25 times faster than openpyxl, benchmarks/README.md)."""
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
    headers = [_cell_text(cell) or "" for cell in rows[header_at]]
    cells = rows[header_at + 1 :]
    lines = np.arange(header_at + 2, header_at + 2 + len(cells), dtype=np.int64)
    width = len(headers)
    # Column by column (calamine hands the cells out row by row; no per-row logic here).
    columns = list(zip(*(row[:width] for row in cells), strict=True)) if cells else [()] * width
    table = pa_arrow.Table.from_arrays([_column_text(values) for values in columns], names=headers)
    blank = np.logical_and.reduce([pc.is_null(values).to_numpy(zero_copy_only=False) for values in table.columns])
    return table.filter(pa_arrow.array(~blank)), lines[~blank]


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
    """Header labels made unique the way pandas does (``1996``, ``1996.1`` ...), so every layout reads alike: the
    n-th of the workbook's repeated year headers names block n."""
    seen: dict[str, int] = {}
    labels = []
    for header in headers:
        header = header or "Unnamed"
        count = seen.get(header, 0)
        seen[header] = count + 1
        labels.append(header if count == 0 else f"{header}.{count}")
    return labels


READERS = {".parquet": _read_parquet, ".csv": _read_csv, ".xlsx": _read_xlsx}

_YEAR_HEADER = re.compile(
    r"^(?:(?P<prefix>issued by reporting|retired|remaining|issued) )?(?P<year>\d{4})(?:\.(?P<copy>\d))?$"
)
_EXPECTED_BLOCKS = (
    "expected four blocks of the same year columns (" + ", ".join(BLOCK_WORDS.values()) + ") as repeated year "
    "headers (1996 ... 1996), pandas copies (1996, 1996.1, 1996.2, 1996.3) or the 2021 prefixes (Issued by "
    "Reporting 1996, Retired 1996, Remaining 1996, Issued 1996)"
)


def year_columns(path: Path, headers: list[str]) -> tuple[list[int], dict[tuple[str, int], str]]:
    """The years of the four year blocks among ``headers`` (made unique by :func:`_unique_labels`) and the header
    of each (block, year): pandas' copies (``1996.2`` is block 2, as the workbook's third ``1996`` becomes) or the
    2021 prefixes. Raises :class:`IngestError` unless there are exactly four blocks of the same years."""
    prefixes = [prefix for _, _, prefix in BLOCKS.values()]
    found: list[dict[int, str]] = [{} for _ in BLOCKS]
    for header in headers:
        match = _YEAR_HEADER.match(normalize_header(header))
        if match is None:
            continue
        year = int(match["year"])
        block = prefixes.index(match["prefix"]) if match["prefix"] else int(match["copy"] or 0)
        if block >= len(BLOCKS) or year in found[block]:
            raise IngestError(f"{path}: year column {header!r} is a fifth copy of {year}; {_EXPECTED_BLOCKS}")
        found[block][year] = header
    years = sorted(found[0])
    if not years or any(sorted(block) != years for block in found):
        seen = "; ".join(
            f"{w}: {sorted(block) or 'none'}" for w, block in zip(BLOCK_WORDS.values(), found, strict=True)
        )
        raise IngestError(f"{path}: unknown layout for {LAYOUT.description}: {_EXPECTED_BLOCKS}. Found {seen}")
    return years, {(name, year): block[year] for name, block in zip(BLOCKS, found, strict=True) for year in years}


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
    table = table.rename_columns(_unique_labels(table.column_names))
    mapping, _ = map_columns(path, table.column_names, LAYOUT)
    years, year_headers = year_columns(path, table.column_names)
    headers = {**mapping, **{f"{block}_{year}": header for (block, year), header in year_headers.items()}}
    records = pd.DataFrame({name: arrow_text(_strings(table[header])) for name, header in headers.items()})
    records["source_line"] = lines
    # Rejected rows keep the file's headers, a year column named with its block (the workbook repeats bare years).
    labels = {**mapping, **{f"{block}_{year}": f"{year} ({BLOCK_WORDS[block]})" for block, year in year_headers}}
    raw = RawTable(path, records, labels, empty_rejections(), file_sha256(path), path.suffix.lstrip("."))

    checks = RowChecks(records.index)
    code = clean_text(records["registry_code"])
    registry = code.astype("string").str.upper().map(REGISTRY_OF_CODE)
    project_id = _project_ids(checks, clean_text(records["project_id"]), registry, code)
    totals = {name: integers(checks, column(records, name), name.replace("_", " ")) for name in WHOLE_NUMBER_COLUMNS}
    blocks = _year_blocks(checks, records, years, totals)
    for name in ("total_issued", "buffer_deposits", "retired_year_unknown"):
        fail_values(checks, totals[name] < 0, column(records, name), f"{name.replace('_', ' ')} {{value}} is negative")
    projects = _projects(checks, records, project_id, registry, totals, path)
    flag_duplicate_projects(projects, checks, compare=["name", "status_raw", "methodology_raw", "total_issued"])
    load = finish(raw, SOURCE, DATASET, projects, checks, VrodProjectsSchema)

    rejected = load.rejected.assign(
        registry=pd.Series(registry.to_numpy(), index=lines).reindex(load.rejected["source_line"]).to_numpy(),
        dataset=DATASET,
        source_file=load.file,
    )
    if rejected["registry"].isna().any():
        unknown = ", ".join(map(str, rejected.loc[rejected["registry"].isna(), "source_line"].head(10)))
        raise IngestError(
            f"{load.file}: line(s) {unknown} name a Voluntary Registry outside {', '.join(REGISTRY_OF_CODE)}: "
            "a new registry in VROD needs its definition in pipeline/registries.py before it can be read"
        )
    read = registry.value_counts()
    dropped = rejected["registry"].value_counts().reindex(read.index, fill_value=0)
    audit = pd.DataFrame(
        {"registry": read.index, "dataset": DATASET, "file": load.file, "file_sha256": load.file_sha256,
         "rows_read": read, "rows_accepted": read - dropped, "rows_rejected": dropped}
    ).sort_values("registry", ignore_index=True)  # fmt: skip
    columns = ["registry", "dataset", "source_file", "source_line", "reason", "raw_record"]
    added = load.accepted["date_added"].max()
    return VrodLoad(
        file=path,
        projects=load.accepted,
        vintages=_vintages(load.accepted, blocks, years, np.isin(lines, load.accepted["source_line"]), path),
        rejected=RejectedRowsSchema.validate(rejected[columns], lazy=True),
        audit=LoadAuditSchema.validate(audit, lazy=True),
        as_of=snapshot_day or (None if pd.isna(added) else added.date()),
    )


def integers(checks: RowChecks, raw: pd.Series, what: str) -> np.ndarray:
    """Signed whole numbers (missing = 0: an empty year cell is no credits) from text (:func:`parse_float`); a value
    that is not a whole number rejects the record, in plain words."""
    values, not_numeric = parse_float(raw)
    fail_values(checks, not_numeric, raw, f"{what} {{value}} is not a number")
    fractional = (values.notna() & (values != np.floor(values))).to_numpy(dtype=bool, na_value=False)
    fail_values(checks, fractional, raw, f"{what} {{value}} is not a whole number")
    return values.where(~fractional).fillna(0).round().astype("int64").to_numpy()


def _year_blocks(
    checks: RowChecks, records: pd.DataFrame, years: list[int], totals: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Each block's credits (a project per row, a year per column), every cell a whole number; a project whose
    block does not sum to its total (:data:`BLOCKS`) is rejected with the difference."""
    blocks = {
        name: np.column_stack([integers(checks, records[f"{name}_{y}"], f"{name}_{y} ({words} {y})") for y in years])
        for name, (words, _, _) in BLOCKS.items()
    }
    for name, (words, total_name, _) in BLOCKS.items():
        total = totals[total_name]
        found = blocks[name].sum(axis=1) + (totals["retired_year_unknown"] if name == "retired_in_year" else 0)
        wrong = found != total
        reason = pd.Series(None, index=checks.index, dtype=object)
        reason[wrong] = [
            f"{words} sum to {f:,}, but {total_name.replace('_', ' ')} is {t:,} (difference {f - t:+,})"
            for f, t in zip(found[wrong], total[wrong], strict=True)
        ]
        checks.fail(wrong, reason)
    return blocks


def _vintages(projects: pd.DataFrame, blocks: dict[str, np.ndarray], years: list[int], accepted: np.ndarray,
              path: Path) -> pd.DataFrame:  # fmt: skip
    """Blocks 1 and 3 of the accepted ``projects`` as rows (project, vintage, issued, remaining); a vintage with
    neither issued nor remaining credits is no row."""
    issued, remaining = blocks["issued"][accepted], blocks["remaining"][accepted]
    row, year = np.nonzero((issued != 0) | (remaining != 0))
    vintages = pd.DataFrame(
        {
            "project_id": projects["project_id"].to_numpy()[row],
            "registry": projects["registry"].to_numpy()[row],
            "vintage": np.asarray(years, dtype=np.int64)[year],
            "issued": issued[row, year],
            "remaining": remaining[row, year],
            "retired": issued[row, year] - remaining[row, year],
            "source_file": str(path),
            "source_line": projects["source_line"].to_numpy()[row],
        }
    )
    return VrodVintagesSchema.validate(vintages.sort_values(["project_id", "vintage"], ignore_index=True), lazy=True)


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
    protocol, protocols = _protocols(methodology, clean_column(records, "registry_type"))
    berkeley_type = clean_text(records["type"]).astype("string").str.lower().astype(object)
    berkeley_type = normalize.first_non_null(berkeley_type.where(berkeley_type.notna(), None),
                                             normalize.berkeley_project_types(project_id))  # fmt: skip
    # As the registry readers: Berkeley's type names the activity; the protocol only where Berkeley has no type.
    activity = normalize.first_non_null(
        berkeley_type.map(normalize.BERKELEY_ACTIVITY),
        normalize.activities(protocol).where(berkeley_type.isna(), None),
    )
    no_type = pd.Series(None, index=records.index, dtype=object)  # the project type is Berkeley's alone
    when = {
        name: dates(checks, clean_column(records, name), name.replace("_", " "), DATE_FORMATS, "a date")
        for name in ("listed", "registered", "date_added")
    }
    annual, not_numeric = parse_float(clean_column(records, "estimated_annual_reductions"))
    fail_values(checks, not_numeric, column(records, "estimated_annual_reductions"),
                "estimated annual emission reductions {value} is not a number")  # fmt: skip
    first_year, bad_year = parse_float(clean_column(records, "first_year"))
    fail_values(checks, bad_year, column(records, "first_year"), "first year of project {value} is not a year")
    compliance = clean_column(records, "compliance_status")
    return pd.DataFrame(
        {
            "project_id": project_id,
            "registry": registry.astype(object),
            "name": clean_text(records["name"]),
            "proponent": clean_column(records, "developer"),
            **normalize.status_and_country(
                normalize.first_non_null(clean_text(records["status"]), compliance), clean_text(records["country"])
            ),
            "region": clean_column(records, "region"),
            "methodology_raw": methodology,
            "protocol": protocol,
            "protocols": protocols,
            "project_type_raw": clean_column(records, "registry_type"),
            "compliance_program_id": clean_column(records, "compliance_program_id"),
            "compliance_status": compliance,
            **normalize.classification(berkeley_type, no_type, "registry", protocol, normalize.as_object(activity)),
            "scope": clean_text(records["scope"]),
            "reduction_removal": clean_column(records, "reduction_removal"),
            "methodology_version": clean_column(records, "methodology_version"),
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
