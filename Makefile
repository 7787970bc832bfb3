# make demo  — create/refresh .venv, install everything, run the default recipe end to end
# make test  — same environment plus dev tools, run the test suite (CI runs this via .ci/run)
# Both also set up the browser runner: as root, `apt-get install chromium` (Debian: ~115 packages),
# and `npm ci` for onnxruntime-web. BROWSER=0 skips that setup (make demo BROWSER=0, make test
# BROWSER=0): browser profiles then show as not_runnable and the `browser` tests are deselected.
BROWSER ?= 1
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
	$(PIP) install -q -e '.[dev,examples]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/edgedistill run

# One pytest process by default (~15 min on 2 cores). TEST_WORKERS=auto runs pytest-xdist, one worker per CPU
# (--dist loadfile: a module's pipeline fixture runs once; each worker's torch pool is CPUs ÷ workers): 10 min
# here; not yet the default: one full xdist run on a clean start is still to be seen green
TEST_WORKERS ?= 0
test: $(STAMP)
	$(VENV)/bin/ruff check edgedistill tests benchmarks
	$(PY) -m pytest -q $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile) $(if $(filter 0,$(BROWSER)),-m "not browser")

bench: $(STAMP)
	$(PY) benchmarks/kd_vs_scratch.py

clean:
	rm -rf $(VENV) runs dist build *.egg-info

# --- browser runner (browser-* device profiles) --------------------------------------------------
# `make test` also gets the system Chromium (apt, only when root) and onnxruntime-web (npm ci from
# the committed package-lock.json). Neither is fatal: without them the `browser` tests skip and say why.
# Nothing here, nor Playwright, ever downloads a browser build of its own.
BROWSER_DIR   := devices/browser
BROWSER_STAMP := $(BROWSER_DIR)/node_modules/.npm-ci.stamp
CHROMIUM_BIN  := /usr/bin/chromium

.PHONY: browser-deps chromium wordnet
ifneq ($(BROWSER),0)
test demo: browser-deps
endif
test demo: wordnet

# Debian's wordnet-base: WordNet's glosses, unlabelled text a recipe may name (data.unlabeled = "/usr/share/wordnet"; never fatal)
wordnet:
	@if [ -f /usr/share/wordnet/data.noun ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get install -y -q wordnet-base >/dev/null 2>&1 || (apt-get update -q && apt-get install -y -q wordnet-base)) \
		|| echo "wordnet: apt-get failed; a recipe reading /usr/share/wordnet will say how to install wordnet-base"; \
	else echo "wordnet: /usr/share/wordnet missing and not root (apt-get install -y wordnet-base)"; fi

browser-deps: chromium $(BROWSER_STAMP)

chromium:
	@if [ -x $(CHROMIUM_BIN) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "chromium: installing Debian's chromium as root (apt-get, ~115 packages; make BROWSER=0 skips this)"; \
		(apt-get update -q && apt-get install -y -q chromium) || echo "chromium: apt-get failed; browser tests will skip"; \
	else echo "chromium: $(CHROMIUM_BIN) missing and not root; browser tests will skip (apt-get install -y chromium)"; fi

# node_modules missing, or older than package-lock.json → npm ci (the stamp lives inside node_modules)
$(BROWSER_STAMP): $(BROWSER_DIR)/package-lock.json $(BROWSER_DIR)/package.json
	@if command -v npm >/dev/null; then \
		(cd $(BROWSER_DIR) && npm ci --no-audit --no-fund && touch node_modules/.npm-ci.stamp) \
		|| echo "npm ci failed in $(BROWSER_DIR); browser tests will skip"; \
	else echo "npm not found: onnxruntime-web not installed; browser tests will skip"; fi
