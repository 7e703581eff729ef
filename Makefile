# cilnb: the two commands of the README are `make figures` and `make test`.
# Both create .venv on a fresh machine, install the project with the pinned torch pair, then run.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.cilnb-installed
PROFILE ?= default

.PHONY: setup figures smoke test lab clean help

help:
	@echo "make figures   set up .venv and regenerate every figure on the built-in model"
	@echo "make test      set up .venv and run the whole test suite"
	@echo "make lab       open JupyterLab on notebooks/ with the project's environment"
	@echo "make smoke     regenerate every figure with tiny parameters (seconds, not minutes)"

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[lab,models,dev]"
	@touch $(STAMP)

figures: setup
	$(BIN)/python -m cilnb figures --profile $(PROFILE)

smoke: setup
	$(BIN)/python -m cilnb figures --profile smoke --out build/smoke-figures

test: setup
	$(BIN)/python -m pytest

lab: setup
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf build .pytest_cache
