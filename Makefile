# Inkwell — every command installs what it needs first, so each works on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app app

.PHONY: install install-dev run migrate test lint format seed bench bench-scale bench-steps bench-soak clean system-packages loadtest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.3

$(VENV)/.runtime: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt .
	touch $@

$(VENV)/.dev: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt ".[dev]"
	touch $(VENV)/.runtime $@

install: $(VENV)/.runtime          ## create .venv and install the pinned runtime dependencies

install-dev: $(VENV)/.dev          ## runtime + test/lint tools

migrate: install                   ## bring the configured database to the newest schema
	$(FLASK) db-upgrade

run: migrate                       ## install, migrate, serve on http://127.0.0.1:8000 (SQLite, in-process cache/limits)
	$(FLASK) serve

test: install-dev system-packages node_modules  ## install and run every test (PostgreSQL and Redis tests included)
	$(BIN)/pytest

# Node tools the tests drive (Redocly CLI lints /openapi.json; axe-core checks the console pages in
# Chromium): exactly what package-lock.json pins, reinstalled when node_modules is missing or older
# than the lock file. Node.js >= 20.19 and npm come with the machine (Debian's own nodejs is too
# old for the pinned CLI).
node_modules: package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: Node.js >= 20.19 with npm is needed" >&2; exit 1; }
	npm ci --no-audit --no-fund
	touch $@

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages the tests and benchmarks drive: headless Chromium + chromedriver (the /docs
# browser test), wrk (the benchmark and its smoke test) and pgbouncer (the tests start a private
# one in front of PostgreSQL, in transaction mode). Installed only when missing.
APT := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300
system-packages:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || ! command -v wrk >/dev/null \
		|| [ ! -x /usr/sbin/pgbouncer ]; then \
		$(APT) update && $(APT) install -y chromium chromium-driver wrk pgbouncer; \
	fi

lint: install-dev                  ## ruff (style, imports) and mypy (types) over the application packages
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

seed: migrate                      ## bulk data for load tests: make seed ARGS="--users 1000 --posts 10000"
	$(FLASK) seed $(ARGS)

bench: install-dev system-packages ## wrk: bare Flask+waitress vs Inkwell in the same run -> bench/results.md
	$(BIN)/python bench/run.py

# Two checkouts, one scenario, interleaved: make bench-ab A=../old B=. SCENARIO=uncached
A ?= .
B ?= .
SCENARIO ?= cached
bench-ab: install-dev system-packages ## one scenario of make bench on checkouts A and B, in turns
	$(BIN)/python bench/ab.py $(A) $(B) --scenario $(SCENARIO)

# The section 7 targets at a million posts (seeded once into var/bench-scale/ and a PostgreSQL
# database, reseeded when the schema changes): ARGS="--posts 100000 ..." for another size.
bench-scale: install-dev           ## search, cursors, totals under writes, import at 1M posts, both engines
	$(BIN)/python bench/scale.py $(ARGS)

bench-instructions: install-dev     ## instructions per in-process cached GET (callgrind): SCENARIO=uncached too
	$(BIN)/python bench/instructions.py --scenario $(SCENARIO)

bench-steps: install-dev             ## microseconds per pipeline step of a cached GET, in-process (needs Redis)
	$(BIN)/python bench/steps.py

bench-soak: install-dev system-packages  ## RSS of one worker over 5 minutes of cached GETs
	$(BIN)/python bench/run.py --soak 300

# Locust is heavy (gevent), so it is its own extra: make loadtest HOST=http://127.0.0.1:8000 KEYS=var/seed.keys
HOST ?= http://127.0.0.1:8000
KEYS ?= var/seed.keys
loadtest: install                  ## seed first (make seed ARGS="... --keys-out var/seed.keys --unlimited"), then run locust headless
	$(BIN)/pip install --quiet ".[bench]"
	INKWELL_KEYS_FILE=$(KEYS) $(BIN)/locust -f bench/locustfile.py --headless -u 50 -r 10 -t 60s --host $(HOST)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache build *.egg-info node_modules
