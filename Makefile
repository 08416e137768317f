# Two commands do everything on a fresh machine:
#   make demo   set up, then train the REFUGE bundle on the generated demo cohort
#   make test   set up, then run the test suite (the command .ci/run calls)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup test demo

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first: the CPU build from local disk, not the multi-GB CUDA build a plain `torch` pulls
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test,mlflow]"
	touch $@

setup: $(VENV)/.installed

test: setup
	$(PY) -m pytest -q tests

demo: setup
	$(PY) -m monai.bundle run training --config_file bundles/refuge/train.json
