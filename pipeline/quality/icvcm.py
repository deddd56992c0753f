"""ICVCM Core Carbon Principles status per methodology version, derived from the assessment-status table.

``data/reference/icvcm-decisions.json`` is a verbatim copy of the ICVCM assessment-status table
(https://icvcm.org/assessment-status/, machine-parsed; see data/reference/README.md). ICVCM decides per
programme x methodology x version range, so ``methodologies.csv`` stores a ``ccp_status`` per version
range and this module re-derives it: re-pulling the table and running

    python -m pipeline.quality.icvcm data/reference            # list rows whose status changed
    python -m pipeline.quality.icvcm data/reference --update   # rewrite the three ccp_* columns

shows exactly what changed. Derivation rules:

- A ``methodologies.csv`` row is tied to ICVCM rows of its programme (a CDM methodology, used under both
  Verra and Gold Standard, to both programmes' rows) by ``icvcm_methodology`` (the ICVCM title without its
  version suffix) or, when that is empty, by ``methodology_id`` equal to ICVCM's ``methodologyId``.
- Of those, the ICVCM rows whose version range overlaps the row's range decide. None: ``not_submitted``.
  The row's range must lie inside one ICVCM range, and all overlapping rows must agree; otherwise the
  row must be split, and derivation fails naming it.
- Decision -> status: CCP-Approved -> ``approved`` (``approved_conditional`` when the row records the
  conditions of ICVCM's decision document in ``ccp_conditions``), Does not meet and Very Unlikely To Meet
  -> ``rejected``, Remedial Action -> ``remedial_action``, Withdrawn -> ``withdrawn``, no decision yet ->
  ``under_assessment``.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.quality.reference import (
    ICVCM_DECISIONS_FILE,
    SOURCE_SEPARATOR,
    load_reference,
    version_bounds,
    version_key,
)

ASSESSMENT_STATUS_URL = "https://icvcm.org/assessment-status/"

PROGRAMME_TO_PROGRAM = {
    "Verified Carbon Standard": "vcs",
    "Gold Standard": "gs",
    "ACR": "acr",
    "Climate Action Reserve (CAR)": "car",
    "Architecture for REDD+ Transaction TREES (ART)": "art",
}
"""ICVCM programmes of the registries we read; other programmes (Isometric, Puro.earth ...) keep their name."""

PROGRAMS_USING_CDM_METHODOLOGIES = ("vcs", "gs")

DECISION_TO_STATUS: dict[str | None, str] = {
    "CCP-Approved": "approved",
    "Does not meet": "rejected",
    "Very Unlikely To Meet": "rejected",
    "Remedial Action": "remedial_action",
    "Withdrawn": "withdrawn",
    None: "under_assessment",
}

CCP_COLUMNS = ("ccp_status", "ccp_source_url", "ccp_as_of")


class IcvcmError(ValueError):
    """The decisions file or a methodologies row cannot be matched unambiguously."""


def _clean(text: str) -> str:
    """ICVCM titles carry zero-width spaces and odd whitespace; compare them folded."""
    text = unicodedata.normalize("NFKC", text).replace("\u200b", "").replace("\u202c", "")
    return re.sub(r"\s+", " ", text).strip().casefold()


_TRAILING_VERSIONS = re.compile(r"\s*(?:[-–]\s*)?v?\d+(?:\.\d+)*(?:\s*-\s*\d+(?:\.\d+)*)?\s*$")


def _version_range(versions: str) -> tuple[str, str]:
    parts = [p.strip() for p in versions.lower().lstrip("v").split("-")]
    if not 1 <= len(parts) <= 2 or not all(re.fullmatch(r"\d+(\.\d+)*", p) for p in parts):
        raise IcvcmError(f"{ICVCM_DECISIONS_FILE}: unreadable version range {versions!r}")
    return parts[0], parts[-1]


def table_date(decisions: Mapping[str, Any]) -> date:
    """The table's own date (``"4th August 2026"`` -> 2026-08-04)."""
    text = str(decisions.get("source", {}).get("tableLastUpdated", ""))
    cleaned = re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", text).strip()
    try:
        return datetime.strptime(cleaned, "%d %B %Y").date()
    except ValueError:
        raise IcvcmError(f"{ICVCM_DECISIONS_FILE}: unreadable source.tableLastUpdated {text!r}") from None


def decision_rows(decisions: Mapping[str, Any]) -> pd.DataFrame:
    """The ICVCM rows as a frame: program, title (without version suffix), methodology_id, version range,
    decision, derived status and decision document."""
    rows = []
    for raw in decisions["rows"]:
        if raw.get("decision") not in DECISION_TO_STATUS:
            raise IcvcmError(f"{ICVCM_DECISIONS_FILE}: unknown decision {raw.get('decision')!r}")
        low, high = _version_range(raw["versions"])
        title = _TRAILING_VERSIONS.sub("", raw["methodology"])
        rows.append(
            {
                "program": PROGRAMME_TO_PROGRAM.get(raw["programme"], raw["programme"]),
                "title": _clean(title),
                "methodology_id": _clean(raw["methodologyId"].rstrip(".")) if raw.get("methodologyId") else None,
                "versions": raw["versions"],
                "low": version_key(low),
                "high": version_key(high),
                "decision": raw.get("decision"),
                "status": DECISION_TO_STATUS[raw.get("decision")],
                "document": raw.get("decisionDocumentUrl") or ASSESSMENT_STATUS_URL,
            }
        )
    return pd.DataFrame(rows)


