"""Embedding probes (tasks/probes.py) against known answers, and the ONNX single-assignment repair that lets a
model with a token table (`F.embedding`, a value the exporter names "embedding") have an output "embedding"."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edgedistill.tasks.metrics import evaluate, unit_rows
from edgedistill.tasks.probes import fewshot_accuracy, fit_logistic, knn_accuracy


def clusters(n_per: int, spread: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = np.eye(4, 16) * 3
    y = np.repeat(np.arange(4), n_per)
    return unit_rows(centres[y] + spread * rng.standard_normal((len(y), 16))), y


def test_separated_classes_score_100_and_noise_scores_near_chance():
    x, y = clusters(40, 0.1)
    assert knn_accuracy(x, y) == 100.0 and fewshot_accuracy(x, y) == 100.0
    rng = np.random.default_rng(1)
    noise = unit_rows(rng.standard_normal((800, 16)))
    y = rng.integers(0, 4, 800)
    assert 15 < knn_accuracy(noise, y) < 35 and 15 < fewshot_accuracy(noise, y) < 35  # chance: 25 %


def test_knn_leaves_each_row_out():
    # two rows of class 0 and one of class 1, each row closest to the other class: left out, every vote is wrong
    x = unit_rows(np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]]))
    y = np.array([0, 0, 1])
    assert knn_accuracy(x, y, k=1) == 0.0


def test_logistic_regression_matches_sklearns_objective():
    sklearn = pytest.importorskip("sklearn.linear_model")
    x, y = clusters(16, 1.0, seed=2)
    w, b = fit_logistic(x, y, 4)
    ref = sklearn.LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(x, y)
    assert np.abs(ref.coef_.T - w).max() < 1e-4 and np.abs(ref.intercept_ - b).max() < 1e-4


def test_embed_metrics_read_the_probe_and_the_neighbour_rows():
    x, y = clusters(30, 0.3)
    probe = np.concatenate([np.full(50, -1), y])
    rng = np.random.default_rng(3)
    sentences = unit_rows(rng.standard_normal((50, 16)))
    vec = np.concatenate([sentences, x])
    refs = {"teacher_embedding": vec, "probe_class": probe, "nn_row": np.arange(len(vec)) < 50}
    got = evaluate("embed", vec, refs)
    assert got["nn_overlap"][0] == 100.0 and got["knn_accuracy"][0] == 100.0
    shuffled = evaluate("embed", vec, {**refs, "teacher_embedding": np.concatenate([sentences[::-1], x])})
    assert shuffled["nn_overlap"][0] < 40  # only the 50 sentence rows are compared, and they no longer match


def test_inner_values_named_like_an_output_are_renamed():
    from edgedistill.export.onnx import single_assignment

    # "embedding" assigned twice: Gather's value (read by Mul) and the graph output written by Identity
    nodes = [helper.make_node("Gather", ["table", "ids"], ["embedding"]),
             helper.make_node("Mul", ["embedding", "two"], ["y"]),
             helper.make_node("Identity", ["y"], ["embedding"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("ids", TensorProto.INT64, [3])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [3, 2])],
        [helper.make_tensor("table", TensorProto.FLOAT, [4, 2], np.arange(8, dtype=np.float32)),
         helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(onnx.checker.ValidationError):
        onnx.checker.check_model(model, full_check=True)
    single_assignment(model.graph)
    onnx.checker.check_model(model, full_check=True)
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"ids": np.array([0, 3, 1])})[0]
    assert np.array_equal(got, 2 * np.arange(8, dtype=np.float32).reshape(4, 2)[[0, 3, 1]])
