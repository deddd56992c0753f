"""Optional external ratings (BeZero, Sylvera ...): a documented CSV joined beside our scores, never required.

``external_ratings.csv`` columns: ``agency`` (e.g. ``bezero``), ``project_id`` (``VCS1340``), ``vintage`` (empty =
every vintage of the project), ``rating`` (on the agency's scale in the policy), ``rating_date`` (ISO date).
The latest rating per agency applies (a vintage-specific rating beats a project-wide one); a rating at or
below the policy threshold moves an otherwise eligible row to ``watchlist``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from pipeline.ingest.schemas import PROJECT_ID_PATTERN
from pipeline.quality.policy import ExternalRatingPolicy
from pipeline.quality.reasons import ReasonLog

RATING_COLUMNS = ["ext_rating_agency", "ext_rating", "ext_rating_date", "ext_rating_watchlist"]


class ExternalRatingsSchema(pa.DataFrameModel):
    """One licensed rating of a project (or one of its vintages) by one agency."""

    agency: Series[str] = pa.Field(str_matches=r"^\S+$")
    project_id: Series[str] = pa.Field(str_matches=PROJECT_ID_PATTERN)
    vintage: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=1990, le=2100)
    rating: Series[str]
    rating_date: Series[pd.Timestamp]

    class Config:
        strict = False
        coerce = True


def read_external_ratings(path: Path) -> pd.DataFrame:
    """Read and validate ``external_ratings.csv`` (all failures reported together)."""
    frame = pd.read_csv(path, dtype={"agency": str, "project_id": str, "rating": str}, keep_default_na=True)
    return ExternalRatingsSchema.validate(frame, lazy=True)


def join_external_ratings(
    pv: pd.DataFrame, ratings: pd.DataFrame, policy: ExternalRatingPolicy, log: ReasonLog
) -> pd.DataFrame:
    """Per project-vintage, the worst current rating across agencies; ``ext_rating_watchlist`` when it is at or
    below the agency's threshold."""
    ratings = ExternalRatingsSchema.validate(ratings, lazy=True).copy()
    ratings["agency"] = ratings["agency"].str.lower()
    unknown = sorted(set(ratings["agency"]) - set(policy.scales))
    if unknown:
        raise ValueError(f"external ratings from agencies without a scale in the policy: {unknown}")
    rank_maps = {agency: {r: i for i, r in enumerate(scale)} for agency, scale in policy.scales.items()}
    ratings["rank"] = np.nan
    for agency, ranks in rank_maps.items():  # one pass per agency, not per row
        rows = ratings["agency"] == agency
        ratings.loc[rows, "rank"] = ratings.loc[rows, "rating"].map(ranks)
    off_scale = ratings[ratings["rank"].isna()]
    if not off_scale.empty:
        sample = off_scale[["agency", "rating"]].drop_duplicates().head(5).to_dict("records")
        raise ValueError(f"external ratings not on their agency's scale: {sample}")
    threshold = ratings["agency"].map(
        {agency: rank_maps[agency][rating] for agency, rating in policy.watchlist_at_or_below.items()}
    )
    ratings["watch"] = (ratings["rank"] >= threshold).fillna(False)

    keys = pv[["project_id", "vintage"]].reset_index(names="row")
    specific = keys.merge(ratings.dropna(subset=["vintage"]).astype({"vintage": "int64"}), on=["project_id", "vintage"])
    general = keys.merge(ratings[ratings["vintage"].isna()].drop(columns="vintage"), on="project_id")
    candidates = pd.concat([specific.assign(specific=1), general.assign(specific=0)], ignore_index=True)
    current = candidates.sort_values(["row", "agency", "specific", "rating_date"], kind="stable").drop_duplicates(
        ["row", "agency"], keep="last"
    )
    worst = current.sort_values(["row", "rank"], kind="stable").drop_duplicates("row", keep="last").set_index("row")
    out = pd.DataFrame(index=pv.index)
    out["ext_rating_agency"] = worst["agency"].reindex(np.arange(len(pv))).to_numpy(dtype=object)
    out["ext_rating"] = worst["rating"].reindex(np.arange(len(pv))).to_numpy(dtype=object)
    out["ext_rating_date"] = pd.to_datetime(worst["rating_date"].reindex(np.arange(len(pv)))).to_numpy()
    out["ext_rating_watchlist"] = worst["watch"].reindex(np.arange(len(pv))).fillna(False).to_numpy(dtype=bool)
    log.add(out["ext_rating_watchlist"], "EXT_RATING_WATCHLIST", "tier",
            ("watchlist: ", out["ext_rating_agency"], " rates this ", out["ext_rating"], " (",
             pd.Series(out["ext_rating_date"]).dt.date, "), at or below the policy threshold"),
            "external_ratings.csv (licensed)")  # fmt: skip
    return out
