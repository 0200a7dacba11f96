# Two commands a newcomer needs: `make demo` and `make test`. Both create .venv when it is
# missing and install everything pinned (constraints.txt); torch is the CPU wheel 2.13.0.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-fast schema clean system-deps

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt torch==2.13.0
	$(BIN)/pip install --quiet --constraint constraints.txt --editable '.[all,test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

# Everything (what CI runs): the unit, sql, integration, isolation and attacks tiers.
test: $(STAMP) system-deps
	$(BIN)/python -m pytest

# The unit tier only: no database, seconds.
test-fast: $(STAMP)
	$(BIN)/python -m pytest tests/unit

# Regenerate pymem/sql/schema.sql from a freshly migrated database (a test checks it is current).
schema: $(STAMP)
	$(BIN)/python -c "from pymem.migrate import write_schema; print(write_schema())"

# Debian's prometheus (prometheus + promtool) for tests/integration/test_observability.py, installed only
# when missing. Needs root (CI runs as root); without it the tests skip, except under CI.
system-deps:
	@if command -v prometheus >/dev/null && command -v promtool >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; \
	else echo "make: prometheus/promtool missing and not root: tests/integration/test_observability.py will skip" >&2; fi

clean:
	rm -rf $(VENV) .pymem .pytest_cache .hypothesis
