"""The five registries the pipeline reads, and how their project ids are written.

Registry keys are the raw-data folder names (``data/raw/<registry>/``) and the values of the
``registry`` column everywhere. Project ids follow the convention shared by CarbonPlan's OffsetsDB
and the Berkeley Voluntary Registry Offsets Database, so our tables join with theirs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Registry:
    key: str
    name: str
    id_prefix: str
    project_url: str  # format string with {number}: the registry's public project page


VERRA = Registry("verra", "Verra (VCS)", "VCS", "https://registry.verra.org/app/projectDetail/VCS/{number}")
GOLD_STANDARD = Registry(
    "gold-standard", "Gold Standard", "GLD", "https://registry.goldstandard.org/projects/details/{number}"
)
ACR = Registry(
    "american-carbon-registry",
    "American Carbon Registry",
    "ACR",
    "https://acr2.apx.com/mymodule/reg/prjView.asp?id1={number}",
)
CAR = Registry(
    "climate-action-reserve",
    "Climate Action Reserve",
    "CAR",
    "https://thereserve2.apx.com/mymodule/reg/prjView.asp?id1={number}",
)
ART = Registry("art-trees", "ART TREES", "ART", "https://art.apx.com/mymodule/reg/prjView.asp?id1={number}")

REGISTRIES: dict[str, Registry] = {r.key: r for r in (VERRA, GOLD_STANDARD, ACR, CAR, ART)}
REGISTRY_KEYS: tuple[str, ...] = tuple(REGISTRIES)

TRANSACTION_TYPES = ("issuance", "retirement", "cancellation")


def project_page_sql(registry: str, project_id: str) -> str:
    """SQL for a project's public page on its registry (NULL for another registry), from the SQL expressions
    ``registry`` and ``project_id``: the template's ``{number}`` is the digits that end the project id."""
    templates = " ".join(f"WHEN '{r.key}' THEN '{r.project_url}'" for r in REGISTRIES.values())
    return f"replace(CASE {registry} {templates} END, '{{number}}', regexp_extract({project_id}, '[0-9]+$'))"
