# The two set-up commands of the README: `make demo` and `make test`. Each creates or reuses
# .venv and installs the project into it (editable, with test and docs extras).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install services clean editor-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,docs]'
	# mysqlclient (C) reads MySQL ~3x faster than pymysql; it builds against libmariadb-dev. Optional:
	# without it the MySQL drivers fall back to pymysql.
	pkg-config --exists libmariadb || (command -v apt-get >/dev/null && (apt-get install -y -qq libmariadb-dev pkg-config gcc >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq libmariadb-dev pkg-config gcc >/dev/null 2>&1))) || true
	$(BIN)/python -m pip install --quiet -e '.[fast]' || echo "mysqlclient not installed: MySQL drivers use pymysql"
	touch $(STAMP)

install: $(STAMP)

services:
	bash scripts/ensure-services.sh

demo: $(STAMP)
	bash scripts/demo.sh

# Neovim, chromium, code-server, playwright-core, vsce for the `editor` tests (cached, idempotent).
editor-deps:
	bash tests/editors/setup-editor-deps.sh

test: $(STAMP) services editor-deps
	$(BIN)/python -m pytest --cov=osiris_runtime --cov-report=term
	# The registry and the error mapper must stay above 90% line coverage.
	$(BIN)/python -m coverage report --include='*/osiris_runtime/registry.py,*/osiris_runtime/friendly.py' --fail-under=90

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .coverage
