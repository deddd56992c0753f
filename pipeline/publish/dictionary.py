"""The data dictionary of the published file: a description for every table, view and column.

Applied with ``COMMENT ON`` so that ``SELECT * FROM duckdb_columns()`` in the published file documents
itself. A column's description comes from, in order: this module (per table, then the shared
:data:`COMMON_COLUMNS`), or the comment the owning stage put on it in the work DB. A column described
nowhere still gets a comment that says so, and is reported by :func:`apply_comments` (the publish asset
turns that into a warning check), so adding a column upstream never blocks a publish.
"""

from __future__ import annotations

import duckdb

from pipeline.ingest.warehouse import STAGING_SCHEMA, slice_of
from pipeline.sql import column_comments, identifier, literal

UNDOCUMENTED = "Undocumented: describe it in pipeline/publish/dictionary.py (or COMMENT ON it in the work DB)."

TABLES: dict[str, str] = {
    "projects": "One row per project, harmonised across the five registries (ingest contract): from the registry's "
    "own projects export where it lists the project, else from Berkeley's VROD (column source; docs/sources.md).",
    "project_vintage_supply": "The market's credits per project-vintage, each from exactly one source: a registry's "
    "transaction export where it holds the issuances, else Berkeley's VROD (docs/sources.md). Never count a tonne "
    "from both: query this view, not credits and vrod_vintages together.",
    "supply_reconciliation": "Per project-vintage of every project both a registry export and VROD list: issued and "
    "retired in each, the differences and whether they are within the policy's tolerance.",
    "vrod_projects": "Berkeley VROD's projects as read (the VROD slice of projects; query projects, which applies "
    "the precedence).",
    "vrod_vintages": "Berkeley VROD's credits issued and remaining per project and vintage (blocks 1 and 3 of the "
    "PROJECTS sheet); the supply takes them where no registry export holds the vintage.",
    "vrod_rejected_rows": "The VROD slice of rejected_rows (query rejected_rows).",
    "vrod_load_audit": "The VROD slice of load_audit, one row per registry (query load_audit).",
    "credits": "One row per credit transaction (issuance, retirement, cancellation) from the registry exports.",
    "quality_scores": "One row per scored project-vintage: gates, criterion scores, tier and the reasons with "
    "their rule and source.",
    "quality_scores_compact": "quality_scores as stored: reasons as ids into reason_catalog (query the "
    "quality_scores view, which shows each reason).",
    "reason_catalog": "Every distinct reason of quality_scores once: code, criterion, message and source.",
    "eligible_inventory": "What can be offered: one row per eligible project-vintage with credits left, net of "
    "our buyers' retirements recorded in the ledger at publish time.",
    "rejected_rows": "Every raw record that failed parsing or validation, with the reason and the raw text.",
    "load_audit": "Row conservation per raw file: rows_read = rows_accepted + rows_rejected.",
    "buyer_eligibility": "Qualified-buyer screening results (buyers stage).",
    "order_allocations": "One row per buyer order: what it received and why (buyers stage); its project-vintages "
    "are rows of order_allocation_lines.",
    "order_allocation_lines": "One row per buyer order and project-vintage it received: retired from the ledger, "
    "or simulated for made-up example orders (dry_run). Sum tonnes per order_id for order_allocations."
    "tonnes_allocated.",
    "retirements": "The retirement ledger, copied from the system of record at publish time: one row per order "
    "and project-vintage retired on a buyer's behalf (buyers stage).",
    "registry_recognitions": "Ledger retirements the registry data now shows, with the registry row matched "
    "(until recognized, a retirement is pending and subtracted from availability).",
    "order_executions": "One row per executed buyer order: tonnes ordered and retired, status and reason.",
    "buyer_statement_summary": "Per buyer: tonnes retired, orders, projects, high-tier tonnes and tonnes still "
    "pending in registry data.",
    "publishes": "One row per publish of this file: when, under which policy, from which input files.",
    "inventory_history": "The eligible inventory of every publish (one copy per publish_id).",
    "inventory_changes": "Project-vintages that entered, left or changed tier at each publish, with the reason.",
    "alerts": "Alerts raised by publishes: eligible tonnes removed, jumps in a registry's rejected-row share, "
    "registry files that shrank.",
    "inventory_by_activity": "Eligible inventory totals per nature-based activity.",
    "inventory_by_country": "Eligible inventory totals per country.",
    "inventory_by_registry": "Eligible inventory totals per registry.",
    "inventory_by_tier": "Eligible inventory totals per quality tier.",
    "ineligible_projects": "Scored project-vintages that are not eligible, with the first failed reason.",
    "latest_changes": "The inventory changes of the most recent publish, with project names.",
    "buyer_statements": "Per buyer: every retirement made on their behalf, with the scores at retirement time "
    "and whether the registry data shows it yet.",
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
    "source_line": "Physical line in the raw file where the record starts (1 = header); for VROD the worksheet row "
    "(.xlsx) or the record number + 1 (.parquet).",
    "source": "Where the row's data comes from: registry-export (the registry's own export) or berkeley-vrod "
    "(Berkeley's Voluntary Registry Offsets Database); see docs/sources.md.",
    "source_as_of": "As-of date of the row's source: the dated snapshot folder of its raw files, else the latest "
    "transaction (registry export) or the latest 'Date Project Added to Database' (VROD).",
    "policy_version": "Version of data/policy.yaml that produced the verdict.",
    "publish_id": "Publish this row belongs to (publishes.publish_id).",
    "quality_tier": "Final classification of the project-vintage (framework section 7.8).",
    "project_vintages": "Number of project-vintages.",
    "projects": "Number of distinct projects.",
    "available_tonnes": "Credits available to offer (sum of available_net), tCO2e.",
    "risk_adjusted_tonnes": "Available credits after the risk haircut (sum of risk_adjusted_available), tCO2e.",
    "issued_tonnes": "Credits issued (sum of issued), tCO2e.",
    "additionality_score": "Additionality score on 1-5 (5 = very high confidence the criterion is met).",
    "permanence_score": "Permanence score on 1-5 (5 = very high confidence the criterion is met).",
    "leakage_score": "Leakage score on 1-5 (5 = very high confidence the criterion is met).",
    "over_crediting_score": "Over-crediting / baseline score on 1-5; reported, not gating in v1.",
    "limiting_score": "min(additionality, permanence, leakage): the limiting factor that decides eligibility.",
    "scores_policy_version": "Policy version the inventory's scores were computed under at retirement time.",
    "order_id": "Buyer order id (data/raw/buyers/orders.csv).",
    "buyer_id": "Buyer id (data/raw/buyers/buyers.csv).",
    "buyer_name": "Buyer name, the beneficiary of the retirements.",
    "retirement_id": "Ledger retirement id (CQR-...), written into the registry retirement note.",
    "retired_at": "When we retired the credits.",
    "tonnes": "Credits, tCO2e.",
    "status": "Status of the record (see the table's description).",
    "reason": "Why, in plain words.",
    "executed_at": "When the order was executed.",
    "is_eligible": "Whether the record passes every condition.",
    "is_fictional": "True for the bundled made-up examples; real records say false.",
}

