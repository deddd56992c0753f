"""A self-contained HTML report of the published inventory, for buyers who would rather read than query.

It reads only the analyst-facing file (``Paths.curated_db``, read-only) and renders one HTML file from the
Jinja2 templates in ``pipeline/templates/`` with inline CSS and SVG charts: no network, no external script,
so it opens anywhere, offline, from a mail attachment. Sections: the eligible project-vintages themselves
(registry link, scores, tonnes), tonnes by activity, country and tier, why nature-based credits are not
eligible (grouped by the reason that rules them out, with examples), a legend of tiers and scores, score
distributions on one 1-5 axis, each source's coverage and as-of date, the change log, alerts and rejected rows.
A table missing from the published file (an older publish, a stage not yet built) leaves its section with a
note instead of failing the whole report; optional columns (``source`` and its ``as_of``) are shown when
present.

A few lines of inline JavaScript record, after layout, how many bars each chart actually drew
(``data-rendered-bars`` on each chart); the browser test reads them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from pipeline import sql
from pipeline.atomic import replace_file
from pipeline.ingest.supply import REGISTRY_AS_OF_SQL
from pipeline.quality.policy import TierPolicy
from pipeline.quality.tiers import TIERS
from pipeline.rendering import environment

REPORT_NAME = "report.html"
SCORES = {
    "additionality_score": "Additionality",
    "permanence_score": "Permanence",
    "leakage_score": "Leakage",
    "over_crediting_score": "Over-crediting",
    "limiting_score": "Limiting (lowest core)",
}
SCORE_AXIS = (1, 2, 3, 4, 5)
TOP_COUNTRIES = 15
CHANGE_ROWS = 40
REASON_ROWS = 15
WHY_NOT_GROUPS = 10
WHY_NOT_EXAMPLES = 3
# A registry's files are called a sample when its credit records reach fewer than this share of the projects it
# lists, or when more than this share of its credit records name projects its project list lacks: both happen
# when an export holds the first rows of a download rather than the whole of it.
SAMPLE_MAX_COVERAGE = 0.10
SAMPLE_MIN_UNLISTED = 0.25

SCORE_MEANINGS = {
    5: "very high confidence the criterion is met",
    4: "high confidence",
    3: "moderate confidence: the minimum for eligibility",
    2: "low confidence",
    1: "very low confidence",
}


def tier_meanings(policy: TierPolicy) -> dict[str, str]:
    """What each quality tier means under ``policy`` (framework section 7.8)."""
    ccp = ("a CCP label on the issuance" if policy.high_requires_ccp == "label"
           else "a CCP label on the issuance or an ICVCM-approved methodology")  # fmt: skip
    return {
        "high": f"Every gate passes, the limiting score is at least {policy.high_min_score} and there is {ccp}.",
        "eligible": f"Every gate passes and the limiting score is at least {policy.eligible_min_score}.",
        "watchlist": "Would be eligible, but a dated, sourced project flag or an external rating puts it on a "
        + ("watchlist; still offered." if policy.watchlist_is_eligible else "watchlist; held back until reviewed."),
        "needs_review": "A fact the verdict needs is unknown; held back until a person reviews it.",
        "ineligible": f"A gate fails (program, status, product, methodology, vintage, reversal mechanism or scope), "
        f"or the limiting score is below {policy.eligible_min_score}.",
    }


class ReportError(Exception):
    """The report cannot be built; the message says why. An earlier report is left as it was."""


@dataclass
class ReportData:
    source: Path
    publish: dict | None = None
    totals: dict = field(default_factory=dict)
    eligible: pd.DataFrame | None = None
    by_activity: pd.DataFrame | None = None
    by_country: pd.DataFrame | None = None
    by_tier: pd.DataFrame | None = None
    why_not: list[dict] | None = None
    tiers_present: list[str] = field(default_factory=list)
    scores: dict[str, pd.DataFrame] = field(default_factory=dict)
    sources: pd.DataFrame | None = None
    supply_sources: pd.DataFrame | None = None
    change_summary: pd.DataFrame | None = None
    changes: pd.DataFrame | None = None
    alerts: pd.DataFrame | None = None
    rejected_by_registry: pd.DataFrame | None = None
    rejected_reasons: pd.DataFrame | None = None

    def missing_sections(self) -> list[str]:
        """Sections shown with a note because the published file lacks their table."""
        parts = {
            "eligible project-vintages (eligible_inventory)": self.eligible,
            "why not eligible (ineligible_projects)": self.why_not,
            "sources (load_audit, projects, credits)": self.sources,
            "change log (inventory_changes)": self.changes,
            "alerts (alerts)": self.alerts,
            "rejected rows (load_audit)": self.rejected_by_registry,
            "rejected reasons (rejected_rows)": self.rejected_reasons,
        }
        missing = [name for name, frame in parts.items() if frame is None]
        return missing + ([] if self.scores else ["score distributions (quality_scores)"])


def report_path(curated_db: Path) -> Path:
    """Where the report of ``curated_db`` lives: ``report.html`` next to the database."""
    return Path(curated_db).parent / REPORT_NAME


# ---------------------------------------------------------------- reading


def _relations(conn: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """Columns of every table and view in the file's ``main`` schema."""
    return {name: set(sql.columns(conn, name)) for name in sql.relations(conn)}


