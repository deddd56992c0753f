"""The data dictionary of the published file: a description for every table, view and column.

Applied with ``COMMENT ON`` so that ``SELECT * FROM duckdb_columns()`` in the published file documents
itself. A column's description comes from, in order: this module (per table, then the shared
:data:`COMMON_COLUMNS`), or the comment the owning stage put on it in the work DB. A column described
nowhere still gets a comment that says so, and is reported by :func:`apply_comments` (the publish asset
turns that into a warning check), so adding a column upstream never blocks a publish.
"""

from __future__ import annotations

import duckdb

UNDOCUMENTED = "Undocumented: describe it in pipeline/publish/dictionary.py (or COMMENT ON it in the work DB)."

TABLES: dict[str, str] = {
    "projects": "One row per registry project, harmonised across the five registries (ingest contract).",
    "credits": "One row per credit transaction (issuance, retirement, cancellation) from the registry exports.",
    "quality_scores": "One row per scored project-vintage: gates, criterion scores, tier and the reasons with "
    "their rule and source.",
    "eligible_inventory": "What can be offered: one row per eligible project-vintage with credits left, net of "
    "our buyers' retirements recorded in the ledger at publish time.",
    "rejected_rows": "Every raw record that failed parsing or validation, with the reason and the raw text.",
    "load_audit": "Row conservation per raw file: rows_read = rows_accepted + rows_rejected.",
    "buyer_eligibility": "Qualified-buyer screening results (buyers stage).",
    "order_allocations": "Allocations of buyer orders to inventory project-vintages (buyers stage).",
    "retirements": "The retirement ledger, copied from the system of record at publish time (buyers stage).",
    "publishes": "One row per publish of this file: when, under which policy, from which input files.",
    "inventory_history": "The eligible inventory of every publish (one copy per publish_id).",
    "inventory_changes": "Project-vintages that entered, left or changed tier at each publish, with the reason.",
    "alerts": "Alerts raised by publishes: eligible tonnes removed, jumps in a registry's rejected-row share.",
    "inventory_by_activity": "Eligible inventory totals per nature-based activity.",
    "inventory_by_country": "Eligible inventory totals per country.",
    "inventory_by_registry": "Eligible inventory totals per registry.",
    "inventory_by_tier": "Eligible inventory totals per quality tier.",
    "ineligible_projects": "Scored project-vintages that are not eligible, with the first failed reason.",
    "latest_changes": "The inventory changes of the most recent publish, with project names.",
    "buyer_statements": "Per buyer: every retirement made on their behalf, with the project's details.",
}

COMMON_COLUMNS: dict[str, str] = {
    "project_id": "Registry project id with the registry prefix (VCS, GLD, ACR, CAR, ART), as in OffsetsDB.",
    "registry": "Registry key: verra, gold-standard, american-carbon-registry, climate-action-reserve, art-trees.",
    "vintage": "Vintage year of the credits.",
    "name": "Project name as published by the registry.",
    "country": "Host country name.",
    "country_code": "Host country, ISO 3166-1 alpha-2.",
    "activity": "Nature-based activity (ARR, IFM, REDD, JREDD, WRC, ALM, ACoGS, AGC); null if not nature-based.",
    "protocol": "Primary methodology / protocol key (CarbonPlan protocol keys; 'unknown' if unmapped).",
    "source_file": "Raw file the record was read from.",
    "source_line": "Physical line in the raw file where the record starts (1 = header).",
    "policy_version": "Version of data/policy.yaml that produced the verdict.",
    "publish_id": "Publish this row belongs to (publishes.publish_id).",
    "quality_tier": "Final classification of the project-vintage (framework section 7.8).",
    "project_vintages": "Number of project-vintages.",
    "projects": "Number of distinct projects.",
    "available_tonnes": "Credits available to offer (sum of available_net), tCO2e.",
    "risk_adjusted_tonnes": "Available credits after the risk haircut (sum of risk_adjusted_available), tCO2e.",
    "issued_tonnes": "Credits issued (sum of issued), tCO2e.",
}

