"""Concurrent runs (issue 11, item 11): two processes on a cold teacher or teacher-output cache both succeed
(one writes, the other waits and reuses it), and a second run into a folder another run is writing is
refused as such — not as an "interrupted run"."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from conftest import ROOT, TINY, cli, tiny_text

from edgedistill.errors import UsageError
from edgedistill.runlock import acquire, lock_path, release

FILL = textwrap.dedent("""
    import sys, time, numpy as np, torch
    from pathlib import Path
    from edgedistill.distill.cache import Stored, teacher_outputs
    from edgedistill.models.cnn1d import CNN1d
    cache, go, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    torch.manual_seed(0)
    teacher = CNN1d(40, 10, [16, 32]).eval()
    x = torch.randn(60_000, 40, generator=torch.Generator().manual_seed(1))
    while not go.exists():  # both processes start filling at the same instant
        time.sleep(0.001)
    got = teacher_outputs(teacher, x, Stored(), 10, cache)
    np.save(out, np.asarray(got.arrays[""][::997]))
""")


def test_two_processes_filling_one_cold_cache_entry_both_succeed(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    go, cache = tmp_path / "go", tmp_path / "cache"
    procs = [subprocess.Popen([sys.executable, "-c", FILL, str(cache), str(go), str(tmp_path / f"out{i}.npy")],
                              env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True) for i in range(2)]
    time.sleep(3)  # both imported torch and built the teacher
    go.touch()
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    a, b = np.load(tmp_path / "out0.npy"), np.load(tmp_path / "out1.npy")
    assert a.shape == (61, 10) and np.array_equal(a, b)
    assert [p.name for p in (cache / "teacher-outputs").iterdir()] != [] and \
        not list((cache / "teacher-outputs").glob("*.partial"))  # one entry, no fill left half-done
    assert len(list((cache / "teacher-outputs").iterdir())) == 1


TRAIN = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from edgedistill.data import load_dataset
    from edgedistill.distill.cache import teacher_hash
    from edgedistill.distill.teacher import teacher_tensors, train_or_load_teacher
    from edgedistill.progress import Reporter
    from edgedistill.recipe import load_recipe
    recipe, _ = load_recipe(sys.argv[1], {"teacher": {"train": {"epochs": 3}}})
    cache, go = Path(sys.argv[2]), Path(sys.argv[3])
    ds = load_dataset(recipe.data, None)
    while not go.exists():  # both processes reach the cold teacher cache at the same instant
        time.sleep(0.001)
    teacher, result, cached = train_or_load_teacher(recipe, ds, teacher_tensors(ds), cache, Reporter())
    print(json.dumps({"cached": cached, "hash": teacher_hash(teacher), "seconds": result.seconds}))
""")


def test_two_processes_on_one_cold_teacher_cache_train_it_once(tmp_path):
    """One writer per trained-teacher entry: the second process waits for the lock, then reuses the teacher."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    go, cache = tmp_path / "go", tmp_path / "cache"
    procs = [subprocess.Popen([sys.executable, "-c", TRAIN, str(TINY), str(cache), str(go)], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    time.sleep(4)  # both imported torch and generated the data
    go.touch()
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    got = [json.loads(o.strip().splitlines()[-1]) for o, _ in outs]
    assert sorted(g["cached"] for g in got) == [False, True], outs  # trained once, reused once
    assert got[0]["hash"] == got[1]["hash"] and got[0]["seconds"] == got[1]["seconds"]  # the same teacher
    waiter = next(e for (_, e), g in zip(outs, got) if g["cached"])
    assert "teacher: waiting for another process training" in waiter
    entry, = (cache / "teachers").iterdir()
    assert sorted(p.name for p in entry.iterdir()) == ["result.json", "teacher.safetensors"]  # no temp files left


def test_two_concurrent_runs_on_a_cold_cache_both_succeed(tmp_path):
    """The issue's reproducer: two `edgedistill distill` runs, one cold cache (teacher, data, outputs)."""
    env = {**os.environ, "EDGEDISTILL_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "edgedistill", "distill", str(TINY), "--out",
                               str(tmp_path / f"run{i}"), "--quiet"], env=env, cwd=ROOT, stderr=subprocess.PIPE,
                              text=True) for i in range(2)]
    errs = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    for i in range(2):
        assert (tmp_path / f"run{i}" / "distill.json").is_file()
    assert len(list((tmp_path / "cache" / "teacher-outputs").iterdir())) == 1
    assert not list(tmp_path.glob(".run*"))  # no staging, checkpoints or lock files left


def test_a_second_run_into_a_folder_being_written_is_told_so(tmp_path):
    env = {**os.environ, "EDGEDISTILL_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    out, first_ckpt = tmp_path / "run", tmp_path / ".run.checkpoints" / "teacher" / "step-00000001"
    slow = tmp_path / "slow.toml"  # a teacher that trains for minutes: killed long before it is done
    text = tiny_text().replace('budgets = "tiny.budgets.toml"', "")
    slow.write_text(text.replace("epochs = 2\nlr = 1e-2\n\n[student]", "epochs = 500\nlr = 1e-2\n\n[student]"))
    assert "epochs = 500" in slow.read_text()
    first = subprocess.Popen([sys.executable, "-m", "edgedistill", "distill", str(slow), "--out", str(out),
                              "--quiet", "--checkpoint-every", "1"], env=env, cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while not first_ckpt.exists() and first.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        assert first.poll() is None, "the first run ended before the second one could start"
        second = cli("distill", slow, "--out", out, "--quiet", env={"EDGEDISTILL_CACHE": str(tmp_path / "cache")})
        assert second.returncode == 2 and len(second.stderr.strip().splitlines()) == 1, second.stderr
        assert f"being written by another edgedistill run right now (pid {first.pid})" in second.stderr
        assert "interrupted" not in second.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    third = cli("distill", slow, "--out", out, "--quiet")  # now the checkpoints are an interrupted run's
    assert third.returncode == 2 and "holds checkpoints of an interrupted run" in third.stderr, third.stderr


def test_the_run_lock_dies_with_its_holder(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from edgedistill.runlock import acquire; "
                               "acquire(sys.argv[1]); print('held', flush=True); time.sleep(60)", str(out)],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UsageError, match=f"pid {holder.pid}"):
            acquire(out)
    finally:
        holder.kill()
        holder.wait()
    acquire(out)  # the kernel dropped the dead holder's flock
    assert lock_path(out).read_text().strip() == str(os.getpid())
    release(out)
    assert not lock_path(out).exists()
