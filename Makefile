# fairseq_gpam: setup, tests and the offline demo.
#   make test    create .venv, install everything, run the test suite
#   make demo    create .venv, install everything, train baseline and daGPAM on shipped data
# CUDA users: make test TORCH_SPEC="torch==2.5.1" TORCH_INDEX="--index-url https://download.pytorch.org/whl/cu124"
# CPU-only Linux machines: TORCH_INDEX="--index-url https://download.pytorch.org/whl/cpu" (plain PyPI gives the CUDA build)

PYTHON      ?= $(shell command -v python3.11 || command -v python3)
VENV        ?= .venv
TORCH_SPEC  ?= torch==2.13.0
TORCH_INDEX ?=
PYTEST_ARGS ?=
DEMO_ARGS   ?=

BIN   := $(VENV)/bin
STAMP := $(VENV)/.fairseq_gpam-installed

.PHONY: setup test demo clean-venv

setup: $(STAMP)

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_INDEX) "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet numpy cython "setuptools>=69" wheel
	@# fairseq compiles C extensions against the torch above: no build isolation
	$(BIN)/pip install --quiet --no-build-isolation fairseq-fixed==0.12.3.1
	$(BIN)/pip install --quiet --no-build-isolation -e ".[test]"
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

demo: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/demo.sh $(DEMO_ARGS)

clean-venv:
	rm -rf $(VENV)