_SCORE = "score on 1-5 (5 = very high confidence the criterion is met; framework section 7)."
_INVENTORY: dict[str, str] = {
    "issued": "Credits issued to the project for this vintage, excluding buffer contributions (sum of credits).",
    "retired": "Credits retired at the registry (sum of credits).",
    "cancelled": "Credits cancelled at the registry (sum of credits), e.g. converted to compliance credits.",
    "buffer": "Credits the registry reports as contributed to its buffer pool; not part of issued. Null where "
    "the registry does not report it (Verra, Gold Standard).",
    "available": "issued - retired - cancelled: credits still held per the source's snapshot (for an export's row "
    "that VROD also counts, never more than VROD's remaining).",
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
    "as_of": "As-of date of the row's source (column source): the registry export's snapshot, or VROD's release.",
}
_SUPPLY: dict[str, str] = {
    **{k: _INVENTORY[k] for k in ("issued", "retired", "cancelled", "available")},
    "issued": "Credits issued for this project-vintage: the export's issuances, or VROD's issued by vintage.",
    "retired": "Credits retired: the export's retirements, or VROD's issued - remaining (incl. retirements of "
    "unknown year).",
    "buffer": "Buffer contribution per vintage where a registry export reports it; null for VROD rows (VROD's "
    "buffer deposits are project-level: projects.buffer_deposits).",
    "available": "Credits left: issued - retired - cancelled of the source; for an export's row that VROD also "
    "counts, never more than VROD's remaining (a sample export may miss retirements).",
    "available_capped_by_vrod": "True where VROD's remaining for the same vintage was below the export's issued - "
    "retired - cancelled, so available is VROD's figure.",
}
_VROD_PROJECT_COLUMNS: dict[str, str] = {
    "scope": "Berkeley's scope of the project (Forestry & Land Use, Renewable Energy ...), from VROD.",
    "reduction_removal": "Berkeley's classification: Reduction, Impermanent Removal, Long-Duration Removal or Mixed.",
    "methodology_version": "Methodology / protocol version, from VROD.",
    "date_added": "Date Berkeley added the project to VROD.",
    "first_vintage": "First vintage year of the project, from VROD.",
    "total_issued": "VROD: total credits issued to the project.",
    "total_retired": "VROD: total credits retired, incl. retirements of unknown year.",
    "total_remaining": "VROD: total credits remaining (may be negative where Berkeley corrects over-retirement).",
    "retired_year_unknown": "VROD: credits retired whose retirement year is unknown (kept at project level, never "
    "spread over vintages; VROD's remaining per vintage already nets them out).",
    "buffer_deposits": "VROD: credits the project deposited in its registry's buffer pool (project-level).",
    "reversals_covered": "VROD: reversals covered by the buffer pool.",
    "reversals_not_covered": "VROD: reversals not covered by the buffer pool.",
    "buffer_released": "VROD: buffer credits released back to the project.",
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
        "project_type_raw": "Project type as published by the registry.",
        "project_type_source": "Where project_type comes from: the registry, or the Berkeley database mapping.",
        "project_url": "The project's public page on its registry.",
        "additional_certifications": "Additional certifications or labels of the project (e.g. CCB).",
        "afolu_activities": "Verra AFOLU activities as published (ARR, IFM, REDD, WRC, ALM, ACoGS).",
        "compliance_program_id": "Id in a compliance program (ARB or Washington Ecology), if any.",
        "compliance_status": "Status in the compliance program (ARB / Ecology), as published.",
        "credits_registered": "Total number of credits registered, as published (ACR, CAR).",
        "description": "Project description as published (Gold Standard).",
        "first_crediting_period_start": "Start of the first crediting period (ACR).",
        "jurisdictions": "Jurisdiction(s) of a jurisdictional programme (ART TREES).",
        "listed_date": "Date the project was listed.",
        "notes": "Registry notes on the project.",
        "owner": "Project owner (CAR).",
        "poa_id": "Programme of Activities the project belongs to (Gold Standard POA GSID).",
        "poa_type": "Gold Standard Programme of Activities role: VPA, POA, Standalone.",
        "region": "World region as published (Verra).",
        "sdgs": "Sustainable Development Goals the project claims, as published.",
        "site_state": "State or province of the project site.",
        "size": "Project size class (Gold Standard: micro, small, large scale).",
        "status_date": "Date of the project's current status (ACR).",
        "verifier": "Validation / verification body.",
        **_VROD_PROJECT_COLUMNS,
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
        "total_issued": "Issuances only: total credits issued as published, including buffer contributions.",
        "issuance_date": "Date the credits were issued (also on retirement and cancellation rows).",
        "vintage_start": "Start of the vintage / reporting period.",
        "vintage_end": "End of the vintage / reporting period.",
        "monitoring_period_start": "Start of the monitoring period (Gold Standard).",
        "monitoring_period_end": "End of the monitoring period (Gold Standard).",
        "crediting_period": "Crediting period as published (CAR).",
        "standard": "Crediting program and standard as published (ART: TREES or FCPF).",
        "protocol_raw": "Protocol and version as published (CAR).",
        "activity_area_type": "Activity area type as published (CAR).",
        "arb_eligible": "The credits are eligible for California's ARB compliance program, as published.",
        "ecology_eligible": "The credits are eligible for Washington Ecology's program, as published (ACR).",
        "wa_eco_eligible": "The credits are eligible for Washington Ecology's program, as published (CAR).",
        "corsia_eligible": "The registry's CORSIA Eligible flag, as published.",
        "article6_authorization": "Article 6 authorisation as published (Gold Standard).",
        "retirement_account": "Account holder that retired or cancelled the credits.",
        "zero_credit_period": "CAR: the reporting period issued zero credits.",
        "canceled": "CAR issuance summary: credits of this issuance canceled since (informational; cancellations "
        "are counted from cancellation rows).",
        "canceled_for_compliance": "CAR issuance summary: credits canceled for compliance (converted to ARB/WA "
        "credits); informational.",
        "converted_to_vcus": "CAR issuance summary: credits converted to Verra VCUs; informational.",
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
        "reasons": "Every finding behind the verdict: code, criterion, message and source, the list of what it "
        "cites (framework section or policy key, reference table row, each URL); e.g. "
        "SELECT r.code, unnest(r.source) FROM (SELECT unnest(reasons) AS r FROM quality_scores).",
        "issued": "Credits issued for this project-vintage (excluding buffer).",
        "risk_adjusted_issued": "Issued credits after the risk haircut.",
        "buffer_pct_observed": "Observed buffer contribution as a share of issuance, percent.",
        "ccp_label": "The issuance carries the ICVCM CCP label.",
        "corsia_phase": "CORSIA eligibility phase(s) of the issuance.",
        "corresponding_adjustment": "A corresponding adjustment / Article 6 authorisation applies.",
        "co_benefit_labels": "Co-benefit labels (CCB, SDG certification ...), reported, never offsetting scores.",
        "methodology_id": "Methodology matched in the methodology reference table (methodology_ref).",
        "methodology_version": "Methodology / protocol version of the issuance.",
        "ccp_status": "ICVCM status for this issuance: the methodology's (approved, approved_conditional, rejected, "
        "under_assessment, not_submitted), or approved where the CCP label attests a conditional approval's "
        "conditions.",
        "methodology_ccp_status": "ICVCM status of the methodology version itself (methodologies.csv).",
        "additionality_class": "How the methodology demonstrates additionality (framework 7.2).",
        "baseline_class": "Baseline type of the methodology (framework 7.2).",
        "leakage_approach": "How the methodology accounts for leakage (framework 7.2).",
        "reversal_mechanism": "How reversals are compensated (pooled buffer, insurance, none).",
        "commitment_years": "Years the project commits to monitoring and compensating reversals: the largest of "
        "the program minimum, the crediting period's length and, with a CCP label, 40 (null when unknown).",
        "min_buffer_pct": "Minimum buffer contribution of the methodology or program, percent.",
        "project_type_key": "Project type in the project type reference table (project_type_ref).",
        "is_reversible": "The credits can be reversed (AFOLU sinks, CAR 'Reversible').",
        "limiting_criteria": "The criteria at the limiting (minimum) core score, comma-separated.",
        "is_nature_based": "Nature-based scope of the verdict (gate G7): from the methodology's reference row or "
        "the registry's AFOLU activity, never a third-party project type alone.",
        "sensitivity_haircut_pct": "Over-crediting sensitivity haircut, percent (framework 7.7; report only).",
        "sensitivity_adjusted_issued": "Issued credits after the sensitivity haircut.",
        "buffer_issued": "Credits the registry reports as deposited in its buffer pool for this project-vintage.",
        "assessed_on": "Date the verdict is assessed as of: the latest registry snapshot scored, unless the policy "
        "pins scoring.as_of_date (never the day of the run).",
        "ext_rating_agency": "Agency of the licensed external rating, if any.",
        "ext_rating": "Licensed external rating, if any.",
        "ext_rating_date": "Date of the external rating.",
        "ext_rating_watchlist": "The external rating puts the project-vintage on the watchlist.",
        "supplied": "Whether the credits are in project_vintage_supply: false for a VROD vintage of a project whose "
        "registry export files the same credits under other vintage years (scored, never offered).",
    },  # fmt: skip
    "eligible_inventory": _INVENTORY,
    "inventory_history": _INVENTORY,
    "project_vintage_supply": _SUPPLY,
    "vrod_vintages": {
        "issued": "Credits issued for the vintage (VROD block 1).",
        "remaining": "Credits remaining of the vintage (VROD block 3; may be negative where Berkeley corrects).",
        "retired": "issued - remaining: retirements and cancellations of the vintage, incl. those of unknown year.",
    },
    "supply_reconciliation": {
        "export_issued": "Credits the registry export issued for the vintage (0 if it holds none).",
        "vrod_issued": "Credits VROD lists as issued for the vintage (0 if it holds none).",
        "issued_difference": "export_issued - vrod_issued.",
        "export_retired": "Credits the registry export retired or cancelled of the vintage.",
        "vrod_retired": "VROD's issued - remaining for the vintage.",
        "retired_difference": "export_retired - vrod_retired.",
        "vrod_retired_year_unknown": "VROD's project-level retirements of unknown year, repeated on each vintage.",
        "issued_within_tolerance": "|issued_difference| <= tolerance_pct of the larger figure.",
        "retired_within_tolerance": "|retired_difference| <= tolerance_pct of the larger figure.",
        "supplied_by": "The source project_vintage_supply takes this project-vintage from; null when neither issues "
        "it under this vintage year.",
        "tolerance_pct": "policy.yaml sources.reconciliation_tolerance_pct at the time of the run.",
    },
    "rejected_rows": {
        "dataset": "Dataset of the raw file (projects, transactions, issuances, retirements, cancellations; "
        "vrod-projects for Berkeley's VROD).",
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
        "idempotency_key": "order_id|project_id|vintage: one retirement per order and project-vintage, ever.",
        "beneficiary": "Name the credits were retired on behalf of.",
        "tonnes": "Credits retired, tCO2e.",
        "quality_tier": "Quality tier of the project-vintage when it was retired.",
    },
    "registry_recognitions": {
        "matched_by": "reference (retirement_id found in the registry note) or beneficiary (name, tonnes, date).",
        "registry_source_file": "Raw registry file of the matching retirement.",
        "registry_source_line": "Line of the matching retirement in that file.",
        "registry_transaction_date": "Date of the matching registry retirement.",
        "registry_beneficiary": "Beneficiary named on the matching registry retirement.",
        "recognized_at": "When the buyers stage recorded the match.",
    },
    "order_executions": {
        "order_fingerprint": "Digest of the order as executed, to notice later edits of the order row.",
        "tonnes_ordered": "Tonnes the order asked for.",
        "tonnes_retired": "Tonnes retired for the order.",
        "status": "Execution status (filled, partial ...).",
    },
    "buyer_eligibility": {
        "relationship": "Our relationship with the buyer.",
        "net_zero_pass": "Net-zero target year <= 2050 covering scopes 1-3.",
        "net_zero_target_year": "Buyer's net-zero target year.",
        "net_zero_scopes": "Scopes the net-zero target covers, e.g. 1;2;3.",
        "net_zero_reason": "Why the net-zero condition passes or fails.",
        "disclosure_pass": "The buyer publishes an annual inventory.",
        "last_disclosure_date": "Date of the buyer's latest public inventory.",
        "disclosure_cadence": "How often the buyer discloses.",
        "disclosure_reason": "Why the disclosure condition passes or fails.",
        "science_target_pass": "The buyer has a validated science-based near-term target.",
        "science_target_status": "Status of the buyer's science-based target.",
        "science_target_date": "Date of the science-based target's validation.",
        "science_target_reason": "Why the science-target condition passes or fails.",
        "reason": "The failing conditions' reasons, or 'meets all three conditions'.",
        "evidence_urls": "Public evidence for the screening, ';'-joined.",
        "screened_as_of": "Date the screening applies to.",
        "is_eligible": "The buyer meets all three conditions (VCMI-style screen).",
    },
    "order_allocations": {
        "status": "What the order received (filled, partial, unfilled, rejected, conflict ...).",
        "tonnes_ordered": "Tonnes the order asked for.",
        "tonnes_allocated": "Tonnes allocated (retired) for the order.",
        "tonnes_unfilled": "tonnes_ordered - tonnes_allocated.",
        "reason": "Why the order received what it did.",
        "allocations": "Summary text, 'project_id vintage: tonnes' per line, '; '-joined; query "
        "order_allocation_lines for the rows.",
        "executed_this_run": "True when this run executed the order.",
        "dry_run": "True for made-up example orders: simulated on what real orders leave, never retired.",
    },
    "order_allocation_lines": {
        "tonnes": "Tonnes of this project-vintage allocated to the order, tCO2e.",
        "quality_tier": "Quality tier of the project-vintage when it was allocated.",
        "dry_run": "True for made-up example orders: simulated on what real orders leave, never retired.",
    },
    "buyer_statements": {
        "tonnes": "Credits retired, tCO2e.",
        "quality_tier": "Quality tier of the project-vintage when it was retired.",
        "registry_status": "'shown in registry' once recognized in registry data, else 'pending in registry'.",
        "registry_transaction_date": "Date of the registry retirement that shows it.",
        "registry_matched_by": "How the registry retirement was matched (reference or beneficiary).",
    },
    "buyer_statement_summary": {
        "tonnes_retired": "Tonnes retired for the buyer.",
        "orders": "Number of the buyer's orders with retirements.",
        "projects": "Number of distinct projects retired from.",
        "tonnes_high_tier": "Tonnes retired from high-tier project-vintages.",
        "tonne_weighted_limiting_score": "Limiting score averaged over the buyer's tonnes.",
        "tonnes_pending_in_registry": "Tonnes not yet shown in registry data.",
        "first_retired_at": "First retirement for the buyer.",
        "last_retired_at": "Latest retirement for the buyer.",
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
        "alert_type": "eligible_tonnes_removed, rejected_share_jump or registry_file_shrank.",
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
        "is_nature_based": "Nature-based scope of the verdict (gate G7).",
        "issued": "Credits issued for this project-vintage (excluding buffer).",
        "first_failed_code": "Code of the first failed gate's reason (G2_STATUS ...), else of the tier reason "
        "(TIER_LIMITING_SCORE, TIER_NEEDS_REVIEW, watchlist).",
        "first_failed_criterion": "Criterion of that reason (gate, additionality, permanence, leakage ...).",
        "first_failed_reason": "The reason, in plain words.",
        "first_failed_source": "What the reason cites, a list: framework section or policy key, reference table "
        "row, each URL.",
    },
}
COLUMNS["latest_changes"] = COLUMNS["inventory_changes"]
COLUMNS["quality_scores_compact"] = COLUMNS["quality_scores"] | {
    "reasons": "reason_id of each reason in reason_catalog, in the order of quality_scores.reasons."
}
COLUMNS["quality_score_reasons"] = {
    "code": "Machine-readable code of the finding (e.g. G7_NOT_NATURE_BASED, ADD_STANDARDIZED_NOT_APPROVED).",
    "criterion": "What the finding bears on: gate, additionality, permanence, leakage, over_crediting ...",
    "message": "The finding in plain words, with the figures it rests on.",
    "source": "The citations: the rule (policy key, framework section), the reference row read and each URL it cites.",
}
COLUMNS["reason_catalog"] = COLUMNS["quality_score_reasons"] | {
    "reason_id": "The reason's id in quality_scores_compact.reasons (1, 2, ... within this file)."
}
COLUMNS["quality_score_reasons"] |= {
    "position": "The reason's place in the project-vintage's quality_scores.reasons (1 = first).",
}
COLUMNS["data_dictionary"] = {
    "relation": "Published table or view.",
    "kind": "table or view.",
    "relation_description": "What the relation holds.",
    "column": "Column of the relation.",
    "position": "The column's place in the relation (1 = first).",
    "data_type": "DuckDB type of the column.",
    "description": "What the column means.",
}
"""The columns of the exports (``pipeline.publish.exports``) that are not published relations as they stand:
the reasons one row each, and this dictionary as a file."""
for _slice, _table in (
    ("vrod_projects", "projects"),
    ("vrod_rejected_rows", "rejected_rows"),
    ("vrod_load_audit", "load_audit"),
):
    COLUMNS[_slice] = COLUMNS[_table]


