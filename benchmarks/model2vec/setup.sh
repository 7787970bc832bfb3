#!/usr/bin/env bash
# Creates benchmarks/model2vec/.venv (idempotent): Model2Vec 0.10.0 pins transformers<5.4, the main
# .venv has transformers 5.x, so model2vec lives here on its own. torch goes in first and pinned
# (same as the Makefile): 2.13.0 is a local CPU wheel here; an unpinned torch pulls GBs of CUDA.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
TORCH="torch==2.13.0"
STAMP="$VENV/.installed"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
# reinstall only when requirements.txt is newer than the stamp (or no stamp yet)
if [ ! -f "$STAMP" ] || [ "$HERE/requirements.txt" -nt "$STAMP" ]; then
    "${PIP[@]}" install -q "$TORCH"
    "${PIP[@]}" install -q -r "$HERE/requirements.txt"
    touch "$STAMP"
fi
"$VENV/bin/python" -c 'import model2vec, torch, transformers; print("model2vec", model2vec.__version__, "torch", torch.__version__, "transformers", transformers.__version__)'
