"""The eligible inventory: what we can offer, per eligible project-vintage, reconciled with the registries.

``eligible_inventory`` has one row per project-vintage that ``quality_scores`` marks eligible and that still
has credits available after our own buyers' retirements. Quantities come only from the project-vintage supply
(``project_vintage_supply``, :mod:`pipeline.ingest.supply`), which takes each project-vintage from exactly one
``source``: a registry's transaction export where it holds the issuances (sums of ``credits.quantity`` per
transaction type; ``buffer`` the sum of ``credits.buffer_quantity`` on issuances, null where the registry does
not report it), else Berkeley's VROD (issued and remaining per vintage; ``retired = issued - remaining``,
``cancelled = 0``, ``buffer`` null: VROD's buffer deposits are project-level, in ``projects``);
``available`` is the supply's: ``issued - retired - cancelled``, never more than VROD's remaining where VROD
counts the same vintage of an export's row.

**Buffer decision, per registry** (FORMATS.md). The ingest contract (``CreditsSchema.quantity``) defines an
issuance's quantity *excluding* its buffer contribution, so the buffer is reported here and never subtracted
a second time:

- ACR: ``Total Credits Issued`` = ``Credits Issued to Project`` + ``Credits Issued to Buffer Pool``, and
  ``Credits Transferred to Buffer Pool`` later leave the project; the quantity is what the project keeps.
- CAR: ``Total Offset Credits Issued`` includes ``Offset Credits Currently in Reserve Buffer Pool`` and
  ``... Intended for Compliance Buffer Pool``; the quantity is the total minus both.
- ART TREES: ``Total Emission Reductions/Removals`` = ``Credits Verified`` + ``Credits Deposited in Buffer``;
  the quantity is ``Credits Verified``.
- Verra, Gold Standard: the exports carry no buffer figure (Verra's AFOLU pooled buffer is a separate
  account); ``buffer`` is null and the quantity is what the project received.

The reconciliation check (:func:`reconciliation_mismatches`) proves every row against the supply.

**Our own retirements.** The buyers stage appends to the ledger (``Paths.ledger_db``, table ``retirements``)
the moment it retires for a buyer, but a registry export only shows it in a later snapshot. Following the
ledger's own rule (``pipeline/buyers/ledger.py``), a ledger retirement is *pending* until the buyers stage
records it in ``registry_recognitions`` (matched to a registry retirement in ``credits``); pending tonnes are
``retired_for_buyers`` and ``available_net = available - retired_for_buyers``. A ledger without a
recognitions table counts every retirement as pending: availability is understated, never oversold.

``as_of`` is the snapshot date of the row's ``source``: for a registry export the ``<YYYY-MM-DD>`` folder of its
raw files (``data/raw/<registry>/<date>/...``, from ``load_audit.file``), else its latest transaction date; for
VROD its dated folder, else the latest ``Date Project Added to Database`` of the release.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from pipeline.buyers.ledger import RECOGNITIONS, RETIREMENTS, pending
from pipeline.ingest.supply import SOURCES, SUPPLY_VIEW
from pipeline.registries import REGISTRY_KEYS, project_page_sql
from pipeline.sql import columns, identifier, relations, transaction

INVENTORY_TABLE = "eligible_inventory"
LEDGER_VIEW = "ledger_retirements"
"""Temporary view (project_id, vintage, tonnes, retired_at) of pending ledger retirements the SQL here reads."""

INVENTORY_COLUMNS = (
    "project_id", "registry", "name", "country", "country_code", "activity", "protocol", "vintage",
    "issued", "retired", "cancelled", "buffer", "available", "retired_for_buyers", "available_net",
    "haircut_pct", "risk_adjusted_available", "additionality_score", "permanence_score", "leakage_score",
    "over_crediting_score", "limiting_score", "quality_tier", "badges", "registry_url", "policy_version", "source",
    "as_of",
)  # fmt: skip


class InventoryError(Exception):
    """The inputs of the inventory are missing or unusable; the message says which."""


class EligibleInventorySchema(pa.DataFrameModel):
    """One row per eligible project-vintage with credits left (table ``eligible_inventory``)."""

    project_id: Series[str]
    registry: Series[str] = pa.Field(isin=REGISTRY_KEYS)
    vintage: Series[int] = pa.Field(ge=1990, le=2100)
    issued: Series[int] = pa.Field(ge=0)
    retired: Series[int] = pa.Field(ge=0)
    cancelled: Series[int] = pa.Field(ge=0)
    buffer: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    available: Series[int] = pa.Field(gt=0)
    retired_for_buyers: Series[int] = pa.Field(ge=0)
    available_net: Series[int] = pa.Field(gt=0)
    risk_adjusted_available: Series[int] = pa.Field(ge=0)
    registry_url: Series[str] = pa.Field(str_startswith="https://")
    policy_version: Series[str]
    source: Series[str] = pa.Field(isin=SOURCES)

    class Config:
        strict = False
        coerce = True
        unique = ["project_id", "vintage"]

    @pa.dataframe_check
    def available_at_most_issued_minus_retired_minus_cancelled(cls, df: pd.DataFrame) -> Series[bool]:
        """Equal, unless VROD's remaining for the same vintage was lower (the supply offers the lesser)."""
        return df["available"] <= df["issued"] - df["retired"] - df["cancelled"]

    @pa.dataframe_check
    def available_net_is_available_minus_our_retirements(cls, df: pd.DataFrame) -> Series[bool]:
        return df["available_net"] == df["available"] - df["retired_for_buyers"]

    @pa.dataframe_check
    def risk_adjusted_never_exceeds_available_net(cls, df: pd.DataFrame) -> Series[bool]:
        return df["risk_adjusted_available"] <= df["available_net"]


