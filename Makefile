# detector: the quick start is `make demo` and `make test` on a machine with Python 3.11+.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= out/demo

.PHONY: install demo demo-offline test test-fast bench lint nab clean browser

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "detector needs Python 3.11+ (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: install
	$(BIN)/detector demo

demo-offline: install
	$(BIN)/python scripts/demo_offline.py --out $(DEMO)

# Four workers on two cores: most of the suite waits on the broker and on subprocesses.
# Each worker starts its own broker (tests/conftest.py). loadfile keeps a module's tests,
# and so its module-scoped fixtures, on one worker. The 15 slowest tests are listed.
PYTEST_WORKERS ?= 4
PYTEST_ARGS    := -n $(PYTEST_WORKERS) --dist loadfile --durations=15

test: install browser
	$(BIN)/pytest $(PYTEST_ARGS)

# The report's browser test (tests/report/test_browser.py) needs Chromium; CI (CI=true, root)
# installs Debian's package, elsewhere the test skips without it.
browser:
	@if [ "$$CI" = "true" ] && ! command -v chromium >/dev/null 2>&1; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
	   >/dev/null) || echo "make: chromium not installed: the browser test will fail" >&2; \
	fi

# The inner loop: everything but the tests marked slow (broker scenarios, subprocesses).
test-fast: install
	$(BIN)/pytest $(PYTEST_ARGS) -m "not slow"

bench: install
	$(BIN)/python scripts/bench_replay.py
	$(BIN)/python scripts/bench_formats.py
	$(BIN)/python scripts/bench_scan.py
	$(BIN)/python scripts/bench_service.py --lines 300000 --processes 2
	$(BIN)/python scripts/bench_enumeration.py
	$(BIN)/python scripts/bench_memory.py
	$(BIN)/python scripts/bench_verdict.py
	$(BIN)/python scripts/bench_publish.py

nab: install
	$(BIN)/python scripts/nab.py

lint: install
	$(BIN)/ruff check detector tests scripts
	$(BIN)/mypy --strict detector

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
