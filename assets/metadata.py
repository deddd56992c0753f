"""Materialization metadata that a person reads at a glance in the UI."""

import dagster as dg
import pandas as pd


def markdown_table(frame: pd.DataFrame, rows: int = 20) -> dg.MetadataValue:
    """The first ``rows`` rows of ``frame`` as a markdown table; ``_none_`` when it is empty."""
    if frame.empty:
        return dg.MetadataValue.md("_none_")
    return dg.MetadataValue.md(frame.head(rows).to_markdown(index=False))
