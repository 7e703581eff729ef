# cilnb: the two commands of the README are `make figures` and `make test`.
# Both create .venv on a fresh machine, install the project with the pinned torch pair, then run.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.cilnb-installed
PROFILE ?= default
JOBS    ?= auto
DTYPE   ?=

.PHONY: setup figures smoke test lab browser-test clean help

help:
	@echo "make figures   set up .venv and regenerate every figure on the built-in model (PROFILE=workshop: minutes per notebook; PROFILE=smoke: seconds; JOBS=1: one notebook at a time, default auto: 2 on 2+ CPUs, with a GPU min(6, CPUs/2); DTYPE=bfloat16: the toy in bf16, faster on CPUs with bf16 units)"
	@echo "make test      set up .venv and run the whole test suite"
	@echo "make lab       open JupyterLab on working copies of notebooks/ (build/lab/)"
	@echo "make smoke     regenerate every figure with tiny parameters (seconds, not minutes)"
	@echo "make browser-test  run the live notebook in JupyterLab in headless Chromium (screenshots in build/browser/)"

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[lab,models,dev]"
	@touch $(STAMP)

figures: setup
	$(BIN)/python -m cilnb figures --profile $(PROFILE) --jobs $(JOBS) $(if $(DTYPE),--dtype $(DTYPE))

smoke: setup
	$(BIN)/python -m cilnb figures --profile smoke --out build/smoke-figures

test: setup
	$(BIN)/python -m pytest

# `make lab` opens working copies (build/lab/) so JupyterLab's autosave never writes outputs into the
# tracked notebooks; a copy is made once and then kept (delete it to start again from notebooks/).
# As root (containers) JupyterLab refuses to start unless told: we pass --allow-root and say so.
LAB_DIR ?= build/lab
JUPYTER ?= $(BIN)/jupyter
# the kernels keep freed memory in the heap, as `make figures` runs them (cilnb._util.KEEP_HEAP_ENV)
HEAP_ENV = $(shell $(BIN)/python -c "from cilnb._util import keep_heap_env; print(' '.join(f'{k}={v}' for k, v in keep_heap_env().items()))")
lab: setup
	@mkdir -p $(LAB_DIR)
	@for nb in notebooks/*.ipynb; do dest="$(LAB_DIR)/$$(basename "$$nb")"; \
	  if [ -e "$$dest" ]; then \
	    if [ "$$nb" -nt "$$dest" ]; then echo "note: $$nb changed since $$dest was copied (delete the copy to refresh it)"; fi; \
	  else cp "$$nb" "$$dest"; fi; done
	@echo "JupyterLab on working copies in $(LAB_DIR)/ (notebooks/ stays clean)"
	@if [ "$$(id -u)" = 0 ]; then echo "running as root: passing --allow-root to JupyterLab"; \
	  exec env $(HEAP_ENV) $(JUPYTER) lab --notebook-dir=$(LAB_DIR) --allow-root; \
	else exec env $(HEAP_ENV) $(JUPYTER) lab --notebook-dir=$(LAB_DIR); fi

# The browser test (tests/test_browser.py): JupyterLab in headless Chromium runs the live notebook and
# moves a slider. Chromium and its driver come from the system package manager (installed here when
# root and missing); CILNB_REQUIRE_BROWSER=1 makes a missing browser a failure rather than a skip.
browser-test: setup
	@if ! command -v chromedriver >/dev/null 2>&1 || ! { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium and chromium-driver with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	  else echo "Chromium/chromedriver missing: install them (Debian: sudo apt-get install chromium chromium-driver)"; exit 1; fi; \
	fi
	CILNB_REQUIRE_BROWSER=1 $(BIN)/python -m pytest tests/test_browser.py -v

clean:
	rm -rf build .pytest_cache
