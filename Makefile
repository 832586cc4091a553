# Set-up and the two README commands: `make demo` (the main job) and `make test` (the test suite).
# The benchmark harness is a second distribution (benchmarks/pyproject.toml, `mollifier-bench`),
# installed after the library; `make test` runs its tests and doctests with the library's.
# The CPU build of torch is pinned here, in the set-up step only; the package itself depends on a
# range (pyproject.toml), so users can bring their own CUDA or CPU build.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_PIN ?= torch==2.13.0
OUT ?= out/demo

.PHONY: setup demo test lint typecheck gpu-check clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml benchmarks/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_PIN)"
	$(BIN)/python -m pip install --quiet -e ".[all]"
	$(BIN)/python -m pip install --quiet -e benchmarks
	touch $@

demo: setup
	$(BIN)/mollifier demo --out $(OUT)

lint: setup
	$(BIN)/ruff check src tests tests_gpu benchmarks examples
	$(BIN)/ruff format --check src tests tests_gpu benchmarks examples

typecheck: setup
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest -n 2 --doctest-modules src tests benchmarks/mollifier_bench benchmarks/tests

# CUDA checks: run on a GPU machine only (CI has none).
gpu-check: setup
	$(BIN)/python -m pytest -q tests_gpu

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
