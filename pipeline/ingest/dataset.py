"""The result of reading one raw file: accepted harmonized rows, rejected rows, and the audit line.

Registry readers build a harmonized frame plus a :class:`~pipeline.ingest.parsing.RowChecks` of per-row
failures and hand both to :func:`finish`, which splits accepted from rejected rows, validates the accepted
ones against the table's pandera model (rows failing a check are rejected too, with the check in plain
words), and proves row conservation: ``rows_read == rows_accepted + rows_rejected``.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from pipeline.ingest.files import RawTable
from pipeline.ingest.parsing import RowChecks, rejected_from
from pipeline.ingest.repeats import SCOPES, first_copies


@dataclass
class DatasetLoad:
    """One raw file, read. ``rows_read`` counts raw records (not harmonized rows: one Verra VCU row may give
    an issuance and a retirement)."""

    registry: str
    dataset: str
    file: str
    file_sha256: str
    rows_read: int
    accepted: pd.DataFrame  # harmonized rows (several per raw record possible)
    rejected: pd.DataFrame  # source_line, reason, raw_record (one per rejected raw record)
    rows_accepted: int  # raw records accepted
    raw: RawTable | None = None
    """The raw records, kept until the registry-wide repeat check (:mod:`pipeline.ingest.repeats`) has run; None
    where the reader ran it itself."""

    @property
    def rows_rejected(self) -> int:
        return len(self.rejected)

    def audit_row(self) -> dict:
        return {
            "registry": self.registry,
            "dataset": self.dataset,
            "file": self.file,
            "file_sha256": self.file_sha256,
            "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected,
        }

    def transaction_records(self) -> pd.DataFrame:
        """The accepted records for :func:`pipeline.ingest.repeats.repeated_records` (``file_rank`` aside): one
        per accepted credit row, which is one per record wherever the reader leaves the check to the registry."""
        records = self.raw.records
        first = first_copies(records)[pd.Index(records["source_line"]).get_indexer(self.accepted["source_line"])]
        return pd.DataFrame(
            {
                "source_file": self.file,
                "source_line": self.accepted["source_line"].to_numpy(),
                "first_copy": first,
                "scope": self.accepted["transaction_type"].map(SCOPES).to_numpy(),
                "serial_number": self.accepted["serial_number"].to_numpy(),
            }
        )

    def reject_records(self, lines: pd.Series, reasons: pd.Series) -> None:
        """Move the accepted records at ``lines`` (their rows too) to the rejected rows with ``reasons``."""
        self.accepted = self.accepted.loc[~self.accepted["source_line"].isin(lines).to_numpy()].reset_index(drop=True)
        records = self.raw.records
        reason = pd.Series(reasons.to_numpy(), index=lines.to_numpy())
        at = records["source_line"].isin(lines).to_numpy()
        per_record = pd.Series("", index=records.index, dtype=object)
        per_record[at] = reason.loc[records["source_line"][at]].to_numpy()
        repeated = rejected_from(records, self.raw.raw_headers, per_record)
        self.rejected = pd.concat([self.rejected, repeated], ignore_index=True).sort_values(
            "source_line", kind="stable", ignore_index=True
        )
        self.rows_accepted -= int(at.sum())


class AuditTotals:
    """``rows_read`` and ``rows_rejected`` of a load that keeps one ``load_audit`` row per file (``self.audit``):
    a registry's load, or VROD's."""

    audit: pd.DataFrame

    @property
    def rows_read(self) -> int:
        return int(self.audit["rows_read"].sum())

    @property
    def rows_rejected(self) -> int:
        return int(self.audit["rows_rejected"].sum())


def schema_failures(frame: pd.DataFrame, schema: type[pa.DataFrameModel]) -> pd.Series:
    """Per-row plain-words reasons for every pandera check the row fails ('' when it passes).

    Frame-level failures (a missing column, a wrong dtype that cannot be coerced) are programming errors in a
    reader, not bad data, and raise. ``frame`` is coerced to the schema's dtypes in place."""
    reasons = pd.Series("", index=frame.index, dtype=object)
    try:
        coercing(schema, frame).validate(frame, lazy=True, inplace=True)  # inplace: no copy of a million-row frame
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        row_level = cases[cases["index"].notna()]
        frame_level = cases[cases["index"].isna()]
        if len(frame_level):
            raise ValueError(
                f"{schema.__name__}: frame-level validation failed: "
                + "; ".join(f"{c}: {k} ({f})" for c, k, f in frame_level[["column", "check", "failure_case"]].values)
            ) from err
        described = (
            row_level["column"].astype(str)
            + " failed "
            + row_level["check"].astype(str)
            + " (value: "
            + row_level["failure_case"].astype(str)
            + ")"
        )
        per_row = described.groupby(row_level["index"].to_numpy()).agg("; ".join)
        reasons.loc[per_row.index] = per_row.to_numpy()
    return reasons


def coercing(schema: type[pa.DataFrameModel], frame: pd.DataFrame) -> pa.DataFrameSchema:
    """``schema`` coercing only the columns of ``frame`` that do not hold the contract's dtype already, with every
    check unchanged: coercing a column to the dtype it has changes nothing, yet costs (pandera's datetime coercion
    runs ``pd.to_datetime``, which boxes ten thousand Timestamps of each column)."""
    contract = schema.to_schema()
    exact = frozenset(
        name for name, column in contract.columns.items() if name in frame and frame[name].dtype == column.dtype.type
    )
    return _coercing_all_but(schema, exact)


