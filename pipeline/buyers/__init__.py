"""The buyer program: screen buyers, allocate eligible credits to their orders, retire them on their behalf.

Modules: :mod:`~pipeline.buyers.inputs` (buyers.csv, orders.csv), :mod:`~pipeline.buyers.screening`,
:mod:`~pipeline.buyers.allocation`, :mod:`~pipeline.buyers.ledger` (the system of record, and when a retirement
is *pending*), :mod:`~pipeline.buyers.statement` (the buyer statement views and per-order statements); pandera
models in :mod:`~pipeline.buyers.schemas`, the ``buyers:`` policy section in :mod:`~pipeline.buyers.policy`.

The stage's tables in the work DB (``buyer_eligibility``, ``order_allocations``, ``order_allocation_lines``) and
the ledger's (``retirements``, ``registry_recognitions``, ``order_executions``) are copied into the published file
by :mod:`pipeline.publish.publish`, which also nets the inventory of the pending retirements.
"""
