# The two commands: `make demo` and `make test`. Both set everything up on a fresh clone and are
# fast the second time (the venv and the Kafka jars are reused).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-12)
EDITOR_BUNDLE := catalog/service/static/vendor/workspace-editor.js
PYTEST_ARGS ?=
ARGS ?=
SYSTEM_EXTRAS ?= browser report

.PHONY: demo test setup system-deps docs-assets kafka-up kafka-down clean lock bench

demo: setup kafka-up
	$(BIN)/hub demo $(ARGS)

test: setup kafka-up
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest $(PYTEST_ARGS)

setup: $(STAMP) system-deps $(EDITOR_BUNDLE) docs-assets

# The analyst workspace's editor (CodeMirror 6): exact versions from web/package-lock.json, bundled by
# esbuild and served from the service's static folder; nothing is fetched when the service runs.
$(EDITOR_BUNDLE): web/package.json web/package-lock.json web/workspace-editor.js | system-deps
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-* && touch $@

system-deps:
	@scripts/system-deps.sh $(SYSTEM_EXTRAS)

# The Data Docs' scripts, styles and fonts from the npm registry (pinned in quality/docs_assets.py), so the
# docs load nothing from a CDN; fetched once into var/vendor/docs-assets.
docs-assets: $(STAMP) system-deps
	@$(BIN)/python -m quality.docs_assets fetch >/dev/null

kafka-up: $(STAMP)
	$(BIN)/hub kafka up

kafka-down:
	$(BIN)/hub kafka down

# Re-pin every installed package after changing requirements.in (exact versions, direct and transitive).
lock:
	$(BIN)/pip install -q -r requirements.in
	$(BIN)/pip freeze --all --exclude-editable --exclude pip > requirements.lock

bench: setup kafka-up
	$(BIN)/python bench/kafka_roundtrip.py

clean: kafka-down
	rm -rf var
