# Two commands do everything on a fresh machine with Python 3.11 or newer: `make run` and `make test`.
# The first of python3.11, python3.12, python3.13, python3 on PATH; override with PYTHON=/path/to/python3.x.
PYTHON ?= $(firstword $(foreach p,python3.11 python3.12 python3.13 python3,$(shell command -v $(p) 2>/dev/null)))
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster_home

.PHONY: run test ui sql bench export lint clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
		|| { echo "Python >= 3.11 needed ('$(PYTHON)' is not); set PYTHON=/path/to/python3.11+"; exit 1; }
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

## A read-only SQL shell on the published DuckDB file (statements end with ';', .tables, .quit).
sql: $(STAMP)
	$(PY) -m pipeline.publish.shell

## Benchmarks beside the peer (offsets-db-data) and the I/O floor; writes benchmarks/RESULTS.md.
bench: $(STAMP)
	$(PY) -m benchmarks.run

## Write the published inventory, quality scores, their reasons and the data dictionary as Parquet and CSV.
export: $(STAMP)
	$(PY) -m pipeline.publish.exports

lint: $(STAMP)
	$(VENV)/bin/ruff check pipeline assets tests benchmarks
	$(VENV)/bin/ruff format --check pipeline assets tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
