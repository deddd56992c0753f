"""Registry files that came in much smaller than their previous load: alerted, and by policy held back.

A registry export cut off in transfer, or a partial export, parses cleanly: every row it holds is valid, so
nothing is rejected, and without this rule a Verra projects file cut in half would silently remove 2,000+
projects from the published data. The rule (:data:`SHRUNK_FILES_SQL`, the ``shrunk_files:`` section of the
publish policy): per registry and dataset, the accepted rows of the new load against the previous load's; a
fall of at least ``threshold`` of them (a dataset whose file vanished fell by all of them) is a shrunk file.

It is applied twice, the same rule each time:

- when a registry is ingested (:func:`replace_unless_shrunk`), against the registry's current slice of the
  work DB: with ``hold_previous_slice`` the slice is kept and the shrunk load is recorded in ``held_loads``
  (work DB, one registry's rows replaced at each of its loads), so every run holds it until the file is whole;
- when publishing (:func:`pipeline.publish.alerts.shrunk_file_alerts`), against the previous published file's
  ``load_audit``, plus the loads held back: every shrunk file raises a ``registry_file_shrank`` alert.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from pipeline.ingest.load import RegistryLoad
from pipeline.ingest.warehouse import loaded_registries, replace_registry_slice, slice_name
from pipeline.publish.policy import ShrunkFilesPolicy
from pipeline.sql import transaction

HELD_LOADS = "held_loads"
"""Work-DB table of the loads held back: the shrunk files of registries whose previous slice was kept."""

SHRUNK_FILES_SQL = """
    SELECT p.registry, p.dataset, c.file, p.file AS previous_file,
           coalesce(c.rows_accepted, 0)::BIGINT AS rows_accepted, p.rows_accepted::BIGINT AS previous_rows_accepted,
           1 - coalesce(c.rows_accepted, 0) / p.rows_accepted AS drop_share
    FROM ({previous}) AS p LEFT JOIN ({current}) AS c USING (registry, dataset)
    WHERE p.rows_accepted > 0 AND 1 - coalesce(c.rows_accepted, 0) / p.rows_accepted >= $threshold
    ORDER BY p.registry, p.dataset
"""
"""Shrunk files of ``{current}`` against ``{previous}`` (two SELECTs of ``load_audit`` rows)."""


def shrunk_files(
    conn: duckdb.DuckDBPyConnection, current: str, previous: str, policy: ShrunkFilesPolicy
) -> pd.DataFrame:
    """The shrunk files of the ``load_audit`` rows selected by ``current`` against those of ``previous``."""
    sql = SHRUNK_FILES_SQL.format(current=current, previous=previous)
    return conn.execute(sql, {"threshold": policy.threshold}).df()


def replace_unless_shrunk(
    conn: duckdb.DuckDBPyConnection, load: RegistryLoad, policy: ShrunkFilesPolicy
) -> pd.DataFrame:
    """Replace ``load.registry``'s slice with ``load``, unless one of its files shrank and the policy holds the
    previous slice; returns the shrunk files with ``held`` (whether the previous slice was kept)."""
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {HELD_LOADS} (registry VARCHAR, dataset VARCHAR, file VARCHAR, "
        "previous_file VARCHAR, rows_accepted BIGINT, previous_rows_accepted BIGINT, drop_share DOUBLE, held BOOLEAN)"
    )
    conn.register("incoming_audit", load.audit.assign(registry=load.registry))
    try:
        # The registry's own previous load: its slice, not the load_audit view (which also holds VROD's rows).
        previous = f"SELECT * FROM {slice_name('load_audit', load.registry)}"
        has_previous = load.registry in loaded_registries(conn)
        shrunk = shrunk_files(conn, "SELECT * FROM incoming_audit", previous if has_previous else
                              "SELECT * FROM incoming_audit WHERE false", policy)  # fmt: skip
    finally:
        conn.unregister("incoming_audit")
    shrunk["held"] = policy.hold_previous_slice
    with transaction(conn):
        conn.execute(f"DELETE FROM {HELD_LOADS} WHERE registry = ?", [load.registry])
        if policy.hold_previous_slice and len(shrunk):
            conn.register("held", shrunk)
            conn.execute(f"INSERT INTO {HELD_LOADS} BY NAME SELECT * FROM held")
            conn.unregister("held")
    if not (policy.hold_previous_slice and len(shrunk)):
        replace_registry_slice(conn, load)
    return shrunk


def shrunk_file_message(file) -> str:
    """One shrunk file in words (``file``: a row of :func:`shrunk_files` with ``held``)."""
    outcome = ("its previous load is kept (policy publish.shrunk_files.hold_previous_slice)" if file.held
               else "the smaller file is loaded and published")  # fmt: skip
    return (
        f"{file.registry} {file.dataset}: {file.rows_accepted:,} accepted rows in {file.file or 'no file'}, "
        f"{file.drop_share:.0%} fewer than the previous load's {file.previous_rows_accepted:,} "
        f"({file.previous_file}); {outcome}"
    )
