"""A VROD PROJECTS workbook in the native layout, written from the pandas conversion (no native ``.xlsx`` is
public here): three title rows, the header on row 4 with each block's year headers repeated bare (``1996`` ...
``1996``), ``Year \\nUnknown`` after block 2. Used by the tests and the market benchmark."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd

TITLE_ROWS = (
    ("Voluntary Registry Offsets Database v2025-12, Berkeley Carbon Trading Project",),
    ("Haya, B.K., So, I., Elias, M. Licence CC BY-SA 4.0",),
    (),
)


def write_native_workbook(frame: pd.DataFrame, path: Path, *, blocks: int = 4) -> Path:
    """``frame`` (the PROJECTS sheet as pandas reads it: ``1996``, ``1996.1`` ...) as a native workbook at ``path``,
    keeping the first ``blocks`` year blocks (fewer makes an unknown layout)."""
    headers = []
    for name in frame.columns:
        base, _, copy = name.partition(".")
        if base.isdigit() and len(base) == 4:
            if int(copy or 0) < blocks:
                headers.append((name, int(base)))
        elif not name.startswith("Unnamed"):
            headers.append((name, name))
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("PROJECTS")
    for row in TITLE_ROWS:
        sheet.append(list(row))
    sheet.append([header for _, header in headers])
    columns = [frame[name].astype(object).where(frame[name].notna(), None).tolist() for name, _ in headers]
    for row in zip(*columns, strict=True):
        sheet.append([value.to_pydatetime() if isinstance(value, pd.Timestamp) else value for value in row])
    book.save(path)
    return path
