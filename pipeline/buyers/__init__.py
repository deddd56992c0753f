"""The buyer program: screen buyers, allocate eligible credits to their orders, retire them on their behalf.

Modules: :mod:`~pipeline.buyers.inputs` (buyers.csv, orders.csv), :mod:`~pipeline.buyers.screening`,
:mod:`~pipeline.buyers.allocation`, :mod:`~pipeline.buyers.ledger`, :mod:`~pipeline.buyers.statement`;
pandera models in :mod:`~pipeline.buyers.schemas`, the ``buyers:`` policy section in
:mod:`~pipeline.buyers.policy`.

**Tables for the published file** (:data:`BUYER_TABLES`: table name -> the database it lives in):

- ``buyer_eligibility`` (work DB): one row per buyer, each condition's pass/fail, input value and reason;
- ``order_allocations`` (work DB): one row per order, status filled / partially_filled / refused / conflict,
  tonnes ordered, allocated and unfilled, the reason, and the project-vintages taken as a text summary;
- ``order_allocation_lines`` (work DB): one row per order and project-vintage it received (order, buyer,
  project, registry, vintage, tonnes, tier, ``dry_run``), the relation to query;
- ``retirements`` (ledger DB ``Paths.ledger_db``): the append-only system of record, one row per order and
  project-vintage retired, with the quality tier and scores at retirement time;
- ``registry_recognitions`` (ledger DB): which retirements the registry data now shows.

Copy them as they are, then run :func:`buyer_statement_view_sql` on the published file to create the views
``buyer_statements`` (one row per retirement, per buyer) and ``buyer_statement_summary`` (one row per buyer).
Retirement statements per executed order (HTML and CSV) are written by
:func:`~pipeline.buyers.statement.write_order_statements`.

**For the inventory**: :func:`ledger_totals` ``(ledger_db_path) -> project_id, vintage,
tonnes_retired_for_buyers, tonnes_recognized_in_registry, tonnes_pending_in_registry``; subtract
``tonnes_pending_in_registry`` from registry availability. How a retirement is recognized in registry data is
documented in :mod:`pipeline.buyers.ledger`.
"""

from pipeline.buyers.ledger import ledger_totals
from pipeline.buyers.statement import STATEMENT_VIEW, SUMMARY_VIEW, buyer_statement_view_sql

BUYER_TABLES: dict[str, str] = {
    "buyer_eligibility": "work_db",
    "order_allocations": "work_db",
    "order_allocation_lines": "work_db",
    "retirements": "ledger_db",
    "registry_recognitions": "ledger_db",
}
"""Tables the publish step copies into the analyst file, and the ``Paths`` attribute of the DB holding each."""

BUYER_VIEWS = (STATEMENT_VIEW, SUMMARY_VIEW)

__all__ = ["BUYER_TABLES", "BUYER_VIEWS", "buyer_statement_view_sql", "ledger_totals"]
