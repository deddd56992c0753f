"""The readers' shared normalisations read their reference tables from the reference directory setting."""

from __future__ import annotations

import json
import shutil

import pandas as pd

from pipeline.ingest import climate_action_reserve, normalize
from pipeline.settings import REPO_ROOT

CAR_PROJECTS = REPO_ROOT / "data" / "raw" / "climate-action-reserve" / "projects.csv"


def test_reference_tables_come_from_the_reference_dir_setting(tmp_path, monkeypatch):
    elsewhere = tmp_path / "reference"
    shutil.copytree(REPO_ROOT / "data" / "reference", elsewhere)
    types = json.loads((elsewhere / "berkeley-project-types.json").read_text(encoding="utf-8"))
    types["CAR1957"] = "wetland restoration"  # Berkeley's own type of CAR1957 is another
    (elsewhere / "berkeley-project-types.json").write_text(json.dumps(types), encoding="utf-8")
    mapping = json.loads((elsewhere / "protocol-mapping.json").read_text(encoding="utf-8"))
    mapping["vm0007"]["known-strings"].append("Our own REDD method")
    (elsewhere / "protocol-mapping.json").write_text(json.dumps(mapping), encoding="utf-8")

    def car1957() -> list[str]:
        projects = climate_action_reserve.DATASETS["projects"](CAR_PROJECTS).accepted.set_index("project_id")
        return projects.loc["CAR1957", ["project_type", "category"]].tolist()

    monkeypatch.delenv("CREDIT_QUALITY_REFERENCE_DIR", raising=False)
    assert car1957()[0] != "wetland restoration", "the bundled tables give CAR1957 another type (premise)"
    assert normalize.protocols(pd.Series(["Our own REDD method"]))[0].tolist() == ["unknown"], "premise"

    monkeypatch.setenv("CREDIT_QUALITY_REFERENCE_DIR", str(elsewhere))
    assert car1957() == ["wetland restoration", "land-use"], (
        "the CAR reader ignored the Berkeley types (or their categories) of CREDIT_QUALITY_REFERENCE_DIR"
    )
    assert normalize.protocols(pd.Series(["Our own REDD method"]))[0].tolist() == ["vm0007"], (
        "protocols ignored the protocol mapping of CREDIT_QUALITY_REFERENCE_DIR"
    )
