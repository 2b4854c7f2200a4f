# The two commands: `make run` (the whole product on embedded defaults) and `make test`.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
CRM := $(VENV)/bin/crm
# Three workers on two cores: many tests wait on a browser, a subprocess or a server.
PYTEST_WORKERS ?= 3
# The SQLite run (the embedded default's database) repeats the whole suite but what does not
# depend on the database: browser journeys, the embedded run, the Tryton connector's tests and
# those marked ``once`` run in the first run only; ``postgres`` tests need row-level security.
# pytest-xdist hands tests out by work stealing, so one slow file does not hold up the end.
SQLITE_SKIP := not postgres and not browser and not embedded and not tryton and not once

.PHONY: install run test lint format clean translations

EXAMPLE_PLUGIN := examples/crm-plugin-hello

$(VENV)/.installed: pyproject.toml $(EXAMPLE_PLUGIN)/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]" -e $(EXAMPLE_PLUGIN)
	touch $@

install: $(VENV)/.installed

## Run the CRM: SQLite + embedded Redis, demo tenant, web server and job worker.
run: install
	$(CRM) db upgrade
	$(CRM) demo
	$(CRM) serve

## Lint, then the whole suite on PostgreSQL + Redis (when they answer), and again on SQLite.
test: install lint
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal --durations=15
	CRM_TEST_DB=sqlite $(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal -m "$(SQLITE_SKIP)" \
	  --durations=15

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Extract the UI's messages, merge them into every catalog, compile the .mo files (commit all).
## Then translate the new entries in crm_platform/translations/*/LC_MESSAGES/messages.po (no
## fuzzy or empty ones: tests/test_i18n.py fails on them) and run it again to compile.
TRANSLATIONS := crm_platform/translations
translations: install
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 --add-comments=TRANSLATORS: \
		--project=crm-platform --copyright-holder="CRM platform" -o $(TRANSLATIONS)/messages.pot .
	$(VENV)/bin/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --ignore-obsolete --no-fuzzy-matching
	$(VENV)/bin/pybabel compile -d $(TRANSLATIONS) --statistics

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
