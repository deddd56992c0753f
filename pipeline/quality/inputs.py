"""The scoring frame: one row per issued project-vintage, with every input a rule reads, joined column-wise.

Registry facts come from ``credits`` (issuance totals, buffer deposits, CCP label, CORSIA, corresponding
adjustment, product type, reversibility) and ``projects`` (status, protocol, activity, dates); the rest from
the cited reference tables: the methodology row matching the protocol *and version* (ICVCM decisions are
version-scoped), the project-type risk profile and the flag list.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Protocol

import duckdb
import numpy as np
import pandas as pd

from pipeline.ingest import supply
from pipeline.ingest.parsing import per_distinct_value
from pipeline.quality.combinations import first_rows, number_combinations
from pipeline.quality.policy import CCP_STATUSES, PermanencePolicy, ScoringPolicy
from pipeline.registries import project_page_sql
from pipeline.sql import identifier, literal, relations

REGISTRY_PROGRAM = {
    "verra": "vcs",
    "gold-standard": "gs",
    "american-carbon-registry": "acr",
    "climate-action-reserve": "car",
    "art-trees": "art",
}

# Most conservative first: when the version cannot place a vintage in one range, the strictest row applies.
_CCP_RANK = {
    status: rank
    for rank, status in enumerate(
        (
            "rejected",
            "withdrawn",
            "remedial_action",
            "under_assessment",
            "not_submitted",
            "approved_conditional",
            "approved",
        )
    )
}
assert set(_CCP_RANK) == set(CCP_STATUSES)

ISSUED_BY_PRODUCT_PREFIX = "issued_product_"
"""``issued_product_PER`` ...: issued quantity per Gold Standard product type (VER, PER, CER)."""
METHODOLOGY_BOOLS = ("is_nature_based", "is_reversible", "inactive_or_superseded", "legacy_project_baseline_redd")
METHODOLOGY_NUMBERS = ("default_market_leakage_pct", "min_buffer_pct", "commitment_years", "monitoring_years")


class Reference(Protocol):
    """What the engine reads from ``pipeline.quality.reference.load_reference``."""

    methodologies: pd.DataFrame
    project_types: pd.DataFrame
    project_flags: pd.DataFrame


def as_bool(values: pd.Series) -> pd.Series:
    """Booleans from bool or ``true``/``false``/``yes``/``no`` text; missing stays missing."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean")
    lowered = values.astype("string").str.strip().str.lower()
    truth = lowered.map({"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False})
    return truth.astype("boolean")


def contains(values: pd.Series, pattern: str, case: bool = False) -> pd.Series:
    """``values.str.contains(pattern)`` evaluated once per distinct value (registry text repeats heavily)."""
    codes, distinct = pd.factorize(values.astype(object), use_na_sentinel=True)
    hits = pd.Series(distinct, dtype=object).astype(str).str.contains(pattern, case=case, regex=True).to_numpy()
    return pd.Series(np.where(codes >= 0, hits[codes.clip(min=0)] if len(hits) else False, False), index=values.index)


_VERSION_WORD = re.compile(r"(?i)(?:\bversion|\bv)\s*\.?\s*(\d+)(?:\.(\d+))?")
_BARE_VERSION = re.compile(r"^\s*(\d+)(?:\.(\d+))?\s*$")


@per_distinct_value
def version_key(values: pd.Series) -> pd.Series:
    """Comparable number for a version string (``Version 2.1`` -> 2001, ``1.0`` -> 1000); NaN if none is found
    (dates such as ``April 25, 2014`` are not versions)."""
    text = values.astype("string")
    parts = text.str.extract(_VERSION_WORD)
    bare = text.str.extract(_BARE_VERSION)
    major = pd.to_numeric(parts[0].fillna(bare[0]), errors="coerce")
    minor = pd.to_numeric(parts[1].fillna(bare[1]), errors="coerce").fillna(0)
    return (major * 1000 + minor).astype(float)


PROJECT_COLUMNS = (
    "name", "status", "country_code", "country", "protocol", "activity", "is_nature_based", "project_type",
    "crediting_period_start", "registration_date",
)  # fmt: skip
"""Project columns the rules read, joined to every project-vintage (plus the export row, for citations)."""
OPTIONAL_PROJECT_COLUMNS = {
    "crediting_period_end": "TIMESTAMP",
    "afolu_activities": "VARCHAR",
    "project_type_source": "VARCHAR",
    "jurisdictions": "VARCHAR",
}
"""Project columns some sources lack (NULL there): crediting period end (longevity >= crediting period), the
registry's own AFOLU activity and where the project type came from (nature-based scope, gate G7), and a
jurisdictional programme's accounting area (ART)."""

# Label patterns, matched case-insensitively on any transaction of the vintage (DuckDB regular expressions).
CORSIA_PILOT, CORSIA_FIRST = "pilot", "first"
CCB, SD_VISTA, SOCIAL_CARBON = r"\bCCB", "SD VISta", "social ?carbon"
CERTIFICATION_LABELS = {"ccb": CCB, "sd_vista": SD_VISTA, "social_carbon": SOCIAL_CARBON}

# Ties on the transaction date keep the export's order (the warehouse stores credits in that order).
EXPORT_ORDER = "transaction_date ASC NULLS FIRST, source_file, source_line"


def _product_sums(conn: duckdb.DuckDBPyConnection) -> str:
    """One ``issued_product_<type>`` sum per product type issued with a vintage (types sorted)."""
    types = conn.execute(
        "SELECT DISTINCT product_type::VARCHAR FROM credits WHERE transaction_type = 'issuance' "
        "AND vintage IS NOT NULL AND product_type IS NOT NULL ORDER BY 1"
    ).fetchall()
    return "".join(
        f", coalesce(sum(quantity) FILTER (WHERE issuance AND product_type = {literal(t)}), 0)::BIGINT"
        f" AS {identifier(ISSUED_BY_PRODUCT_PREFIX + t)}"
        for (t,) in types
    )


def _label_matches(column: str, patterns: dict[str, str]) -> str:
    """One row per distinct value of ``credits.<column>`` with a boolean per label pattern: each regular
    expression runs once per distinct text (a dozen), not once per credit."""
    matches = ", ".join(f"regexp_matches(value, {literal(p)}, 'i') AS {name}" for name, p in patterns.items())
    return f"SELECT value, {matches} FROM (SELECT DISTINCT {column}::VARCHAR AS value FROM credits)"


def _optional_project_columns(conn: duckdb.DuckDBPyConnection) -> str:
    present = {column for column, *_ in conn.execute("SELECT * FROM projects LIMIT 0").description}
    return ", ".join(
        f"p.{column}::{kind} AS {column}" if column in present else f"NULL::{kind} AS {column}"
        for column, kind in OPTIONAL_PROJECT_COLUMNS.items()
    )


def project_vintages_sql(conn: duckdb.DuckDBPyConnection) -> str:
    """The SELECT of registry facts per issued project-vintage from the ``credits`` and ``projects`` relations
    on ``conn``, with every issued VROD project-vintage no export holds and each row's ``source``
    (:func:`pipeline.ingest.supply.scoring_facts_sql`): aggregated in DuckDB, so only one row per project-vintage
    reaches pandas."""
    return f"""
    WITH certification_labels AS ({_label_matches("additional_certifications", CERTIFICATION_LABELS)}),
    corsia_labels AS ({_label_matches("corsia_phase", {"pilot": CORSIA_PILOT, "first": CORSIA_FIRST})}),
    vintaged AS (
        SELECT c.project_id::VARCHAR AS project_id, c.vintage::BIGINT AS vintage, c.registry::VARCHAR AS registry,
               c.transaction_type = 'issuance' AS issuance, c.quantity::BIGINT AS quantity,
               c.buffer_quantity::BIGINT AS buffer_quantity, c.transaction_date,
               c.methodology_version::VARCHAR AS methodology_version, c.product_type::VARCHAR AS product_type,
               c.ccp_label::BOOLEAN AS ccp_label, c.corresponding_adjustment::BOOLEAN AS corresponding_adjustment,
               c.is_reversible::BOOLEAN AS is_reversible, c.source_file, c.source_line,
               corsia.pilot, corsia.first, certification.ccb, certification.sd_vista, certification.social_carbon
        FROM credits AS c
        LEFT JOIN corsia_labels AS corsia ON c.corsia_phase::VARCHAR = corsia.value
        LEFT JOIN certification_labels AS certification ON c.additional_certifications::VARCHAR = certification.value
        WHERE c.vintage IS NOT NULL AND c.project_id IS NOT NULL
    ),
    facts AS (
        -- issuance facts, and labels carried by any transaction of the vintage (ART and CAR mark the CCP
        -- label on retirements and cancellations of units issued before the approval)
        SELECT project_id, vintage,
               first(registry ORDER BY {EXPORT_ORDER}) FILTER (WHERE issuance AND registry IS NOT NULL) AS registry,
               (sum(quantity) FILTER (WHERE issuance))::BIGINT AS issued,
               coalesce(sum(buffer_quantity) FILTER (WHERE issuance), 0)::BIGINT AS buffer_issued,
               bool_or(buffer_quantity IS NOT NULL) FILTER (WHERE issuance) AS buffer_reported,
               min(transaction_date) FILTER (WHERE issuance) AS first_issued_on,
               min(year(transaction_date)) FILTER (WHERE issuance) AS first_issued_year,
               last(methodology_version ORDER BY {EXPORT_ORDER})
                   FILTER (WHERE issuance AND methodology_version IS NOT NULL) AS methodology_version
               {_product_sums(conn)},
               coalesce(bool_or(ccp_label), false) AS ccp_label,
               bool_or(corresponding_adjustment) AS corresponding_adjustment,
               bool_or(is_reversible) AS credit_is_reversible,
               coalesce(bool_or(pilot), false) AS pilot,
               coalesce(bool_or(first), false) AS first,
               coalesce(bool_or(ccb), false) AS has_ccb,
               coalesce(bool_or(sd_vista), false) AS has_sd_vista,
               coalesce(bool_or(social_carbon), false) AS has_social_carbon
        FROM vintaged
        GROUP BY project_id, vintage
        HAVING bool_or(issuance)
    ),
    supplied AS ({supply.scoring_facts_sql(conn, "facts")})
    SELECT f.* EXCLUDE (pilot, first),
           CASE WHEN f.pilot AND f.first THEN 'pilot;first' WHEN f.pilot THEN 'pilot'
                WHEN f.first THEN 'first' END AS corsia_phase,
           {", ".join(f"p.{c}" for c in PROJECT_COLUMNS)}, {_optional_project_columns(conn)},
           -- the citations of the project row a verdict read: the export's file name (never the machine's
           -- absolute path), its line and the registry's public project page
           parse_filename(p.source_file) AS project_source_file, p.source_line AS project_source_line,
           {project_page_sql("f.registry", "f.project_id")} AS project_url
    FROM supplied AS f
    LEFT JOIN (SELECT project_id::VARCHAR AS project_id, * EXCLUDE (project_id) FROM projects) AS p
        USING (project_id)
    ORDER BY project_id, vintage
    """


def data_as_of(conn: duckdb.DuckDBPyConnection) -> dt.date:
    """The date of the data on ``conn``: the latest as-of date of the sources the supply reads (a registry
    export's dated raw folder, else its latest transaction, as the inventory's ``as_of``; VROD's release date);
    with no ``load_audit`` (scoring frames), the latest transaction date in ``credits``. Verdicts are assessed
    as of this date, not the run day."""
    present = relations(conn)
    if supply.SUPPLY_VIEW in present:
        source = f"(SELECT source_as_of AS as_of FROM {supply.SUPPLY_VIEW})"
    elif "load_audit" in present:
        source = f"({supply.REGISTRY_AS_OF_SQL})"
    else:
        source = "(SELECT transaction_date AS as_of FROM credits)"
    latest = conn.execute(f"SELECT max(as_of)::DATE FROM {source}").fetchone()[0]
    # No dated data means nothing dated to judge: the epoch keeps the run deterministic.
    return latest or dt.date(1970, 1, 1)


def project_vintages(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Registry facts per issued project-vintage (issuances with a vintage), sorted by project and vintage."""
    # Through Arrow: its conversion shares one Python string per distinct value (DuckDB's .df() makes one per cell).
    pv = conn.sql(project_vintages_sql(conn)).to_arrow_table().to_pandas()
    # DuckDB returns numpy dtypes for columns without a null and nullable ones otherwise: pin them.
    pv = pv.astype(
        {
            "corresponding_adjustment": "boolean",
            "credit_is_reversible": "boolean",
            "first_issued_year": "Int64",
            "project_source_line": "Int64",
        }
    )
    total = pv["issued"] + pv["buffer_issued"]
    pv["buffer_pct_observed"] = np.where(
        pv["buffer_reported"] & (total > 0), 100.0 * pv["buffer_issued"] / total.where(total > 0, 1), np.nan
    )
    # The previous issued vintage of the same project: the rows are sorted by project and vintage already,
    # so a shift does what a window over a wide row would (the window sorted every column again).
    same_project = pv["project_id"].eq(pv["project_id"].shift()).to_numpy()
    pv["prev_issued_vintage"] = pv["vintage"].shift().astype(float).where(same_project)
    infer_methodology_versions(pv)
    pv["project_known"] = pv["status"].notna()
    pv["status"] = pv["status"].fillna("unknown")
    pv["is_nature_based"] = pv["is_nature_based"].astype("boolean").fillna(False).astype(bool)
    return pv


def infer_methodology_versions(pv: pd.DataFrame) -> None:
    """Where a vintage's issuances omit the methodology version, take the version the project reported for its
    nearest earlier vintage, else its nearest later one (``methodology_version_from``: that vintage); a version
    the project never reported is never assumed. ``pv`` is sorted by project and vintage."""
    reported = pv["methodology_version"].astype("string")
    from_vintage = pv["vintage"].astype(float).where(reported.notna())
    by_project = pv["project_id"]
    version, source = reported, from_vintage
    for fill in ("ffill", "bfill"):
        version = version.fillna(getattr(reported.groupby(by_project), fill)())
        source = source.fillna(getattr(from_vintage.groupby(by_project), fill)())
    pv["methodology_version_inferred"] = (reported.isna() & version.notna()).to_numpy()
    pv["methodology_version"] = version
    pv["methodology_version_from"] = source.where(pv["methodology_version_inferred"])


def distinct_rows(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Each row's combination number and one row per combination of ``columns`` (missing values included),
    so a rule runs once per combination and ``result.take(codes)`` spreads it back over the rows."""
    factorized = (pd.factorize(frame[column]) for column in columns)
    combination = number_combinations(((codes, len(distinct)) for codes, distinct in factorized), len(frame))
    return combination, frame[columns].iloc[first_rows(combination)].reset_index(drop=True)


def spread(per_combination: pd.DataFrame, combination: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """``per_combination``'s row for each row's combination number, indexed like the rows (no further copy)."""
    rows = per_combination.take(combination)
    rows.index = index
    return rows


def apply_overrides(methodologies: pd.DataFrame, policy: ScoringPolicy) -> pd.DataFrame:
    """The reference rows with the policy's per-protocol overrides applied (overridden cells are noted)."""
    table = methodologies.copy()
    table["overridden"] = ""
    for protocol, columns in policy.methodology_overrides.items():
        rows = table["protocol"] == protocol
        if not rows.any():
            raise ValueError(f"methodology_overrides names protocol {protocol!r}, which methodologies.csv lacks")
        for column, value in columns.items():
            table[column] = table[column].astype(object)
            table.loc[rows, column] = value
        table.loc[rows, "overridden"] = ", ".join(f"{column}={value}" for column, value in columns.items())
    return table


def _methodology_table(methodologies: pd.DataFrame) -> pd.DataFrame:
    table = methodologies.reset_index(drop=True).copy()
    for column in METHODOLOGY_BOOLS:
        table[column] = as_bool(table[column]).fillna(False).astype(bool)
    for column in METHODOLOGY_NUMBERS:
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    for column in ("version_min", "version_max", "transition_deadline", "ccp_conditions", "assumption_note"):
        table[column] = table[column].astype("string").replace("", pd.NA)
    table["version_min_key"] = version_key(table["version_min"])
    table["version_max_key"] = version_key(table["version_max"])
    table["transition_deadline"] = pd.to_datetime(table["transition_deadline"], errors="coerce")
    table["ccp_rank"] = table["ccp_status"].map(_CCP_RANK).fillna(0)
    table["reference_order"] = np.arange(len(table))
    return table


def methodology_columns(pv: pd.DataFrame, methodologies: pd.DataFrame) -> pd.DataFrame:
    """One methodology row per project-vintage (indexed like ``pv``): the protocol's row whose version range
    holds the vintage's methodology version, preferring the registry's own program; when the version is
    unknown or outside every range, the protocol's most conservative row (worst ICVCM status), marked
    ``methodology_version_matched = False``."""
    table = _methodology_table(methodologies)
    keys = pd.DataFrame(
        {
            "protocol": pv["protocol"],
            "program": pv["registry"].map(REGISTRY_PROGRAM),
            "version": version_key(pv["methodology_version"]),
        }
    )
    # Chosen once per distinct (protocol, program, version): a few hundred, for any number of vintages.
    combination, left = distinct_rows(keys, ["protocol", "program", "version"])
    left["row"] = np.arange(len(left))
    candidates = left.merge(table.drop(columns=["program"]).assign(m_program=table["program"]), on="protocol")
    version = candidates["version"]
    candidates["in_range"] = (
        version.notna()
        & (candidates["version_min_key"].isna() | (version >= candidates["version_min_key"]))
        & (candidates["version_max_key"].isna() | (version <= candidates["version_max_key"]))
    )
    candidates["program_match"] = candidates["m_program"] == candidates["program"]
    chosen = candidates.sort_values(
        ["row", "in_range", "program_match", "ccp_rank", "reference_order"],
        ascending=[True, False, False, True, True],
        kind="stable",
    ).drop_duplicates("row")
    chosen["candidates"] = chosen["row"].map(candidates.groupby("row").size())
    # What a decision changes in a verdict: rejected (gate G4), approved (label bonus, high tier) or neither.
    verdict_status = (
        candidates["ccp_status"]
        .map({"rejected": "rejected", "approved": "approved", "approved_conditional": "approved"})
        .fillna("other")
    )
    chosen["candidate_statuses"] = chosen["row"].map(verdict_status.groupby(candidates["row"]).nunique())
    keep = {
        "methodology_id": "methodology_id",
        "m_program": "methodology_program",
        "name": "methodology_name",
        "version_min": "version_min",
        "version_max": "version_max",
        "activity": "methodology_activity",
        "is_nature_based": "methodology_is_nature_based",
        "ccp_status": "ccp_status",
        "ccp_conditions": "ccp_conditions",
        "additionality_class": "additionality_class",
        "baseline_class": "baseline_class",
        "leakage_approach": "leakage_approach",
        "default_market_leakage_pct": "default_market_leakage_pct",
        "reversal_mechanism": "reversal_mechanism",
        "min_buffer_pct": "min_buffer_pct",
        "commitment_years": "commitment_years",
        "monitoring_years": "monitoring_years",
        "is_reversible": "methodology_is_reversible",
        "inactive_or_superseded": "inactive_or_superseded",
        "transition_deadline": "transition_deadline",
        "legacy_project_baseline_redd": "legacy_project_baseline_redd",
        "is_assumption": "methodology_is_assumption",
        "overridden": "methodology_overridden",
        "source_url": "methodology_source_url",
        "in_range": "methodology_version_matched",
        "candidates": "methodology_candidates",
        "candidate_statuses": "methodology_candidate_statuses",
    }
    attached = chosen.set_index("row")[[c for c in keep if c in chosen.columns]].rename(columns=keep)
    # Typed per combination (a few hundred rows), then spread over the project-vintages.
    per_combination = attached.reindex(np.arange(len(left)))
    per_combination["methodology_found"] = per_combination["ccp_status"].notna()
    for column in ("methodology_is_reversible", "inactive_or_superseded", "legacy_project_baseline_redd"):
        per_combination[column] = per_combination[column].astype("boolean")
    matched = per_combination["methodology_version_matched"].astype("boolean").fillna(False)
    per_combination["methodology_version_matched"] = matched
    # Unknown is not "none": when no reported version places the vintage and the protocol's rows disagree on
    # the ICVCM decision, the verdict waits for the version instead of assuming the strictest row's.
    per_combination["methodology_version_unknown"] = (
        per_combination["methodology_found"] & ~matched & (per_combination["methodology_candidate_statuses"] > 1)
    ).astype(bool)
    return spread(per_combination, combination, pv.index)


def project_type_columns(pv: pd.DataFrame, project_types: pd.DataFrame) -> pd.DataFrame:
    """Per project-vintage (indexed like ``pv``): the first ``project_types.csv`` row (file order) whose
    activity equals the project's and one of whose ``match_project_type`` substrings occurs in its project
    type or name; else the activity's default type (``is_default_for_activity``), with
    ``project_type_matched = False``."""
    # Matched once per distinct (activity, project type, name): a project's vintages share them.
    described, distinct = distinct_rows(pv, ["activity", "project_type", "name"])
    haystack = (
        distinct["project_type"].astype("string").fillna("") + " | " + distinct["name"].astype("string").fillna("")
    )
    key = pd.Series(pd.NA, index=distinct.index, dtype="string")
    for row in project_types.itertuples():  # reference rows (a dozen), not data rows
        patterns = [p.strip().lower() for p in str(row.match_project_type or "").split("|") if p.strip()]
        if not patterns or pd.isna(row.match_project_type):
            continue
        candidates = (key.isna() & (distinct["activity"] == row.activity)).fillna(False)
        hit = contains(haystack[candidates], "|".join(map(re.escape, patterns)))
        key.loc[hit.index[hit.to_numpy(dtype=bool)]] = row.project_type_key
    matched = key.notna()
    if "is_default_for_activity" in project_types.columns:
        defaults = project_types[as_bool(project_types["is_default_for_activity"]).fillna(False).astype(bool)]
        key = key.fillna(
            distinct["activity"].map(defaults.drop_duplicates("activity").set_index("activity")["project_type_key"])
        )
    types = project_types.drop_duplicates("project_type_key").set_index("project_type_key")
    per_type = pd.DataFrame(
        {
            "project_type_key": key,
            "project_type_matched": matched.to_numpy(),
            "harvest_revenue": key.map(as_bool(types["harvest_revenue"])).astype("boolean").fillna(False).astype(bool),
            "type_is_reversible": key.map(as_bool(types["is_reversible"])).astype("boolean"),
            "project_type_source_url": key.map(types["source_url"]).astype(object),
        }
    )
    return spread(per_type, described, pv.index)


FLAG_COLUMNS = {
    "flag": "flag",
    "flag_effect": "effect",
    "flag_description": "description",
    "flagged_on": "flagged_on",
    "flag_source_url": "source_url",
}


def flag_columns(pv: pd.DataFrame, flags: pd.DataFrame) -> pd.DataFrame:
    """Per project-vintage (indexed like ``pv``), its project's flag entries (``project_flags.csv``): the
    strongest effect and a dated description; missing (NaN) for a project without flags."""
    if flags.empty:
        return pd.DataFrame({column: pd.Series(pd.NA, index=pv.index, dtype=object) for column in FLAG_COLUMNS})
    ordered = flags.assign(strength=(flags["effect"] == "ineligible").astype(int)).sort_values(
        ["project_id", "strength", "flagged_on"], ascending=[True, False, False], kind="stable"
    )
    first = ordered.drop_duplicates("project_id").set_index("project_id")
    per_flag = pd.DataFrame({column: first[source].astype(str) for column, source in FLAG_COLUMNS.items()})
    # One row per flagged project plus an all-missing row for every other project.
    per_flag = per_flag.reset_index(drop=True).reindex(np.arange(len(first) + 1)).astype(object)
    found = first.index.get_indexer(pv["project_id"])
    return spread(per_flag, np.where(found >= 0, found, len(first)), pv.index)


PROTOCOL_OF_REGISTRY_TYPE = {("gold-standard", "ARR"): "gs-reforest"}
"""(registry, activity of the registry's own project type) -> the protocol that type implies when the export
leaves the methodology blank: Gold Standard's A/R project type is certified under its A/R requirements and
methodology (147 of 171 GS A/R projects in the 2026-06 export have no Methodology; framework 8)."""


def protocol_from_registry_type(pv: pd.DataFrame) -> None:
    """Fill a blank protocol from the registry's own project type (``PROTOCOL_OF_REGISTRY_TYPE``), never from a
    third-party type; ``protocol_from_type`` marks the rows so the reason trail says which rule chose it."""
    implied = pd.Series(pd.NA, index=pv.index, dtype="string")
    for (registry, activity), protocol in PROTOCOL_OF_REGISTRY_TYPE.items():
        implied = implied.mask(((pv["registry"] == registry) & (pv["activity"] == activity)).fillna(False), protocol)
    registry_typed = (pv["project_type_source"] != "berkeley").fillna(True)
    chosen = (pv["protocol"].isna() & implied.notna() & registry_typed).to_numpy(dtype=bool)
    pv["protocol_from_type"] = chosen
    pv["protocol"] = pv["protocol"].astype("string").where(~chosen, implied)


def scoring_frame(conn: duckdb.DuckDBPyConnection, reference: Reference, policy: ScoringPolicy) -> pd.DataFrame:
    """Every input of every rule, one row per issued project-vintage of the ``credits`` relation on ``conn``."""
    pv = project_vintages(conn)
    protocol_from_registry_type(pv)
    # Column by column: concat would consolidate the string columns into one block (a copy of every cell).
    for name, values in methodology_columns(pv, apply_overrides(reference.methodologies, policy)).items():
        pv[name] = values
    activity_from_methodology(pv)
    for columns in (project_type_columns(pv, reference.project_types), flag_columns(pv, reference.project_flags)):
        for name, values in columns.items():
            pv[name] = values
    reversible = (
        pv["credit_is_reversible"]
        .fillna(pv["methodology_is_reversible"])
        .fillna(pv["type_is_reversible"])
        .fillna(pd.Series(pv["is_nature_based"], dtype="boolean"))
    )
    pv["is_reversible"] = reversible.astype(bool)
    nature_based_scope(pv)
    label_meets_conditions(pv)
    placeholder_registration(pv, policy.registry_placeholder_dates)
    project_commitment(pv, policy.permanence)
    accounting_area(pv)
    leakage_deduction(pv)
    return pv


def activity_from_methodology(pv: pd.DataFrame) -> None:
    """A project whose source names no activity (VROD has no AFOLU column) takes its nature-based methodology's
    (``methodologies.csv`` activity: VM0033 -> WRC); the project's own activity always wins."""
    nature_based = pv["methodology_is_nature_based"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    blank = pv["activity"].isna().to_numpy() & nature_based
    pv.loc[blank, "activity"] = pv.loc[blank, "methodology_activity"]


def nature_based_scope(pv: pd.DataFrame) -> None:
    """``is_nature_based`` (gate G7) from the methodology's reference row, or the registry's own AFOLU activity;
    a third-party (Berkeley) project type alone never makes an energy methodology nature-based. Without a
    methodology row, the project's classification stands unless only the third-party type gave it."""
    registry_afolu = pv["afolu_activities"].notna().to_numpy()
    third_party_only = (pv["project_type_source"] == "berkeley").fillna(False).to_numpy() & ~registry_afolu
    by_methodology = pv["methodology_is_nature_based"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    found = pv["methodology_found"].to_numpy(dtype=bool)
    project = pv["is_nature_based"].to_numpy(dtype=bool)
    pv["is_nature_based"] = np.where(found, by_methodology | registry_afolu, project & ~third_party_only)


def label_meets_conditions(pv: pd.DataFrame) -> None:
    """A CCP label on the issuance is the registry's attestation that the ICVCM approval conditions were met
    for it: under an ``approved_conditional`` methodology, that issuance counts as ``approved``
    (``ccp_conditions_met_by_label``); the methodology's own decision stays in ``methodology_ccp_status``."""
    pv["methodology_ccp_status"] = pv["ccp_status"]
    met = (pv["ccp_status"] == "approved_conditional").fillna(False).to_numpy(dtype=bool) & pv["ccp_label"].to_numpy(
        dtype=bool
    )
    pv["ccp_conditions_met_by_label"] = met
    pv["ccp_status"] = pv["ccp_status"].where(~met, "approved")


def placeholder_registration(pv: pd.DataFrame, placeholders: dict[str, list[dt.date]]) -> None:
    """A registration date that is a registry's placeholder (Verra's 2020-04-06 registry migration) is not a
    registration: ``registration_is_placeholder`` marks it and ``registration_date`` becomes unknown, so no date
    rule (NPRT longevity, soil early start) reads it."""
    placeholder = np.zeros(len(pv), dtype=bool)
    dates = pv["registration_date"]
    for registry, days in placeholders.items():
        placeholder |= ((pv["registry"] == registry) & dates.isin(pd.to_datetime(days))).fillna(False).to_numpy()
    pv["registration_is_placeholder"] = placeholder
    pv["registration_reported"] = dates
    pv["registration_date"] = dates.where(~placeholder)


def project_commitment(pv: pd.DataFrame, policy: PermanencePolicy) -> None:
    """The commitment a project-vintage is held to, as a project fact (framework 4.6, 8): the largest of the
    program minimum (the methodology row; for Verra the NPRT longevity floor of the registration date), the
    crediting period's length (longevity is at least the crediting period) and, for an issuance carrying the
    CCP label, the CCP period (a project under 40 years cannot get the label). ``commitment_basis`` names the
    fact that decided; ``commitment_unknown`` where no program rule gives a minimum and no project fact reaches
    the CCP period (unknown is not "none": such rows wait for review)."""
    program = pv["commitment_years"].astype(float).rename("program")
    verra = (pv["registry"] == "verra").fillna(False).to_numpy()
    raised = (pv["registration_date"] >= pd.Timestamp(policy.verra_longevity_raised_on)).fillna(False).to_numpy()
    nprt = np.where(verra, np.where(raised, policy.verra_longevity_raised_years, policy.verra_longevity_years), np.nan)
    period = (pv["crediting_period_end"] - pv["crediting_period_start"]).dt.days / 365.25
    facts = pd.DataFrame(
        {
            "label": np.where(pv["ccp_label"].to_numpy(dtype=bool), float(policy.ccp_commitment_years), np.nan),
            "period": period.round().to_numpy(dtype=float),
            "nprt": nprt,
            "program": program.to_numpy(),
        },
        index=pv.index,
    )
    commitment = facts.max(axis=1, skipna=True)
    # The first column reaching the maximum names the basis (project facts before program minimums on ties).
    basis = facts.eq(commitment, axis=0).idxmax(axis=1).where(commitment.notna())
    program_floor = facts[["nprt", "program"]].max(axis=1, skipna=True)
    pv["program_commitment_years"] = program_floor
    pv["commitment_years"] = commitment
    pv["commitment_basis"] = basis.map(
        {
            "label": "the issuance carries the ICVCM CCP label (>= 40 years, AF 9.1)",
            "period": "the crediting period's length",
            "nprt": "Verra NPRT longevity floor for the registration date",
            "program": "the methodology's program minimum",
        }
    )
    held = pv["is_reversible"] & pv["methodology_found"] & (pv["reversal_mechanism"] != "none").fillna(True)
    pv["commitment_unknown"] = (held & program_floor.isna() & ~(commitment >= policy.ccp_commitment_years)).to_numpy(
        dtype=bool
    )


def accounting_area(pv: pd.DataFrame) -> None:
    """Jurisdictional programmes account for leakage at the scale of their accounting area (framework 4.7, 8):
    a programme whose jurisdiction is the whole country ('National' or the country's name, or none listed for a
    programme named after its country) is scored as national-scale accounting (``accounting_national``)."""

    def folded(column: str) -> pd.Series:
        return pv[column].astype("string").str.strip().str.casefold()

    area, country = folded("jurisdictions"), folded("country")
    whole_country = area.eq("national") | area.eq(country) | (area.isna() & folded("name").eq(country))
    national = (
        (pv["leakage_approach"] == "jurisdictional_deduction").fillna(False) & whole_country.fillna(False)
    ).to_numpy(dtype=bool)
    pv["accounting_national"] = national
    pv["leakage_approach"] = pv["leakage_approach"].where(~national, "national_accounting")


def leakage_deduction(pv: pd.DataFrame) -> None:
    """``leakage_deduction_unknown``: an IFM methodology that relies on a market-leakage deduction whose value no
    program rule records (a blank cell is missing evidence, not a 0% deduction), unless the issuance carries the
    CCP label of an approved methodology (``leakage_attested_by_label``: the approval's leakage conditions, e.g.
    ACR IFM v2.1's deduction where wood-product output falls, were met for it)."""
    ifm = (pv["methodology_found"] & (pv["leakage_approach"] == "ifm_market_deduction")).fillna(False)
    blank = ifm.to_numpy(dtype=bool) & pv["default_market_leakage_pct"].isna().to_numpy()
    attested = blank & pv["ccp_label"].to_numpy(dtype=bool) & (pv["ccp_status"] == "approved").to_numpy(dtype=bool)
    pv["leakage_attested_by_label"] = attested
    pv["leakage_deduction_unknown"] = blank & ~attested
