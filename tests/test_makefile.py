"""`make demo` / `make test` (dry runs, `make -n`): BROWSER=0 skips the browser setup (apt as root, npm ci)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")


def dry(*args: str) -> str:
    """What `make ARGS` would run, without running it, as on a fresh clone (-W: the lock file counts as new,
    so an existing node_modules does not hide the `npm ci` step)."""
    out = subprocess.run(["make", "-n", "-C", str(ROOT), "-W", "devices/browser/package-lock.json", *args],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("target", ["demo", "test"])
def test_browser_0_skips_chromium_and_npm(target):
    assert "apt-get install" in dry(target) and "npm ci" in dry(target)  # the default sets the browser up
    skipped = dry(target, "BROWSER=0")
    assert "install -y -q chromium" not in skipped and "npm ci" not in skipped
    assert "wordnet-base" in skipped  # unlabelled text for recipes, not a browser dependency


def test_browser_0_deselects_browser_tests_and_default_runs_them():
    assert '-m "not browser"' in dry("test", "BROWSER=0")
    assert "not browser" not in dry("test")


def test_tests_run_in_one_process_unless_told_otherwise():
    assert "-n " not in dry("test").split("-m pytest", 1)[1]
    assert "-m pytest -q -n auto --dist loadfile" in dry("test", "TEST_WORKERS=auto")
