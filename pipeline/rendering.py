"""The Jinja2 environment of the HTML documents (``report.html``, retirement statements) and its filters.

Templates live in ``pipeline/templates``; every page is one offline file (inline CSS, no network asset).
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

TEMPLATES = Path(__file__).parent / "templates"


def _missing(value) -> bool:
    return value is None or (not isinstance(value, list | tuple | dict | np.ndarray) and bool(pd.isna(value)))


def number(value) -> str:
    """Thousands separators; two decimals only for fractional values; '' for missing."""
    if _missing(value):
        return ""
    if isinstance(value, float | np.floating) and not float(value).is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def when(value, with_time: bool = False) -> str:
    """A date, or a UTC minute: never microseconds."""
    if _missing(value):
        return ""
    stamp = pd.Timestamp(value)
    return stamp.strftime("%Y-%m-%d %H:%M UTC") if with_time else stamp.strftime("%Y-%m-%d")


def text(value) -> str:
    """The value as text; '' for missing."""
    return "" if _missing(value) else str(value)


def environment() -> jinja2.Environment:
    """Autoescaping, strict (an undefined name is an error, not an empty cell), with the filters above."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(number=number, when=when, text=text)
    return env
