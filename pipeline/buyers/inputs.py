"""Reading the buyer program's inputs: ``buyers.csv`` and ``orders.csv`` (columns in data/raw/buyers/README.md).

Both files are small and hand-maintained, so a bad row is an error for the whole file (naming file, line,
column and value), never a silently dropped buyer or order.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.errors
import pandera.pandas as pa

from pipeline.buyers.schemas import BuyersSchema, OrdersSchema

BUYERS_DIR = "buyers"
BUYERS_FILE = "buyers.csv"
ORDERS_FILE = "orders.csv"

_DATE_COLUMNS = {
    BuyersSchema: ("last_disclosure_date", "science_target_date"),
    OrdersSchema: ("ordered_at", "latest_delivery_date"),
}
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0", ""}


class BuyerInputError(ValueError):
    """A buyers or orders file is missing or invalid; the message names file, line, column and value."""


def buyer_input_paths(raw_dir: Path) -> tuple[Path, Path]:
    """Where the buyers and orders files live under the raw data folder."""
    folder = Path(raw_dir) / BUYERS_DIR
    return folder / BUYERS_FILE, folder / ORDERS_FILE


def buyer_program_absent(raw_dir: Path) -> str | None:
    """Why the buyer program has nothing to run on, or None when it has inputs.

    The program is optional: a raw folder of registry exports alone holds neither ``buyers.csv`` nor
    ``orders.csv``. When one of them is there, the other is required (reading it fails naming the file)."""
    buyers, orders = buyer_input_paths(raw_dir)
    if buyers.is_file() or orders.is_file():
        return None
    return f"no buyer program inputs ({buyers} and {orders} are absent): skipped, nothing screened or retired"


def _read(path: Path, schema: type[pa.DataFrameModel]) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise BuyerInputError(f"{path}: file not found")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[], encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise BuyerInputError(f"{path}: not a readable UTF-8 CSV ({exc})") from exc
    expected = [c for c in schema.to_schema().columns if c != "source_line"]
    missing = [c for c in expected if c not in raw.columns]
    extra = [c for c in raw.columns if c not in expected]
    if missing or extra:
        raise BuyerInputError(f"{path}: missing column(s) {missing}, unexpected column(s) {extra}")

    frame = raw.apply(lambda column: column.str.strip()).replace("", None)
    frame["source_line"] = range(2, len(frame) + 2)
    problems: list[str] = []
    for column in _DATE_COLUMNS[schema]:
        parsed = pd.to_datetime(frame[column], format="%Y-%m-%d", errors="coerce")
        bad = frame[column].notna() & parsed.isna()
        problems += [
            f"line {line}: {column} {value!r} is not a YYYY-MM-DD date"
            for line, value in zip(frame.loc[bad, "source_line"], frame.loc[bad, column], strict=True)
        ]
        frame[column] = parsed
    flags = frame["is_fictional"].fillna("").str.lower()
    bad = ~flags.isin(_TRUE | _FALSE)
    problems += [f"line {line}: is_fictional {value!r} is not true/false" for line, value in
                 zip(frame.loc[bad, "source_line"], frame.loc[bad, "is_fictional"], strict=True)]  # fmt: skip
    frame["is_fictional"] = flags.isin(_TRUE)
    if problems:
        raise BuyerInputError(f"{path}: " + "; ".join(problems))

    try:
        return schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        raise BuyerInputError(f"{path}: {_describe(exc, frame)}") from exc


def _describe(exc: pandera.errors.SchemaErrors, frame: pd.DataFrame) -> str:
    cases = exc.failure_cases
    messages = []
    for case in cases.itertuples(index=False):
        where = ""
        if pd.notna(case.index) and case.index in frame.index:
            where = f"line {frame.at[case.index, 'source_line']}: "
        messages.append(f"{where}{case.column} {case.failure_case!r} fails {case.check}")
    return "; ".join(messages[:20]) + (f" (and {len(messages) - 20} more)" if len(messages) > 20 else "")


def read_buyers(path: Path) -> pd.DataFrame:
    """The buyers file as a frame passing :class:`BuyersSchema` (``source_line`` = line in the file)."""
    return _read(path, BuyersSchema)


def read_orders(path: Path) -> pd.DataFrame:
    """The orders file as a frame passing :class:`OrdersSchema` (``source_line`` = line in the file)."""
    return _read(path, OrdersSchema)
