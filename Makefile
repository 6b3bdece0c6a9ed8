# The README's two commands come first: `make run` and `make test`.
# Both work on a fresh machine: they create .venv and install what they need.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install lint typecheck unit bench clean sim-build

run: install
	$(BIN)/berth up

test: install lint sim-build
	$(BIN)/pytest

# Builds the local Kubernetes control plane once (Go module proxy), then reuses the cache.
sim-build: install
	$(BIN)/berth sim build

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.3
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install
	$(BIN)/python bench/booking.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
