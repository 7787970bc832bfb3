"""Shared fixtures: one real tiny pipeline run per test session, in a private cache."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TINY = FIXTURES / "tiny.toml"
TINY_HOST = FIXTURES / "tiny-host.toml"  # tiny.toml benched on host-cpu only (no Chromium)


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


QUICK = [(r"^runs = 200\b.*$", "runs = 50"), (r"^min_seconds = 2\.0\b.*$", "min_seconds = 0.2"),
         (r"^runs = 20$", "runs = 5")]  # latency runs, latency seconds, throughput runs


def quick_profile_text(name: str) -> str:
    """The shipped device profile NAME with 50 timed runs in at least 0.2 s (shipped: 200 in 2 s) and 5
    throughput runs: the same runtime and settings, so tests measure for real in a tenth of the time.
    The name stays, so budgets and reports say NAME as usual."""
    text = (ROOT / "devices" / f"{name}.toml").read_text()
    for pattern, new in QUICK:
        text, n = re.subn(pattern, new, text, count=1, flags=re.M)
        assert n == 1, f"devices/{name}.toml: no line matching {pattern!r} to shorten"
    return f"# Test profile: devices/{name}.toml with fewer timed runs (tests/conftest.py quick_profile_text).\n" + text


def quick_profiles(folder: Path, names) -> list[str]:
    """Write quick copies of the shipped profiles NAMES into folder; their paths, for a recipe's bench.devices."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        (folder / f"{name}.toml").write_text(quick_profile_text(name))
        paths.append(str(folder / f"{name}.toml"))
    return paths


def tiny_text() -> str:
    """tiny.toml's text with its quick device profiles' paths made absolute, for recipes written elsewhere
    (its budgets path stays relative: each test replaces or removes it)."""
    return TINY.read_text().replace('"devices/', f'"{FIXTURES}/devices/')


def cli(*args, env=None, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    """Run `python -m edgedistill ARGS` in a child process; returns the completed process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "edgedistill", *map(str, args)], capture_output=True,
                          text=True, env=full_env, cwd=cwd or ROOT, timeout=timeout)


def kill_run_at(recipe: Path, out: Path, checkpoint: Path, cache_dir: Path) -> None:
    """SIGKILL `edgedistill run RECIPE --out OUT --checkpoint-every 1` once `checkpoint` (a step folder of the
    student being trained) exists, and reap it: the crash a `--resume` test starts from."""
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "edgedistill", "run", str(recipe), "--out", str(out), "--quiet",
                             "--checkpoint-every", "1"], env={**os.environ, "EDGEDISTILL_CACHE": str(cache_dir)},
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not checkpoint.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def pytest_collection_modifyitems(config, items):
    """`macos` tests need Core ML's runtime, which exists only on macOS: skip them elsewhere, saying so.
    `slow` tests (minutes each, or a second end-to-end path through code a default test already runs)
    keep `make test` near 12 minutes on 2 cores: they run with EDGEDISTILL_SLOW=1."""
    macos = pytest.mark.skip(reason="Core ML prediction needs macOS (this host: %s)" % sys.platform)
    slow = pytest.mark.skip(reason="slow: set EDGEDISTILL_SLOW=1 to run it")
    run_slow = bool(os.environ.get("EDGEDISTILL_SLOW"))
    for item in items:
        if "macos" in item.keywords and sys.platform != "darwin":
            item.add_marker(macos)
        if "slow" in item.keywords and not run_slow:
            item.add_marker(slow)


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