@functools.cache
def _coercing_all_but(schema: type[pa.DataFrameModel], exact: frozenset[str]) -> pa.DataFrameSchema:
    contract = copy.deepcopy(schema.to_schema())
    contract.coerce = False  # per column below
    for name, column in contract.columns.items():
        column.coerce = name not in exact
    return contract


def finish(
    raw: RawTable,
    registry: str,
    dataset: str,
    harmonized: pd.DataFrame,
    checks: RowChecks,
    schema: type[pa.DataFrameModel],
    record_of_row: np.ndarray | None = None,
    *,
    repeats_checked: bool = False,
) -> DatasetLoad:
    """Split accepted from rejected records, validate, and account for every raw record.

    This is where the table's pandera contract is enforced on every row, once: rows whose record parsed
    cleanly are validated (and coerced to the contract's dtypes); a row failing a check is rejected with the
    check in plain words. ``harmonized`` rows map to raw records positionally, or through ``record_of_row``
    (an index into ``raw.records`` per harmonized row) when one raw record yields several rows; any failing row
    rejects its whole raw record, so a record is never half-loaded. The raw records are kept for the
    registry-wide repeat check unless the reader ran it (``repeats_checked``)."""
    if record_of_row is None:
        record_of_row = np.arange(len(harmonized))
    if not harmonized.index.equals(pd.RangeIndex(len(harmonized))):
        harmonized = harmonized.reset_index(drop=True)
    parse_reasons = checks.reasons().to_numpy()
    # Only rows whose record parsed cleanly are schema-validated: a parse failure already explains the row.
    row_parse_ok = parse_reasons[record_of_row] == "" if len(harmonized) else np.array([], dtype=bool)
    checked = harmonized if row_parse_ok.all() else harmonized.loc[row_parse_ok].reset_index(drop=True)
    schema_reasons = np.full(len(harmonized), "", dtype=object)
    if len(checked):
        schema_reasons[row_parse_ok] = schema_failures(checked, schema).to_numpy()
    record_reasons = pd.Series(parse_reasons, index=raw.records.index, dtype=object)
    failing_rows = schema_reasons != ""
    if failing_rows.any():
        by_record = (
            pd.Series(schema_reasons[failing_rows])
            .groupby(record_of_row[failing_rows])
            .agg(lambda s: "; ".join(dict.fromkeys(s)))
        )
        current = record_reasons.loc[by_record.index]
        record_reasons.loc[by_record.index] = np.where(current == "", by_record, current + "; " + by_record)
    rejected_records = record_reasons.to_numpy() != ""
    keep_rows = ~rejected_records[record_of_row] if len(harmonized) else np.array([], dtype=bool)
    # The kept rows are among the checked ones (a rejected record's rows are all dropped); select them there.
    keep_checked = keep_rows[row_parse_ok]
    accepted = checked if keep_checked.all() else checked.loc[keep_checked].reset_index(drop=True)
    if not len(checked):  # nothing was validated: still hand on the contract's dtypes
        accepted = schema.validate(harmonized.iloc[:0], lazy=True)
    rejected = pd.concat(
        [raw.malformed, rejected_from(raw.records, raw.raw_headers, record_reasons)], ignore_index=True
    ).sort_values("source_line", kind="stable", ignore_index=True)
    return DatasetLoad(
        registry=registry,
        dataset=dataset,
        file=str(raw.path),
        file_sha256=raw.sha256,
        rows_read=raw.rows_read,
        accepted=accepted,
        rejected=rejected,
        rows_accepted=int((~rejected_records).sum()),
        raw=None if repeats_checked else raw,
    )


def flag_duplicate_projects(frame: pd.DataFrame, checks: RowChecks, compare: list[str]) -> None:
    """A project id must appear once. Exact repeats (same values in ``compare``) keep the first copy and reject
    the others as duplicates; copies that disagree are all rejected, because we cannot know which is right.
    Each reason names the first copy's line and the number of copies (its text does not grow with them)."""
    ids = frame["project_id"]
    repeated = ids.notna() & ids.duplicated(keep=False)
    if not repeated.any():
        return
    group = frame.loc[repeated, ["project_id", "source_line", *compare]].astype(str)
    by_id = group.groupby("project_id")
    distinct = group.drop_duplicates(subset=["project_id", *compare]).groupby("project_id").size()
    conflicting = ids.isin(distinct[distinct > 1].index) & repeated
    first_line = ids.map(by_id["source_line"].first()).astype(str)
    copies = ids.map(by_id.size()).fillna(0).astype("int64").astype(str)
    checks.fail(
        conflicting,
        "duplicate project id " + ids.astype(str) + " with conflicting data in " + copies
        + " copies, the first on line " + first_line + "; every copy rejected",
    )  # fmt: skip
    exact_repeat = repeated & ~conflicting & ids.duplicated(keep="first")
    checks.fail(exact_repeat, "exact duplicate of project " + ids.astype(str) + " on line " + first_line)