# --------------------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------------------

REQUIRED_TABLES = ("projects", "credits", "quality_scores", "load_audit", SUPPLY_VIEW)


def require_tables(conn: duckdb.DuckDBPyConnection, tables: tuple[str, ...], catalog: str | None = None) -> None:
    """Raise :class:`InventoryError` naming every missing table (in ``catalog``, default the current one)."""
    catalog = catalog or conn.execute("SELECT current_database()").fetchone()[0]
    present = relations(conn, catalog=catalog)
    missing = [t for t in tables if t not in present]
    if missing:
        raise InventoryError(
            f"database {catalog!r} lacks table(s) {', '.join(missing)}; run the stages that build them first"
        )


def list_expression(
    conn: duckdb.DuckDBPyConnection, table: str, column: str, alias: str, catalog: str | None = None
) -> str:
    """SQL for ``alias.column`` as a VARCHAR list, whether the column is a list or a ';'-joined string."""
    kind = columns(conn, table, catalog=catalog).get(column)
    if kind is None:
        return "[]::VARCHAR[]"
    if kind.endswith("[]"):
        return f"coalesce({alias}.{column}::VARCHAR[], [])"
    return f"coalesce(list_filter(string_split({alias}.{column}::VARCHAR, ';'), lambda x: trim(x) <> ''), [])"


def pending_retirements_sql(conn: duckdb.DuckDBPyConnection, catalog: str | None) -> str:
    """SELECT (project_id, vintage, tonnes, retired_at) of the pending ledger retirements held in ``catalog``
    (the attached ledger, or a published file with its copy; None = no ledger): those without a registry
    recognition."""
    if catalog is None or "tonnes" not in columns(conn, "retirements", catalog=catalog):
        return (
            "SELECT NULL::VARCHAR AS project_id, NULL::BIGINT AS vintage, NULL::BIGINT AS tonnes, "
            "NULL::TIMESTAMP AS retired_at WHERE false"
        )
    recognized = "retirement_id" in columns(conn, RECOGNITIONS, catalog=catalog)
    return (
        "SELECT r.project_id::VARCHAR AS project_id, r.vintage::BIGINT AS vintage, r.tonnes::BIGINT AS tonnes, "
        f"r.retired_at::TIMESTAMP AS retired_at FROM {identifier(catalog, 'main', RETIREMENTS)} AS r"
        + (f" WHERE {pending(identifier(catalog, 'main', RECOGNITIONS))}" if recognized else "")
    )


