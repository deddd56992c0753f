"""The CREDIT_QUALITY_* environment, read through the typed settings model."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from pipeline.settings import REPO_ROOT, Environment, Paths


def test_paths_default_to_the_repository_and_follow_the_curated_db(monkeypatch, tmp_path):
    for name in ("RAW_DIR", "CURATED_DB", "WORK_DB", "LEDGER_DB", "POLICY", "REFERENCE_DIR"):
        monkeypatch.delenv(f"CREDIT_QUALITY_{name}", raising=False)
    assert Paths.from_env().raw_dir == REPO_ROOT / "data" / "raw"
    monkeypatch.setenv("CREDIT_QUALITY_CURATED_DB", str(tmp_path / "out" / "inventory.duckdb"))
    monkeypatch.setenv("CREDIT_QUALITY_RAW_DIR", "")  # set but empty: the default, not the current directory
    paths = Paths.from_env()
    assert paths.raw_dir == REPO_ROOT / "data" / "raw", f"an empty variable must mean the default: {paths.raw_dir}"
    assert paths.work_db == tmp_path / "out" / "work" / "pipeline.duckdb", paths.work_db
    assert paths.ledger_db == tmp_path / "out" / "ledger.duckdb", paths.ledger_db


def test_paths_are_absolute(monkeypatch):
    monkeypatch.setenv("CREDIT_QUALITY_POLICY", "~/policy.yaml")
    monkeypatch.setenv("CREDIT_QUALITY_RAW_DIR", "relative/raw")
    paths = Paths.from_env()
    assert paths.policy == Path.home() / "policy.yaml", paths.policy
    assert paths.raw_dir == Path.cwd() / "relative" / "raw", paths.raw_dir


@pytest.mark.parametrize(("value", "enabled"), [("online", True), ("ONLINE", True), ("1", True), ("offline", False)])
def test_downloads_switch(monkeypatch, value, enabled):
    monkeypatch.setenv("CREDIT_QUALITY_DOWNLOADS", value)
    assert Environment().downloads is enabled, f"CREDIT_QUALITY_DOWNLOADS={value}"


def test_a_malformed_value_names_its_variable(monkeypatch):
    monkeypatch.setenv("CREDIT_QUALITY_DOWNLOADS", "sometimes")
    with pytest.raises(pydantic.ValidationError, match="downloads"):
        Environment()
