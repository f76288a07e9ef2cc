# gibbsnas-lite: the two commands of the README's quick start.
#   make run   - create .venv if missing, install, execute every notebook headless (papermill)
#   make test  - same set-up, then the house rules (ruff), nbval over the fastest notebooks as a
#                learner gets them, and pytest (the notebooks included, smoke profile)
#   make lint  - ruff check and ruff format --check (configured in pyproject.toml)
#
# One venv with every extra: [course] for make run, [test] and [sweep] for make test.
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

# nbval: the learner's copy of the fastest notebooks (exercises unanswered), smoke profile
# injected by papermill without executing, then run cell by cell by `pytest --nbval-lax`
# (~10 s each). tests/test_notebooks.py executes every notebook with the reference answers
# filled in; this checks that the notebook a learner opens also runs top to bottom.
NBVAL_NOTEBOOKS ?= 01_gibbs_sampling_quadratic 02_laplace_bfgs_covariance
NBVAL_DIR       ?= outputs/nbval

.PHONY: run test lint nbval venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[course,test,sweep]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/gibbsnas-lite notebooks run --out $(OUT) $(if $(PROFILE),--profile $(PROFILE),)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

nbval: $(STAMP)
	rm -rf $(NBVAL_DIR) && mkdir -p $(NBVAL_DIR)
	for nb in $(NBVAL_NOTEBOOKS); do \
	  $(BIN)/papermill --prepare-only -p profile smoke notebooks/$$nb.ipynb $(NBVAL_DIR)/$$nb.ipynb || exit 1; \
	done
	$(BIN)/python -m pytest -p no:cacheprovider --nbval-lax --nbval-current-env $(NBVAL_DIR)

test: lint nbval
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) outputs
