"""The deliberately fragile student (one outlier channel, same float function): plain PTQ fails
parity with the layers named, --auto-exclude keeps them in float until it passes, and the QAT
path hands onnxruntime exactly the weights it trained with."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from edgedistill.errors import StageError
from edgedistill.export import parity
from edgedistill.export.onnx import export_onnx
from edgedistill.export.presets import load_preset
from edgedistill.export.standalone import load_checkpoint
from edgedistill.models.fragile import make_fragile
from edgedistill.quantize.stage import Sources, derive


@pytest.fixture(scope="module")
def fragile(tiny_run, cache_dir, tmp_path_factory):
    ck = load_checkpoint(tiny_run.out, cache_dir=cache_dir)
    ds, model = ck.dataset, make_fragile(ck.student, block=0, channel=0, factor=200.0)
    work = tmp_path_factory.mktemp("fragile")
    export_onnx(model, ck.task.signature(ds), work / "fragile-fp32.onnx", 18)
    ref = ck.student(torch.from_numpy(ds.x_test["input"])).detach().numpy()  # the *original* student
    s = Sources(work / "fragile-fp32.onnx", None, ds.x_train, ds.x_test, ds.y_test, ref)
    return s, ck, model, work


def test_fragile_model_computes_the_same_function_in_float(fragile):
    s, *_ = fragile
    got = parity.compare(s.reference, parity.onnx_logits(s.onnx_fp32, s.x_test["input"]), s.y_test)
    assert got.max_abs_diff < 1e-4 and got.top1_agreement == 1.0


def test_plain_ptq_fails_with_numbers_and_names_the_layers(fragile, tmp_path):
    s, *_ = fragile
    with pytest.raises(StageError) as info:
        derive(load_preset("onnx-int8-qdq"), "frag-int8.onnx", tmp_path, s)
    msg = str(info.value)
    assert "mean cosine" in msg and "layers that hurt most: node_Conv" in msg and "--auto-exclude" in msg
    assert info.value.meta["sensitivity"]["suggested_nodes_to_exclude"]
    assert info.value.parity["mean_cosine"]["value"] < 0.99


def test_auto_exclude_keeps_the_worst_layers_in_float_until_parity_holds(fragile, tmp_path):
    s, *_ = fragile
    meta, checked = derive(load_preset("onnx-int8-qdq"), "frag-int8.onnx", tmp_path, s, auto_exclude=True)
    auto = meta["auto_exclude"]
    assert auto["fixed"] is True and auto["attempts"][-1]["passed"] is True
    assert checked["mean_cosine"]["value"] >= 0.99 and checked["top1_agreement"]["value"] >= 97.0
    kept_float = set(auto["nodes_to_exclude"])
    m = onnx.load(str(tmp_path / "frag-int8.onnx"))
    convs = {n.name for n in m.graph.node if n.op_type == "Conv"}
    assert kept_float <= convs | {n.name for n in m.graph.node}
    assert meta["ops"].get("QuantizeLinear", 0) >= 1  # the rest is still int8


def test_qat_export_hands_onnxruntime_exactly_the_fake_quantized_weights(fragile):
    """How QAT reaches the file: ORT re-derives weight scales with the rule we trained with, so
    every int8 weight in the QDQ file dequantizes to the fake-quantized weight, bit for bit."""
    from edgedistill.quantize.qat import QuantLayer, fake_quant_weight, qat_kd_qdq

    s, ck, model, work = fragile
    preset = load_preset("onnx-int8-qdq")
    meta, qat = qat_kd_qdq(model, ck.teacher, ck.dataset, preset, work / "qat.onnx", epochs=1, transfer_rows=256)
    assert meta["qat_kd"]["epochs"] == 1 and len(meta["qat_kd"]["learned_ranges"]) == 3
    layers = [m.layer for m in qat.modules() if isinstance(m, QuantLayer)]
    expected = {layer.weight.numel(): np.sort(fake_quant_weight(layer.weight).detach().numpy().ravel())
                for layer in layers}  # weight sizes are distinct: 12, 96, 1600
    m = onnx.load(str(work / "qat.onnx"))
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in m.graph.initializer}
    got = {}
    for n in m.graph.node:  # weight DequantizeLinear: int8 initializer × per-output-channel scale
        w = inits.get(n.input[0])
        if n.op_type == "DequantizeLinear" and w is not None and w.dtype == np.int8 and w.ndim >= 2:
            scale = inits[n.input[1]].reshape(-1, *[1] * (w.ndim - 1))
            got[w.size] = np.sort((w.astype(np.float32) * scale).ravel())
    assert set(got) == set(expected)
    for size, values in got.items():
        np.testing.assert_allclose(values, expected[size], rtol=1e-6, atol=1e-7)
