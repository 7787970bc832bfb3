"""Issue 12, bench side: every model input fed (eval set by input name, else synthesised), task metrics
from tasks/metrics.py on the first output — natively and in the browser, with the same numbers."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from conftest import cli
from onnx import TensorProto, helper, numpy_helper
from test_bench_native import lean_profile
from test_browser import quick_profile

from edgedistill.tasks import UNLABELED as IGNORE
from edgedistill.tasks.metrics import evaluate

V, D, T = 12, 8, 6  # vocabulary, width, sequence length


def tiny_lm(path):
    """input_ids (N, T) int64 + attention_mask (N, T) int64 → logits (N, T, V): embed, mask, project."""
    rng = np.random.default_rng(3)
    emb = numpy_helper.from_array(rng.standard_normal((V, D)).astype(np.float32), "emb")
    out = numpy_helper.from_array(rng.standard_normal((D, V)).astype(np.float32), "out")
    axes = numpy_helper.from_array(np.array([-1], np.int64), "axes")
    nodes = [helper.make_node("Gather", ["emb", "input_ids"], ["h"]),  # (N, T, D)
             helper.make_node("Cast", ["attention_mask"], ["m"], to=TensorProto.FLOAT),
             helper.make_node("Unsqueeze", ["m", "axes"], ["m3"]),  # (N, T, 1)
             helper.make_node("Mul", ["h", "m3"], ["hm"]),
             helper.make_node("MatMul", ["hm", "out"], ["logits"])]  # (N, T, V)
    vi = helper.make_tensor_value_info
    graph = helper.make_graph(nodes, "lm", [vi("input_ids", TensorProto.INT64, ["N", "T"]),
                                            vi("attention_mask", TensorProto.INT64, ["N", "T"])],
                              [vi("logits", TensorProto.FLOAT, ["N", "T", V])], [emb, out, axes])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def tiny_embedder(path):
    """x (N, 16) → MatMul (16, 8) → embedding (N, 8)."""
    w = numpy_helper.from_array(np.random.default_rng(4).standard_normal((16, D)).astype(np.float32), "w")
    vi = helper.make_tensor_value_info
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["embedding"])], "embed",
                              [vi("x", TensorProto.FLOAT, ["N", 16])], [vi("embedding", TensorProto.FLOAT, ["N", D])],
                              [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def native_outputs(model, feeds):
    import onnxruntime as ort

    return ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, feeds)[0]


@pytest.fixture(scope="module")
def lm_case(tmp_path_factory):
    """The 2-input LM, an lm eval set (300 rows: more than one eval batch), and its expected metrics."""
    d = tmp_path_factory.mktemp("lm")
    model = tiny_lm(d / "lm.onnx")
    rng = np.random.default_rng(5)
    ids = rng.integers(0, V, (300, T)).astype(np.int64)
    mask = np.ones((300, T), np.int64)
    mask[:, -1] = 0  # padding position: masked in the model, ignored in the targets
    logits = native_outputs(model, {"input_ids": ids, "attention_mask": mask})
    y = rng.integers(0, V, (300, T)).astype(np.int64)
    y[:, -1] = IGNORE
    teacher = np.where(rng.random((300, T)) < 0.7, logits.argmax(-1), (logits.argmax(-1) + 1) % V)
    refs = {"y": y, "teacher_pred": teacher.astype(np.int64)}
    np.savez(d / "eval.npz", input_ids=ids, attention_mask=mask, **refs)
    return model, d / "eval.npz", evaluate("lm", logits, refs)


def _figures(doc, device):
    return {m["metric"]: m for m in doc["measurements"] if m["device"] == device}


def _bench(tmp_path, *args):
    r = cli("bench", *args, "--json", env={"EDGEDISTILL_CACHE": str(tmp_path / "cache")})
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_two_int64_inputs_and_lm_metrics_native(lm_case, tmp_path):
    model, data, expected = lm_case
    doc = _bench(tmp_path, model, "--device", lean_profile(tmp_path), "--data", data)
    got = _figures(doc, "lean")
    assert set(expected) == {"perplexity", "accuracy", "agreement"}
    for metric, (value, unit) in expected.items():
        assert got[metric]["value"] == pytest.approx(value, rel=1e-5) and got[metric]["unit"] == unit
        assert got[metric]["how"] == "measured"
    details = doc["statuses"][0]["details"]
    assert details["task"] == "lm" and details["eval_samples"] == 300
    # graph cost with two inputs at the eval rows' length, as fed (no --shape): MatMul (1·T·D)·V MACs
    assert doc["cost"]["lm.onnx"]["macs"] == T * D * V and doc["cost"]["lm.onnx"]["estimate"] == "available"


def test_multi_input_without_data_synthesises_every_input(lm_case, tmp_path):
    model, _, _ = lm_case
    doc = _bench(tmp_path, model, "--device", lean_profile(tmp_path), "--shape", "input_ids=1x6",
                 "--shape", "attention_mask=1x6")
    assert _figures(doc, "lean")["p50_ms"]["value"] > 0  # int inputs are ones: valid token ids
    assert doc["cost"]["lm.onnx"]["macs"] == T * D * V


def test_embed_metrics_native_with_the_task_named(tmp_path):
    model = tiny_embedder(tmp_path / "embed.onnx")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((40, 16)).astype(np.float32)
    vec = native_outputs(model, {"x": x})
    refs = {"teacher_embedding": vec + 0.1 * rng.standard_normal(vec.shape), "pair_a": np.arange(0, 20),
            "pair_b": np.arange(20, 40), "gold": rng.random(20)}
    np.savez(tmp_path / "eval.npz", x=x, **refs)
    doc = _bench(tmp_path, model, "--device", lean_profile(tmp_path), "--data", tmp_path / "eval.npz",
                 "--task", "embed")
    got = _figures(doc, "lean")
    for metric, (value, unit) in evaluate("embed", vec, refs).items():
        assert got[metric]["value"] == pytest.approx(value, rel=1e-4, abs=1e-6) and got[metric]["unit"] == unit


@pytest.mark.browser
def test_two_int64_inputs_and_lm_metrics_in_the_browser(lm_case, tmp_path):
    """The page feeds both inputs and POSTs the logits back; Python computes the same metrics."""
    from edgedistill.bench.stage import RUNNERS

    model, data, expected = lm_case
    ms, _ = RUNNERS.get("onnxruntime-web")("lm.onnx", model, quick_profile(tmp_path, "browser-wasm"), data)
    got = {m.metric: m.figure for m in ms}
    for metric, (value, unit) in expected.items():
        assert got[metric].value == pytest.approx(value, rel=1e-4) and got[metric].unit == unit
        assert got[metric].how == "browser"


@pytest.mark.browser
def test_embed_metrics_in_the_browser_equal_native(tmp_path):
    from edgedistill.bench.stage import RUNNERS

    model = tiny_embedder(tmp_path / "embed.onnx")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((30, 16)).astype(np.float32)
    vec = native_outputs(model, {"x": x})
    refs = {"teacher_embedding": vec[::-1].copy()}
    np.savez(tmp_path / "eval.npz", x=x, **refs)
    ms, _ = RUNNERS.get("onnxruntime-web")("embed.onnx", model, quick_profile(tmp_path, "browser-wasm"),
                                           tmp_path / "eval.npz")
    got = {m.metric: m.figure.value for m in ms}
    for metric, (value, _) in evaluate("embed", vec, refs).items():
        assert got[metric] == pytest.approx(value, rel=1e-4, abs=1e-6)
