"""Property tests (hypothesis) over generated worlds of projects, issuances and methodology rows: the
invariants the rubric promises hold for any input, not only the golden cases."""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.quality.reference import (
    ADDITIONALITY_CLASSES,
    BASELINE_CLASSES,
    CCP_STATUSES,
    LEAKAGE_APPROACHES,
    REVERSAL_MECHANISMS,
)
from pipeline.quality.schemas import CRITERION_OF_SCORE, SCORE_COLUMNS
from tests.quality.builders import Case, issuance, methodology, project

PROPERTY_SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROTOCOLS = ("vm0047", "vm0007", "acr-ifm-nonfed")
ACTIVITY = {"vm0047": "ARR", "vm0007": "REDD", "acr-ifm-nonfed": "IFM"}
STATUSES = ("registered", "completed", "on_hold", "listed", "withdrawn")

methodology_rows = st.builds(
    lambda protocol, ccp, add, base, leak, mech, commit, buffer, deduction, reversible, legacy, superseded: methodology(
        protocol=protocol,
        methodology_id=protocol.upper(),
        activity=ACTIVITY[protocol],
        ccp_status=ccp,
        additionality_class=add,
        baseline_class=base,
        leakage_approach=leak,
        reversal_mechanism=mech,
        commitment_years=commit,
        min_buffer_pct=buffer,
        default_market_leakage_pct=deduction,
        is_reversible=reversible,
        legacy_project_baseline_redd=legacy,
        inactive_or_superseded=superseded,
        version_min="",
        version_max="",
    ),
    st.sampled_from(PROTOCOLS),
    st.sampled_from(CCP_STATUSES),
    st.sampled_from(ADDITIONALITY_CLASSES),
    st.sampled_from(BASELINE_CLASSES),
    st.sampled_from(LEAKAGE_APPROACHES),
    st.sampled_from(REVERSAL_MECHANISMS),
    st.one_of(st.none(), st.sampled_from([10.0, 20.0, 30.0, 40.0, 60.0, 100.0])),
    st.one_of(st.none(), st.floats(0, 40)),
    st.one_of(st.none(), st.floats(0, 40)),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)


@st.composite
def worlds(draw) -> Case:
    """Up to four projects over the three protocols, each with a handful of issued vintages."""
    references = draw(st.lists(methodology_rows, min_size=1, max_size=3, unique_by=lambda m: m["protocol"]))
    projects, credits = [], []
    for number in range(1, draw(st.integers(1, 4)) + 1):
        project_id = f"VCS{5000 + number}"
        protocol = draw(st.sampled_from(PROTOCOLS))
        projects.append(
            project(
                project_id,
                protocol=protocol,
                activity=ACTIVITY[protocol],
                status=draw(st.sampled_from(STATUSES)),
                registration_date=draw(st.sampled_from([None, "2019-05-01", "2020-04-06", "2024-03-01"])),
                crediting_period_end=draw(st.sampled_from([None, "2041-01-01", "2061-01-01", "2121-01-01"])),
            )
        )
        for vintage in draw(st.lists(st.integers(2012, 2026), min_size=1, max_size=5, unique=True)):
            quantity = draw(st.integers(1, 1_000_000))
            credits.append(
                issuance(
                    project_id,
                    vintage,
                    quantity,
                    buffer_quantity=draw(st.one_of(st.none(), st.integers(0, quantity))),
                    ccp_label=draw(st.one_of(st.none(), st.booleans())),
                    transaction_date=pd.Timestamp(f"{vintage + draw(st.integers(-1, 2))}-06-01"),
                )
            )
    return Case(projects=projects, credits=credits, methodologies=references)


def reasons_of(scored_row: pd.Series, criterion: str) -> list[str]:
    return [r["code"] for r in scored_row["reasons"] if r["criterion"] == criterion]


@PROPERTY_SETTINGS
@given(worlds())
def test_invariants_hold_for_any_world(world: Case):
    first, second = world.score(), world.score()
    pd.testing.assert_frame_equal(first, second, obj="re-running the same inputs and policy")
    for column in (*SCORE_COLUMNS, "limiting_score"):
        assert first[column].between(1, 5).all(), f"{column} left the 1-5 scale: {sorted(first[column].unique())}"
    core = first[["additionality_score", "permanence_score", "leakage_score"]].min(axis=1)
    assert (first["limiting_score"] == core).all(), "limiting score must be the minimum of the three core scores"
    gated = first["gates_failed"].map(len) > 0
    assert (~first.loc[gated, "is_eligible"]).all(), "a failed gate must always mean not eligible"
    assert (first.loc[gated, "quality_tier"] == "ineligible").all(), "a failed gate must mean tier ineligible"
    assert (first.loc[first["is_eligible"], "limiting_score"] >= 3).all(), "eligible needs a limiting score >= 3"
    for _, scored in first.iterrows():  # a handful of generated rows; the engine itself is vectorized
        for column, criterion in CRITERION_OF_SCORE.items():
            if scored[column] < 5:
                assert reasons_of(scored, criterion), f"{column} {scored[column]} has no {criterion} reason"


@PROPERTY_SETTINGS
@given(worlds(), st.integers(1, 500_000))
def test_a_larger_buffer_never_lowers_permanence(world: Case, extra: int):
    """More credits deposited in the buffer (same credits to the project) never lower the permanence score."""
    before = world.score().set_index(["project_id", "vintage"])["permanence_score"]
    # registries without buffer columns (Verra) stay unreported: the rule compares reported deposits only
    bigger = [
        {**c, "buffer_quantity": None if c["buffer_quantity"] is None else c["buffer_quantity"] + extra}
        for c in world.credits
    ]
    after = Case(world.projects, bigger, world.methodologies).score()
    after = after.set_index(["project_id", "vintage"])["permanence_score"]
    lowered = after[after < before.reindex(after.index)]
    assert lowered.empty, f"permanence fell when the buffer grew by {extra}: {lowered.to_dict()}"


@PROPERTY_SETTINGS
@given(worlds())
def test_no_rejected_or_legacy_redd_methodology_is_ever_eligible_or_high(world: Case):
    """Issue 14: whatever the labels, versions, dates and unknowns, a vintage scored under an ICVCM-rejected
    methodology or a legacy project-baseline REDD one (default policy) is never eligible, never high."""
    scores = world.score()
    rows_by_protocol = {m["protocol"]: m for m in world.methodologies}
    reference = scores["protocol"].map(lambda p: rows_by_protocol.get(p, {}))  # a handful of generated rows
    rejected = reference.map(lambda m: m.get("ccp_status") == "rejected").astype(bool)
    legacy = reference.map(lambda m: bool(m.get("legacy_project_baseline_redd"))).astype(bool)
    barred = scores[rejected | legacy]
    assert not barred["is_eligible"].any(), barred[["project_id", "vintage", "quality_tier", "gates_failed"]]
    assert not (barred["quality_tier"] == "high").any(), barred[["project_id", "vintage", "quality_tier"]]
    held = scores["quality_tier"] == "needs_review"
    assert not scores.loc[held, "is_eligible"].any(), "needs_review rows are held out of the inventory"
