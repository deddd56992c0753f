"""Policy section for publishing, change alerts and freshness (issues 4 and 5)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, HttpUrl


class AlertPolicy(BaseModel):
    """When a publish is news: thresholds for the ``alerts`` table and the warning checks."""

    model_config = ConfigDict(extra="forbid")

    removed_tonnes_threshold: int = Field(default=100_000, ge=0)
    """Alert when the eligible tonnes (net of our ledger) that left the inventory because a project-vintage
    became ineligible or vanished from registry data reach this many tonnes."""
    removed_share_threshold: float = Field(default=0.05, ge=0, le=1)
    """... or this share of the previous publish's eligible tonnes (0.05 = 5 %)."""
    rejected_share_jump: float = Field(default=0.05, ge=0, le=1)
    """Alert when a registry's rejected-row share (rows_rejected / rows_read over its files) rises by at
    least this much since the previous publish (0.05 = five percentage points)."""
    webhook_url: HttpUrl | None = None
    """POST every new alert as JSON to this URL; off (null) by default. A failed delivery is logged, never
    fails the publish: the alert is already in the published ``alerts`` table."""
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)


class ShrunkFilesPolicy(BaseModel):
    """When a registry file comes in much smaller than its previous load (cut off in transfer, a partial export)."""

    model_config = ConfigDict(extra="forbid")

    threshold: float = Field(default=0.2, gt=0, le=1)
    """Alert when a file's accepted rows fell by at least this share since the registry's previous load
    (0.2 = a fifth of its rows gone; a file that vanished from the snapshot fell by all of them)."""
    hold_previous_slice: bool = True
    """... and keep the registry's previous load (its slice) instead of replacing it, at every run until the
    file is whole again. False: load and publish the smaller file, with the alert."""


class PublishPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_published_age_hours: float = Field(default=36.0, gt=0)
    """Freshness expectation: analysts should never see a published file older than this."""
    alerts: AlertPolicy = AlertPolicy()
    shrunk_files: ShrunkFilesPolicy = ShrunkFilesPolicy()
