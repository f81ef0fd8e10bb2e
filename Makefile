# Quick start: `make demo` (the whole pipeline on built-in synthetic data) and `make test`.
# Both create .venv with pip when it is missing and install the project into it first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.iqabench-installed
# Tests and the demo run offline; pyiqa must never try to fetch weights.
export HF_HUB_OFFLINE := 1

.PHONY: install test demo lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/iqabench demo

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf build dist *.egg-info .pytest_cache report.html report_files runs/demo
