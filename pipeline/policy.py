"""The one policy file (``data/policy.yaml``): every rule, threshold, weight and haircut, versioned.

Each stage owns its section's model next to the code that applies it and receives only that section (and
the version where it records one); this module only composes them and loads the file. A policy change
re-scores (and re-screens buyers) without re-ingesting.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from pipeline.buyers.policy import BuyerPolicy
from pipeline.ingest.supply import SourcesPolicy
from pipeline.publish.policy import PublishPolicy
from pipeline.quality.policy import ScoringPolicy


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy_version: str
    scoring: ScoringPolicy
    buyers: BuyerPolicy
    publish: PublishPolicy
    sources: SourcesPolicy = SourcesPolicy()

    @property
    def sha256(self) -> str:
        """SHA-256 of the whole validated policy: each publish records it (any section's change changes it)."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader refusing a mapping that states a key twice (plain YAML lets the last one win
    silently, so an analyst's edit lower in the file could be undone by a forgotten line above)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice: on line {seen[key]} and line {line}", key_node.start_mark
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_policy(path: Path) -> Policy:
    """Read and validate the policy file; a typo, an unknown key, a key stated twice or a value out of its range
    is an error naming the field."""
    try:
        raw = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"policy file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return Policy.model_validate(raw)
