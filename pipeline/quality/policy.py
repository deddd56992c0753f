"""Policy section for scoring (issue 3)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ScoringPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