def _tonnes_by(conn: duckdb.DuckDBPyConnection, dimension: str, limit: int | None = None) -> pd.DataFrame:
    frame = conn.execute(
        f"SELECT coalesce(CAST({dimension} AS VARCHAR), '(unknown)') AS label, "
        "sum(available_net)::BIGINT AS tonnes FROM eligible_inventory GROUP BY ALL ORDER BY tonnes DESC, label"
    ).df()
    if limit is not None and len(frame) > limit:
        rest = frame.iloc[limit:]
        other = pd.DataFrame({"label": [f"{len(rest)} other"], "tonnes": [int(rest["tonnes"].sum())]})
        frame = pd.concat([frame.iloc[:limit], other], ignore_index=True)
    return frame


def score_histogram(values: pd.Series) -> pd.DataFrame:
    """Project-vintages per score on the fixed 1-5 axis (every score shows all five bars, zero or not)."""
    values = pd.to_numeric(values, errors="coerce").dropna().round().astype(int)
    counts = values.value_counts().reindex(SCORE_AXIS, fill_value=0)
    return pd.DataFrame({"label": [str(v) for v in SCORE_AXIS], "count": counts.to_numpy()})


def _eligible(conn: duckdb.DuckDBPyConnection, columns: set[str]) -> pd.DataFrame:
    optional = ["source", "as_of"] if "source" in columns else []
    return conn.execute(
        f"""SELECT project_id, registry, name, registry_url, country, activity, vintage, quality_tier,
                   additionality_score, permanence_score, leakage_score, over_crediting_score, limiting_score,
                   available_net, risk_adjusted_available{"".join(", " + c for c in optional)}
            FROM eligible_inventory
            ORDER BY available_net DESC, project_id, vintage"""
    ).df()


WHY_NOT_SQL = """
    WITH rows AS (
        SELECT i.project_id, i.registry, i.vintage, i.name, i.activity, i.first_failed_code AS code,
               i.first_failed_criterion AS criterion, i.first_failed_reason AS message,
               coalesce(s.issued, 0)::BIGINT AS tonnes, {project_url} AS project_url
        FROM ineligible_projects AS i
        JOIN quality_scores AS s USING (project_id, registry, vintage)
        LEFT JOIN projects AS p USING (project_id)
        WHERE i.activity IS NOT NULL
    )
    SELECT coalesce(code, '(no reason recorded)') AS code, any_value(criterion ORDER BY tonnes DESC) AS criterion,
           count(*) AS project_vintages, sum(tonnes)::BIGINT AS tonnes,
           list({{'project_id': project_id, 'name': name, 'vintage': vintage, 'activity': activity,
                  'tonnes': tonnes, 'message': message, 'url': project_url}}
                ORDER BY tonnes DESC, project_id, vintage)[1:{examples}] AS examples
    FROM rows GROUP BY ALL ORDER BY tonnes DESC, project_vintages DESC, code LIMIT {groups}
"""
"""Ineligible nature-based project-vintages (``activity`` set) grouped by the reason that rules them out (the
``ineligible_projects`` view's first failed reason, one definition for the view and the report), largest
issued tonnes first, with the largest examples of each (``{project_url}``: the projects' registry page column,
or NULL where the published projects lack it)."""