def derive_ccp_status(methodologies: pd.DataFrame, decisions: Mapping[str, Any]) -> pd.DataFrame:
    """``ccp_status``, ``ccp_source_url``, ``ccp_as_of`` (and the ICVCM decision and versions behind them)
    for every row of ``methodologies``, derived from the ICVCM table; same index as ``methodologies``."""
    icvcm = decision_rows(decisions)
    as_of = pd.Timestamp(table_date(decisions))
    out = []
    for _, row in methodologies.iterrows():  # one pass over ~100 reference rows, not over credits
        programs = PROGRAMS_USING_CDM_METHODOLOGIES if row["program"] == "cdm" else (row["program"],)
        candidates = icvcm[icvcm["program"].isin(programs)]
        if isinstance(row.get("icvcm_methodology"), str):
            candidates = candidates[candidates["title"] == _clean(row["icvcm_methodology"])]
        else:
            candidates = candidates[candidates["methodology_id"] == _clean(row["methodology_id"])]
        low, high = version_bounds(row["version_min"], row["version_max"])
        overlapping = candidates[
            [c_lo <= high and low <= c_hi for c_lo, c_hi in zip(candidates["low"], candidates["high"], strict=True)]
        ]
        what = f"{row['protocol']} {row['version_min'] or ''}-{row['version_max'] or ''}".strip()
        if overlapping.empty:
            out.append(
                {
                    "ccp_status": "not_submitted",
                    "ccp_source_url": ASSESSMENT_STATUS_URL,
                    "ccp_as_of": as_of,
                    "icvcm_decision": None,
                    "icvcm_versions": None,
                }
            )
            continue
        statuses = set(overlapping["status"])
        inside = [
            (c_lo <= low and high <= c_hi) for c_lo, c_hi in zip(overlapping["low"], overlapping["high"], strict=True)
        ]
        if len(statuses) > 1 or not any(inside):
            raise IcvcmError(
                f"methodologies.csv: {what} overlaps ICVCM rows {sorted(set(overlapping['versions']))} with "
                f"decisions {sorted(map(str, set(overlapping['decision'])))}; "
                "split the row along ICVCM's version ranges"
            )
        status = statuses.pop()
        conditions = row.get("ccp_conditions")
        if status == "approved" and isinstance(conditions, str) and conditions.strip():
            status = "approved_conditional"
        out.append(
            {
                "ccp_status": status,
                "ccp_source_url": SOURCE_SEPARATOR.join(dict.fromkeys(overlapping["document"])),
                "ccp_as_of": as_of,
                "icvcm_decision": overlapping["decision"].iloc[0],
                "icvcm_versions": ", ".join(dict.fromkeys(overlapping["versions"])),
            }
        )
    return pd.DataFrame(out, index=methodologies.index)


def disagreements(methodologies: pd.DataFrame, decisions: Mapping[str, Any]) -> pd.DataFrame:
    """Rows whose stored ccp_* columns differ from the derivation (empty when the table is current)."""
    derived = derive_ccp_status(methodologies, decisions)
    differs = pd.Series(False, index=methodologies.index)
    for column in CCP_COLUMNS:
        differs |= methodologies[column].astype(str) != derived[column].astype(str)
    stored = methodologies.loc[differs, ["protocol", "version_min", "version_max", *CCP_COLUMNS]]
    return stored.join(derived.loc[differs, list(CCP_COLUMNS)], rsuffix="_derived")


def update_csv(reference_dir: Path) -> int:
    """Rewrite the ccp_* columns of methodologies.csv from the decisions file, leaving every other cell's
    text untouched; returns the number of rows changed."""
    path = Path(reference_dir) / "methodologies.csv"
    reference = load_reference(reference_dir)
    derived = derive_ccp_status(reference.methodologies, reference.icvcm_decisions)
    text = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    new = derived.assign(ccp_as_of=derived["ccp_as_of"].dt.strftime("%Y-%m-%d"))[list(CCP_COLUMNS)]
    changed = int((text[list(CCP_COLUMNS)] != new).any(axis=1).sum())
    text[list(CCP_COLUMNS)] = new
    text.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reference_dir", type=Path)
    parser.add_argument("--update", action="store_true", help="rewrite the ccp_* columns of methodologies.csv")
    args = parser.parse_args(argv)
    if args.update:
        print(f"methodologies.csv: {update_csv(args.reference_dir)} row(s) updated from {ICVCM_DECISIONS_FILE}")
        return 0
    reference = load_reference(args.reference_dir)
    diff = disagreements(reference.methodologies, reference.icvcm_decisions)
    if diff.empty:
        print("methodologies.csv agrees with the ICVCM decisions")
        return 0
    print(diff.to_string())
    return 1


if __name__ == "__main__":
    sys.exit(main())
