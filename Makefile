# Two commands a newcomer needs: `make demo` and `make test`. Both create .venv when it is
# missing and install everything pinned (constraints.txt); torch is the CPU wheel 2.13.0.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt torch==2.13.0
	$(BIN)/pip install --quiet --constraint constraints.txt --editable '.[embed,test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m pymem.demo

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pymem .pytest_cache .hypothesis
