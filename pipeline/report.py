"""A self-contained HTML report of the published inventory, for people who would rather look than query.

It reads only the analyst-facing file (``Paths.curated_db``, read-only) and writes one HTML file with inline
CSS and SVG charts: no network, no external script, so it opens anywhere, offline, from a mail attachment.
Sections: the latest publish, tonnes by activity, country and quality tier, score distributions, the change
log, alerts, and the rejected-row summary. A table missing from the published file (an older publish, a
stage not yet built) leaves its section with a note instead of failing the whole report.

A few lines of inline JavaScript record, after layout, how many bars each chart actually drew
(``data-rendered-bars`` on each chart); the browser test reads them back.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

REPORT_NAME = "report.html"
SCORE_COLUMNS = ("additionality_score", "permanence_score", "leakage_score", "over_crediting_score", "limiting_score")
TOP_COUNTRIES = 15
CHANGE_ROWS = 40
REASON_ROWS = 15


class ReportError(Exception):
    """The report cannot be built; the message says why. An earlier report is left as it was."""


@dataclass
class ReportData:
    source: Path
    publish: dict | None = None
    totals: dict = field(default_factory=dict)
    by_activity: pd.DataFrame | None = None
    by_country: pd.DataFrame | None = None
    by_tier: pd.DataFrame | None = None
    scores: dict[str, pd.DataFrame] = field(default_factory=dict)
    change_summary: pd.DataFrame | None = None
    changes: pd.DataFrame | None = None
    alerts: pd.DataFrame | None = None
    rejected_by_registry: pd.DataFrame | None = None
    rejected_reasons: pd.DataFrame | None = None

    def missing_sections(self) -> list[str]:
        """Sections shown with a note because the published file lacks their table."""
        parts = {
            "tonnes (eligible_inventory)": self.by_activity,
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


def _tables(conn: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    rows = conn.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main'"
    ).fetchall()
    tables: dict[str, set[str]] = {}
    for table, column in rows:
        tables.setdefault(table, set()).add(column)
    return tables


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
    """Counts per score: one bar per value for whole-number scores with few distinct values (the 1-5 rubric),
    else ten equal-width bins over the observed range."""
    values = pd.to_numeric(values, errors="coerce").dropna()
    if values.empty:
        return pd.DataFrame({"label": [], "count": []})
    whole = bool((values == values.round()).all())
    if whole and values.nunique() <= 11:
        counts = values.astype(int).value_counts().sort_index()
        full = range(int(counts.index.min()), int(counts.index.max()) + 1)
        counts = counts.reindex(full, fill_value=0)
        return pd.DataFrame({"label": [str(v) for v in counts.index], "count": counts.to_numpy()})
    counts, edges = np.histogram(values.to_numpy(dtype=float), bins=10)
    labels = [f"{lo:.3g}–{hi:.3g}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    return pd.DataFrame({"label": labels, "count": counts})


def read_report_data(curated_db: Path) -> ReportData:
    """Everything the report shows, read from the published file in one read-only connection."""
    curated_db = Path(curated_db)
    if not curated_db.is_file():
        raise ReportError(f"no published inventory at {curated_db}: run the publish step first")
    data = ReportData(source=curated_db)
    with duckdb.connect(str(curated_db), read_only=True) as conn:
        tables = _tables(conn)
        latest_publish = None
        if "publishes" in tables:
            publish = conn.execute("SELECT * FROM publishes ORDER BY publish_id DESC LIMIT 1").df()
            if len(publish):
                data.publish = publish.iloc[0].to_dict()
                latest_publish = int(data.publish["publish_id"])
        if "eligible_inventory" in tables:
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
            data.by_activity = _tonnes_by(conn, "activity")
            data.by_country = _tonnes_by(conn, "country", TOP_COUNTRIES)
            data.by_tier = _tonnes_by(conn, "quality_tier")
        score_table = "quality_scores" if "quality_scores" in tables else "eligible_inventory"
        columns = [c for c in SCORE_COLUMNS if c in tables.get(score_table, set())]
        if columns:
            scores = conn.execute(f"SELECT {', '.join(columns)} FROM {score_table}").df()
            data.scores = {c: score_histogram(scores[c]) for c in columns}
        if "inventory_changes" in tables:
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
        if "alerts" in tables:
            data.alerts = conn.execute(
                "SELECT publish_id, severity, alert_type, registry, message FROM alerts "
                "ORDER BY publish_id DESC, severity, alert_type LIMIT 20"
            ).df()
        if "load_audit" in tables:
            data.rejected_by_registry = conn.execute(
                "SELECT registry, sum(rows_read)::BIGINT AS rows_read, sum(rows_rejected)::BIGINT AS rows_rejected, "
                "round(100.0 * sum(rows_rejected) / nullif(sum(rows_read), 0), 2) AS rejected_pct "
                "FROM load_audit GROUP BY ALL ORDER BY registry"
            ).df()
        if "rejected_rows" in tables:
            data.rejected_reasons = conn.execute(
                f"SELECT registry, dataset, reason, count(*) AS rows FROM rejected_rows GROUP BY ALL "
                f"ORDER BY rows DESC, registry, dataset, reason LIMIT {REASON_ROWS}"
            ).df()
    return data


# ---------------------------------------------------------------- rendering

CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --bar: #2f7d5b; --bar2: #3b6ea5; --line: #d9e2ec; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 0 auto; max-width: 1040px; padding: 24px; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 32px 0 8px; border-bottom: 1px solid
var(--line); padding-bottom: 4px; } h3 { font-size: 15px; margin: 16px 0 4px; }
.muted, .empty { color: var(--muted); } .empty { font-style: italic; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 12px; margin: 16px 0; }
.kpi { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.kpi b { display: block; font-size: 22px; } .kpi span { color: var(--muted); font-size: 13px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 8px 24px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 6px 0 12px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
svg.chart { max-width: 100%; height: auto; } svg text { font-size: 12px; fill: var(--ink); }
rect.bar { fill: var(--bar); } svg.scores rect.bar { fill: var(--bar2); }
.sev-critical, .sev-error { color: #b42318; font-weight: 600; } .sev-warning { color: #b54708; }
"""