@contextmanager
def ledger_view(conn: duckdb.DuckDBPyConnection, ledger_db: Path | None) -> Iterator[bool]:
    """Expose the ledger's pending retirements as the temporary view ``ledger_retirements`` on ``conn``.

    The ledger is attached read-only (as ``ledger``) for the duration and detached afterwards. A missing
    file or table is an empty ledger (nothing retired for buyers yet); yields whether a ledger was found."""
    attached = False
    try:
        if ledger_db is not None and Path(ledger_db).exists():
            conn.execute("ATTACH $path AS ledger (READ_ONLY)", {"path": str(ledger_db)})
            attached = True
        found = attached and "tonnes" in columns(conn, "retirements", catalog="ledger")
        source = pending_retirements_sql(conn, "ledger" if attached else None)
        conn.execute(f"CREATE OR REPLACE TEMP VIEW {LEDGER_VIEW} AS {source}")
        yield found
    finally:
        conn.execute(f"DROP VIEW IF EXISTS temp.main.{LEDGER_VIEW}")
        if attached:
            conn.execute("DETACH ledger")


PENDING_LEDGER_SQL = f"""
    SELECT project_id, vintage, sum(tonnes)::BIGINT AS retired_for_buyers
    FROM {LEDGER_VIEW}
    GROUP BY project_id, vintage
"""
"""Our ledger retirements not yet recognized in the registry data, per project-vintage."""


def inventory_sql(conn: duckdb.DuckDBPyConnection) -> str:
    """The SELECT that builds ``eligible_inventory`` from the tables on ``conn`` and the ledger view."""
    co_benefits = list_expression(conn, "quality_scores", "co_benefit_labels", "s")
    return f"""
    WITH totals AS (SELECT * FROM {SUPPLY_VIEW}),
    pending AS ({PENDING_LEDGER_SQL}),
    rows AS (
        SELECT s.project_id, s.registry, p.name, p.country, p.country_code, s.activity, s.protocol,
               s.vintage::BIGINT AS vintage, t.issued, t.retired, t.cancelled, t.buffer,
               t.available::BIGINT AS available,
               coalesce(pending.retired_for_buyers, 0)::BIGINT AS retired_for_buyers,
               (t.available - coalesce(pending.retired_for_buyers, 0))::BIGINT
                   AS available_net,
               coalesce(s.haircut_pct, 0)::DOUBLE AS haircut_pct,
               s.additionality_score, s.permanence_score, s.leakage_score, s.over_crediting_score,
               s.limiting_score, s.quality_tier,
               list_concat(
                   list_filter([
                       CASE WHEN s.ccp_label THEN 'ICVCM CCP label' END,
                       CASE WHEN s.corsia_phase ILIKE '%pilot%' THEN 'CORSIA pilot phase' END,
                       CASE WHEN s.corsia_phase ILIKE '%first%' THEN 'CORSIA first phase' END,
                       CASE WHEN s.corresponding_adjustment THEN 'corresponding adjustment' END
                   ], lambda x: x IS NOT NULL),
                   {co_benefits}
               ) AS badges,
               {project_page_sql("s.registry", "s.project_id")} AS registry_url,
               s.policy_version, t.source, t.source_as_of AS as_of
        FROM quality_scores AS s
        JOIN totals AS t ON t.project_id = s.project_id AND t.vintage = s.vintage
        LEFT JOIN projects AS p ON p.project_id = s.project_id
        LEFT JOIN pending ON pending.project_id = s.project_id AND pending.vintage = s.vintage
        WHERE s.is_eligible
    )
    SELECT * EXCLUDE (available_net, haircut_pct),
           available_net, haircut_pct,
           floor(available_net * greatest(0, 1 - haircut_pct / 100))::BIGINT AS risk_adjusted_available
    FROM rows
    WHERE available_net > 0
    """


def write_eligible_inventory(conn: duckdb.DuckDBPyConnection, ledger_db: Path | None) -> int:
    """(Re)build the ``eligible_inventory`` table from ``quality_scores``, the supply, ``projects`` and ``load_audit``
    on ``conn`` (the work DB) and the ledger at ``ledger_db`` (absent = nothing retired yet), in one transaction;
    returns its row count."""
    require_tables(conn, REQUIRED_TABLES)
    with ledger_view(conn, ledger_db):
        sql = inventory_sql(conn)
        with transaction(conn):
            conn.execute(
                f"CREATE OR REPLACE TABLE {INVENTORY_TABLE} AS SELECT {', '.join(INVENTORY_COLUMNS)} "
                f"FROM ({sql}) ORDER BY registry, project_id, vintage"
            )
    return conn.execute(f"SELECT count(*) FROM {INVENTORY_TABLE}").fetchone()[0]


