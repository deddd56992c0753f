"""The scoring engine: every issued project-vintage scored for additionality, permanence, leakage and
over-crediting, gated, tiered by the limiting factor, with a reason trail, all column-wise.

``score_warehouse(conn, reference, scoring, policy_version)`` reads the harmonized ``projects`` and ``credits``
relations on a DuckDB connection (the work DB; ``pipeline/ingest/schemas.py``), aggregating credits to
project-vintages in DuckDB so only one row per project-vintage reaches pandas; ``score_project_vintages(projects,
credits, ...)`` does the same for frames. With the cited reference tables, the policy file's ``scoring:`` section
and its version (recorded on every row) they return the ``quality_scores`` frame (``pipeline/quality/schemas.py``).
They read nothing else: the same inputs and policy always give the same output, and a policy change re-scores
without re-ingesting.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from pipeline.ingest.parsing import ARROW_TEXT
from pipeline.quality.additionality import score_additionality
from pipeline.quality.external_ratings import RATING_COLUMNS, join_external_ratings
from pipeline.quality.gates import evaluate_gates, gate_mask_to_codes
from pipeline.quality.inputs import Reference, data_as_of, scoring_frame
from pipeline.quality.leakage import leakage_haircut_pct, score_leakage
from pipeline.quality.over_crediting import score_over_crediting, sensitivity_haircut_pct
from pipeline.quality.permanence import score_permanence
from pipeline.quality.policy import ScoringPolicy
from pipeline.quality.reasons import FRAMEWORK, ReasonLog, Shown, label_lists, methodology_source
from pipeline.quality.schemas import STRING_COLUMNS, QualityScoresSchema
from pipeline.quality.tiers import classify

OUTPUT_COLUMNS = [
    "project_id",
    "registry",
    "vintage",
    "name",
    "country_code",
    "activity",
    "is_nature_based",
    "protocol",
    "methodology_id",
    "methodology_version",
    "ccp_status",
    "methodology_ccp_status",
    "additionality_class",
    "baseline_class",
    "leakage_approach",
    "reversal_mechanism",
    "commitment_years",
    "min_buffer_pct",
    "project_type_key",
    "is_reversible",
    "additionality_score",
    "permanence_score",
    "leakage_score",
    "over_crediting_score",
    "limiting_score",
    "limiting_criteria",
    "quality_tier",
    "is_eligible",
    "gates_failed",
    "reasons",
    "haircut_pct",
    "issued",
    "risk_adjusted_issued",
    "sensitivity_haircut_pct",
    "sensitivity_adjusted_issued",
    "buffer_issued",
    "buffer_pct_observed",
    "ccp_label",
    "corsia_phase",
    "corresponding_adjustment",
    "co_benefit_labels",
    "assessed_on",
    "policy_version",
    "source",
    "source_as_of",
    "supplied",
]


def _adjusted(issued: pd.Series, haircut_pct: np.ndarray) -> np.ndarray:
    return np.floor(issued.to_numpy(dtype=float) * (1.0 - haircut_pct / 100.0)).astype("int64")


def note_methodology_choice(pv: pd.DataFrame, log: ReasonLog) -> None:
    """Say how the reference row was chosen when the vintage's own version did not decide it, when the CCP label
    met an approval's conditions, which cells the policy overrode and which registration dates are placeholders,
    so a verdict is traceable to the exact row and facts."""
    log.add(pv["protocol_from_type"], "METHODOLOGY_FROM_PROJECT_TYPE", "methodology",
            ("the export leaves the methodology blank; the registry's project type (", pv["activity"], " under ",
             pv["registry"], ") identifies protocol ", pv["protocol"]),
            (f"{FRAMEWORK} 8 (Gold Standard A/R) | ", pv["registry"], " projects export ", pv["project_source_file"],
             ":", pv["project_source_line"], " (", pv["project_url"], ")"))  # fmt: skip
    log.add(pv["accounting_national"], "ACCOUNTING_AREA_NATIONAL", "methodology",
            ("the programme's accounting area is the whole country (jurisdiction: ", Shown(pv["jurisdictions"], "none "
             "listed"), "): leakage is scored as national-scale accounting"),
            (f"{FRAMEWORK} 4.7, 7.6, 8 | ", pv["registry"], " projects export ", pv["project_source_file"], ":",
             pv["project_source_line"], " (", pv["project_url"], ")"))  # fmt: skip
    inferred = pv["methodology_found"] & pv["methodology_version_inferred"]
    log.add(inferred, "METHODOLOGY_VERSION_INFERRED", "methodology",
            ("methodology version ", pv["methodology_version"], " inferred: this vintage's issuances omit it, the "
             "project reported it for vintage ", pv["methodology_version_from"]),
            f"{FRAMEWORK} 8 (versions); credits.methodology_version")  # fmt: skip
    unknown = pv["methodology_version_unknown"]
    log.add(unknown, "UNKNOWN_METHODOLOGY_VERSION", "methodology",
            ("methodology version not reported for any vintage of the project, and the ", pv["methodology_candidates"],
             " reference rows of ", pv["protocol"], " carry different ICVCM decisions: held for review (scores shown "
             "for the strictest row, versions ", Shown(pv["version_min"], "any"), "-", Shown(pv["version_max"], "any"),
             ")"), methodology_source(pv, f"{FRAMEWORK} 8 (versions; unknown is not none)"))  # fmt: skip
    same_decision = (
        pv["methodology_found"] & ~pv["methodology_version_matched"] & ~unknown & (pv["methodology_candidates"] > 1)
    )
    log.add(same_decision, "METHODOLOGY_VERSION_ANY", "methodology",
            ("methodology version ", Shown(pv["methodology_version"], "not reported"), " does not select one of the ",
             pv["methodology_candidates"], " reference rows of ", pv["protocol"], ", which share the ICVCM decision '",
             pv["ccp_status"], "'"),
            methodology_source(pv, f"{FRAMEWORK} 7.2 (decisions are version-scoped)"))  # fmt: skip
    log.add(pv["ccp_conditions_met_by_label"], "CCP_LABEL_MEETS_CONDITIONS", "methodology",
            ("the issuance carries the ICVCM CCP label: the conditions of ", pv["methodology_id"], "'s conditional "
             "approval (", Shown(pv["ccp_conditions"], "not recorded"), ") are attested met, so it counts as approved"),
            methodology_source(pv, f"{FRAMEWORK} 8 (the label is evidence)"))  # fmt: skip
    overridden = pv["methodology_overridden"].fillna("").astype(str) != ""
    log.add(overridden, "POLICY_OVERRIDE", "methodology",
            ("the policy overrides methodologies.csv ", pv["protocol"], ": ", pv["methodology_overridden"]),
            "policy.yaml scoring.methodology_overrides")  # fmt: skip
    log.add(pv["registration_is_placeholder"], "REGISTRATION_DATE_PLACEHOLDER", "data",
            ("registration date ", pv["registration_reported"], " is the registry's placeholder (Verra's registry "
             "migration date), not a registration: no date rule reads it"),
            (f"{FRAMEWORK} 8; policy.yaml scoring.registry_placeholder_dates | ", pv["registry"], " projects export ",
             pv["project_source_file"], ":", pv["project_source_line"], " (", pv["project_url"], ")"))  # fmt: skip


def score_project_vintages(
    projects: pd.DataFrame,
    credits: pd.DataFrame,
    reference: Reference,
    scoring: ScoringPolicy,
    policy_version: str,
    external_ratings: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Score every project-vintage with issuances in the ``credits`` frame; see the module docstring."""
    with duckdb.connect() as conn:
        conn.register("projects", projects)
        conn.register("credits", credits)
        return score_warehouse(conn, reference, scoring, policy_version, external_ratings)