SCRIPT = """
document.querySelectorAll("svg.chart").forEach(function (svg) {
  var drawn = Array.prototype.filter.call(svg.querySelectorAll("rect.bar"), function (bar) {
    return bar.getBBox().width > 0 && bar.getBBox().height > 0;
  }).length;
  svg.setAttribute("data-rendered-bars", String(drawn));
});
document.body.setAttribute("data-rendered", "true");
"""


def _e(value) -> str:
    if value is None or (not isinstance(value, list | tuple | dict | np.ndarray) and pd.isna(value)):
        return ""
    return html.escape(str(value))


def _number(value) -> str:
    if value is None or pd.isna(value):
        return ""
    if isinstance(value, float | np.floating) and not float(value).is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def bar_chart(frame: pd.DataFrame | None, value: str, chart_id: str, unit: str = "", css: str = "") -> str:
    """Horizontal inline-SVG bar chart of ``frame[value]`` by ``frame['label']``; a note when empty."""
    if frame is None or frame.empty or not (frame[value].fillna(0) > 0).any():
        return f'<p class="empty" data-chart="{chart_id}">No data in this publish.</p>'
    label_width, bar_area, row, pad = 150, 250, 24, 6
    peak = float(frame[value].max())
    height = row * len(frame) + pad
    parts = [
        f'<svg class="chart {css}" data-chart="{chart_id}" data-bars="{len(frame)}" role="img" '
        f'width="{label_width + bar_area + 110}" height="{height}" '
        f'viewBox="0 0 {label_width + bar_area + 110} {height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (label, amount) in enumerate(zip(frame["label"], frame[value], strict=True)):
        y = pad + i * row
        width = 0.0 if peak <= 0 else max(float(amount) / peak * bar_area, 1.0 if amount > 0 else 0.0)
        text = _e(label)
        short = _e(str(label)[:28] + ("…" if len(str(label)) > 28 else ""))
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end">{short}</text>'
            f'<rect class="bar" x="{label_width}" y="{y + 2}" width="{width:.1f}" height="{row - 6}" '
            f'data-label="{text}" data-value="{amount}"><title>{text}: {_number(amount)}{unit}</title></rect>'
            f'<text x="{label_width + width + 6:.1f}" y="{y + 15}">{_number(amount)}{unit}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def html_table(frame: pd.DataFrame | None, numeric: tuple[str, ...] = (), empty: str = "None.") -> str:
    if frame is None or frame.empty:
        return f'<p class="empty">{_e(empty)}</p>'
    head = "".join(f'<th class="{"num" if c in numeric else ""}">{_e(c.replace("_", " "))}</th>' for c in frame)
    body = []
    for record in frame.itertuples(index=False):
        cells = []
        for column, cell in zip(frame.columns, record, strict=True):
            if column in numeric:
                cells.append(f'<td class="num">{_number(cell)}</td>')
            elif column == "severity":
                cells.append(f'<td class="sev-{_e(cell).lower()}">{_e(cell)}</td>')
            else:
                cells.append(f"<td>{_e(cell)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _kpi(label: str, value) -> str:
    shown = _e(value) if isinstance(value, str) else _number(value)
    return f'<div class="kpi"><b>{shown}</b><span>{_e(label)}</span></div>'


def render_report(data: ReportData, generated_at: datetime | None = None) -> str:
    """The report as one HTML document (inline CSS, SVG and a few lines of script)."""
    generated_at = generated_at or datetime.now(UTC)
    publish = data.publish or {}
    totals = data.totals
    subtitle = (
        f"Publish #{_e(publish.get('publish_id'))} of {_e(publish.get('published_at'))} · data as of "
        f"{_e(publish.get('as_of'))} · policy {_e(publish.get('policy_version'))}"
        if publish
        else "No publish record in this file."
    )
    kpis = "".join(
        [
            _kpi("eligible tonnes available (net of our retirements)", totals.get("tonnes", 0)),
            _kpi("risk-adjusted tonnes", totals.get("risk_adjusted_tonnes", 0)),
            _kpi("eligible project-vintages", totals.get("project_vintages", 0)),
            _kpi("projects", totals.get("projects", 0)),
            _kpi("registries", totals.get("registries", 0)),
        ]
    )
    score_charts = (
        "".join(
            f"<div><h3>{_e(column.replace('_', ' '))}</h3>"
            f"{bar_chart(histogram, 'count', f'score-{column}', css='scores')}</div>"
            for column, histogram in data.scores.items()
        )
        or '<p class="empty">No scores in this publish.</p>'
    )
    sections = [
        f"<header><h1>Eligible carbon-credit inventory</h1><p class='muted'>{subtitle}</p></header>",
        f'<section id="summary"><div class="kpis">{kpis}</div></section>',
        '<section id="tonnes"><h2>Eligible tonnes</h2><div class="grid">'
        f"<div><h3>By activity</h3>{bar_chart(data.by_activity, 'tonnes', 'tonnes-by-activity', ' t')}</div>"
        f"<div><h3>By quality tier</h3>{bar_chart(data.by_tier, 'tonnes', 'tonnes-by-tier', ' t')}</div>"
        f"</div><h3>By country</h3>{bar_chart(data.by_country, 'tonnes', 'tonnes-by-country', ' t')}</section>",
        '<section id="scores"><h2>Score distributions</h2><p class="muted">Project-vintages per score, '
        f'every scored project-vintage (eligible or not).</p><div class="grid">{score_charts}</div></section>',
        '<section id="changes"><h2>Change log</h2><h3>This publish</h3>'
        + html_table(data.change_summary, ("project_vintages", "tonnes_delta"), "No changes recorded for this publish.")
        + "<h3>Largest changes, newest publish first</h3>"
        + html_table(data.changes, ("tonnes_delta",), "No change log in this file.")
        + "</section>",
        '<section id="alerts"><h2>Alerts</h2>' + html_table(data.alerts, (), "No alerts.") + "</section>",
        '<section id="rejected"><h2>Rejected rows</h2><p class="muted">Raw records that failed parsing or '
        "validation; they are kept in <code>rejected_rows</code> with file, line and reason.</p>"
        + html_table(data.rejected_by_registry, ("rows_read", "rows_rejected", "rejected_pct"), "No load audit.")
        + "<h3>Most frequent reasons</h3>"
        + html_table(data.rejected_reasons, ("rows",), "No rejected rows.")
        + "</section>",
        f"<footer><p class='muted'>Generated {generated_at:%Y-%m-%d %H:%M} UTC from "
        f"<code>{_e(data.source)}</code>.</p></footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Eligible inventory report</title><style>{CSS}</style></head><body>"
        + "\n".join(sections)
        + f"<script>{SCRIPT}</script></body></html>\n"
    )


def write_report(curated_db: Path, target: Path | None = None, now: datetime | None = None) -> tuple[Path, ReportData]:
    """Render the report of ``curated_db`` and replace ``target`` (default: next to the DB) atomically."""
    data = read_report_data(curated_db)
    target = Path(target) if target is not None else report_path(curated_db)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(render_report(data, now), encoding="utf-8")
    os.replace(tmp, target)
    return target, data