def validate_inventory_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Validate an inventory frame against :class:`EligibleInventorySchema`, reporting all failures at once."""
    return EligibleInventorySchema.validate(frame, lazy=True)


# --------------------------------------------------------------------------------------------------------------
# Reconciliation
# --------------------------------------------------------------------------------------------------------------


def reconciliation_mismatches(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every way ``eligible_inventory`` on ``conn`` disagrees with ``credits``; empty when it reconciles.

    Requires the ``ledger_retirements`` view (see :func:`ledger_view`). Columns: project_id, vintage,
    problem, expected, found. Checked independently of the builder: the per-type sums and the buffer per
    row, our pending ledger retirements, the available arithmetic, duplicate rows, rows
    that are not eligible, and eligible project-vintages with credits left that are missing."""
    require_tables(conn, (*REQUIRED_TABLES, INVENTORY_TABLE))
    return conn.execute(
        f"""
        WITH totals AS (SELECT * FROM {SUPPLY_VIEW}),
        pending AS ({PENDING_LEDGER_SQL}),
        inv AS (SELECT * FROM {INVENTORY_TABLE}),
        per_column AS (
            SELECT i.project_id, i.vintage, u.problem, u.expected, u.found
            FROM inv AS i
            LEFT JOIN totals AS t ON t.project_id = i.project_id AND t.vintage = i.vintage
            LEFT JOIN pending AS p ON p.project_id = i.project_id AND p.vintage = i.vintage
            CROSS JOIN LATERAL (VALUES
                ('issued differs from credits', t.issued::VARCHAR, i.issued::VARCHAR),
                ('retired differs from credits', t.retired::VARCHAR, i.retired::VARCHAR),
                ('cancelled differs from credits', t.cancelled::VARCHAR, i.cancelled::VARCHAR),
                ('buffer differs from credits', t.buffer::VARCHAR, i.buffer::VARCHAR),
                ('available differs from the supply', t.available::VARCHAR, i.available::VARCHAR),
                ('retired_for_buyers differs from the ledger',
                    coalesce(p.retired_for_buyers, 0)::VARCHAR, i.retired_for_buyers::VARCHAR),
                ('available_net is not available - retired_for_buyers',
                    (i.available - i.retired_for_buyers)::VARCHAR, i.available_net::VARCHAR),
                ('no credits left but listed', '> 0', i.available_net::VARCHAR)
            ) AS u(problem, expected, found)
            WHERE (u.problem = 'no credits left but listed' AND NOT (i.available_net > 0))
               OR (u.problem <> 'no credits left but listed' AND u.expected IS DISTINCT FROM u.found)
        ),
        duplicates AS (
            SELECT project_id, vintage, 'duplicate project-vintage' AS problem, '1' AS expected,
                   count(*)::VARCHAR AS found
            FROM inv GROUP BY project_id, vintage HAVING count(*) > 1
        ),
        not_eligible AS (
            SELECT i.project_id, i.vintage, 'listed but not eligible in quality_scores' AS problem,
                   'is_eligible = true' AS expected, coalesce(s.is_eligible::VARCHAR, 'not scored') AS found
            FROM inv AS i
            LEFT JOIN quality_scores AS s ON s.project_id = i.project_id AND s.vintage = i.vintage
            WHERE s.is_eligible IS DISTINCT FROM true
        ),
        missing AS (
            SELECT s.project_id, s.vintage::BIGINT AS vintage,
                   'eligible with credits left but missing' AS problem,
                   (t.available - coalesce(p.retired_for_buyers, 0))::VARCHAR AS expected,
                   'absent' AS found
            FROM quality_scores AS s
            JOIN totals AS t ON t.project_id = s.project_id AND t.vintage = s.vintage
            LEFT JOIN pending AS p ON p.project_id = s.project_id AND p.vintage = s.vintage
            WHERE s.is_eligible
              AND t.available - coalesce(p.retired_for_buyers, 0) > 0
              AND NOT EXISTS (SELECT 1 FROM inv WHERE inv.project_id = s.project_id AND inv.vintage = s.vintage)
        )
        SELECT * FROM per_column UNION ALL SELECT * FROM duplicates
        UNION ALL SELECT * FROM not_eligible UNION ALL SELECT * FROM missing
        ORDER BY project_id, vintage, problem
        """
    ).df()