_SCORE = "score on 1-5 (5 = very high confidence the criterion is met; framework section 7)."
_INVENTORY: dict[str, str] = {
    "issued": "Credits issued to the project for this vintage, excluding buffer contributions (sum of credits).",
    "retired": "Credits retired at the registry (sum of credits).",
    "cancelled": "Credits cancelled at the registry (sum of credits), e.g. converted to compliance credits.",
    "buffer": "Credits the registry reports as contributed to its buffer pool; not part of issued. Null where "
    "the registry does not report it (Verra, Gold Standard).",
    "available": "issued - retired - cancelled: credits still held per the registry snapshot.",
    "retired_for_buyers": "Tonnes our ledger retired for buyers on or after the snapshot date (as_of), so not "
    "yet visible in the registry data.",
    "available_net": "available - retired_for_buyers: what can still be allocated; always > 0 here.",
    "haircut_pct": "Risk haircut in percent applied for risk-adjusted tonnes (0 if none).",
    "risk_adjusted_available": "floor(available_net * (1 - haircut_pct / 100)).",
    "additionality_score": "Additionality " + _SCORE,
    "permanence_score": "Permanence " + _SCORE,
    "leakage_score": "Leakage " + _SCORE,
    "over_crediting_score": "Over-crediting / baseline " + _SCORE + " Reported, not gating in v1.",
    "limiting_score": "min(additionality, permanence, leakage): the limiting factor that decides eligibility.",
    "quality_tier": "Final classification of the project-vintage (framework section 7.8).",
    "badges": "Informational labels: ICVCM CCP label, CORSIA phase, corresponding adjustment, co-benefit labels.",
    "registry_url": "The project's public page on its registry.",
    "as_of": "Snapshot date of the registry data this row comes from.",
}

