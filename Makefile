# Two commands do everything on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster_home

.PHONY: run test ui bench export lint clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11+"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	@cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

## Materialize every asset headless on the bundled data in data/raw and print a summary.
run: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m assets.run

## Run the test suite (offline, deterministic).
test: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m pytest -n 2 -q

## Start the Dagster UI on http://127.0.0.1:3000 (schedules and sensors run while it is up).
ui: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

## Benchmarks beside the peer (offsets-db-data) and the I/O floor; writes benchmarks/RESULTS.md.
bench: $(STAMP)
	$(PY) -m benchmarks.run

## Write the published inventory, quality scores, their reasons and the data dictionary as Parquet and CSV.
export: $(STAMP)
	$(PY) -m pipeline.publish.exports

lint: $(STAMP)
	$(VENV)/bin/ruff check pipeline assets tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
