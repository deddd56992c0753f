"""Scoring: every issued project-vintage in the working DuckDB scored against the policy and the reference tables."""

import dagster as dg
import pandera.pandas as pa

from assets.metadata import markdown_table, table_metadata
from assets.resources import PipelineSettings
from pipeline.quality.engine import score_warehouse
from pipeline.quality.external_ratings import read_external_ratings
from pipeline.quality.reference import load_reference
from pipeline.quality.schemas import unexplained_scores, unjustified_ineligible
from pipeline.quality.store import TABLE, tier_distribution, top_reasons, write_quality_scores
from pipeline.quality.tiers import TIERS

EXTERNAL_RATINGS_FILE = "external_ratings.csv"
CONTRACT_CHECK = "scores_contract"
EXPLAINED_CHECK = "every_low_score_explained"
JUSTIFIED_CHECK = "every_ineligible_row_justified"


def _contract_failure(error: pa.errors.SchemaErrors) -> dg.MaterializeResult:
    cases = error.failure_cases
    metadata = {"num_failures": len(cases), "failure_cases": markdown_table(cases.astype(str), 20)}
    skipped = {"note": f"{TABLE} was not replaced: the scores failed their contract"}
    return dg.MaterializeResult(
        metadata={"note": skipped["note"]},
        check_results=[
            dg.AssetCheckResult(check_name=CONTRACT_CHECK, passed=False, metadata=metadata),
            dg.AssetCheckResult(check_name=EXPLAINED_CHECK, passed=False, metadata=skipped),
            dg.AssetCheckResult(check_name=JUSTIFIED_CHECK, passed=False, metadata=skipped),
        ],
    )


@dg.asset(
    deps=["projects", "credits"],
    group_name="scoring",
    kinds={"python", "duckdb"},
    check_specs=[
        dg.AssetCheckSpec(
            CONTRACT_CHECK,
            asset="quality_scores",
            blocking=True,
            description="The scores pass the pandera contract (QualityScoresSchema): every score an integer 1-5, "
            "limiting score = min of the three core scores, one row per project-vintage, eligible rows pass every "
            "gate, risk-adjusted tonnes never above issued. On failure the previous table is kept.",
        ),
        dg.AssetCheckSpec(
            EXPLAINED_CHECK,
            asset="quality_scores",
            blocking=True,
            description="Every score below 5 has at least one reason of its criterion in the stored table.",
        ),
        dg.AssetCheckSpec(
            JUSTIFIED_CHECK,
            asset="quality_scores",
            blocking=True,
            description="Every ineligible row has a failed gate or a core score below the policy's threshold.",
        ),
    ],
)
def quality_scores(context: dg.AssetExecutionContext, settings: PipelineSettings):
    """Scores every issued project-vintage (table ``quality_scores`` in the working DuckDB): gates G1-G7, the
    additionality, permanence, leakage and over-crediting scores (1-5), the tier by the limiting factor, risk-
    adjusted tonnes, badges, and a reason trail (code, criterion, message, source) for every failed gate and
    every score below 5. Reads ``projects`` and ``credits``, the reference tables and the policy's ``scoring``
    section, plus ``external_ratings.csv`` from the reference folder when present. A policy change re-scores
    without re-ingesting: re-materialize this asset alone."""
    policy = settings.policy()
    reference = load_reference(settings.paths.reference_dir)
    ratings_file = settings.paths.reference_dir / EXTERNAL_RATINGS_FILE
    ratings = read_external_ratings(ratings_file) if ratings_file.is_file() else None
    with settings.work_db_connection() as conn:
        try:
            scores = score_warehouse(conn, reference, policy.scoring, policy.policy_version, ratings)
        except pa.errors.SchemaErrors as error:
            context.log.error(f"quality scores failed their contract; {TABLE} kept as it was")
            return _contract_failure(error)
        rows = write_quality_scores(conn, scores)
        unexplained = unexplained_scores(conn)
        unjustified = unjustified_ineligible(conn, policy.scoring.tiers.eligible_min_score)
        distribution = tier_distribution(conn)
        reasons = top_reasons(conn)
        table = table_metadata(conn, TABLE)

    tiers = scores["quality_tier"].value_counts()
    return dg.MaterializeResult(
        metadata={
            **table,
            "dagster/row_count": rows,
            "policy_version": policy.policy_version,
            "assessed_on": str(scores["assessed_on"].iloc[0].date()) if rows else "n/a",
            "eligible_project_vintages": int(scores["is_eligible"].sum()),
            "eligible_issued_tonnes": int(scores.loc[scores["is_eligible"], "issued"].sum()),
            "eligible_risk_adjusted_tonnes": int(scores.loc[scores["is_eligible"], "risk_adjusted_issued"].sum()),
            **{f"tier_{tier}": int(tiers.get(tier, 0)) for tier in TIERS},
            "tier_distribution": markdown_table(distribution),
            "top_ineligibility_reasons": markdown_table(reasons),
            "external_ratings": str(ratings_file) if ratings is not None else "none",
        },
        check_results=[
            dg.AssetCheckResult(check_name=CONTRACT_CHECK, passed=True, metadata={"rows": rows}),
            dg.AssetCheckResult(
                check_name=EXPLAINED_CHECK,
                passed=unexplained.empty,
                metadata={"unexplained": len(unexplained), "sample": markdown_table(unexplained, 20)},
            ),
            dg.AssetCheckResult(
                check_name=JUSTIFIED_CHECK,
                passed=unjustified.empty,
                metadata={"unjustified": len(unjustified), "sample": markdown_table(unjustified.astype(str), 20)},
            ),
        ],
    )
