# Every target creates .venv on first use, so `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-smoke bench-e2e bench-instr bench-metrics clean

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
	$(BIN)/ruff check jwt_middleware tests benchmarks demo examples
	$(BIN)/ruff format --check jwt_middleware tests benchmarks demo examples
	$(BIN)/mypy

BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.run

# A short run with no budget enforced: proves the benchmark scripts work (CI runs it; timing there is noise).
bench-smoke: $(BENCH_STAMP)
	$(BIN)/mypy benchmarks
	$(BIN)/python -m benchmarks.run --smoke

# CPU instructions per request under valgrind's callgrind: deterministic, so CI holds these budgets.
# BENCH_INSTR_ARGS=--enforced-only (CI) fails only on the budgets budgets.toml marks as enforced.
bench-instr: $(BENCH_STAMP)
	@command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install -y valgrind (as root)"; exit 2; }
	$(BIN)/python -m benchmarks.instructions $(BENCH_INSTR_ARGS)

bench-e2e: $(BENCH_STAMP)
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk (as root)"; exit 2; }
	$(BIN)/python -m benchmarks.e2e

# What metrics cost per request, in CPU instructions under callgrind (deterministic, unlike the wall clock).
bench-metrics: $(BENCH_STAMP)
	@command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install -y valgrind (as root)"; exit 2; }
	$(BIN)/python -m benchmarks.metrics_instructions

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
