"""Policy section for publishing, change alerts and freshness (issues 4 and 5)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class PublishPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
