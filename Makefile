# The two commands a newcomer needs: `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app inbox
VENDOR := static/vendor/socket.io.min.js
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres

.PHONY: run test test-sqlite test-postgres install vendor system lint worker bench clean
.DEFAULT_GOAL := install  # a bare `make` sets up .venv/, as before the system step came first

# What the two commands need from the system besides python3: venv support, Node/npm while the vendored
# Socket.IO client is missing or stale, and for the browser tests Debian's Chromium and libatomic1 (the
# Node runtime inside Playwright's Python package needs it; a minimal Debian lacks it). As root,
# apt-get installs what is missing; anyone else gets one line naming the packages, and make stops.
BROWSER_GOALS := $(filter test test-sqlite,$(MAKECMDGOALS))
system:
	@missing=""; \
	test -x $(PY) || python3 -c "import ensurepip" 2>/dev/null || missing="python3-venv"; \
	{ [ $(VENDOR) -nt package.json ] && [ $(VENDOR) -nt package-lock.json ]; } || command -v npm >/dev/null \
		|| missing="$$missing nodejs npm"; \
	if [ -n "$(BROWSER_GOALS)" ]; then \
		command -v chromium >/dev/null || missing="$$missing chromium"; \
		/sbin/ldconfig -p | grep -q 'libatomic\.so\.1 ' || missing="$$missing libatomic1"; \
	fi; \
	missing=$${missing# }; \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" != 0 ]; then echo "Missing system packages, install them and try again: sudo apt-get install -y $$missing"; exit 1; fi; \
	echo "Installing system packages: $$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null

$(VENV)/.installed: pyproject.toml | system
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,gevent]'
	touch $@

install: $(VENV)/.installed

$(VENDOR): package.json package-lock.json | system
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor
	cp node_modules/socket.io-client/dist/socket.io.min.js $(VENDOR)

vendor: $(VENDOR)

# The embedded default: SQLite, local media, generated keys, demo data, the Twilio simulator.
run: install vendor
	$(FLASK) db upgrade
	$(FLASK) demo
	$(PY) wsgi.py

worker: install
	$(FLASK) worker

# The whole suite on SQLite, then again on PostgreSQL when a server answers (CI makes sure one does).
test: install vendor test-sqlite test-postgres

test-sqlite: install vendor
	$(PY) -m pytest

test-postgres: install vendor
	@if $(PY) -c "import psycopg,sys; psycopg.connect('$(PG_URL)'.replace('+psycopg',''), connect_timeout=3).close()" 2>/dev/null; then \
		INBOX_TEST_DATABASE=$(PG_URL) $(PY) -m pytest -m "not browser"; \
	else echo "PostgreSQL not reachable at $(PG_URL): PostgreSQL run skipped"; fi

# Benchmarks (docs/benchmarks.md): several minutes; needs wrk (apt-get install -y wrk). Not part of `make test`.
bench: install
	@command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk"; exit 1; }
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m bench.webhook_throughput --rounds 2 --seconds 10
	$(PY) -m bench.push_latency --practices 50 --sockets-per-practice 10 --rate 100 --seconds 20 --rounds 2
	$(PY) -m bench.socket_memory --steps 1000,2000,5000 --practices 50 --workers 4
	$(PY) -m bench.mms_pipeline --reps 10
	$(PY) -m bench.large_inbox --journeys 100000 --messages-per-journey 10 --requests 200
	$(PY) -m bench.held_release --held 1000

# ruff (lint and format) over the tree, mypy over inbox/ (pyproject.toml holds both configurations).
lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy

clean:
	rm -rf $(VENV) node_modules static/vendor
