"""Graph cost on a hand-built graph with known MACs/params, and the roofline arithmetic."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgedistill.bench.cost import graph_cost
from edgedistill.bench.estimate import estimate_ms, estimated, op_seconds
from edgedistill.devices import load_profile


def save_cnn(path, batch_dim="N"):
    """x (N,3,8,8) → Conv 4×3×3×3 pad 1 → Relu → Flatten → Gemm (256→10) → MatMul (10→5)."""
    inits = [numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w"),
             numpy_helper.from_array(np.ones((4,), np.float32), "b"),
             numpy_helper.from_array(np.ones((256, 10), np.float32), "g"),
             numpy_helper.from_array(np.ones((10, 5), np.float32), "m")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Flatten", ["r"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "g"], ["h"], name="gemm"),
             helper.make_node("MatMul", ["h", "m"], ["y"], name="mm")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch_dim, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch_dim, 5])
    graph = helper.make_graph(nodes, "cnn", [x], [y], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


CONV_MACS = 4 * 8 * 8 * (3 * 3 * 3)  # output elements × Cin × kH × kW = 6912
GEMM_MACS, MM_MACS = 256 * 10, 10 * 5


def test_macs_params_and_weight_bytes_of_a_known_graph(tmp_path):
    cost = graph_cost(save_cnn(tmp_path / "cnn.onnx"))
    by_name = {o.name: o for o in cost.ops}
    assert by_name["conv"].macs == CONV_MACS and by_name["gemm"].macs == GEMM_MACS and by_name["mm"].macs == MM_MACS
    assert by_name["relu"].macs == 0 and by_name["relu"].elements == 256  # non-MAC ops: output elements
    assert cost.macs == CONV_MACS + GEMM_MACS + MM_MACS
    assert cost.params == 108 + 4 + 2560 + 50 and cost.weight_bytes == 4 * cost.params
    assert cost.heaviest(1)[0].name == "conv"
    # live at once at worst: the conv output (256 floats) and the relu output (256 floats)
    assert cost.peak_activation_bytes == 2 * 256 * 4
    assert cost.to_json()["macs_by_op_type"] == {"Conv": CONV_MACS, "Gemm": GEMM_MACS, "MatMul": MM_MACS}


def test_dynamic_batch_scales_macs(tmp_path):
    path = save_cnn(tmp_path / "cnn.onnx")
    assert graph_cost(path, batch=4).macs == 4 * graph_cost(path, batch=1).macs
    assert graph_cost(path, shapes={"x": [2, 3, 8, 8]}).macs == 2 * graph_cost(path).macs


def test_roofline_takes_the_slower_of_compute_and_memory():
    # 1 GMAC = 2 GFLOP at 100 GFLOP/s = 20 ms; 1 GB at 10 GB/s = 100 ms → memory-bound
    assert op_seconds(10**9, 0, 10**9, 100.0, 10.0) == pytest.approx(0.1)
    assert op_seconds(10**9, 0, 10**6, 100.0, 10.0) == pytest.approx(0.02)
    assert op_seconds(0, 5 * 10**9, 0, 100.0, 1e9) == pytest.approx(0.05)  # non-MAC op: one FLOP per element


def test_estimate_sums_ops_and_is_labelled_estimated(tmp_path):
    cost = graph_cost(save_cnn(tmp_path / "cnn.onnx"))
    profile = load_profile("mobile-little-core")
    g, bw = profile.peak.gflops, profile.peak.bandwidth_gbs
    expected = 1e3 * sum(max((2 * o.macs or o.elements) / (g * 1e9), o.bytes / (bw * 1e9)) for o in cost.ops)
    assert estimate_ms(cost, g, bw) == pytest.approx(expected)
    (m,) = estimated("cnn.onnx", cost, profile)
    assert (m.metric, m.figure.how, m.figure.unit) == ("estimated_ms", "estimated", "ms")
    assert estimated("cnn.onnx", cost, load_profile("coreml")) == []  # no published peaks → no estimate


def test_every_peak_figure_cites_a_source():
    for name in ("host-cpu", "mobile-big-core", "mobile-little-core"):
        peak = load_profile(name).peak
        assert peak.gflops > 0 and len(peak.gflops_source) > 20 and len(peak.bandwidth_source) > 20