COLUMNS: dict[str, dict[str, str]] = {
    "projects": {
        "proponent": "Project developer / proponent as published.",
        "status_raw": "Registry status as published.",
        "status": "Harmonised status (listed, under_validation, registered, completed, on_hold, withdrawn, "
        "inactive, rejected, transitioned, unknown).",
        "methodology_raw": "Methodology / protocol text as published.",
        "protocols": "All protocol keys of the project, ';'-joined, in raw order.",
        "project_type": "Project type as published.",
        "category": "Harmonised category (OffsetsDB style).",
        "is_nature_based": "True for AFOLU / nature-based projects.",
        "crediting_period_start": "Start of the current crediting period.",
        "crediting_period_end": "End of the current crediting period.",
        "registration_date": "Date the project was registered.",
        "estimated_annual_reductions": "Estimated annual emission reductions or removals, tCO2e.",
    },
    "credits": {
        "transaction_type": "issuance, retirement or cancellation.",
        "quantity": "Credits transacted, excluding any buffer contribution (see buffer_quantity).",
        "transaction_date": "Date of the transaction (issuance, retirement or cancellation date).",
        "serial_number": "Registry serial number or range of the credit block.",
        "buffer_quantity": "Issuances only: credits contributed to the registry's buffer pool, where reported.",
        "methodology_version": "Methodology / protocol version of the issuance.",
        "product_type": "VER / PER / CER for Gold Standard (PERs are forward credits, never eligible).",
        "ccp_label": "The credits carry the ICVCM CCP label per the registry.",
        "corsia_phase": "CORSIA eligibility: pilot, first or pilot;first.",
        "corresponding_adjustment": "A corresponding adjustment / Article 6 authorisation applies.",
        "is_removal": "The registry reports the credits as removals.",
        "is_reversible": "The registry reports the credits as reversible.",
        "additional_certifications": "Additional certifications or labels (e.g. CCB).",
        "retirement_beneficiary": "Beneficiary named on a retirement.",
        "retirement_reason": "Reason given for a retirement.",
        "retirement_note": "Free-text retirement details.",
        "project_known": "False when the project is missing from the registry's projects export.",
    },
    "quality_scores": {
        **{
            k: _INVENTORY[k]
            for k in (
                "additionality_score",
                "permanence_score",
                "leakage_score",
                "over_crediting_score",
                "limiting_score",
                "quality_tier",
                "haircut_pct",
            )
        },
        "is_eligible": "All gates pass and limiting_score >= 3.",
        "gates_failed": "Gates (framework 7.3) this project-vintage fails.",
        "reasons": "Every finding behind the verdict: code, criterion, message and source (rule or data).",
        "issued": "Credits issued for this project-vintage (excluding buffer).",
        "risk_adjusted_issued": "Issued credits after the risk haircut.",
        "buffer_pct_observed": "Observed buffer contribution as a share of issuance, percent.",
        "ccp_label": "The issuance carries the ICVCM CCP label.",
        "corsia_phase": "CORSIA eligibility phase(s) of the issuance.",
        "corresponding_adjustment": "A corresponding adjustment / Article 6 authorisation applies.",
        "co_benefit_labels": "Co-benefit labels (CCB, SDG certification ...), reported, never offsetting scores.",
    },  # fmt: skip
    "eligible_inventory": _INVENTORY,
    "inventory_history": _INVENTORY,
    "rejected_rows": {
        "dataset": "Dataset of the raw file (projects, transactions, issuances, retirements, cancellations).",
        "reason": "Why the record was rejected, in plain words.",
        "raw_record": "The raw record, as JSON keyed by the file's own headers.",
    },
    "load_audit": {
        "dataset": "Dataset of the raw file.",
        "file": "Raw file path.",
        "file_sha256": "SHA-256 of the raw file's bytes.",
        "rows_read": "Records read from the file.",
        "rows_accepted": "Records accepted into projects or credits.",
        "rows_rejected": "Records rejected into rejected_rows.",
    },
    "retirements": {
        "order_id": "Buyer order the retirement fulfils.",
        "buyer_id": "Buyer on whose behalf the credits were retired.",
        "tonnes": "Credits retired, tCO2e.",
        "retired_at": "When we retired the credits.",
    },
    "publishes": {
        "published_at": "When the file was published (UTC).",
        "as_of": "Latest registry snapshot date among the inputs.",
        "policy_sha256": "SHA-256 of the validated policy, so two publishes under the same version compare.",
        "inputs_fingerprint": "SHA-256 over the input file hashes and the policy: equal = same inputs.",
        "input_files": "Every raw file read: registry, dataset, file and its SHA-256.",
        "row_counts": "Rows per published table.",
        "eligible_project_vintages": "Rows in eligible_inventory.",
        "eligible_tonnes": "Sum of available_net in eligible_inventory, tCO2e.",
        "entered": "Project-vintages that entered the inventory at this publish.",
        "left": "Project-vintages that left the inventory at this publish.",
        "tier_changed": "Project-vintages whose quality tier changed at this publish.",
        "alerts": "Alerts raised by this publish.",
    },
    "inventory_changes": {
        "previous_publish_id": "The publish compared against (null for the first publish).",
        "change": "entered, left or tier_changed.",
        "reason_code": "Machine-readable reason: first_publish, new_in_registry_data, became_eligible, "
        "credits_available, not_in_registry_data, became_ineligible, no_credits_left_at_registry, "
        "retired_for_our_buyers, tier_changed.",
        "reason": "Why, in plain words, with the failed rule and its source where one applies.",
        "previous_tier": "Quality tier at the previous publish.",
        "new_tier": "Quality tier at this publish.",
        "previous_available_net": "available_net at the previous publish (null if absent).",
        "new_available_net": "available_net at this publish (null if absent).",
        "tonnes_delta": "new_available_net - previous_available_net, absent counted as 0.",
    },
    "alerts": {
        "raised_at": "When the alert was raised (UTC).",
        "alert_type": "eligible_tonnes_removed or rejected_share_jump.",
        "severity": "warning (the publish went ahead; a person should look).",
        "metric": "Measured value: tonnes removed, or the rejected-row share.",
        "threshold": "Policy threshold that was reached (data/policy.yaml, publish.alerts).",
        "message": "What happened, in plain words.",
        "details": "JSON with the figures and the project-vintages or files involved.",
    },
    "ineligible_projects": {
        "limiting_score": _INVENTORY["limiting_score"],
        "quality_tier": _INVENTORY["quality_tier"],
        "gates_failed": "Gates (framework 7.3) this project-vintage fails.",
        "first_failed_code": "Code of the first failed gate, else of the first reason.",
        "first_failed_criterion": "Criterion of that reason (gate, additionality, permanence, leakage ...).",
        "first_failed_reason": "The reason, in plain words.",
        "first_failed_source": "Rule or data source the reason cites.",
    },
    "buyer_statements": {
        "order_id": "Buyer order the retirement fulfils.",
        "buyer_id": "Buyer on whose behalf the credits were retired.",
        "tonnes": "Credits retired, tCO2e.",
        "retired_at": "When we retired the credits.",
        "quality_tier": _INVENTORY["quality_tier"],
        "registry_url": _INVENTORY["registry_url"],
    },
}
COLUMNS["latest_changes"] = COLUMNS["inventory_changes"]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def describe(table: str, column: str, upstream: str | None = None) -> str | None:
    """The description of ``table.column``, or None when nothing describes it."""
    return COLUMNS.get(table, {}).get(column) or COMMON_COLUMNS.get(column) or upstream