SOURCES_SQL = """
    WITH files AS (
        SELECT registry, count(*) AS files, sum(rows_read)::BIGINT AS rows_read,
               string_agg(dataset || ' ' || format('{{:,}}', rows_read), ', ' ORDER BY dataset) AS datasets
        FROM load_audit GROUP BY ALL
    ),
    listed AS (SELECT registry, count(*) AS projects_listed FROM projects GROUP BY ALL),
    credited AS (
        SELECT registry, count(*) AS credit_rows,
               count(*) FILTER (NOT coalesce(project_known, true)) AS credit_rows_unlisted,
               count(DISTINCT project_id) FILTER (coalesce(project_known, true)) AS listed_projects_with_credits
        FROM credits GROUP BY ALL
    ),
    scored AS (
        SELECT registry, count(*) AS project_vintages_scored, count(*) FILTER (is_eligible) AS eligible
        FROM quality_scores GROUP BY ALL
    ),
    as_of AS ({registry_as_of})
    SELECT registry, f.files, f.rows_read, f.datasets, coalesce(l.projects_listed, 0) AS projects_listed,
           coalesce(c.credit_rows, 0) AS credit_rows, coalesce(c.credit_rows_unlisted, 0) AS credit_rows_unlisted,
           coalesce(c.listed_projects_with_credits, 0) AS listed_projects_with_credits,
           coalesce(s.project_vintages_scored, 0) AS project_vintages_scored, coalesce(s.eligible, 0) AS eligible,
           a.as_of,
           coalesce(l.projects_listed > 0 AND c.listed_projects_with_credits < {max_coverage} * l.projects_listed,
                    false) AS few_listed_with_credits,
           coalesce(c.credit_rows_unlisted > {min_unlisted} * c.credit_rows, false) AS many_credits_unlisted
    FROM files AS f
    LEFT JOIN listed AS l USING (registry) LEFT JOIN credited AS c USING (registry)
    LEFT JOIN scored AS s USING (registry) LEFT JOIN as_of AS a USING (registry)
    ORDER BY registry
"""
"""Per registry: files and rows read, projects listed, how many of them the credit records reach, the
snapshot date (the same as-of rule as ``eligible_inventory.as_of``) and the two signs of a sample (see
``SAMPLE_MAX_COVERAGE``; the template says them in words)."""


def _supply_sources(conn: duckdb.DuckDBPyConnection, columns: set[str]) -> pd.DataFrame | None:
    """Scored project-vintages per supply source and its as-of date, when ``quality_scores`` says its source."""
    if "source" not in columns:
        return None
    as_of = "max(source_as_of)::DATE" if "source_as_of" in columns else "NULL::DATE"
    return conn.execute(
        f"""SELECT coalesce(source, '(unknown)') AS source, count(*) AS project_vintages_scored,
                   count(*) FILTER (is_eligible) AS eligible, sum(issued)::BIGINT AS issued_tonnes,
                   {as_of} AS as_of
            FROM quality_scores GROUP BY ALL ORDER BY project_vintages_scored DESC, source"""
    ).df()


def read_report_data(curated_db: Path) -> ReportData:
    """Everything the report shows, read from the published file in one read-only connection."""
    curated_db = Path(curated_db)
    if not curated_db.is_file():
        raise ReportError(f"no published inventory at {curated_db}: run the publish step first")
    data = ReportData(source=curated_db)
    with duckdb.connect(str(curated_db), read_only=True) as conn:
        relations = _relations(conn)
        latest_publish = None
        if "publishes" in relations:
            publish = conn.execute("SELECT * FROM publishes ORDER BY publish_id DESC LIMIT 1").df()
            if len(publish):
                data.publish = publish.iloc[0].to_dict()
                latest_publish = int(data.publish["publish_id"])
        if "eligible_inventory" in relations:
            data.totals = (
                conn.execute(
                    "SELECT count(*) AS project_vintages, count(DISTINCT project_id) AS projects, "
                    "count(DISTINCT registry) AS registries, coalesce(sum(available_net), 0)::BIGINT AS tonnes, "
                    "coalesce(sum(risk_adjusted_available), 0)::BIGINT AS risk_adjusted_tonnes "
                    "FROM eligible_inventory"
                )
                .df()
                .iloc[0]
                .to_dict()
            )
            data.eligible = _eligible(conn, relations["eligible_inventory"])
            data.by_activity = _tonnes_by(conn, "activity")
            data.by_country = _tonnes_by(conn, "country", TOP_COUNTRIES)
            data.by_tier = _tonnes_by(conn, "quality_tier")
        score_table = "quality_scores" if "quality_scores" in relations else "eligible_inventory"
        columns = [c for c in SCORES if c in relations.get(score_table, set())]
        if columns:
            scores = conn.execute(f"SELECT {', '.join(columns)} FROM {score_table}").df()
            data.scores = {c: score_histogram(scores[c]) for c in columns}
        if "quality_scores" in relations:
            present = conn.execute("SELECT DISTINCT quality_tier FROM quality_scores").fetchall()
            data.tiers_present = [t for (t,) in present if t is not None]
            data.supply_sources = _supply_sources(conn, relations["quality_scores"])
        if {"ineligible_projects", "quality_scores", "projects"} <= relations.keys():
            url = "p.project_url" if "project_url" in relations["projects"] else "NULL"
            why_not = WHY_NOT_SQL.format(project_url=url, examples=WHY_NOT_EXAMPLES, groups=WHY_NOT_GROUPS)
            data.why_not = conn.execute(why_not).df().to_dict("records")
        if {"load_audit", "projects", "credits", "quality_scores"} <= relations.keys():
            sources = SOURCES_SQL.format(registry_as_of=REGISTRY_AS_OF_SQL, max_coverage=SAMPLE_MAX_COVERAGE,
                                         min_unlisted=SAMPLE_MIN_UNLISTED)  # fmt: skip
            data.sources = conn.execute(sources).df()
        if "inventory_changes" in relations:
            where = f"WHERE publish_id = {latest_publish}" if latest_publish is not None else ""
            data.change_summary = conn.execute(
                f"SELECT change, count(*) AS project_vintages, sum(tonnes_delta)::BIGINT AS tonnes_delta "
                f"FROM inventory_changes {where} GROUP BY ALL ORDER BY change"
            ).df()
            data.changes = conn.execute(
                f"SELECT publish_id, change, project_id, registry, vintage, reason, tonnes_delta "
                f"FROM inventory_changes ORDER BY publish_id DESC, abs(tonnes_delta) DESC NULLS LAST, project_id "
                f"LIMIT {CHANGE_ROWS}"
            ).df()
        if "alerts" in relations:
            data.alerts = conn.execute(
                "SELECT publish_id, severity, alert_type, registry, message FROM alerts "
                "ORDER BY publish_id DESC, severity, alert_type LIMIT 20"
            ).df()
        if "load_audit" in relations:
            data.rejected_by_registry = conn.execute(
                "SELECT registry, sum(rows_read)::BIGINT AS rows_read, sum(rows_rejected)::BIGINT AS rows_rejected, "
                "round(100.0 * sum(rows_rejected) / nullif(sum(rows_read), 0), 2) AS rejected_pct "
                "FROM load_audit GROUP BY ALL ORDER BY registry"
            ).df()
        if "rejected_rows" in relations:
            data.rejected_reasons = conn.execute(
                f"SELECT registry, dataset, reason, count(*) AS rows FROM rejected_rows GROUP BY ALL "
                f"ORDER BY rows DESC, registry, dataset, reason LIMIT {REASON_ROWS}"
            ).df()
    return data


