"""Small hand-built inputs for golden tests: warehouse frames that pass the ingest schemas, and reference
tables following the reference-table contract (``data/reference/*.csv`` columns)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from pipeline.ingest.schemas import CreditsSchema, ProjectsSchema
from pipeline.quality.engine import score_project_vintages
from pipeline.quality.policy import ScoringPolicy

AS_OF = dt.date(2026, 6, 30)
POLICY_VERSION = "test-v1"

# A methodology row per the contract; values follow the framework (VM0047: dynamic benchmark, VMD0054 leakage).
METHODOLOGY_DEFAULTS = {
    "protocol": "vm0047",
    "program": "vcs",
    "methodology_id": "VM0047",
    "name": "Afforestation, Reforestation and Revegetation",
    "version_min": "1.0",
    "version_max": "1.1",
    "activity": "ARR",
    "is_nature_based": True,
    "ccp_status": "approved",
    "ccp_conditions": "",
    "additionality_class": "dynamic_benchmark",
    "baseline_class": "dynamic",
    "leakage_approach": "displaced_agriculture",
    "default_market_leakage_pct": None,
    "reversal_mechanism": "pooled_buffer_risk_based",
    "min_buffer_pct": 10.0,
    "commitment_years": 40.0,
    "monitoring_years": 40.0,
    "is_reversible": True,
    "inactive_or_superseded": False,
    "transition_deadline": "",
    "legacy_project_baseline_redd": False,
    "is_assumption": False,
    "assumption_note": "",
    "source_url": "https://verra.org/methodologies/vm0047/",
    "as_of": "2026-08-17",
}

PROJECT_TYPE_ROWS = [
    ("ARR_commercial", "ARR", "plantation|commercial|timber", True, True),
    ("ARR_natural", "ARR", "natural regeneration|native|restoration", True, False),
    ("IFM_harvest_deferral", "IFM", "harvest deferral|deferred harvest", True, False),
    ("IFM_rotation_extension", "IFM", "rotation extension|extended rotation", True, False),
    ("ALM_soil", "ALM", "soil|grazing", True, False),
]


def methodology(**overrides) -> dict:
    unknown = set(overrides) - set(METHODOLOGY_DEFAULTS)
    assert not unknown, f"not a methodologies.csv column: {unknown}"
    return {**METHODOLOGY_DEFAULTS, **overrides}


def project_types() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"project_type_key": key, "activity": activity, "match_project_type": match, "is_reversible": rev,
             "harvest_revenue": harvest, "additionality_risk": "medium", "permanence_risk": "medium",
             "leakage_risk": "medium", "is_assumption": False, "assumption_note": "",
             "source_url": "https://www.oeko.de/en/publications/factsheet-ccqi-commercial-afforestation/",
             "as_of": "2026-08-17"}
            for key, activity, match, rev, harvest in PROJECT_TYPE_ROWS
        ]
    )  # fmt: skip


FLAG_COLUMNS = ["project_id", "flag", "effect", "description", "flagged_on", "source_url", "as_of"]


@dataclass(frozen=True)
class TestReference:
    methodologies: pd.DataFrame
    project_types: pd.DataFrame
    project_flags: pd.DataFrame


def reference(methodologies: list[dict] | None = None, flags: list[dict] | None = None) -> TestReference:
    return TestReference(
        methodologies=pd.DataFrame(methodologies or [methodology()]),
        project_types=project_types(),
        project_flags=pd.DataFrame(flags or [], columns=FLAG_COLUMNS),
    )


def project(project_id: str = "VCS5001", **overrides) -> dict:
    registry = {"VCS": "verra", "GLD": "gold-standard", "ACR": "american-carbon-registry",
                "CAR": "climate-action-reserve", "ART": "art-trees"}[project_id[:3]]  # fmt: skip
    row = {
        "project_id": project_id, "registry": registry, "name": "Test reforestation", "proponent": None,
        "status_raw": "Registered", "status": "registered", "country_code": "BR", "country": "Brazil",
        "methodology_raw": "VM0047", "protocol": "vm0047", "protocols": "vm0047", "project_type": None,
        "category": "forest", "is_nature_based": True, "activity": "ARR",
        "crediting_period_start": pd.Timestamp("2021-01-01"), "crediting_period_end": None,
        "registration_date": pd.Timestamp("2022-01-01"), "estimated_annual_reductions": 1000.0,
        "source_file": f"data/raw/{registry}/projects.csv", "source_line": 2,
    }  # fmt: skip
    row.update(overrides)
    return row


def issuance(project_id: str = "VCS5001", vintage: int = 2024, quantity: int = 1000, **overrides) -> dict:
    registry = project(project_id)["registry"]
    row = {
        "project_id": project_id, "registry": registry, "transaction_type": "issuance", "vintage": vintage,
        "quantity": quantity, "transaction_date": pd.Timestamp(f"{vintage + 1}-03-01"), "serial_number": None,
        "buffer_quantity": None, "methodology_version": None, "product_type": None, "ccp_label": None,
        "corsia_phase": None, "corresponding_adjustment": None, "is_removal": None, "is_reversible": None,
        "additional_certifications": None, "retirement_beneficiary": None, "retirement_reason": None,
        "retirement_note": None, "source_file": f"data/raw/{registry}/issuances.csv", "source_line": 2,
        "project_known": True,
    }  # fmt: skip
    row.update(overrides)
    return row


def projects_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["source_line"] = range(2, len(frame) + 2)
    return ProjectsSchema.validate(frame, lazy=True)


def credits_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["source_line"] = range(2, len(frame) + 2)
    return CreditsSchema.validate(frame, lazy=True)


def policy(**scoring_overrides) -> ScoringPolicy:
    """The default scoring policy, pinned to ``AS_OF``, with nested overrides (``gates={"min_vintage": 2010}``)."""
    base = ScoringPolicy().model_dump()
    base["as_of_date"] = AS_OF
    for section, values in scoring_overrides.items():
        if isinstance(values, dict) and isinstance(base.get(section), dict):
            base[section] = {**base[section], **values}
        else:
            base[section] = values
    return ScoringPolicy.model_validate(base)


@dataclass
class Case:
    """One hand-built world: projects, issuances, reference rows, policy; ``score()`` runs the engine."""

    projects: list[dict] = field(default_factory=lambda: [project()])
    credits: list[dict] = field(default_factory=lambda: [issuance()])
    methodologies: list[dict] = field(default_factory=lambda: [methodology()])
    flags: list[dict] = field(default_factory=list)
    policy: ScoringPolicy = field(default_factory=policy)
    external_ratings: pd.DataFrame | None = None

    def score(self) -> pd.DataFrame:
        return score_project_vintages(
            projects_frame(self.projects),
            credits_frame(self.credits),
            reference(self.methodologies, self.flags),
            self.policy,
            POLICY_VERSION,
            self.external_ratings,
        )


def row(scores: pd.DataFrame, project_id: str = "VCS5001", vintage: int = 2024) -> pd.Series:
    hit = scores[(scores["project_id"] == project_id) & (scores["vintage"] == vintage)]
    assert len(hit) == 1, f"expected one row for {project_id} {vintage}, found {len(hit)}"
    return hit.iloc[0]


def codes(scored_row: pd.Series, criterion: str | None = None) -> list[str]:
    return [r["code"] for r in scored_row["reasons"] if criterion is None or r["criterion"] == criterion]
