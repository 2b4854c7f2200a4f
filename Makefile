# The two commands: `make run` (the whole product on embedded defaults) and `make test`.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
CRM := $(VENV)/bin/crm
PYTEST_WORKERS ?= 2

.PHONY: install run test lint format clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

## Run the CRM: SQLite + embedded Redis, demo tenant, web server and job worker.
run: install
	$(CRM) db upgrade
	$(CRM) demo
	$(CRM) serve

## Lint, then the whole suite on PostgreSQL + Redis (when they answer) and on SQLite.
test: install lint
	$(PY) -m pytest -n $(PYTEST_WORKERS)
	CRM_TEST_DB=sqlite $(PY) -m pytest -n $(PYTEST_WORKERS) -m "not postgres"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
