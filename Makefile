# Every target creates .venv on first use, so `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-e2e clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m demo

test: $(STAMP) lint
	$(BIN)/python -m coverage run -m pytest $(PYTEST_ARGS)
	$(BIN)/python -m coverage report

lint: $(STAMP)
	$(BIN)/ruff check jwt_middleware tests benchmarks demo
	$(BIN)/ruff format --check jwt_middleware tests benchmarks demo
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

bench-e2e: $(STAMP)
	$(BIN)/python -m benchmarks.e2e

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
