"""Data-parallel training: 2 real CPU processes (gloo) — in sync, in the 1-process accuracy band, rank 0 writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import ROOT, TINY, cli
from safetensors.torch import load_file

from edgedistill.distill.ddp import Dist, launch

CHILD = Path(__file__).with_name("ddp_child.py")


def ranks(tmp: Path, nproc: int, *extra) -> tuple[list[dict], list[dict]]:
    """Run tests/ddp_child.py as `nproc` ranks; each rank's weights and result."""
    env = {"PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    if nproc == 1:
        subprocess.run([sys.executable, str(CHILD), str(tmp), *extra], check=True, timeout=300,
                       env={**os.environ, **env})
    else:
        old = dict(os.environ)
        os.environ.update(env)
        try:
            assert _launch_script(nproc, [str(CHILD), str(tmp), *extra]) == 0
        finally:
            os.environ.clear()
            os.environ.update(old)
    weights = [load_file(str(tmp / f"rank{r}.safetensors")) for r in range(nproc)]
    results = [json.loads((tmp / f"rank{r}.json").read_text()) for r in range(nproc)]
    return weights, results


def _launch_script(nproc, argv):
    """ddp.launch, pointed at a script instead of `-m edgedistill` (the same environment per rank)."""
    import edgedistill.distill.ddp as ddp

    real = ddp.subprocess.Popen

    def popen(cmd, env):
        return real([sys.executable, *argv], env=env)

    ddp.subprocess.Popen = popen
    try:
        return launch(nproc, [])
    finally:
        ddp.subprocess.Popen = real


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    return ranks(tmp_path_factory.mktemp("single"), 1)


def test_two_ranks_stay_in_sync_and_land_in_the_one_process_band(single, tmp_path):
    (w0, w1), (r0, r1) = ranks(tmp_path, 2)
    assert r0["world"] == r1["world"] == 2
    assert same(w0, w1), "DDP must keep the ranks' students identical"
    assert r0["final_loss"] > 0 and r0["steps"] == single[1][0]["steps"]  # same global batches, same schedule
    assert not same(w0, single[0][0])  # each rank really trained on half of every batch
    one, two = single[1][0]["metrics"]["accuracy"] / 100, r0["metrics"]["accuracy"] / 100
    assert one > 0.5, f"the task is learnable: 1 process reached {one:.1%}"
    assert abs(two - one) < 0.05, f"2 processes {two:.1%} vs 1 process {one:.1%}"


def test_without_gradient_sync_the_ranks_drift_apart(tmp_path):
    """The control: the same shards without DDP give different students, so the test above can fail."""
    (w0, w1), _ = ranks(tmp_path, 2, "--no-sync")
    assert not same(w0, w1)


def test_shard_splits_each_global_batch_and_gives_a_tiny_last_batch_to_every_rank():
    idx = torch.arange(10)
    assert Dist(0, 2).shard(idx).tolist() == [0, 2, 4, 6, 8] and Dist(1, 2).shard(idx).tolist() == [1, 3, 5, 7, 9]
    assert Dist(1, 2).shard(torch.tensor([7])).tolist() == [7]
    assert Dist(0, 1).shard(idx) is idx


def test_distill_command_with_two_processes_writes_once(tmp_path):
    env = {"EDGEDISTILL_CACHE": str(tmp_path / "cache")}
    p = cli("distill", TINY, "--nproc", "2", "--out", tmp_path / "run", "--json", env=env)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["processes"] == 2 and doc["students"]["distilled_transfer"]["final_loss"] > 0
    assert sorted(f.name for f in (tmp_path / "run").iterdir()) == [
        "distill.json", "student-distilled.safetensors", "student-distilled_transfer.safetensors",
        "student-scratch.safetensors", "teacher.safetensors"]
    assert not list(tmp_path.glob(".run.*"))  # no staging or checkpoint folder left behind
    assert len(list((tmp_path / "cache" / "teacher-outputs").iterdir())) == 1  # filled once, shared by the ranks


def test_torchrun_runs_the_same_command(tmp_path):
    env = {**os.environ, "EDGEDISTILL_CACHE": str(tmp_path / "cache")}
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                        "-m", "edgedistill", "distill", str(TINY), "--out", str(tmp_path / "run"), "--quiet"],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert json.loads((tmp_path / "run" / "distill.json").read_text())["processes"] == 2


def test_several_processes_refuse_no_cache_before_starting(tmp_path):
    p = cli("distill", TINY, "--nproc", "2", "--no-cache", "--out", tmp_path / "run")
    assert p.returncode == 2 and "--no-cache cannot be used with --nproc" in p.stderr
    assert not (tmp_path / "run").exists()