# ---------------------------------------------------------------- rendering


def bar_rows(frame: pd.DataFrame | None, value: str, peak: float | None = None) -> list[dict]:
    """Bars of a horizontal chart: label, value and width as a share (0-1) of ``peak`` (default: the largest)."""
    if frame is None or frame.empty:
        return []
    amounts = frame[value].fillna(0).astype(float)
    peak = float(amounts.max()) if peak is None else peak
    return [
        {"label": str(label), "value": amount, "share": amount / peak if peak > 0 else 0.0}
        for label, amount in zip(frame["label"], amounts, strict=True)
    ]


def render_report(data: ReportData, generated_at: datetime | None = None, tiers: TierPolicy | None = None) -> str:
    """The report as one HTML document (inline CSS, SVG and a few lines of script)."""
    generated_at = generated_at or datetime.now(UTC)
    meanings = tier_meanings(tiers or TierPolicy())
    legend = [(t, meanings.get(t, "See data/policy.yaml.")) for t in dict.fromkeys([*TIERS, *data.tiers_present])]
    score_peak = max((float(h["count"].max()) for h in data.scores.values() if len(h)), default=0.0)
    eligible = data.eligible
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            data=data,
            publish=data.publish or {},
            totals=data.totals,
            eligible=None if eligible is None else eligible.to_dict("records"),
            eligible_columns=set() if eligible is None else set(eligible.columns),
            charts={
                "tonnes-by-activity": bar_rows(data.by_activity, "tonnes"),
                "tonnes-by-tier": bar_rows(data.by_tier, "tonnes"),
                "tonnes-by-country": bar_rows(data.by_country, "tonnes"),
            },
            score_charts=[
                (column, SCORES[column], bar_rows(histogram, "count", score_peak))
                for column, histogram in data.scores.items()
            ],
            score_meanings=SCORE_MEANINGS,
            tier_legend=legend,
            sources=None if data.sources is None else data.sources.to_dict("records"),
            supply_sources=None if data.supply_sources is None else data.supply_sources.to_dict("records"),
            tables={
                name: None if frame is None else (list(frame.columns), frame.to_dict("records"))
                for name, frame in {
                    "change_summary": data.change_summary,
                    "changes": data.changes,
                    "alerts": data.alerts,
                    "rejected_by_registry": data.rejected_by_registry,
                    "rejected_reasons": data.rejected_reasons,
                }.items()
            },
            source_name=data.source.name,
            generated_at=generated_at,
        )
    )


def write_report(
    curated_db: Path, target: Path | None = None, now: datetime | None = None, tiers: TierPolicy | None = None
) -> tuple[Path, ReportData]:
    """Render the report of ``curated_db`` and replace ``target`` (default: next to the DB) atomically."""
    data = read_report_data(curated_db)
    target = Path(target) if target is not None else report_path(curated_db)
    target.parent.mkdir(parents=True, exist_ok=True)
    html = render_report(data, now, tiers)
    return replace_file(target, lambda tmp: tmp.write_text(html, encoding="utf-8")), data
