# The two set-up commands of the README: `make demo` and `make test`. Each creates or reuses
# .venv and installs the project into it (editable, with test and docs extras).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install services clean editor-deps docs docs-build vscode-modules

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,docs]'
	# mysqlclient (C) reads MySQL ~3x faster than pymysql; it builds against libmariadb-dev. Optional:
	# without it the MySQL drivers fall back to pymysql.
	pkg-config --exists libmariadb || (command -v apt-get >/dev/null && (apt-get install -y -qq libmariadb-dev pkg-config gcc >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq libmariadb-dev pkg-config gcc >/dev/null 2>&1))) || true
	$(BIN)/python -m pip install --quiet -e '.[fast]' || echo "mysqlclient not installed: MySQL drivers use pymysql"
	touch $(STAMP)

# What the checkout derives, with its own stamp so that pulling a source or spec change redoes this
# and not the whole install. The built-in specs, checked once: a CLI's first run and the language
# server skip re-checking them. Bytecode, as a wheel install writes it: an editable install has none,
# and where PYTHONDONTWRITEBYTECODE is set every start would compile the sources again. The code of
# the runtime's dataclass methods and `osiris --help` at each width: the CLI's start needs neither a
# compile nor click for them (a changed source simply misses).
DERIVED := $(VENV)/.derived
$(DERIVED): $(STAMP) $(wildcard components/*/spec.yaml) components/spec.schema.json $(shell find osiris_runtime osiris_lsp -name '*.py')
	$(BIN)/python -m osiris_runtime.registry
	$(BIN)/python -m osiris_runtime.code_cache
	$(BIN)/python -m osiris_runtime.cli.group_help
	$(BIN)/python -m compileall -q osiris_runtime osiris_lsp
	touch $@

install: $(STAMP) $(DERIVED)

services:
	bash scripts/ensure-services.sh

demo: install
	bash scripts/demo.sh

# The documentation site (mkdocs.yml) on http://127.0.0.1:8000, rebuilt on every change.
# Set OSIRIS_DOCS_URL=http://127.0.0.1:8000 to have the CLI's `see:` links point at it.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --strict

# The site as static files under site/ (the tests build it too: tests/docs/test_site.py).
docs-build: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# Neovim, chromium, code-server, playwright-core, vsce for the `editor` tests (cached, idempotent).
editor-deps:
	bash tests/editors/setup-editor-deps.sh

# The VS Code extension's npm modules (TypeScript, esbuild, vsce, vscode-languageclient), exactly as
# package-lock.json pins them; the editor tests type-check, bundle and package it from these.
VSCODE := editors/vscode
$(VSCODE)/node_modules/.installed: $(VSCODE)/package-lock.json
	cd $(VSCODE) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

vscode-modules: $(VSCODE)/node_modules/.installed

test: install services editor-deps vscode-modules
	$(BIN)/python -m pytest --cov=osiris_runtime --cov-report=term
	# The registry and the error mapper must stay above 90% line coverage.
	$(BIN)/python -m coverage report --include='*/osiris_runtime/registry.py,*/osiris_runtime/friendly.py' --fail-under=90

clean:
	rm -rf $(VENV) build dist site *.egg-info .pytest_cache .coverage
