"""Never lose a run: checkpoints, SIGKILL at random steps, bit-identical resume, corrupt-checkpoint
fallback, and refusal to resume a changed recipe."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import ROOT, TINY_HOST, cli, kill_run_at
from safetensors.torch import load_file

CHILD = Path(__file__).with_name("resume_child.py")
STEPS = 48  # 3 epochs × 16 batches in resume_child.py


def child(folder, out, *extra, check=True):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(CHILD), str(folder), str(out), *map(str, extra)],
                          capture_output=True, text=True, env=env, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def same_weights(a: Path, b: Path) -> bool:
    ta, tb = load_file(str(a)), load_file(str(b))
    return ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run's final weights."""
    d = tmp_path_factory.mktemp("ref")
    child(d / "ckpt", d / "final.safetensors", "--every", "0")
    return d / "final.safetensors"


def kill_at(folder: Path, out: Path, step: int, *extra) -> None:
    """Start a real training process and SIGKILL it once checkpoint `step` exists."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(CHILD), str(folder), str(out), *extra], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (folder / f"step-{step:08d}").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists(), "the process finished before it could be killed"


def recorded_seconds(folder: Path) -> float:
    """The training seconds the newest checkpoint in `folder` recorded (what a resume starts from)."""
    return json.loads((sorted(folder.glob("step-*"))[-1] / "meta.json").read_text())["seconds"]


@pytest.mark.parametrize("seed", [0, 1])
def test_sigkill_at_a_random_step_then_resume_is_bit_identical(seed, reference, tmp_path):
    step = random.Random(seed).randrange(3, STEPS - 3)
    kill_at(tmp_path / "ckpt", tmp_path / "final.safetensors", step)
    assert any(tmp_path.joinpath("ckpt").glob("step-*"))
    killed_share = recorded_seconds(tmp_path / "ckpt")
    child(tmp_path / "ckpt", tmp_path / "final.safetensors", "--resume", "--seconds", tmp_path / "seconds")
    assert same_weights(reference, tmp_path / "final.safetensors")
    # the reported training time is the stage's total: the killed process's share plus the resumed one's
    assert 0 < killed_share <= float((tmp_path / "seconds").read_text())


def test_a_stage_finished_before_the_kill_reports_its_training_time_not_zero(reference, tmp_path):
    ck = tmp_path / "ckpt"
    first = in_process(ck, tmp_path / "full.safetensors", "--every", "10")  # as if killed right after its final save
    again = in_process(ck, tmp_path / "final.safetensors", "--resume", "--every", "10")  # trains no step
    assert same_weights(reference, tmp_path / "final.safetensors")
    assert 0 < recorded_seconds(ck) <= first.seconds
    assert again.seconds >= recorded_seconds(ck)  # not the resumed process's ~0 s of evaluation alone


def test_a_checkpoint_with_bad_seconds_falls_back_and_one_without_them_resumes(reference, tmp_path, capsys):
    """meta.json is not covered by the sha256; checkpoints of older versions have no `seconds`."""
    ck = tmp_path / "ckpt"
    in_process(ck, tmp_path / "full.safetensors", "--every", "10")  # steps 30, 40, 48
    older, newest = sorted(ck.glob("step-*"))[-2:]
    for path, edit in ((newest, lambda m: {**m, "seconds": "soon"}),
                       (older, lambda m: {k: v for k, v in m.items() if k != "seconds"})):
        (path / "meta.json").write_text(json.dumps(edit(json.loads((path / "meta.json").read_text()))))
    result = in_process(ck, tmp_path / "final.safetensors", "--resume", "--every", "10")
    assert f"checkpoint {newest} is corrupt or truncated (seconds 'soon' is not a number of seconds)" \
        in capsys.readouterr().out
    assert same_weights(reference, tmp_path / "final.safetensors") and result.seconds > 0  # resumed from step 40


def test_augmented_run_with_the_teacher_live_resumes_bit_identical(reference, tmp_path):
    """Augmentation draws from torch's RNG every step; the checkpoint's RNG state must replay it exactly."""
    child(tmp_path / "ref", tmp_path / "ref.safetensors", "--every", "0", "--augment")
    step = random.Random(2).randrange(3, STEPS - 3)
    kill_at(tmp_path / "ckpt", tmp_path / "final.safetensors", step, "--augment")
    child(tmp_path / "ckpt", tmp_path / "final.safetensors", "--resume", "--augment")
    assert same_weights(tmp_path / "ref.safetensors", tmp_path / "final.safetensors")
    assert not same_weights(reference, tmp_path / "final.safetensors")  # augmentation and live teacher did act


def in_process(folder, out, *extra):
    """The same training as the child, in this process (for tests that need no kill)."""
    import resume_child

    return resume_child.main([str(folder), str(out), *map(str, extra)])


def test_a_corrupt_newest_checkpoint_falls_back_with_a_warning(reference, tmp_path, capsys):
    ck = tmp_path / "ckpt"
    in_process(ck, tmp_path / "full.safetensors", "--every", "10")  # leaves steps 30, 40 and the final 48
    shutil.rmtree(sorted(ck.glob("step-*"))[-1])  # as if killed after step 40 …
    newest = sorted(ck.glob("step-*"))[-1]
    data = (newest / "state.safetensors").read_bytes()
    (newest / "state.safetensors").write_bytes(data[: len(data) // 2])  # … with step 40 truncated
    in_process(ck, tmp_path / "final.safetensors", "--resume", "--every", "10")
    assert f"checkpoint {newest} is corrupt or truncated (sha256 mismatch)" in capsys.readouterr().out
    assert same_weights(reference, tmp_path / "final.safetensors")  # resumed from step 30: same result


def test_no_usable_checkpoint_stops_instead_of_starting_over(tmp_path):
    from edgedistill.errors import InputFileError

    ck = tmp_path / "ckpt"
    in_process(ck, tmp_path / "a.safetensors", "--every", "20")  # steps 20, 40, 48
    (sorted(ck.glob("step-*"))[-1] / "meta.json").write_text("{ truncated")
    for p in ck.glob("step-*"):
        (p / "state.safetensors").write_bytes(b"garbage")
    with pytest.raises(InputFileError, match="no usable checkpoint"):
        in_process(ck, tmp_path / "b.safetensors", "--resume")
    assert not (tmp_path / "b.safetensors").exists()  # never silently restarted from scratch


def test_changed_recipe_is_refused_with_a_diff_and_checkpoints_are_never_overwritten(tmp_path):
    from edgedistill.errors import UsageError

    ck = tmp_path / "ckpt"
    kill_at(ck, tmp_path / "a.safetensors", 10)
    kept = sorted(p.name for p in ck.glob("step-*"))
    with pytest.raises(UsageError, match=r"lr: 0\.01 → 0\.02.*--force"):
        in_process(ck, tmp_path / "a.safetensors", "--resume", "--lr", "0.02")
    with pytest.raises(UsageError, match="pass --resume to continue it, or --force"):
        in_process(ck, tmp_path / "a.safetensors")
    assert sorted(p.name for p in ck.glob("step-*")) == kept


def test_run_killed_mid_training_resumes_to_the_same_student(tiny_run, tmp_path, cache_dir):
    """The whole pipeline: SIGKILL `edgedistill run` while a student trains, then `run --resume`."""
    out = tmp_path / "run"
    ckpt = tmp_path / ".run.checkpoints" / "student-distilled"
    kill_run_at(TINY_HOST, out, ckpt / "step-00000003", cache_dir)
    assert not out.exists()
    scratch_share = recorded_seconds(ckpt.with_name("student-scratch"))  # trained to the end before the kill
    again = cli("run", TINY_HOST, "--out", out, "--quiet")
    assert again.returncode == 2 and "--resume" in again.stderr  # checkpoints are never overwritten silently
    done = cli("run", TINY_HOST, "--out", out, "--quiet", "--resume", "--checkpoint-every", "1",
               env={"EDGEDISTILL_CACHE": str(cache_dir)})
    assert done.returncode in (0, 1), done.stderr
    for name in ("student-scratch", "student-distilled", "student-distilled_transfer"):
        assert same_weights(tiny_run.out / f"{name}.safetensors", out / f"{name}.safetensors"), name
    report = json.loads((out / "report.json").read_text())
    assert report["training"]["students"]["scratch"]["seconds"]["value"] >= scratch_share > 0  # not the resume's ~0 s
    assert not (tmp_path / ".run.checkpoints").exists()  # removed once the run completed
    assert not list(tmp_path.glob(".run.partial-*"))  # the killed run's staging folder went with it
