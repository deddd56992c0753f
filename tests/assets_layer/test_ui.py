"""The real Dagster webserver on 127.0.0.1: the code location loads and shows the assets, checks, schedule and
sensor, with the schedule and sensor running (asserted through its GraphQL API)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from assets import run
from assets.definitions import definitions
from pipeline.settings import REPO_ROOT
from tests.conftest import make_settings

WEBSERVER = Path(sys.executable).parent / "dagster-webserver"
LOCATION = "credit_quality"

EXPECTED_ASSETS = {
    "registry_snapshot": "raw",
    "berkeley_vrod_snapshot": "raw",
    "registry_tables": "ingest",
    "vrod_tables": "market",
    "supply_reconciliation": "market",
    "projects": "warehouse",
    "credits": "warehouse",
    "rejected_rows": "warehouse",
    "load_audit": "warehouse",
    "quality_scores": "scoring",
    "eligible_inventory": "inventory",
    "buyer_eligibility": "buyers",
    "order_allocations": "buyers",
    "retirement_ledger": "buyers",
    "published_inventory": "publish",
    "inventory_exports": "publish",
    "inventory_report": "publish",
}
"""Every asset of the architecture and its group. Assets not built yet are skipped; once present, their
group is asserted. Add new assets here."""
REQUIRED_ASSETS = {"registry_snapshot", "registry_tables", "inventory_report"}
REQUIRED_CHECKS = {("registry_snapshot", "snapshot_present"), ("registry_tables", "rows_conserved")}
RUNNING = {"schedules": {"daily_full_refresh"}, "sensors": {"new_raw_snapshot"}}

QUERY = """
{
  workspaceOrError {
    __typename
    ... on Workspace { locationEntries { name loadStatus
        locationOrLoadError { __typename ... on PythonError { message } } } }
  }
  repositoriesOrError {
    __typename
    ... on RepositoryConnection { nodes {
        name
        location { name }
        assetNodes { assetKey { path } groupName description isExecutable
          assetChecksOrError { __typename ... on AssetChecks { checks { name description } } } }
        schedules { name scheduleState { status } }
        sensors { name sensorState { status } }
    } }
  }
}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _reset_signals() -> None:
    # A non-interactive parent starts background children with SIGINT ignored; Dagster then ignores SIGTERM
    # too (dagster-guide 3.5). Restore both so the server can be stopped cleanly.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    if not WEBSERVER.exists():
        pytest.skip(f"dagster-webserver not installed at {WEBSERVER}")
    tmp = tmp_path_factory.mktemp("ui")
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = os.environ | {
        "DAGSTER_HOME": str(home),
        "CREDIT_QUALITY_RAW_DIR": str(REPO_ROOT / "data" / "raw"),
        "CREDIT_QUALITY_CURATED_DB": str(tmp / "curated" / "inventory.duckdb"),
    }
    port = _free_port()
    log = (tmp / "webserver.log").open("w")
    process = subprocess.Popen(
        [str(WEBSERVER), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_reset_signals,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"dagster-webserver exited early:\n{(tmp / 'webserver.log').read_text()[-3000:]}")
            try:
                payload = _graphql(port, QUERY)
                entries = payload["data"]["workspaceOrError"].get("locationEntries", [])
                if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                    break
            except (urllib.error.URLError, ConnectionError, KeyError, TypeError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"webserver not ready in 180 s:\n{(tmp / 'webserver.log').read_text()[-3000:]}")
            time.sleep(1)
        yield payload["data"] | {"port": port, "home": home, "tmp": tmp}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def _repository(data: dict) -> dict:
    assert data["repositoriesOrError"]["__typename"] == "RepositoryConnection", data["repositoriesOrError"]
    (repository,) = [r for r in data["repositoriesOrError"]["nodes"] if r["location"]["name"] == LOCATION]
    return repository


@pytest.mark.slow
def test_code_location_loads(webserver):
    entries = {e["name"]: e for e in webserver["workspaceOrError"]["locationEntries"]}
    assert LOCATION in entries, f"code location {LOCATION} missing: {list(entries)}"
    error = entries[LOCATION]["locationOrLoadError"]
    assert error["__typename"] == "RepositoryLocation", f"code location failed to load: {error.get('message')}"


@pytest.mark.slow
def test_assets_are_present_grouped_and_documented(webserver):
    nodes = {"/".join(n["assetKey"]["path"]): n for n in _repository(webserver)["assetNodes"] if n["isExecutable"]}
    missing = REQUIRED_ASSETS - set(nodes)
    assert not missing, f"assets missing from the UI: {missing}"
    unknown = set(nodes) - set(EXPECTED_ASSETS)
    assert not unknown, f"assets not in the architecture (add them to EXPECTED_ASSETS): {unknown}"
    wrong_group = {k: n["groupName"] for k, n in nodes.items() if n["groupName"] != EXPECTED_ASSETS[k]}
    assert not wrong_group, f"assets in the wrong group: {wrong_group}"
    undocumented = [k for k, n in nodes.items() if not (n["description"] or "").strip()]
    assert not undocumented, f"assets without a description in the UI: {undocumented}"


@pytest.mark.slow
def test_checks_are_present_and_documented(webserver):
    checks = {
        ("/".join(n["assetKey"]["path"]), c["name"]): c["description"]
        for n in _repository(webserver)["assetNodes"]
        if n["assetChecksOrError"]["__typename"] == "AssetChecks"
        for c in n["assetChecksOrError"]["checks"]
    }
    missing = REQUIRED_CHECKS - set(checks)
    assert not missing, f"asset checks missing from the UI: {missing}"
    undocumented = [key for key, description in checks.items() if not (description or "").strip()]
    assert not undocumented, f"asset checks without a description: {undocumented}"


@pytest.mark.slow
def test_schedule_and_sensor_are_running(webserver):
    repository = _repository(webserver)
    schedules = {s["name"]: s["scheduleState"]["status"] for s in repository["schedules"]}
    sensors = {s["name"]: s["sensorState"]["status"] for s in repository["sensors"]}
    for name in RUNNING["schedules"]:
        assert schedules.get(name) == "RUNNING", f"schedule {name} should be RUNNING, UI shows {schedules}"
    for name in RUNNING["sensors"]:
        assert sensors.get(name) == "RUNNING", f"sensor {name} should be RUNNING, UI shows {sensors}"


REEXECUTE = """
mutation {
  launchPipelineReexecution(reexecutionParams: {parentRunId: "%s", strategy: ALL_STEPS}) {
    __typename
    ... on LaunchRunSuccess { run { runId jobName tags { key value } } }
    ... on PythonError { message }
  }
}
"""
RUN_STATUS = '{ runOrError(runId: "%s") { __typename ... on Run { status } } }'


@pytest.mark.slow
def test_a_make_run_run_is_re_executed_from_the_ui(webserver):
    """What the UI's "Re-execute" button sends (the parent run's id) queues a new run of the same job; a run
    without the code location's origin (as ``execute_in_process`` or ``materialize`` record) cannot be."""
    settings = make_settings(webserver["tmp"] / "make_run")
    job = definitions(settings).resolve_job_def("registry_refresh")
    with (
        dg.DagsterInstance.from_config(str(webserver["home"])) as instance,
        run.workspace_location(instance) as location,
    ):
        parent = run.launch(location, job, instance, partition="art-trees")
        without_origin = job.execute_in_process(instance=instance, partition_key="art-trees")
    assert parent.success and without_origin.success, "the registry_refresh runs failed"

    launched = _graphql(webserver["port"], REEXECUTE % parent.run_id)["data"]["launchPipelineReexecution"]
    assert launched["__typename"] == "LaunchRunSuccess", f"the UI cannot re-execute a make run run: {launched}"
    child = launched["run"]
    assert child["jobName"] == "registry_refresh", child
    assert {"key": "dagster/partition", "value": "art-trees"} in child["tags"], "the re-execution keeps the partition"
    status = _graphql(webserver["port"], RUN_STATUS % child["runId"])["data"]["runOrError"]["status"]
    assert status in ("QUEUED", "STARTING", "STARTED", "SUCCESS"), f"the re-executed run is {status}"

    try:
        refused = _graphql(webserver["port"], REEXECUTE % without_origin.run_id)["data"]["launchPipelineReexecution"]
        outcome = refused["__typename"]
    except urllib.error.HTTPError as error:  # the server fails the request on a run without an origin
        outcome = f"HTTP {error.code}"
    assert outcome != "LaunchRunSuccess", "premise: a run without an origin cannot be re-executed from the UI"
