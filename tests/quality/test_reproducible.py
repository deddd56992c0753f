"""Verdicts do not depend on the day the pipeline runs (issue 14 item 8): with the repository's policy (no pinned
``as_of_date``) the bundled data are assessed as of their own date, so two runs on different wall-clock days
store identical ``quality_scores``."""

from __future__ import annotations

import datetime as dt
import sys
import types

import dagster as dg
import duckdb
import pandas as pd
import pytest

from pipeline.registries import REGISTRY_KEYS
from tests.conftest import make_settings
from tests.quality.test_real_data_scoring import ASSETS, materialize_scores


def fake_clock(monkeypatch: pytest.MonkeyPatch, today: dt.date) -> None:
    """Every ``pipeline``/``assets`` module's ``datetime`` (``import datetime as dt`` or ``from datetime import
    datetime, date``) reads ``today`` as the current day."""
    moment = dt.datetime.combine(today, dt.time(12), tzinfo=dt.UTC)

    class FakeDatetime(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return moment if tz else moment.replace(tzinfo=None)

        @classmethod
        def utcnow(cls):
            return moment.replace(tzinfo=None)

        @classmethod
        def today(cls):
            return moment.replace(tzinfo=None)

    class FakeDate(dt.date):
        @classmethod
        def today(cls):
            return today

    clock = types.ModuleType("datetime")
    clock.__dict__.update({**vars(dt), "datetime": FakeDatetime, "date": FakeDate})
    for name, module in list(sys.modules.items()):
        if not name.startswith(("pipeline", "assets")):
            continue
        for attribute, value in list(vars(module).items()):
            if value is dt:
                monkeypatch.setattr(module, attribute, clock)
            elif value is dt.datetime:
                monkeypatch.setattr(module, attribute, FakeDatetime)
            elif value is dt.date:
                monkeypatch.setattr(module, attribute, FakeDate)


def test_two_wall_clock_days_give_identical_quality_scores(tmp_path, monkeypatch):
    settings = make_settings(tmp_path)  # the repository's policy: as_of_date null
    for registry in REGISTRY_KEYS:
        dg.materialize(
            ASSETS, selection=dg.AssetSelection.assets("registry_tables"), partition_key=registry,
            resources={"settings": settings},
        )  # fmt: skip
    dg.materialize(
        ASSETS, selection=dg.AssetSelection.assets("projects").required_multi_asset_neighbors(),
        resources={"settings": settings},
    )  # fmt: skip
    runs = {}
    for day in (dt.date(2026, 12, 4), dt.date(2031, 7, 1)):
        with monkeypatch.context() as patch:
            fake_clock(patch, day)
            materialize_scores(settings)
        with duckdb.connect(settings.work_db, read_only=True) as conn:
            runs[day] = conn.sql("SELECT * FROM quality_scores ORDER BY project_id, vintage").df()
    first, second = runs.values()
    assert len(first) > 300, "the bundled data are scored"
    assert first["assessed_on"].nunique() == 1
    # The bundled exports' latest transaction (an ACR issuance of 2026-04-14) dates the verdicts.
    assert first["assessed_on"].iloc[0] == pd.Timestamp("2026-04-14"), first["assessed_on"].iloc[0]
    pd.testing.assert_frame_equal(first, second, obj="quality_scores on 2026-12-04 vs 2031-07-01")
