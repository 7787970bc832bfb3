"""Shared fixtures: one real tiny pipeline run per test session, in a private cache."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TINY = FIXTURES / "tiny.toml"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """A private data/teacher cache, so tests never read or pollute the user's ~/.cache."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, cache_dir):
    """The tiny recipe run once, through every stage, with real torch/onnxruntime/coremltools."""
    from edgedistill.pipeline import run
    from edgedistill.progress import Reporter

    out = tmp_path_factory.mktemp("runs") / "tiny"
    return run(TINY, out=out, reporter=Reporter(quiet=True), cache_dir=cache_dir)


def cli(*args, env=None, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    """Run `python -m edgedistill ARGS` in a child process; returns the completed process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "edgedistill", *map(str, args)], capture_output=True,
                          text=True, env=full_env, cwd=cwd or ROOT, timeout=timeout)


def pytest_collection_modifyitems(config, items):
    """`macos` tests need Core ML's runtime, which exists only on macOS: skip them elsewhere, saying so."""
    if sys.platform == "darwin":
        return
    skip = pytest.mark.skip(reason="Core ML prediction needs macOS (this host: %s)" % sys.platform)
    for item in items:
        if "macos" in item.keywords:
            item.add_marker(skip)


# --- browser tests (marker `browser`): skip, with the reason, where Chromium or onnxruntime-web is missing ---

@functools.lru_cache(maxsize=1)
def browser_missing() -> str | None:
    """Why headless Chromium + onnxruntime-web cannot run here (None when they can)."""
    from edgedistill.bench.chromium import missing

    return missing()


def pytest_runtest_setup(item):
    """Skip `browser` tests with the reason (`make test` installs Chromium as root and runs `npm ci`)."""
    if "browser" in item.keywords and browser_missing():
        pytest.skip(f"browser tests need headless Chromium and onnxruntime-web: {browser_missing()}")


def pytest_configure(config):
    """Size torch's intra-op pool for this test process: usable CPUs ÷ xdist workers (edgedistill/threads.py),
    unless OMP_NUM_THREADS is set — several test processes on shared cores must not oversubscribe them."""
    from edgedistill.threads import configure

    configure()
