# Inkwell — every command installs what it needs first, so each works on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app app

.PHONY: install install-dev run migrate test lint format seed bench clean browser loadtest

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

test: install-dev browser          ## install and run every test (PostgreSQL and Redis tests included)
	$(BIN)/pytest

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

browser:                           ## headless Chromium + chromedriver for the /docs browser test (Debian packages)
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		$(SUDO) apt-get update && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; \
	fi

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

seed: migrate                      ## bulk data for load tests: make seed ARGS="--users 1000 --posts 10000"
	$(FLASK) seed $(ARGS)

# Locust is heavy (gevent), so it is its own extra: make loadtest HOST=http://127.0.0.1:8000 KEYS=var/seed.keys
HOST ?= http://127.0.0.1:8000
KEYS ?= var/seed.keys
loadtest: install                  ## seed first (make seed ARGS="... --keys-out var/seed.keys --unlimited"), then run locust headless
	$(BIN)/pip install --quiet ".[bench]"
	INKWELL_KEYS_FILE=$(KEYS) $(BIN)/locust -f bench/locustfile.py --headless -u 50 -r 10 -t 60s --host $(HOST)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache build *.egg-info
