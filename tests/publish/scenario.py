"""Work-DB inputs for the publish tests, following the stage contracts.

Projects and quantities are real rows of the bundled exports in ``data/raw`` (ART102 Guyana, ACR701
Windrock IFM, CAR1745/CAR1749 Mexican restoration, VCS1340 Bale Mountains REDD+, CAR1335 nitric acid).
The ingest frames pass the ingest pandera schemas; ``quality_scores`` follows the scoring contract
(columns named in the publish brief) with hand-set verdicts, until the scoring stage lands.

``second_snapshot`` is the same world two weeks later: ACR701 goes on hold (ineligible), CAR1749 sells out
at the registry, CAR1865 becomes eligible, ART102 drops a tier, and CAR's rejected-row share jumps.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.ingest.load import RegistryLoad
from pipeline.ingest.schemas import CreditsSchema, LoadAuditSchema, ProjectsSchema, RejectedRowsSchema
from pipeline.ingest.warehouse import build_warehouse, replace_registry_slice

POLICY_VERSION = "2026.11-v1"

PROJECTS = [
    # project_id, registry, name, country_code, country, activity, protocol, status
    ("ART102", "art-trees", "Guyana", "GY", "Guyana", "JREDD", "art-trees", "registered"),
    ("ACR701", "american-carbon-registry", "Finite Carbon - Windrock Land Company IFM", "US", "United States",
     "IFM", "acr-ifm-nonfederal", "registered"),
    ("CAR1745", "climate-action-reserve", "Restauración Forestal Adolfo de la Huerta", "MX", "Mexico", "ARR",
     "car-mexico-forest", "registered"),
    ("CAR1749", "climate-action-reserve", "Restauración Forestal Chunkanan", "MX", "Mexico", "ARR",
     "car-mexico-forest", "registered"),
    ("CAR1865", "climate-action-reserve", "BONOS LAGUNA SÍJIL NOH-HÁ", "MX", "Mexico", "IFM",
     "car-mexico-forest", "registered"),
    ("CAR1335", "climate-action-reserve", "Coffeyville NAP2", "US", "United States", None, "car-nitric-acid",
     "registered"),
    ("VCS1340", "verra", "Bale Mountains Eco-region REDD+ project", "ET", "Ethiopia", "REDD", "vm0015",
     "registered"),
]  # fmt: skip

# project_id, registry, type, vintage, quantity, buffer, date
CREDITS = [
    ("ART102", "art-trees", "issuance", 2023, 9_085_923, 535_461, "2025-12-21"),
    ("ART102", "art-trees", "retirement", 2023, 46_404, None, "2026-04-08"),
    ("ART102", "art-trees", "cancellation", 2023, 1_000, None, "2026-02-28"),
    ("ACR701", "american-carbon-registry", "issuance", 2025, 40_088, 14_046, "2026-03-02"),
    ("ACR701", "american-carbon-registry", "issuance", 2025, 23_897, 0, "2026-03-02"),
    ("ACR701", "american-carbon-registry", "retirement", 2025, 5_000, None, "2026-03-20"),
    ("CAR1745", "climate-action-reserve", "issuance", 2025, 4_933, 2_030, "2026-02-10"),
    ("CAR1749", "climate-action-reserve", "issuance", 2025, 3_563, 1_571, "2026-02-10"),
    ("CAR1749", "climate-action-reserve", "retirement", 2025, 1_000, None, "2026-03-01"),
    ("CAR1865", "climate-action-reserve", "issuance", 2025, 41_134, 16_879, "2026-02-12"),
    ("CAR1335", "climate-action-reserve", "retirement", 2025, 5_000, None, "2025-10-27"),
    ("VCS1340", "verra", "issuance", 2020, 425, None, "2026-04-03"),
    ("VCS1340", "verra", "retirement", 2020, 425, None, "2026-04-10"),
    ("VCS1340", "verra", "issuance", 2021, 12_000, None, "2026-04-03"),
]


def _reason(code: str, criterion: str, message: str, source: str) -> dict:
    return {"code": code, "criterion": criterion, "message": message, "source": [source]}


FRAMEWORK = "data/reference/quality-framework.md"

# project_id, vintage, (add, perm, leak, over), tier, eligible, gates_failed, reasons, haircut, ccp, corsia, co-benefits
SCORES = {
    ("ART102", 2023): ((4, 4, 5, 4), "high", True, [], [
        _reason("A-JUR", "additionality", "jurisdictional crediting baseline", f"{FRAMEWORK}#74")], 0.0, True,
        "first", ["SDG"]),
    ("ACR701", 2025): ((3, 4, 3, 2), "eligible", True, [], [
        _reason("L-IFM20", "leakage", "IFM with a 20% market-leakage deduction", f"{FRAMEWORK}#76")], 10.0,
        False, None, []),
    ("CAR1745", 2025): ((4, 4, 4, 4), "high", True, [], [
        _reason("A-ARR", "additionality", "restoration on degraded land", f"{FRAMEWORK}#74")], 0.0, True, None,
        ["CCB"]),
    ("CAR1749", 2025): ((4, 4, 4, 4), "high", True, [], [
        _reason("A-ARR", "additionality", "restoration on degraded land", f"{FRAMEWORK}#74")], 0.0, True, None,
        []),
    ("CAR1865", 2025): ((2, 3, 3, 2), "ineligible", False, [], [
        _reason("ADD_CLASS_NONE", "additionality", "additionality 2: CAR1865's protocol uses no credible "
                "additionality test", f"{FRAMEWORK} 7.4 base"),
        _reason("TIER_LIMITING_SCORE", "tier", "ineligible: limiting score 2 (additionality) < 3 required",
                f"{FRAMEWORK} 7.8")], 0.0, False, None, []),
    ("VCS1340", 2020): ((2, 3, 2, 1), "ineligible", False, ["G4", "G5"], [
        _reason("G4_LEGACY_REDD", "gate", "G4: VM0015 is a legacy project-baseline REDD methodology, excluded by "
                "the buyer policy (gates.exclude_legacy_redd)", f"{FRAMEWORK} 7.3 G4"),
        _reason("G5_VINTAGE", "gate", "G5: vintage 2020 < floor 2021", f"{FRAMEWORK} 7.3 G5"),
        _reason("ADD_CLASS_PROJECT_SPECIFIC_LEGACY", "additionality", "additionality 3: VM0015 uses a "
                "project-specific legacy test", f"{FRAMEWORK} 7.4 base"),
        _reason("LEAK_ACTIVITY_SHIFTING_ONLY", "leakage", "leakage 2: VM0015 uses activity-shifting leakage only",
                f"{FRAMEWORK} 7.6"),
        _reason("TIER_LIMITING_SCORE", "tier", "ineligible: limiting score 2 (leakage) < 3 required",
                f"{FRAMEWORK} 7.8")], 0.0, False, None, []),
    ("VCS1340", 2021): ((2, 3, 2, 1), "ineligible", False, ["G4"], [
        _reason("LEAK_ACTIVITY_SHIFTING_ONLY", "leakage", "leakage 2: VM0015 uses activity-shifting leakage only",
                f"{FRAMEWORK} 7.6"),
        _reason("G4_LEGACY_REDD", "gate", "G4: VM0015 is a legacy project-baseline REDD methodology, excluded by "
                "the buyer policy (gates.exclude_legacy_redd)", f"{FRAMEWORK} 7.3 G4")], 0.0, False, None, []),
}  # fmt: skip

QUALITY_SCORES_DDL = """
CREATE OR REPLACE TABLE quality_scores (
    project_id VARCHAR, registry VARCHAR, vintage BIGINT, activity VARCHAR, is_nature_based BOOLEAN,
    protocol VARCHAR, additionality_score INTEGER, permanence_score INTEGER, leakage_score INTEGER,
    over_crediting_score INTEGER, limiting_score INTEGER, quality_tier VARCHAR, is_eligible BOOLEAN,
    gates_failed VARCHAR[],
    reasons STRUCT(code VARCHAR, criterion VARCHAR, message VARCHAR, source VARCHAR[])[],
    haircut_pct DOUBLE, issued BIGINT, risk_adjusted_issued BIGINT, buffer_pct_observed DOUBLE,
    ccp_label BOOLEAN, corsia_phase VARCHAR, corresponding_adjustment BOOLEAN, co_benefit_labels VARCHAR[],
    policy_version VARCHAR
)"""


@dataclass
class Snapshot:
    """One state of the registry world: the inputs the inventory and publish stages read."""

    credits: list = field(default_factory=lambda: list(CREDITS))
    scores: dict = field(default_factory=lambda: dict(SCORES))
    statuses: dict = field(default_factory=dict)
    names: dict = field(default_factory=dict)
    rejected: dict = field(default_factory=lambda: {"climate-action-reserve": 0})
    file_suffix: str = "2026-04-14"

    def projects(self) -> pd.DataFrame:
        rows = []
        for line, (pid, reg, name, cc, country, activity, protocol, status) in enumerate(PROJECTS, start=2):
            rows.append(
                {"project_id": pid, "registry": reg, "name": self.names.get(pid, name), "proponent": None,
                 "status_raw": status, "status": self.statuses.get(pid, status), "country_code": cc, "country": country,
                 "methodology_raw": protocol, "protocol": protocol, "protocols": protocol, "project_type": None,
                 "category": "forest" if activity else "industrial", "is_nature_based": activity is not None,
                 "activity": activity, "crediting_period_start": None, "crediting_period_end": None,
                 "registration_date": None, "estimated_annual_reductions": None,
                 "source_file": f"data/raw/{reg}/{self.file_suffix}/projects.csv", "source_line": line}
            )  # fmt: skip
        return ProjectsSchema.validate(pd.DataFrame(rows), lazy=True)

    def credits_frame(self) -> pd.DataFrame:
        rows = []
        for line, (pid, reg, kind, vintage, qty, buffer, day) in enumerate(self.credits, start=2):
            rows.append(
                {"project_id": pid, "registry": reg, "transaction_type": kind, "vintage": vintage, "quantity": qty,
                 "transaction_date": pd.Timestamp(day), "serial_number": None, "buffer_quantity": buffer,
                 "methodology_version": None, "product_type": None, "ccp_label": None, "corsia_phase": None,
                 "corresponding_adjustment": None, "is_removal": None, "is_reversible": None,
                 "additional_certifications": None, "retirement_beneficiary": None, "retirement_reason": None,
                 "retirement_note": None, "project_known": True,
                 "source_file": f"data/raw/{reg}/{self.file_suffix}/{kind}s.csv", "source_line": line}
            )  # fmt: skip
        frame = pd.DataFrame(rows)
        frame["buffer_quantity"] = frame["buffer_quantity"].astype("Int64")
        return CreditsSchema.validate(frame, lazy=True)

    def quality_scores(self) -> pd.DataFrame:
        rows = []
        activity = {p[0]: (p[1], p[5], p[6]) for p in PROJECTS}
        for (pid, vintage), (scores, tier, ok, gates, reasons, haircut, ccp, corsia, cobens) in self.scores.items():
            registry, act, protocol = activity[pid]
            add, perm, leak, over = scores
            rows.append(
                {"project_id": pid, "registry": registry, "vintage": vintage, "activity": act,
                 "is_nature_based": act is not None, "protocol": protocol,
                 "additionality_score": add, "permanence_score": perm, "leakage_score": leak,
                 "over_crediting_score": over, "limiting_score": min(add, perm, leak), "quality_tier": tier,
                 "is_eligible": ok, "gates_failed": gates, "reasons": reasons, "haircut_pct": haircut,
                 "issued": None, "risk_adjusted_issued": None, "buffer_pct_observed": None, "ccp_label": ccp,
                 "corsia_phase": corsia, "corresponding_adjustment": False, "co_benefit_labels": cobens,
                 "policy_version": POLICY_VERSION}
            )  # fmt: skip
        return pd.DataFrame(rows)

    def load_audit(self) -> pd.DataFrame:
        rows = []
        for reg in sorted({c[1] for c in self.credits} | {p[1] for p in PROJECTS}):
            rejected = self.rejected.get(reg, 0)
            rows.append(
                {"registry": reg, "dataset": "issuances", "file": f"data/raw/{reg}/{self.file_suffix}/issuances.csv",
                 "file_sha256": hashlib.sha256(f"{reg}/{self.file_suffix}".encode()).hexdigest(), "rows_read": 100,
                 "rows_accepted": 100 - rejected, "rows_rejected": rejected}
            )  # fmt: skip
        return LoadAuditSchema.validate(pd.DataFrame(rows), lazy=True)

    def rejected_rows(self) -> pd.DataFrame:
        rows = [
            {"registry": reg, "dataset": "issuances", "source_file": f"data/raw/{reg}/{self.file_suffix}/issuances.csv",
             "source_line": 2 + i, "reason": "quantity '12.5' is not a whole number", "raw_record": "{}"}
            for reg, n in self.rejected.items() for i in range(n)
        ]  # fmt: skip
        frame = pd.DataFrame(rows, columns=list(RejectedRowsSchema.to_schema().columns))
        return RejectedRowsSchema.validate(frame, lazy=True)

    def write(self, work_db: Path) -> None:
        """Write the contract relations into the work DB as the ingest and warehouse stages do: one slice per
        registry (replacing the previous one) and ``projects``, ``credits``, ``rejected_rows`` and
        ``load_audit`` as views over the slices, as in production; then ``quality_scores``."""
        work_db.parent.mkdir(parents=True, exist_ok=True)
        frames = {"projects": self.projects(), "credits": self.credits_frame(), "audit": self.load_audit(),
                  "rejected": self.rejected_rows()}  # fmt: skip
        with duckdb.connect(str(work_db)) as conn:
            for registry in sorted(frames["audit"]["registry"]):
                mine = {name: frame.loc[frame["registry"] == registry].reset_index(drop=True)
                        for name, frame in frames.items()}  # fmt: skip
                replace_registry_slice(conn, RegistryLoad(registry, Path(work_db).parent, **mine))
            build_warehouse(conn)
            conn.execute(QUALITY_SCORES_DDL)
            conn.register("frame", self.quality_scores())
            conn.execute("INSERT INTO quality_scores BY NAME SELECT * FROM frame")
            conn.unregister("frame")


def first_snapshot() -> Snapshot:
    return Snapshot()


def second_snapshot() -> Snapshot:
    """Two weeks later: every change the change log and the alerts must report."""
    snap = Snapshot(file_suffix="2026-04-28")
    snap.credits.append(("CAR1749", "climate-action-reserve", "retirement", 2025, 2_563, None, "2026-04-20"))
    snap.credits.append(("ART102", "art-trees", "retirement", 2023, 10_000, None, "2026-04-27"))
    snap.statuses["ACR701"] = "on_hold"
    snap.scores[("ACR701", 2025)] = (
        (3, 4, 3, 2),
        "ineligible",
        False,
        ["G2"],
        [_reason("G2", "gate", "project status on hold at the registry", f"{FRAMEWORK}#73")],
        10.0,
        False,
        None,
        [],
    )
    snap.scores[("CAR1865", 2025)] = (
        (3, 3, 3, 2),
        "eligible",
        True,
        [],
        [_reason("A-MX", "additionality", "additionality score 3 after CCP label", f"{FRAMEWORK}#74")],
        0.0,
        True,
        None,
        [],
    )
    snap.scores[("ART102", 2023)] = (
        (4, 3, 5, 4),
        "eligible",
        True,
        [],
        [_reason("P-BUF", "permanence", "observed buffer below program minimum", f"{FRAMEWORK}#75")],
        0.0,
        True,
        "first",
        ["SDG"],
    )
    snap.rejected = {"climate-action-reserve": 25}
    return snap  # fmt: skip
