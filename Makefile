# Two commands do everything on a fresh machine:
#   make compare   the main job: DeepEntropyClustering against KMeans on digits
#   make test      the test suite (make test-slow: the quality floors, on top)
# Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The CPU build of PyTorch; on other machines e.g.
#   make test TORCH_SPEC=torch PIP_TORCH_ARGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC ?= torch==2.13.0
PIP_TORCH_ARGS ?=
ARGS ?=
# test processes of `make test` (pytest-xdist; 0 runs the suite in one process)
TEST_WORKERS ?= 2

.PHONY: test test-slow compare docs bench lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(PIP_TORCH_ARGS) "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[tests,plots,progress]"
	touch $@

test: $(VENV)/.installed
	$(PY) -m pytest -n $(TEST_WORKERS) $(ARGS)

test-slow: $(VENV)/.installed
	$(PY) -m pytest -m slow $(ARGS)

compare: $(VENV)/.installed
	$(VENV)/bin/skdeepcluster compare $(ARGS)

$(VENV)/.docs: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[docs]"
	touch $@

docs: $(VENV)/.docs
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

bench: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[benchmarks]"
	$(PY) benchmarks/run_quality.py $(ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) docs/_build docs/auto_examples
