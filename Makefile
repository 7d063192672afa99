# Two commands matter: `make run` and `make test`. Everything else is a step of those.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CATALOGUES := $(wildcard i18n/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGUES:.po=.mo)
export PORT ?= 8000

.PHONY: run test lint types check-messages messages migrate seed unit functional browser bench clean

run: install migrate seed
	$(BIN)/python -m portal run

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found)."; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the project's dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(STAMP) $(COMPILED)

i18n/%/LC_MESSAGES/messages.mo: i18n/%/LC_MESSAGES/messages.po | $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -d i18n -D messages -l $* >/dev/null

migrate: install
	$(BIN)/python -m portal migrate

seed: install
	$(BIN)/python -m portal seed-demo

# The suite runs twice: on SQLite, then on PostgreSQL (required in CI, optional elsewhere).
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/test

test: lint types
	@echo "== test suite on SQLite =="
	env -u DATABASE_URL $(BIN)/python -m pytest
	@if $(BIN)/python -m tests.pg_available "$(PG_TEST_URL)"; then \
		echo "== test suite on PostgreSQL =="; \
		DATABASE_URL="$(PG_TEST_URL)" $(BIN)/python -m pytest; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL is required in CI ($(PG_TEST_URL))."; exit 1; \
	else \
		echo "PostgreSQL not reachable at $(PG_TEST_URL): the suite ran on SQLite only."; \
	fi

lint: install
	$(BIN)/ruff check portal tests bench
	$(BIN)/ruff format --check portal tests bench
	$(BIN)/lint-imports

types: install
	$(BIN)/mypy

# Extract every string, then update the three catalogues; translate, then `make install`.
messages: $(STAMP)
	$(BIN)/pybabel extract -F pyproject.toml -k _l -k lazy --no-location --sort-output \
		--omit-header -o i18n/messages.pot .
	for lang in fr nl en; do \
		if [ -f i18n/$$lang/LC_MESSAGES/messages.po ]; then \
			$(BIN)/pybabel update --no-fuzzy-matching -i i18n/messages.pot -d i18n -l $$lang; \
		else \
			$(BIN)/pybabel init -i i18n/messages.pot -d i18n -l $$lang; \
		fi; \
	done
	$(BIN)/pybabel compile -d i18n -D messages

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var/test-* .pytest_cache .mypy_cache .ruff_cache
