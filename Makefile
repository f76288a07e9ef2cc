# gibbsnas-lite: the two commands of the README's quick start.
#   make run   - create .venv if missing, install, execute every notebook headless (papermill)
#   make test  - same set-up, then pytest (the notebooks included, smoke profile)
#
# TORCH_SPEC picks the torch build pip installs first. The default pin takes the CPU
# wheel on the CI machine's disk; on your machine it is the normal PyPI wheel (CUDA on
# Linux). Override it, e.g. `make test TORCH_SPEC=torch`.

PYTHON     ?= python3
VENV       ?= .venv
TORCH_SPEC ?= torch==2.13.0
PROFILE    ?=
OUT        ?= outputs/notebooks
PYTEST_ARGS ?=

BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test,sweep]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/gibbsnas-lite notebooks run --out $(OUT) $(if $(PROFILE),--profile $(PROFILE),)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) outputs
