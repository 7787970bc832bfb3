"""The tiny recipe through every real stage: files, receipts, parity, report keys, gate."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from edgedistill.artifacts import sha256_path
from edgedistill.release.report import SCHEMA

EXPECTED = {"teacher-fp32.onnx", "student-fp32.onnx", "student-int8-qdq.onnx", "student-fp16.mlpackage",
            "teacher.safetensors", "student-scratch.safetensors", "student-distilled.safetensors",
            "student-distilled_transfer.safetensors"}


def test_run_folder_holds_every_artifact_with_a_true_receipt(tiny_run):
    arts = tiny_run.report["artifacts"]
    assert set(arts) == EXPECTED
    for name, a in arts.items():
        path = tiny_run.out / a["path"]
        assert path.exists(), name
        assert a["sha256"] == sha256_path(path), name  # the receipt matches the file on disk
    assert (tiny_run.out / "report.json").exists() and (tiny_run.out / "report.md").exists()
    assert not list(tiny_run.out.parent.glob(".*partial*"))  # staging folder renamed away


def test_onnx_files_are_single_file_dynamic_batch_and_checked(tiny_run):
    for name in ("teacher-fp32.onnx", "student-fp32.onnx", "student-int8-qdq.onnx"):
        path = tiny_run.out / name
        assert not path.with_name(name + ".data").exists()
        m = onnx.load(str(path))
        onnx.checker.check_model(m, full_check=True)
        dim0 = m.graph.input[0].type.tensor_type.shape.dim[0]
        assert dim0.dim_param and not dim0.dim_value, f"{name}: batch axis must be dynamic"
        assert all(not i.HasField("data_location") or i.data_location == 0 for i in m.graph.initializer)


def test_int8_file_is_static_qdq_per_channel_and_calibrated(tiny_run):
    m = onnx.load(str(tiny_run.out / "student-int8-qdq.onnx"))
    ops = [n.op_type for n in m.graph.node]
    assert ops.count("QuantizeLinear") >= 2 and ops.count("DequantizeLinear") >= 3
    weight_dq = [i for i in m.graph.initializer if i.data_type == onnx.TensorProto.INT8 and len(i.dims) >= 2]
    assert weight_dq, "conv/gemm weights must be stored as int8"
    # per-channel: some DequantizeLinear has a 1-D scale with one entry per output channel
    scales = {i.name: onnx.numpy_helper.to_array(i) for i in m.graph.initializer}
    per_channel = [n for n in m.graph.node if n.op_type == "DequantizeLinear"
                   and scales.get(n.input[1]) is not None and scales[n.input[1]].size > 1]
    assert per_channel
    meta = tiny_run.report["artifacts"]["student-int8-qdq.onnx"]["meta"]["quantization"]
    assert meta["calibration_samples"] == 480 and meta["per_channel"] is True
    assert "reduce_range" in meta and meta["cpu_flags"] is not None


def test_parity_is_measured_for_onnx_and_honestly_skipped_for_coreml_on_linux(tiny_run):
    parity = tiny_run.report["parity"]
    assert parity["student-fp32.onnx"]["max_abs_diff"] == {"value": pytest.approx(0, abs=1e-4), "unit": "logit",
                                                           "how": "measured"}
    assert parity["student-fp32.onnx"]["top1_agreement"]["value"] == 100.0
    assert parity["student-int8-qdq.onnx"]["top1_agreement"]["value"] >= 97.0
    assert parity["student-int8-qdq.onnx"]["samples"] == 120
    import sys

    if sys.platform != "darwin":
        assert "macOS" in parity["student-fp16.mlpackage"]["skipped"]


def test_coreml_package_reloads_with_interface_ops_and_weights(tiny_run):
    from edgedistill.export.coreml import validate

    info = validate(tiny_run.out / "student-fp16.mlpackage")
    assert info["graph_inputs"] == ["input"] and info["graph_outputs"] == ["logits"]
    assert info["ops"].get("conv", 0) == 2 and info["ops"].get("linear", 0) == 1
    # fp16 weights: 1,754 params × 2 bytes plus 64-byte alignment headers, far below fp32's 7 kB
    assert 1754 * 2 <= info["weight_bytes"] < 1754 * 4
    assert info["metadata"]["recipe"] == "tiny"


def test_report_schema_every_figure_has_unit_and_how(tiny_run):
    rep = json.loads((tiny_run.out / "report.json").read_text())
    assert rep["schema"] == SCHEMA
    assert set(rep) >= {"recipe", "environment", "training", "artifacts", "parity", "measurements", "gate"}
    assert set(rep["training"]["students"]) == {"scratch", "distilled", "distilled_transfer"}
    for m in rep["measurements"]:
        assert m["how"] in ("measured", "browser", "estimated") and m["unit"], m
    metrics = {(m["artifact"], m["metric"]) for m in rep["measurements"]}
    for art in ("teacher-fp32.onnx", "student-int8-qdq.onnx"):
        for metric in ("size", "gzip_size", "session_create_ms", "p50_ms", "p90_ms", "p99_ms",
                       "throughput", "peak_memory", "accuracy", "agreement"):
            assert (art, metric) in metrics, (art, metric)
    assert ("student-int8-qdq.onnx", "accuracy_drop") in metrics
    assert rep["environment"]["cpu"]["flags"] is not None


def test_bench_child_accuracy_equals_the_export_stage_parity_accuracy(tiny_run):
    # two independent onnxruntime evaluations (bench child process vs export parity in the parent)
    rep = tiny_run.report
    acc = {m["artifact"]: m["value"] for m in rep["measurements"] if m["metric"] == "accuracy"}
    for name in ("teacher-fp32.onnx", "student-fp32.onnx", "student-int8-qdq.onnx"):
        assert acc[name] == pytest.approx(rep["parity"][name]["accuracy"]["value"], abs=1e-9)
    # and the float files agree with torch's own test accuracy
    torch_acc = rep["training"]["students"]["distilled_transfer"]["test_accuracy"]["value"]
    assert acc["student-fp32.onnx"] == pytest.approx(torch_acc, abs=1e-9)
    assert acc["teacher-fp32.onnx"] == pytest.approx(rep["training"]["teacher"]["test_accuracy"]["value"], abs=1e-9)
    runs = [m["value"] for m in rep["measurements"] if m["metric"] == "latency_runs"]
    assert min(runs) >= 200


def test_teacher_stays_frozen_while_students_train(tiny_run, cache_dir):
    # the run saves the teacher after all three students trained; the cache holds it as trained
    from safetensors.numpy import load_file

    after = load_file(tiny_run.out / "teacher.safetensors")
    assert any("running_mean" in k for k in after)  # BatchNorm statistics are compared too

    def same(cached):
        return cached.keys() == after.keys() and all(np.array_equal(after[k], cached[k]) for k in after)

    # the cache may also hold other recipes' teachers (other tests): exactly this one must match
    assert sum(same(load_file(p)) for p in cache_dir.glob("teachers/*/teacher.safetensors")) == 1


def test_teacher_agreement_with_itself_is_total(tiny_run):
    agree = {m["artifact"]: m["value"] for m in tiny_run.report["measurements"] if m["metric"] == "agreement"}
    assert agree["teacher-fp32.onnx"] == 100.0


def test_gate_verdict_is_in_the_report(tiny_run):
    gate = tiny_run.report["gate"]
    assert gate["passed"] is True and len(gate["checks"]) == 3
    assert "## Gate: PASSED" in (tiny_run.out / "report.md").read_text()


def test_eval_set_is_plain_arrays(tiny_run):
    with np.load(tiny_run.out / "eval.npz", allow_pickle=False) as z:
        # the model's input by name (a single input also as x) and the task's references
        assert set(z.files) == {"input", "x", "y", "teacher_pred"} and z["x"].dtype == np.float32
        assert np.array_equal(z["x"], z["input"])


def test_exported_onnx_carries_no_debug_metadata_or_local_paths(tiny_run):
    for name in ("teacher-fp32.onnx", "student-fp32.onnx", "student-int8-qdq.onnx"):
        data = (tiny_run.out / name).read_bytes()
        assert b"stack_trace" not in data and b"edgedistill/models" not in data, name


@pytest.mark.macos
def test_coreml_predictions_match_the_torch_student(tiny_run):
    import torch
    from safetensors.torch import load_file

    from edgedistill.export.coreml import coreml_logits
    from edgedistill.export.parity import compare
    from edgedistill.models import build_model
    from edgedistill.recipe import StudentConfig

    with np.load(tiny_run.out / "eval.npz") as z:
        x, y = z["x"][:64], z["y"][:64]
    cfg = StudentConfig(**tiny_run.report["recipe"]["config"]["student"])
    student = build_model(cfg, x.shape[1:], 10)
    student.load_state_dict(load_file(tiny_run.out / "student-distilled_transfer.safetensors"))
    ref = student.eval()(torch.from_numpy(x)).detach().numpy()
    result = compare(ref, coreml_logits(tiny_run.out / "student-fp16.mlpackage", x), y)
    assert result.max_abs_diff < 0.05 and result.top1_agreement >= 0.98
