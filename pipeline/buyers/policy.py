"""Policy section for buyer screening and allocation (issue 6)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class BuyerPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
