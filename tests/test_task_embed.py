"""The embed task through the one pipeline: a pretrained teacher that maps inputs to vectors (an ONNX
file the test builds), unlabelled data, a student that learns the vectors (embedding_mse), fp16
export judged by cosine, benched with cosine and neighbour overlap through onnxruntime, gated."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import FIXTURES, cli

from edgedistill.tasks.metrics import evaluate, nn_overlap, spearman

DIM_IN, DIM_OUT = 16, 8


def write_teacher(path: Path) -> torch.nn.Module:
    """A fixed random 2-layer network (16 → 32 → 8) as a single-file ONNX teacher."""
    torch.manual_seed(5)
    net = torch.nn.Sequential(torch.nn.Linear(DIM_IN, 32), torch.nn.Tanh(), torch.nn.Linear(32, DIM_OUT)).eval()
    torch.onnx.export(net, (torch.zeros(2, DIM_IN),), str(path), dynamo=False, input_names=["features"],
                      output_names=["vectors"], dynamic_axes={"features": {0: "n"}, "vectors": {0: "n"}})
    return net


@pytest.fixture(scope="module")
def embed_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("embed")
    write_teacher(folder / "teacher.onnx")
    rng = np.random.default_rng(0)
    np.savez(folder / "data.npz", x_train=rng.standard_normal((600, DIM_IN)).astype(np.float32))  # no labels
    np.savez(folder / "more.npz", x_unlabeled=rng.standard_normal((1200, DIM_IN)).astype(np.float32))
    (folder / "budgets.toml").write_text(
        '[[check]]\nartifact = "student-fp16.onnx"\ndevice = "host-cpu"\nmetric = "cosine"\nlimit = "0.9"\n\n'
        '[[check]]\nartifact = "student-fp16.onnx"\ndevice = "host-cpu"\nmetric = "nn_overlap"\n'
        'limit = "30 %"\n')
    (folder / "embed.toml").write_text('''
name = "embed-toy"
task = "embed"

[data]
name = "npz"
path = "data.npz"
unlabeled = "more.npz"

[teacher]
source = "onnx"
path = "teacher.onnx"

[student]
arch = "mlp"
width = 32
depth = 1
[student.train]
epochs = 20
lr = 1e-2
[student.transfer_train]
epochs = 20
lr = 1e-2

[distill]
loss = "embedding_mse"
[[distill.terms]]
loss = "embedding_cosine"
weight = 0.5

[export]
presets = ["onnx-fp32", "onnx-fp16"]

[bench]
devices = ["HOST"]

[gate]
budgets = "budgets.toml"
'''.replace("HOST", str(FIXTURES / "devices" / "host-cpu.toml")))  # the shipped profile, fewer timed runs
    return folder


@pytest.fixture(scope="module")
def embed_run(embed_folder, tmp_path_factory, cache_dir):
    out = tmp_path_factory.mktemp("embed-run") / "run"
    r = cli("run", embed_folder / "embed.toml", "--out", out, "--json", env={"EDGEDISTILL_CACHE": str(cache_dir)})
    assert r.returncode == 0, r.stderr
    return out, json.loads(r.stdout)


def test_students_learn_the_teachers_vectors_without_labels(embed_run):
    _, report = embed_run
    tr = report["training"]
    assert report["task"] == "embed" and tr["headline"] == "nn_overlap" and tr["shipped"] == "distilled_transfer"
    assert set(tr["students"]) == {"distilled", "distilled_transfer"}  # no labels: no scratch student
    assert report["data"]["outputs"] == ["embedding (batch, 8) float32"]
    shipped = tr["students"]["distilled_transfer"]["metrics"]
    assert shipped["cosine"]["value"] > 0.9 and shipped["nn_overlap"]["value"] > 30
    # more (unlabelled) rows teach more: the transfer student is at least as close to the teacher
    assert shipped["cosine"]["value"] >= tr["students"]["distilled"]["metrics"]["cosine"]["value"] - 0.01


def test_fp16_file_is_judged_by_cosine_benched_and_gated(embed_run):
    out, report = embed_run
    p = report["parity"]["student-fp16.onnx"]
    assert p["mean_cosine"]["value"] > 0.999 and "top1_agreement" not in p  # vectors have no top-1 class
    ms = {(m["artifact"], m["device"], m["metric"]): m["value"] for m in report["measurements"]}
    torch_cos = report["training"]["students"]["distilled_transfer"]["metrics"]["cosine"]["value"]
    assert ms[("student-fp32.onnx", "host-cpu", "cosine")] == pytest.approx(torch_cos, abs=1e-4)
    assert ms[("teacher-fp32.onnx", "host-cpu", "nn_overlap")] == pytest.approx(100)  # the teacher is the reference
    assert report["gate"]["passed"] and {c["metric"] for c in report["gate"]["checks"]} == {"cosine", "nn_overlap"}
    assert (out / "student-fp16.onnx").is_file() and (out / "eval.npz").is_file()
    with np.load(out / "eval.npz") as z:
        assert z["teacher_embedding"].shape == (120, DIM_OUT) and z["input"].shape == (120, DIM_IN)


def test_a_classifier_recipe_on_unlabelled_data_is_refused(embed_folder, tmp_path):
    bad = embed_folder / "bad.toml"  # beside the data: paths are relative to the recipe file
    bad.write_text('extends = "embed.toml"\nname = "bad"\ntask = "classify"\n'
                   '[distill]\nloss = "hinton_kd"\nterms = []\n')
    r = cli("run", bad, "--out", tmp_path / "run")
    assert r.returncode in (2, 3) and "Traceback" not in r.stderr, r.stderr
    assert "data.npz: no labels: task 'classify' trains on class ids" in r.stderr


def test_embed_recipe_errors_name_the_key(embed_folder, tmp_path):
    from edgedistill.errors import ConfigError
    from edgedistill.recipe import load_recipe

    with pytest.raises(ConfigError, match="distill.loss: 'hinton_kd' reads class labels"):
        load_recipe(embed_folder / "embed.toml", {"distill": {"loss": "hinton_kd"}})
    with pytest.raises(ConfigError, match="teacher.source: an embedding task distils a pretrained teacher"):
        load_recipe(embed_folder / "embed.toml", {"teacher": {"source": "train", "path": None, "arch": "mlp",
                                                             "train": {"epochs": 1, "lr": 0.1}}})


def test_embedding_metrics_match_hand_computations():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((50, 6))
    assert nn_overlap(a, a) == 1.0 and nn_overlap(a, 3 * a) == 1.0  # cosine neighbours ignore the scale
    # a second set whose neighbour structure is unrelated shares about k/(N-1) of the neighbours by chance
    assert nn_overlap(a, rng.standard_normal((50, 6))) < 0.5
    got = evaluate("embed", a, {"teacher_embedding": a, "pair_a": np.arange(10), "pair_b": np.arange(10, 20),
                                "gold": np.arange(10.0)})
    assert got["cosine"][0] == pytest.approx(1.0) and got["nn_overlap"][0] == pytest.approx(100.0)
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486833, abs=1e-6)  # ties share their rank
