# Two commands on a fresh machine: `make run` and `make test`.
# torch==2.13.0 is installed first when no torch is importable: on the project's CPU machines the
# wheel lies on disk, while an unpinned torch would pull a multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.gmrl-installed

.PHONY: install run test lint typecheck bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/gmrl run $(ARGS)

# Lint, type and layer errors fail the test command, before the (longer) pytest run.
test: install
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest -q -n 2 -m "not slow"

typecheck: install
	$(VENV)/bin/mypy

lint: install
	$(VENV)/bin/ruff check src tests benchmarks examples

clean:
	rm -rf $(VENV) runs
