# fairseq_gpam: setup, tests and the offline demo.
#   make test    create .venv, install everything, run the test suite
#   make demo    create .venv, install everything, train baseline and daGPAM on shipped data (~15 min on 2 CPU cores)
#   make demo DEMO_ARGS=--smoke   the same pipeline on tiny models, a quick check
#   make gpu-check   on a CUDA machine: the plugin's device tests, mixed precision, decoding, timings
# The torch build is chosen from the machine (gpam_tools/torch_choice.py: CUDA driver -> PyPI's CUDA build,
# none -> the CPU wheel index) and printed. Override both, e.g. for another CUDA version:
#   make test TORCH_SPEC="torch==2.6.0" TORCH_INDEX="--index-url https://download.pytorch.org/whl/cu126"   (torch >= 2.6: setup.py)

PYTHON      ?= $(shell command -v python3.11 || command -v python3)
VENV        ?= .venv
TORCH_SPEC  ?= torch==2.13.0
# TORCH_INDEX: pip index arguments for torch; when not given, chosen by gpam_tools/torch_choice.py
PYTEST_ARGS ?=
DEMO_ARGS   ?=
GPU_CHECK_ARGS ?=

BIN   := $(VENV)/bin
STAMP := $(VENV)/.fairseq_gpam-installed
ifeq ($(origin TORCH_INDEX),undefined)
TORCH_INDEX_ARGS = $$(PYTHONPATH="$(CURDIR)" $(PYTHON) -m gpam_tools.torch_choice --spec "$(TORCH_SPEC)")
else
TORCH_INDEX_ARGS = $(TORCH_INDEX)
endif

.PHONY: setup test demo gpu-check clean-venv

setup: $(STAMP)

$(STAMP): setup.py
ifneq ($(origin TORCH_INDEX),undefined)
	@echo 'torch build: $(TORCH_SPEC) with TORCH_INDEX="$(TORCH_INDEX)" as given'
endif
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_INDEX_ARGS) "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet numpy cython "setuptools>=69" wheel
	@# fairseq compiles C extensions against the torch above: no build isolation
	$(BIN)/pip install --quiet --no-build-isolation fairseq-fixed==0.12.3.1
	$(BIN)/pip install --quiet --no-build-isolation -e ".[test]"
	@$(BIN)/python -c "import torch; print('torch build installed:', torch.__version__, 'CUDA ' + torch.version.cuda if torch.version.cuda else 'CPU only')"
	@touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

demo: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/demo.sh $(DEMO_ARGS)

gpu-check: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/gpam gpu-check $(GPU_CHECK_ARGS)

clean-venv:
	rm -rf $(VENV)
