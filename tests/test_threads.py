"""Thread pools sized from the CPUs a process may use and its siblings (issue 13, item 17): the mechanism
is tested in real child processes (their torch.get_num_threads()), not speed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT

from edgedistill.threads import siblings

CPUS = sorted(os.sched_getaffinity(0))
PROBE = ("import sys, torch; from edgedistill.threads import configure; {before}"
         "print(configure(), torch.get_num_threads())")


def child(env: dict | None = None, cpus=None, before: str = "") -> tuple[str, int]:
    """(what configure() returned, torch's thread count after it) in a fresh process with these CPUs and env."""
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "WORLD_SIZE",
                                                              "LOCAL_WORLD_SIZE", "PYTEST_XDIST_WORKER_COUNT",
                                                              "EDGEDISTILL_SIBLINGS")}
    pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    out = subprocess.run([sys.executable, "-c", PROBE.format(before=before)], capture_output=True, text=True,
                         check=True, cwd=ROOT, env={**clean, "PYTHONPATH": str(ROOT), **(env or {})},
                         preexec_fn=pin, timeout=120).stdout.split()
    return out[0], int(out[1])


def test_a_process_pinned_to_one_cpu_gets_one_thread():
    assert child(cpus={CPUS[0]}) == ("1", 1)


@pytest.mark.skipif(len(CPUS) < 2, reason="needs 2 CPUs to share")
@pytest.mark.parametrize("env", [{"LOCAL_WORLD_SIZE": "2", "WORLD_SIZE": "2"}, {"WORLD_SIZE": "2"},
                                 {"PYTEST_XDIST_WORKER_COUNT": "2"}, {"EDGEDISTILL_SIBLINGS": "2"}])
def test_siblings_share_the_cpus(env):
    share = len(CPUS) // 2
    assert child(env) == (str(share), share)
    assert child(cpus=set(CPUS[:2]))[1] == 2  # alone on 2 CPUs: both


@pytest.mark.skipif(len(CPUS) < 2, reason="needs 2 CPUs to tell a user's choice from the default")
def test_the_users_choice_is_never_overridden():
    env = {"EDGEDISTILL_SIBLINGS": "2"}
    assert child({**env, "OMP_NUM_THREADS": str(len(CPUS))}) == ("None", len(CPUS))
    assert child(cpus=set(CPUS[:2]), before="torch.set_num_threads(1); ") == ("None", 1)


def test_sibling_count_from_the_environment():
    assert siblings({}) == 1
    assert siblings({"WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "4"}) == 4  # ranks on this host, not all hosts
    assert siblings({"WORLD_SIZE": "3", "PYTEST_XDIST_WORKER_COUNT": "2"}) == 6
    assert siblings({"EDGEDISTILL_SIBLINGS": "5", "WORLD_SIZE": "2"}) == 5  # explicit wins