def describe(table: str, column: str, upstream: str | None = None) -> str | None:
    """The description of ``table.column``, or None when nothing describes it."""
    return COLUMNS.get(table, {}).get(column) or COMMON_COLUMNS.get(column) or upstream


def _table_comment(schema: str, table: str) -> str | None:
    if schema != STAGING_SCHEMA:
        return TABLES.get(table)
    sliced = slice_of(table)
    if sliced is None:
        return TABLES.get(table)
    table_of, registry = sliced
    return (
        f"The {registry} slice of {table_of} (query {table_of}, the view over every registry's slice). "
        + TABLES[table_of]
    )


def apply_comments(conn: duckdb.DuckDBPyConnection, catalog: str, upstream_catalog: str | None = None) -> list[str]:
    """COMMENT ON every table, view and column in ``catalog``'s ``main`` and slice schemas; returns the
    undocumented ``table.column``s.

    ``upstream_catalog`` (the attached work DB) supplies comments its stages set on their own columns. A slice
    and its columns are described as the warehouse relation it belongs to."""
    upstream = column_comments(conn, catalog=upstream_catalog) if upstream_catalog else {}
    columns = conn.execute(
        """
        SELECT c.schema_name, c.table_name, CASE WHEN v.view_name IS NULL THEN 'TABLE' ELSE 'VIEW' END,
               c.column_name
        FROM duckdb_columns() AS c
        LEFT JOIN duckdb_views() AS v
          ON v.database_name = c.database_name AND v.schema_name = c.schema_name AND v.view_name = c.table_name
        WHERE c.database_name = ? AND c.schema_name IN ('main', ?)
        ORDER BY c.schema_name, c.table_name, c.column_index
        """,
        [catalog, STAGING_SCHEMA],
    ).fetchall()
    statements, undocumented, seen = [], [], set()
    for schema, table, kind, column in columns:
        name = identifier(catalog, schema, table)
        described_as = (slice_of(table) or (table,))[0] if schema == STAGING_SCHEMA else table
        if name not in seen:
            seen.add(name)
            comment = _table_comment(schema, table)
            statements.append(f"COMMENT ON {kind} {name} IS {literal(comment or UNDOCUMENTED)}")
            if comment is None:
                undocumented.append(table)
        text = describe(described_as, column, upstream.get((described_as, column)))
        if text is None:
            undocumented.append(f"{table}.{column}")
            text = UNDOCUMENTED
        statements.append(f"COMMENT ON COLUMN {name}.{identifier(column)} IS {literal(text)}")
    # One transaction: a comment per statement costs a catalog commit each otherwise.
    conn.execute("BEGIN TRANSACTION;\n" + ";\n".join(statements) + ";\nCOMMIT;")
    return undocumented


def missing_comments(conn: duckdb.DuckDBPyConnection, catalog: str | None = None) -> list[str]:
    """Tables, views and columns in ``catalog``'s (default: current) ``main`` and slice schemas without a comment."""
    catalog = catalog or conn.execute("SELECT current_database()").fetchone()[0]
    rows = conn.execute(
        """
        SELECT table_name FROM duckdb_tables()
        WHERE database_name = $1 AND schema_name IN ('main', $2) AND coalesce(comment, '') = ''
        UNION ALL
        SELECT view_name FROM duckdb_views()
        WHERE database_name = $1 AND schema_name IN ('main', $2) AND coalesce(comment, '') = ''
        UNION ALL
        SELECT table_name || '.' || column_name FROM duckdb_columns()
        WHERE database_name = $1 AND schema_name IN ('main', $2) AND coalesce(comment, '') = ''
        """,
        [catalog, STAGING_SCHEMA],
    ).fetchall()
    return sorted(r[0] for r in rows)
