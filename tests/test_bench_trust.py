"""Issue 13: bench figures a team can trust on anyone's model — throughput at the batch that ran,
--shape names checked, a cost model that says when it cannot estimate, --repeat with the machine's
conditions, .ort files benched, --data errors that name the data file and the array."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
from conftest import cli
from onnx import TensorProto, helper, numpy_helper
from test_bench_native import lean_profile
from test_browser import tiny_mlp

from edgedistill.bench.cost import graph_cost


def bench(tmp_path, *args) -> tuple[int, dict | None, str]:
    r = cli("bench", *args, "--json", env={"EDGEDISTILL_CACHE": str(tmp_path / "cache")})
    return r.returncode, (json.loads(r.stdout) if r.returncode == 0 else None), r.stderr


def figures(doc, device="lean"):
    return {m["metric"]: m["value"] for m in doc["measurements"] if m["device"] == device}


def wide_profile(tmp_path: Path, batch: int = 64) -> Path:
    """lean, with throughput at batch 64 (the shipped host-cpu's)."""
    path = lean_profile(tmp_path)
    path.write_text(path.read_text().replace("batch = 2", f"batch = {batch}"))
    return path


def test_throughput_is_counted_at_the_batch_that_ran(tmp_path):
    model = tiny_mlp(tmp_path / "mlp.onnx")
    code, doc, err = bench(tmp_path, model, "--device", wide_profile(tmp_path), "--shape", "x=1x40")
    assert code == 0, err
    got = figures(doc)
    assert got["throughput_batch"] == 1  # --shape pins the batch at 1 …
    assert doc["statuses"][0]["details"]["throughput_batch"] == 1
    # … so samples/s is runs/s: within 4× of 1 / mean latency (it was 64× too high)
    assert got["throughput"] < 4 * 1000 / got["mean_ms"]
    code, doc, err = bench(tmp_path, model, "--device", wide_profile(tmp_path))
    assert code == 0 and figures(doc)["throughput_batch"] == 64, err  # a dynamic batch runs at the profile's


def test_a_misspelt_shape_name_is_exit_2_naming_the_inputs(tmp_path):
    model = tiny_mlp(tmp_path / "mlp.onnx")
    code, _, err = bench(tmp_path, model, "--device", lean_profile(tmp_path), "--shape", "input=1x40")
    assert code == 2 and "--shape input" in err and "the model's inputs are x" in err, err
    code, _, err = bench(tmp_path, model, "--device", lean_profile(tmp_path), "--shape", "x=1x41")
    assert code == 2 and "declares x as ?x40" in err, err  # a fixed dim contradicted
    assert len(err.strip().splitlines()) == 1
    for bad in ("x=0x40", "=1x40", "x=1x-40"):  # a zero-row batch ran "ok" at 0 samples/s
        code, _, err = bench(tmp_path, model, "--device", lean_profile(tmp_path), "--shape", bad)
        assert code == 2 and "every size at least 1" in err, (bad, err)


def _conv(name: str, x: str, y: str, cout: int = 4, cin: int = 3):
    w = numpy_helper.from_array(np.ones((cout, cin, 3, 3), np.float32), f"{name}_w")
    return helper.make_node("Conv", [x, f"{name}_w"], [y], pads=[1, 1, 1, 1], name=name), w


def _if_model(path: Path) -> Path:
    """x (N,3,8,8) → If(constant true): then Conv 4×3×3×3, else Conv 2×3×3×3 → y: the taken branch counts once."""
    then_node, wt = _conv("then_conv", "x", "t", 4)
    else_node, we = _conv("else_conv", "x", "e", 2)
    out = helper.make_tensor_value_info
    then_g = helper.make_graph([then_node], "then", [], [out("t", TensorProto.FLOAT, ["N", 4, 8, 8])], [wt])
    else_g = helper.make_graph([else_node], "else", [], [out("e", TensorProto.FLOAT, ["N", 2, 8, 8])], [we])
    nodes = [helper.make_node("Constant", [], ["c"], value=helper.make_tensor("c", TensorProto.BOOL, [], [True])),
             helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)]
    g = helper.make_graph(nodes, "if", [out("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
                          [out("y", TensorProto.FLOAT, ["N", "C", 8, 8])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _loop_model(path: Path, trips: int | None) -> Path:
    """x (1,16) → Loop(trips; None = a runtime count) of x @ W (16×16) → y: MACs × trips when it is static."""
    out = helper.make_tensor_value_info
    w = numpy_helper.from_array(np.eye(16, dtype=np.float32), "w")
    body = helper.make_graph([helper.make_node("Identity", ["cond"], ["cond_out"]),
                              helper.make_node("MatMul", ["v", "w"], ["v_out"], name="body_mm")], "body",
                             [out("i", TensorProto.INT64, []), out("cond", TensorProto.BOOL, []),
                              out("v", TensorProto.FLOAT, [1, 16])],
                             [out("cond_out", TensorProto.BOOL, []), out("v_out", TensorProto.FLOAT, [1, 16])])
    inputs = [out("x", TensorProto.FLOAT, [1, 16])]
    nodes = [helper.make_node("Constant", [], ["t"], value=helper.make_tensor("t", TensorProto.BOOL, [], [True]))]
    if trips is None:
        inputs.append(out("m", TensorProto.INT64, []))
    else:
        nodes.append(helper.make_node("Constant", [], ["m"], value=helper.make_tensor("m", TensorProto.INT64, [],
                                                                                    [trips])))
    nodes.append(helper.make_node("Loop", ["m", "t", "x"], ["y"], body=body))
    g = helper.make_graph(nodes, "loop", inputs, [out("y", TensorProto.FLOAT, [1, 16])], [w])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_control_flow_bodies_count_once_per_execution(tmp_path):
    cost = graph_cost(_if_model(tmp_path / "if.onnx"))
    assert cost.shape_inference == "symbolic"
    assert cost.macs == 4 * 8 * 8 * 27 and cost.estimate_unavailable is None  # the 4-channel branch, once
    assert graph_cost(_loop_model(tmp_path / "loop3.onnx", 3)).macs == 3 * 16 * 16  # body × static count
    dynamic = graph_cost(_loop_model(tmp_path / "loopn.onnx", None))
    assert dynamic.macs == 0 and dynamic.uncounted_ops == 2 and dynamic.uncounted_mac_ops == 1
    assert dynamic.estimate_unavailable == "estimate unavailable (2 ops uncounted)"


def test_an_incomplete_cost_prints_estimate_unavailable_not_a_number(tmp_path):
    profile = lean_profile(tmp_path)
    profile.write_text(profile.read_text() + "[peak]\ngflops = 100\ngflops_source = \"a test figure, no source\"\n"
                       "bandwidth_gbs = 10\nbandwidth_source = \"a test figure, no source\"\n")
    model = _loop_model(tmp_path / "loopn.onnx", None)  # its trip count is an input: fed 1, unknown beforehand
    code, doc, err = bench(tmp_path, _loop_model(tmp_path / "loop3.onnx", 3), "--device", profile)
    assert code == 0 and "estimated_ms" in figures(doc), err
    r = cli("bench", model, "--device", profile, env={"EDGEDISTILL_CACHE": str(tmp_path / "cache")}, timeout=300)
    assert "estimate unavailable (2 ops uncounted)" in r.stdout, r.stdout + r.stderr


def test_repeat_runs_fresh_sessions_and_records_the_machine_conditions(tmp_path):
    model = tiny_mlp(tmp_path / "mlp.onnx")
    code, doc, err = bench(tmp_path, model, "--device", lean_profile(tmp_path), "--repeat", "3")
    assert code == 0, err
    got = figures(doc)
    assert got["sessions"] == 3 and got["session_spread"] >= 0
    details = doc["statuses"][0]["details"]
    assert len(details["session_p50_ms"]) == 3 and sorted(details["session_p50_ms"])[1] == pytest.approx(got["p50_ms"])
    for conditions in (details["conditions"], doc["environment"]["conditions"]):
        assert len(conditions["load_average"]) == 3 and 0 <= conditions["steal_pct"] <= 100
    assert doc["environment"]["repeat"] == 3
    # the unstable flag is also a measurement, for a gate that reads measurements only
    assert got["unstable"] == float(doc["statuses"][0]["status"] == "unstable")


def save_ort(onnx_path: Path, ort_path: Path) -> Path:
    """The ORT-format file onnxruntime writes for `onnx_path` (what the ort-mobile-int8 preset ships)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC  # hardware-independent, as shipped
    so.optimized_model_filepath = str(ort_path)
    so.add_session_config_entry("session.save_model_format", "ORT")
    ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    return ort_path


def test_ort_files_are_benched_on_onnxruntime_profiles(tmp_path):
    """Native onnxruntime and onnxruntime-web both load ORT-format files (the phone file of a run)."""
    from conftest import browser_missing
    from test_browser import quick_profile

    model = save_ort(tiny_mlp(tmp_path / "mlp.onnx"), tmp_path / "mlp.ort")
    assert model.read_bytes()[4:8] == b"ORTM"
    quick_profile(tmp_path, "browser-wasm")
    code, doc, err = bench(tmp_path, model, "--device", lean_profile(tmp_path), "--device",
                           tmp_path / "browser-wasm.toml", "--device", "coreml")
    assert code == 0, err
    assert figures(doc)["p50_ms"] > 0 and {m["metric"] for m in doc["measurements"] if m["device"] is None} >= {"size"}
    status = {s["device"]: s for s in doc["statuses"]}
    assert status["lean"]["status"] in ("ok", "unstable")
    if not browser_missing():
        assert status["browser-wasm"]["status"] in ("ok", "unstable") and figures(doc, "browser-wasm")["p50_ms"] > 0
    assert status["coreml"]["status"] == "not_runnable" and "this is ort" in status["coreml"]["reason"]
    assert "no graph cost for ORT-format files" in doc["cost"]["mlp.ort"]["unavailable"]


def test_a_runs_bench_includes_its_ort_files(tmp_path):
    from edgedistill.artifacts import receipt
    from edgedistill.bench.stage import bench_all
    from edgedistill.progress import Reporter

    onnx_path = tiny_mlp(tmp_path / "student-fp32.onnx")
    ort_path = save_ort(onnx_path, tmp_path / "student-mobile-int8.ort")
    artifacts = {p.name: receipt(p.name, p, kind, "test") for p, kind in ((onnx_path, "onnx"), (ort_path, "ort"))}
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 40)).astype(np.float32)
    trained = SimpleNamespace(dataset=SimpleNamespace(x_test={"x": x}), task=SimpleNamespace(name="classify"),
                              references={"y": np.zeros(50, np.int64),
                                          "teacher_pred": rng.standard_normal((50, 10)).argmax(1)})
    recipe = SimpleNamespace(bench=SimpleNamespace(devices=[str(lean_profile(tmp_path))]))
    run = bench_all(recipe, trained, artifacts, tmp_path, Reporter(quiet=True))
    measured = {(m.artifact, m.metric) for m in run.measurements if m.device == "lean"}
    assert ("student-mobile-int8.ort", "p50_ms") in measured and ("student-mobile-int8.ort", "accuracy") in measured
    assert ("student-fp32.onnx", "accuracy") in measured


@pytest.mark.parametrize("arrays,needle", [
    ({"y": np.zeros(4, np.int64)}, "no array for the inputs of mlp.onnx (x); it holds y"),
    ({"x": np.zeros((4, 40), np.float32), "y": np.array(["cat", "dog", "cat", "dog"])}, "array 'y' is <U3"),
    ({"x": np.zeros((4, 40), np.float32), "y": np.zeros(5, np.int64)}, "disagree on the number of rows ([4, 5])"),
    ({"x": np.zeros((4, 4, 10), np.float32)}, "array 'x' has shape (4, 4, 10); input x of mlp.onnx takes 2 dims"),
    (None, "not an .npz archive"),
], ids=["missing-input", "string-labels", "row-mismatch", "wrong-rank", "npy-named-npz"])
def test_data_errors_name_the_data_file_and_the_array(tmp_path, arrays, needle):
    data = tmp_path / "eval.npz"
    if arrays is None:
        with open(data, "wb") as fh:
            np.save(fh, np.zeros((4, 40), np.float32))  # a .npy under an .npz name
    else:
        np.savez(data, **arrays)
    code, _, err = bench(tmp_path, tiny_mlp(tmp_path / "mlp.onnx"), "--device", lean_profile(tmp_path), "--data", data)
    assert code == 3 and err.startswith(f"edgedistill: error: {data}: ") and needle in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and "…" not in err
