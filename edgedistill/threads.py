"""Torch's intra-op thread pool, sized from the CPUs this process may use and its sibling processes.

By default torch starts one intra-op thread per CPU in its affinity mask, in every process. Several
such processes on the same CPUs (DDP ranks, pytest-xdist workers, a CI job's parallel steps) then
run N × CPUs threads that spin against each other: on a 2-core host a tiny training step took
150 ms with 2 threads per process against 1 ms with 1 (issue 13, item 17). `configure()` gives
each process `usable CPUs ÷ siblings` threads (at least 1), where

    usable CPUs  len(os.sched_getaffinity(0)), capped by a cgroup CPU quota (cpu.max) when set
    siblings     EDGEDISTILL_SIBLINGS when set, else LOCAL_WORLD_SIZE (or WORLD_SIZE) DDP ranks
                 × PYTEST_XDIST_WORKER_COUNT workers

It never overrides a choice the user made: OMP_NUM_THREADS or MKL_NUM_THREADS in the environment,
or a torch.set_num_threads(n) call made before (detected as a thread count other than torch's
default for this process, which is the affinity mask's size). onnxruntime's pools are sized by
the bench profiles' `threads`, not here.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

SIBLINGS = "EDGEDISTILL_SIBLINGS"
USER_KNOBS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
_ours: int | None = None  # the count configure() last set (so a second call may adjust its own choice)


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask, capped by the cgroup's CPU quota."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        n = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


def siblings(env=None) -> int:
    """Processes sharing those CPUs with this one (itself included)."""
    env = os.environ if env is None else env
    if env.get(SIBLINGS):
        return max(1, int(env[SIBLINGS]))
    ranks = int(env.get("LOCAL_WORLD_SIZE") or env.get("WORLD_SIZE") or 1)
    workers = int(env.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    return max(1, ranks) * max(1, workers)


def intra_op_threads(env=None) -> int:
    """This process's fair share of the CPUs: usable CPUs ÷ siblings, at least 1."""
    return max(1, usable_cpus() // siblings(env))


def configure(env=None) -> int | None:
    """Set torch's intra-op threads to `intra_op_threads()`; None (nothing changed) when the user chose."""
    global _ours
    env = os.environ if env is None else env
    if any(env.get(k) for k in USER_KNOBS):
        return None
    import torch

    current = torch.get_num_threads()
    if current != _ours and current != _torch_default():  # the user called torch.set_num_threads
        return None
    n = intra_op_threads(env)
    if n != current:
        torch.set_num_threads(n)
    _ours = n
    return n


def _torch_default() -> int:
    """The intra-op count torch starts with when no knob is set: OpenMP's, one per CPU of the affinity mask."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
