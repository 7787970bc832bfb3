# make demo  — create/refresh .venv, install everything, run the default recipe end to end
# make test  — same environment plus dev tools, run the test suite (CI runs this via .ci/run)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
# torch first and pinned: 2.13.0 is a local CPU wheel here; an unpinned torch pulls GBs of CUDA.
TORCH  := torch==2.13.0
STAMP  := $(VENV)/.installed

.PHONY: demo test bench clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "edgedistill needs Python >= 3.11: make PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/edgedistill run

test: $(STAMP)
	$(VENV)/bin/ruff check edgedistill tests benchmarks
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/kd_vs_scratch.py

clean:
	rm -rf $(VENV) runs dist build *.egg-info