def apply_comments(conn: duckdb.DuckDBPyConnection, catalog: str, upstream_catalog: str | None = None) -> list[str]:
    """COMMENT ON every table, view and column in ``catalog``; returns the undocumented ``table.column``s.

    ``upstream_catalog`` (the attached work DB) supplies comments its stages set on their own columns."""
    upstream: dict[tuple[str, str], str] = {}
    if upstream_catalog:
        upstream = {
            (t, c): comment
            for t, c, comment in conn.execute(
                "SELECT table_name, column_name, comment FROM duckdb_columns() "
                "WHERE database_name = ? AND schema_name = 'main' AND coalesce(comment, '') <> ''",
                [upstream_catalog],
            ).fetchall()
        }
    relations = conn.execute(
        "SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main' "
        "UNION ALL SELECT view_name, 'VIEW' FROM duckdb_views() WHERE database_name = ? AND schema_name = 'main'",
        [catalog, catalog],
    ).fetchall()
    undocumented = []
    for table, kind in relations:
        conn.execute(f"COMMENT ON {kind} {catalog}.main.{table} IS {_quote(TABLES.get(table, UNDOCUMENTED))}")
        columns = conn.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = 'main' "
            "AND table_name = ? ORDER BY column_index",
            [catalog, table],
        ).fetchall()
        for (column,) in columns:
            text = describe(table, column, upstream.get((table, column)))
            if text is None:
                undocumented.append(f"{table}.{column}")
                text = UNDOCUMENTED
            conn.execute(f'COMMENT ON COLUMN {catalog}.main.{table}."{column}" IS {_quote(text)}')
        if table not in TABLES:
            undocumented.append(table)
    return undocumented


def missing_comments(conn: duckdb.DuckDBPyConnection, catalog: str | None = None) -> list[str]:
    """Tables, views and columns in ``catalog`` (default: current) without a comment."""
    catalog = catalog or conn.execute("SELECT current_database()").fetchone()[0]
    rows = conn.execute(
        """
        SELECT table_name FROM duckdb_tables()
        WHERE database_name = $1 AND schema_name = 'main' AND coalesce(comment, '') = ''
        UNION ALL
        SELECT view_name FROM duckdb_views()
        WHERE database_name = $1 AND schema_name = 'main' AND coalesce(comment, '') = ''
        UNION ALL
        SELECT table_name || '.' || column_name FROM duckdb_columns()
        WHERE database_name = $1 AND schema_name = 'main' AND coalesce(comment, '') = ''
        """,
        [catalog],
    ).fetchall()
    return sorted(r[0] for r in rows)
