"""Every derived preset on the tiny run's real student, onnxruntime-test style: make the file,
then assert its op types / initializer types and its numbers against the torch student."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from edgedistill.export.presets import load_preset
from edgedistill.export.standalone import export_one, load_checkpoint


@pytest.fixture(scope="module")
def ck(tiny_run, cache_dir):
    return load_checkpoint(tiny_run.out, cache_dir=cache_dir)


@pytest.fixture(scope="module")
def made(ck, tmp_path_factory):
    """preset name → (record, folder) for the ONNX-side presets the tiny recipe does not ship."""
    work, out = tmp_path_factory.mktemp("work"), tmp_path_factory.mktemp("out")
    return {n: export_one(ck, load_preset(n), out, work)
            for n in ("onnx-fp32", "onnx-fp16", "onnx-int8-dynamic", "ort-mobile-int8")}, out


def _ops(path):
    return [n.op_type for n in onnx.load(str(path)).graph.node]


def test_fp16_has_half_initializers_float32_io_and_parity(made):
    records, out = made
    m = onnx.load(str(out / "student-fp16.onnx"))
    weights = [i for i in m.graph.initializer if len(i.dims) >= 2]
    assert weights and all(i.data_type == onnx.TensorProto.FLOAT16 for i in weights)
    io = [*m.graph.input, *m.graph.output]
    assert all(v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for v in io)  # keep_io_types
    assert _ops(out / "student-fp16.onnx").count("Cast") >= 2
    p = records["onnx-fp16"]["parity"]
    assert p["max_abs_diff"]["value"] <= 0.05 and p["top1_agreement"]["value"] >= 99.0


def test_dynamic_int8_quantizes_the_gemm_at_run_time_and_keeps_conv_float(made):
    records, out = made
    ops = _ops(out / "student-int8-dynamic.onnx")
    assert "DynamicQuantizeLinear" in ops and ("MatMulInteger" in ops or "DynamicQuantizeMatMul" in ops)
    assert ops.count("Conv") == 2 and "QuantizeLinear" not in ops
    int8 = [i for i in onnx.load(str(out / "student-int8-dynamic.onnx")).graph.initializer
            if i.data_type == onnx.TensorProto.INT8]
    assert int8 and records["onnx-int8-dynamic"]["parity"]["top1_agreement"]["value"] >= 97.0
    meta = records["onnx-int8-dynamic"]["artifact"]["meta"]
    assert meta["per_channel"] is True and "reason" in meta["saturation"]


def test_ort_mobile_file_runs_and_reports_ep_coverage(made):
    records, out = made
    data = (out / "student-mobile-int8.ort").read_bytes()
    assert data[4:8] == b"ORTM"  # the ORT flatbuffer file identifier
    meta = records["ort-mobile-int8"]["artifact"]["meta"]
    assert set(meta["mobile"]) == {"NNAPI", "CoreML MLProgram", "CoreML NeuralNetwork"}
    for ep in meta["mobile"].values():
        assert ep["suitability"] in ("YES", "MAYBE", "NO") and 0 < ep["supported_nodes"] <= ep["nodes"]
        assert isinstance(ep["unsupported_ops"], list)
    assert meta["ops"].get("QuantizeLinear", 0) >= 1  # the .ort was made from the QDQ graph
    assert records["ort-mobile-int8"]["parity"]["top1_agreement"]["value"] >= 97.0


def test_fp32_offline_optimisation_is_measured_and_recorded(made):
    records, _ = made
    opt = records["onnx-fp32"]["artifact"]["meta"]["offline_optimization"]
    assert opt["how"] == "measured" and set(opt["session_create_ms"]) == {"original", "optimized"}
    assert opt["kept"] == (opt["session_create_ms"]["optimized"] < opt["session_create_ms"]["original"])
    assert records["onnx-fp32"]["parity"]["max_abs_diff"]["value"] <= 1e-4


def test_nodes_to_exclude_keep_a_layer_in_float(ck, tmp_path):
    (tmp_path / "keep-gemm.toml").write_text(
        'name = "keep-gemm"\nformat = "onnx"\nprecision = "int8"\nopset = 18\n'
        '[quantization]\nmode = "static"\nnodes_to_exclude = ["node_linear"]\n[parity]\nmin_top1_agreement = 0.9\n')
    rec = export_one(ck, load_preset(str(tmp_path / "keep-gemm.toml")), tmp_path, tmp_path)
    m = onnx.load(str(tmp_path / "student-keep-gemm.onnx"))
    gemm = next(n for n in m.graph.node if n.op_type == "Gemm")
    weight = next(i for i in m.graph.initializer if i.name == gemm.input[1])
    assert weight.data_type == onnx.TensorProto.FLOAT  # kept float, not fed by a DequantizeLinear
    assert _ops(tmp_path / "student-keep-gemm.onnx").count("Conv") == 2
    assert rec["artifact"]["meta"]["nodes_to_exclude"] == ["node_linear"]


def test_calibration_method_and_sample_count_are_recorded(ck, tmp_path):
    (tmp_path / "pct.toml").write_text('name = "pct"\nformat = "onnx"\nprecision = "int8"\nopset = 18\n'
                                       '[quantization]\ncalibration = "percentile"\ncalibration_samples = 96\n'
                                       '[parity]\nmin_top1_agreement = 0.8\n')
    meta = export_one(ck, load_preset(str(tmp_path / "pct.toml")), tmp_path, tmp_path)["artifact"]["meta"]
    assert meta["calibration"] == "percentile" and meta["calibration_samples"] == 96
    assert np.isfinite(meta["calibration_samples"])