def score_warehouse(
    conn: duckdb.DuckDBPyConnection,
    reference: Reference,
    scoring: ScoringPolicy,
    policy_version: str,
    external_ratings: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Score every project-vintage with issuances in the ``credits`` relation on ``conn`` (with ``projects``)."""
    as_of = scoring.assessment_date(data_as_of(conn))
    pv = scoring_frame(conn, reference, scoring)
    log = ReasonLog(len(pv))
    note_methodology_choice(pv, log)
    failed = evaluate_gates(pv, scoring.gates, as_of, log)
    scores = {
        "additionality": score_additionality(pv, scoring.additionality, log),
        "permanence": score_permanence(pv, scoring.permanence, log),
        "leakage": score_leakage(pv, scoring.leakage, log),
        "over_crediting": score_over_crediting(pv, scoring.over_crediting, log),
    }
    haircut = leakage_haircut_pct(pv, scoring.leakage, log)
    sensitivity = sensitivity_haircut_pct(pv, scoring.over_crediting)
    ratings = None
    if external_ratings is not None:
        ratings = join_external_ratings(pv, external_ratings, scoring.external_ratings, log)
    rating_watch = np.zeros(len(pv), bool) if ratings is None else ratings["ext_rating_watchlist"].to_numpy()
    tiers = classify(pv, scores, failed, rating_watch, scoring.tiers, scoring.gates, log)

    computed = {
        "additionality_score": scores["additionality"],
        "permanence_score": scores["permanence"],
        "leakage_score": scores["leakage"],
        "over_crediting_score": scores["over_crediting"],
        **tiers,
        "gates_failed": label_lists(gate_mask_to_codes(failed), len(pv)),
        "reasons": log.column(),
        "haircut_pct": haircut,
        "risk_adjusted_issued": _adjusted(pv["issued"], haircut),
        "sensitivity_haircut_pct": sensitivity,
        "sensitivity_adjusted_issued": _adjusted(pv["issued"], sensitivity),
        "co_benefit_labels": label_lists(
            {
                "CCB": pv["has_ccb"].fillna(False),
                "SD VISta": pv["has_sd_vista"].fillna(False),
                "SOCIALCARBON": pv["has_social_carbon"].fillna(False),
                "Gold Standard SDG": pv["registry"] == "gold-standard",
            },
            len(pv),
        ),
        "assessed_on": pd.Timestamp(as_of),
        "policy_version": policy_version,
        **({} if ratings is None else ratings),
    }
    columns = OUTPUT_COLUMNS + (RATING_COLUMNS if ratings is not None else [])
    # pv, the rules' outputs and the list columns all share pv's RangeIndex (one row per project-vintage).
    # Column by column: a DataFrame built from a dict consolidates the string columns (a copy of every cell).
    dtypes = dict.fromkeys(("vintage", "issued", "buffer_issued"), "int64") | dict.fromkeys(STRING_COLUMNS, ARROW_TEXT)
    out = pd.DataFrame(index=pv.index)
    for name in columns:
        out[name] = computed[name] if name in computed else pv[name]
        if name in dtypes:
            out[name] = out[name].astype(dtypes[name])
    return QualityScoresSchema.validate(out, lazy=True, inplace=True)
