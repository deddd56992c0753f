"""Buyer screening: each of the three conditions at its boundary, with its plain reason."""

import pandas as pd
import pytest

from pipeline.buyers.policy import BuyerPolicy
from pipeline.buyers.screening import ELIGIBLE_REASON, screen_buyers
from pipeline.policy import load_policy
from pipeline.settings import REPO_ROOT
from tests.buyers.scenario import AS_OF, POLICY_VERSION, buyers_frame

POLICY = load_policy(REPO_ROOT / "data" / "policy.yaml").buyers


def screen(*changes: dict, policy: BuyerPolicy = POLICY) -> pd.DataFrame:
    return screen_buyers(buyers_frame(*changes), policy, AS_OF, POLICY_VERSION).set_index("buyer_id")


def test_policy_file_states_the_program_rules():
    assert POLICY.net_zero_latest_year == 2050, "policy file should cap the net-zero year at 2050"
    assert POLICY.net_zero_required_scopes == [1, 2, 3], "policy file should require scopes 1, 2 and 3"
    assert POLICY.disclosure_max_age_months == 18, "policy file should use the 18-month disclosure window"


def test_a_buyer_meeting_all_three_conditions_is_eligible():
    row = screen({}).loc["B1"]
    assert row["is_eligible"], f"the reference buyer should qualify, got: {row['reason']}"
    assert row["reason"] == ELIGIBLE_REASON, f"eligible buyer should carry the all-pass reason, got {row['reason']!r}"
    assert row["net_zero_reason"].startswith("net-zero target 2045 is no later than 2050"), row["net_zero_reason"]


def test_net_zero_2050_passes_and_2051_fails():
    result = screen({"net_zero_target_year": 2050}, {"net_zero_target_year": 2051})
    assert result.at["B1", "net_zero_pass"], "a 2050 net-zero target is no later than 2050 and must pass"
    assert not result.at["B2", "net_zero_pass"], "a 2051 net-zero target must fail condition 1"
    assert not result.at["B2", "is_eligible"], "a buyer failing condition 1 must not be eligible"
    assert result.at["B2", "net_zero_reason"] == "net-zero target 2051 is later than 2050", (
        f"unexpected reason {result.at['B2', 'net_zero_reason']!r}"
    )
    assert result.at["B2", "net_zero_target_year"] == 2051, "the input value should sit next to the verdict"


def test_missing_scope_3_fails_and_says_so():
    result = screen({"net_zero_scopes": "1;2"}, {"net_zero_scopes": "3;1;2"}, {"net_zero_scopes": None})
    assert not result.at["B1", "net_zero_pass"], "a target covering only scopes 1 and 2 must fail"
    assert result.at["B1", "net_zero_reason"] == "net-zero target 2045 does not cover scope 3", (
        f"unexpected reason {result.at['B1', 'net_zero_reason']!r}"
    )
    assert result.at["B2", "net_zero_pass"], "scopes listed in any order cover 1, 2 and 3"
    assert result.at["B3", "net_zero_reason"] == "net-zero target 2045 does not cover scope 1, scope 2, scope 3"


def test_no_net_zero_year_fails():
    row = screen({"net_zero_target_year": None}).loc["B1"]
    assert not row["net_zero_pass"] and row["net_zero_reason"] == "no net-zero target year", row["net_zero_reason"]


def test_disclosure_exactly_18_months_old_passes_one_day_older_fails():
    result = screen({"last_disclosure_date": "2025-05-29"}, {"last_disclosure_date": "2025-05-28"})
    assert result.at["B1", "disclosure_pass"], "a disclosure exactly 18 months before the screening date is in"
    assert not result.at["B2", "disclosure_pass"], "a disclosure one day older than 18 months is stale"
    assert result.at["B2", "disclosure_reason"] == (
        "last disclosure 2025-05-28 is older than the 18-month policy window (cutoff 2025-05-29)"
    ), f"unexpected reason {result.at['B2', 'disclosure_reason']!r}"
    assert result.at["B2", "reason"] == result.at["B2", "disclosure_reason"], "the only failing reason is the summary"


def test_stale_disclosure_from_2022_fails():
    row = screen({"last_disclosure_date": "2022-06-30"}).loc["B1"]
    assert not row["is_eligible"], "a 2022 disclosure screened in November 2026 is stale"
    assert "older than the 18-month policy window" in row["reason"], row["reason"]


def test_irregular_cadence_and_missing_disclosure_fail():
    result = screen({"disclosure_cadence": "biennial"}, {"last_disclosure_date": None})
    assert not result.at["B1", "disclosure_pass"], "a biennial cadence is not regular disclosure"
    assert "disclosure cadence 'biennial' is not one of" in result.at["B1", "disclosure_reason"]
    assert result.at["B2", "disclosure_reason"] == "no public emissions disclosure date"


def test_science_target_validated_or_recent_commitment_pass():
    result = screen(
        {"science_target_status": "validated", "science_target_date": "2019-01-01"},
        {"science_target_status": "committed", "science_target_date": "2024-11-29"},
        {"science_target_status": "committed", "science_target_date": "2024-11-28"},
        {"science_target_status": "none", "science_target_date": None},
    )
    assert result.at["B1", "science_target_pass"], "a validated target counts regardless of its age"
    assert result.at["B2", "science_target_pass"], "a commitment exactly 24 months old still counts"
    assert not result.at["B3", "science_target_pass"], "a commitment older than 24 months has lapsed"
    assert "more than 24 months ago" in result.at["B3", "science_target_reason"], result.at[
        "B3", "science_target_reason"
    ]
    assert (
        result.at["B4", "science_target_reason"]
        == "science-based target status 'none' is not one of validated, committed"
    )


def test_policy_can_require_validation():
    strict = POLICY.model_copy(update={"science_target_statuses": ["validated"]})
    row = screen({"science_target_status": "committed", "science_target_date": "2026-01-01"}, policy=strict).loc["B1"]
    assert not row["science_target_pass"], "with only 'validated' accepted, a fresh commitment must fail"


def test_every_failing_condition_is_in_the_summary_reason():
    row = screen({"net_zero_target_year": 2060, "disclosure_cadence": "none", "science_target_status": "expired"}).loc[
        "B1"
    ]
    assert not (row["net_zero_pass"] or row["disclosure_pass"] or row["science_target_pass"]), "all three should fail"
    assert row["reason"].count("; ") == 2, f"three failing reasons joined by '; ', got {row['reason']!r}"


def test_unknown_policy_values_are_rejected():
    with pytest.raises(ValueError, match="disclosure_cadences"):
        BuyerPolicy(disclosure_cadences=["monthly-ish"])
    with pytest.raises(ValueError, match="default_min_tier"):
        BuyerPolicy(tier_order=["high"], default_min_tier="eligible")
