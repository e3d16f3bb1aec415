# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv if missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.genlab-installed

.PHONY: install demo studio test lint wheel-check bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch, torchvision" 2>/dev/null || \
		$(BIN)/python -m pip install --quiet $(TORCH_PINS)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/genlab train configs/demo.yaml

# the web page over runs/ (http://127.0.0.1:7860); RUNS=other/folder PORT=7861 to change
RUNS ?= runs
PORT ?= 7860
studio: install
	$(BIN)/genlab studio $(RUNS) --port $(PORT)

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports

# build the wheel, install it in a fresh venv, train/eval from an empty folder
wheel-check:
	PYTHON=$(PYTHON) bash .ci/wheel-check

bench: install
	$(BIN)/python benchmarks/train_throughput.py

clean:
	rm -rf runs .pytest_cache
