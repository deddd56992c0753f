"""Verra's VCU export harmonized in DuckDB SQL (``sql/verra_transactions.sql``): the same decisions, rows, reasons
and audit as :func:`pipeline.ingest.verra.read_transactions`, from DuckDB's parse straight to the credits contract
without a pandas frame per column. The projects export is still read by :mod:`pipeline.ingest.verra`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from pipeline.ingest import sql, verra
from pipeline.ingest.dataset import DatasetLoad
from pipeline.ingest.parsing import ARROW_TEXT, rejected_from
from pipeline.ingest.schemas import CreditTransactionsSchema
from pipeline.ingest.sql.read import read_csv
from pipeline.ingest.sql_contract import contract_failures
from pipeline.registries import VERRA

_PANDAS_TYPES = {
    pa.string(): ARROW_TEXT,
    pa.large_string(): ARROW_TEXT,
    pa.int64(): pd.Int64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def read_transactions(path: Path) -> DatasetLoad:
    """Verra VCU export -> ``credits`` rows: reconstructed issuances and one retirement per retired serial block."""
    conn = sql.connect()
    try:
        raw = read_csv(conn, path, verra.TRANSACTIONS_LAYOUT, "verra_vcu_raw")
        conn.execute("SET VARIABLE source_file = ?", [str(raw.path)])
        conn.execute("SET VARIABLE certifications_listed = ?", ["additional_certifications" in raw.raw_headers])
        sql.run(conn, "verra_transactions")
        conn.execute("CREATE TABLE credits AS SELECT * FROM verra_credits")
        failures = contract_failures(conn.cursor(), "credits", CreditTransactionsSchema)
        if len(failures):  # the rules reject every value the contract forbids: a failure here is a bug in them
            raise ValueError(f"{path}: Verra credits break the contract: {failures.to_dict('records')}")
        credits = conn.sql("SELECT * FROM credits").to_arrow_table().to_pandas(types_mapper=_PANDAS_TYPES.get)
        rejected_records = conn.execute(
            "SELECT raw.*, reason FROM verra_vcu_raw AS raw JOIN verra_rejections USING (source_line) "
            "ORDER BY source_line"
        ).df()
    finally:
        conn.close()
    credits["source_line"] = credits["source_line"].astype("int64")
    reasons = rejected_records.pop("reason")
    rejected_records = rejected_records.fillna("")  # an empty field, as the raw record shows it
    rejected = pd.concat(
        [raw.malformed.drop(columns="span"), rejected_from(rejected_records, raw.raw_headers, reasons)],
        ignore_index=True,
    ).sort_values("source_line", kind="stable", ignore_index=True)
    return DatasetLoad(
        registry=VERRA.key,
        dataset="transactions",
        file=str(raw.path),
        file_sha256=raw.sha256,
        rows_read=raw.rows_read,
        accepted=credits,
        rejected=rejected,
        rows_accepted=raw.rows_read - len(rejected),
    )


DATASETS = {"projects": verra.read_projects, "transactions": read_transactions}
