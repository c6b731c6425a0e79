# Commands people type. `make run` serves a demo catalogue with its background
# worker; `make test` runs the tests on SQLite and, when PostgreSQL is
# installed, on PostgreSQL too.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PYTEST := $(BIN)/python -m pytest
# Debian keeps initdb and friends off PATH, in /usr/lib/postgresql/<version>/bin.
PG_BIN := $(lastword $(sort $(wildcard /usr/lib/postgresql/*/bin)))
ifneq ($(PG_BIN),)
export PATH := $(PATH):$(PG_BIN)
endif

.PHONY: run test lint check

# The server and the background worker that runs uploads (scripts/run-dev).
run: $(VENV)/.stamp-runtime
	$(BIN)/python manage.py migrate
	$(BIN)/python manage.py load_demo
	PYTHON=$(BIN)/python scripts/run-dev 127.0.0.1:8000

# pytest exits with 5 when it collects nothing: a broken suite, not a pass.
define pytest
$(1) $(PYTEST) || { status=$$?; \
	  if [ $$status -eq 5 ]; then echo "make test: no tests collected" >&2; fi; exit $$status; }
endef

test: $(VENV)/.stamp-dev
	$(call pytest,)
	@if command -v initdb >/dev/null; then \
	  echo "Running the suite again on a throwaway PostgreSQL"; \
	  $(call pytest,scripts/with-postgres); \
	elif [ -n "$$CI" ]; then \
	  echo "make test: initdb not found; CI needs PostgreSQL (apt-get install postgresql)" >&2; \
	  exit 1; \
	else \
	  echo "NOTICE: initdb not found, so the PostgreSQL pass was SKIPPED (SQLite only)."; \
	fi

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

check: $(VENV)/.stamp-runtime
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

# Django's deployment checklist (`check --deploy`), warnings failing too, with
# the production settings of deploy/catalogue.env.example and a fresh random
# SECRET_KEY for its placeholder. Nothing connects to the database.
.PHONY: deploy-check
deploy-check: $(VENV)/.stamp-runtime
	set -a && . deploy/catalogue.env.example && set +a && \
	  SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))') \
	  $(BIN)/python manage.py check --deploy --fail-level WARNING

# The virtualenv, reinstalled only when a requirements file changes.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.stamp-runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.stamp-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.stamp-runtime
