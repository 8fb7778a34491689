# Inkwell — every command installs what it needs first, so each works on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app app

.PHONY: install install-dev run migrate test lint format seed bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.3

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet ".[dev]"
	touch $(VENV)/.runtime $@

install: $(VENV)/.runtime          ## create .venv and install the pinned runtime dependencies

install-dev: $(VENV)/.dev          ## runtime + test/lint tools

migrate: install                   ## bring the configured database to the newest schema
	$(FLASK) db-upgrade

run: migrate                       ## install, migrate, serve on http://127.0.0.1:8000 (SQLite, in-process cache/limits)
	$(FLASK) serve

test: install-dev                  ## install and run every test (PostgreSQL and Redis tests included)
	$(BIN)/pytest

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

seed: migrate                      ## bulk data for load tests: make seed ARGS="--users 1000 --posts 10000"
	$(FLASK) seed $(ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache build *.egg-info
