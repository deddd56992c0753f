"""The one policy file (``data/policy.yaml``): every rule, threshold, weight and haircut, versioned.

Each stage owns its section's model next to the code that applies it; this module only composes them
and loads the file. A policy change re-scores (and re-screens buyers) without re-ingesting.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from pipeline.buyers.policy import BuyerPolicy
from pipeline.publish.policy import PublishPolicy
from pipeline.quality.policy import ScoringPolicy
from pipeline.supply import SourcesPolicy


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy_version: str
    scoring: ScoringPolicy
    buyers: BuyerPolicy
    publish: PublishPolicy
    sources: SourcesPolicy = SourcesPolicy()


def load_policy(path: Path) -> Policy:
    """Read and validate the policy file; a typo or an unknown key is an error naming the field."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"policy file not found: {path}") from exc
    return Policy.model_validate(raw)
