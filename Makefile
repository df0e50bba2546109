# Two commands do everything on a fresh machine:
#   make tune    -- a tuning run on the bundled softmax task (offline realizer, local MLflow)
#   make test    -- the test suite (CPU only; Triton kernels run through the interpreter)
# Both create .venv and install the project on first use.

PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
ARGS    ?=

.PHONY: tune test install lint clean

tune: $(STAMP)
	$(BIN)/python -m experiments.tune $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) runs outputs multirun .pytest_cache
