"""The visual report: a self-contained HTML page of the published inventory next to the database."""

import dagster as dg

from assets.resources import PipelineSettings
from pipeline.publish.report import ReportError, write_report


@dg.asset(deps=["published_inventory"], group_name="publish", kinds={"html"})
def inventory_report(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    """``report.html`` next to the published DuckDB file, for buyers: every eligible project-vintage with its
    registry link, tier, scores and available tonnes; why nature-based credits are not eligible (grouped by
    reason, with examples); a legend of tiers and 1-5 scores (thresholds from the policy); score distributions;
    each registry's coverage and as-of date, marked when its files are a sample; the change log, alerts and
    rejected rows. One offline file from the templates in ``pipeline/templates`` (open it anywhere, or send
    it). Built from the published file only, so it shows exactly what analysts see; replaced atomically, so a
    failed build leaves the previous report."""
    try:
        path, data = write_report(settings.paths.curated_db, tiers=settings.policy().scoring.tiers)
    except ReportError as error:
        raise dg.Failure(description=str(error)) from error
    context.log.info(f"report written to {path}")
    by_activity = data.by_activity
    return dg.MaterializeResult(
        metadata={
            # A path to copy, not a file:// link: a browser does not follow one from the UI's http:// page.
            "path": dg.MetadataValue.path(str(path)),
            "how_to_open": dg.MetadataValue.md(
                f"Open `{path}` in a browser (`xdg-open`, macOS `open`): one offline file, no server needed."
            ),
            "bytes": path.stat().st_size,
            "publish_id": int(data.publish["publish_id"]) if data.publish else -1,
            "eligible_tonnes": int(data.totals.get("tonnes", 0)),
            "eligible_project_vintages": 0 if data.eligible is None else len(data.eligible),
            "tonnes_by_activity": dg.MetadataValue.md(
                by_activity.to_markdown(index=False) if by_activity is not None and len(by_activity) else "_none_"
            ),
            "sections_without_data": dg.MetadataValue.md(
                "\n".join(f"- {name}" for name in data.missing_sections()) or "_none_"
            ),
        }
    )
