"""A pretrained classifier scoring near chance is distilled with a warning (issue 13, item 16): one line on
stderr even with --quiet, recorded in report.json and distill.json."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import cli

from edgedistill.distill.train import TrainResult
from edgedistill.tasks import get_task

TEACHER = '''import torch
from torch import nn


def always_zero():
    """A "pretrained" teacher that answers class 0 whatever it sees."""
    m = nn.Linear(4, 3)
    with torch.no_grad():
        m.weight.zero_()
        m.bias.copy_(torch.tensor([1.0, 0.0, 0.0]))
    return m
'''

RECIPE = '''name = "chance"
[data]
name = "npz"
path = "d.npz"
[teacher]
source = "import"
factory = "chance_teacher:always_zero"
[student]
arch = "mlp"
train = { epochs = 1, lr = 1e-2 }
transfer_train = { epochs = 1, lr = 1e-2 }
[export]
presets = ["onnx-fp32"]
[bench]
devices = []
'''


def test_a_teacher_below_chance_is_distilled_with_a_warning(tmp_path):
    rng = np.random.default_rng(0)
    y_test = np.array([0] * 5 + [1] * 8 + [2] * 7)  # class 0 is 25% of the test rows: the teacher scores 25%
    np.savez(tmp_path / "d.npz", x_train=rng.normal(size=(60, 4)).astype(np.float32),
             y_train=np.arange(60) % 3, x_test=rng.normal(size=(20, 4)).astype(np.float32), y_test=y_test)
    (tmp_path / "chance_teacher.py").write_text(TEACHER)
    (tmp_path / "r.toml").write_text(RECIPE)
    got = cli("run", tmp_path / "r.toml", "--out", tmp_path / "run", "--quiet",
              env={"EDGEDISTILL_CACHE": str(tmp_path / "cache")})
    assert got.returncode == 0, got.stderr
    warning = ("warning: teacher chance_teacher:always_zero scores 25.0% test accuracy, near chance (33.3% on 3 "
               "classes): its students will learn little")
    assert [line for line in got.stderr.splitlines() if line.startswith("warning:")] == \
        [line for line in got.stderr.splitlines() if warning in line], got.stderr  # one line, shown with --quiet
    assert warning in got.stderr
    teacher = json.loads((tmp_path / "run" / "report.json").read_text())["training"]["teacher"]
    assert teacher["warning"] == warning.removeprefix("warning: ") + \
        " — check that its class order and input preprocessing match the data's"
    only = cli("distill", tmp_path / "r.toml", "--out", tmp_path / "weights", "--quiet",
               env={"EDGEDISTILL_CACHE": str(tmp_path / "cache")})
    assert only.returncode == 0 and warning in only.stderr, only.stderr
    assert json.loads((tmp_path / "weights" / "distill.json").read_text())["teacher"]["warning"] == teacher["warning"]


@pytest.mark.parametrize("accuracy, classes, source, task, warned", [
    (60.0, 2, "onnx", "classify", True), (60.1, 2, "onnx", "classify", False),  # binary: chance + 10 points
    (43.3, 3, "onnx", "classify", True), (43.4, 3, "onnx", "classify", False),
    (15.0, 10, "onnx", "classify", True), (15.1, 10, "onnx", "classify", False),  # 1.5 × chance
    (0.15, 1000, "import", "classify", True), (0.2, 1000, "import", "classify", False),
    (5.0, 10, "train", "classify", False),  # trained here: its progress is on screen already
    (5.0, 10, "onnx", "lm", False),  # next-token accuracy has no "chance" of 1/classes
])
def test_near_chance_is_at_most_one_and_a_half_times_chance_capped_at_ten_points(accuracy, classes, source, task,
                                                                                 warned):
    from edgedistill.distill.teacher import chance_warning

    recipe = SimpleNamespace(teacher=SimpleNamespace(source=source, path="t.onnx", factory=None))
    result = TrainResult("teacher", {"accuracy": accuracy}, 1, 0, 0, 0, 0.0, float("nan"))
    assert bool(chance_warning(recipe, get_task(task), result, classes)) == warned
