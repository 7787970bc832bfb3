"""`edgedistill gate` on files edgedistill did not make: --shape, --data, and a saved bench document."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import cli
from gate_models import fast_profile, matmul_chain
from test_bench_thirdparty import shipped
from test_gate_e2e import budgets_file

SILERO = "silero_vad.onnx"  # inputs: input (batch, samples), state (2, batch, 128), sr () int64


def gate(*args, tmp_path: Path):
    return cli("gate", *args, env={"EDGEDISTILL_CACHE": str(tmp_path / "cache")})


def test_silero_vad_gated_with_shape(tmp_path):
    model = shipped("silero_vad", f"data/{SILERO}")
    budgets = budgets_file(tmp_path / "b.toml", [(SILERO, "size", "4 MB", None, None),
                                                 (SILERO, "p50_ms", "10 s", "host-cpu", None),
                                                 (SILERO, "peak_memory", "1 MB", "host-cpu", None)])
    r = gate("--budgets", budgets, model, "--shape", "input=1x256", "--device", fast_profile(tmp_path), "--json",
             tmp_path=tmp_path)
    assert r.returncode == 1, r.stderr  # peak memory of a real onnxruntime session is far above 1 MB
    checks = {c["metric"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["size"]["passed"] and checks["p50_ms"]["passed"] and not checks["peak_memory"]["passed"]
    assert 0 < checks["p50_ms"]["measured"]["value"] < 10_000


def _labelled_eval_set(model: Path, path: Path, rows: int = 64) -> tuple[Path, float]:
    """x (rows, 256), y = the model's own argmax with every fourth label changed: accuracy is exactly 75%."""
    import onnxruntime as ort

    x = np.random.default_rng(1).standard_normal((rows, 256)).astype(np.float32)
    pred = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0].argmax(1)
    y = pred.copy()
    y[::4] = (y[::4] + 1) % 10
    np.savez(path, x=x, y=y)
    return path, 100 * float((pred == y).mean())


def test_tiny_model_gated_with_data_measures_accuracy_through_the_runtime(tmp_path):
    model = matmul_chain(tmp_path / "tiny.onnx", width=256)
    data, expected = _labelled_eval_set(model, tmp_path / "eval.npz")
    assert expected == 75.0
    budgets = budgets_file(tmp_path / "b.toml", [("tiny.onnx", "accuracy", "70 %", "host-cpu", None),
                                                 ("tiny.onnx", "accuracy", "80 %", "host-cpu", None)])
    r = gate("--budgets", budgets, model, "--data", data, "--device", fast_profile(tmp_path), "--json",
             tmp_path=tmp_path)
    assert r.returncode == 1, r.stderr
    low, high = json.loads(r.stdout)["checks"]
    assert low["measured"]["value"] == pytest.approx(75.0) and low["passed"] and not high["passed"]


def test_saved_bench_document_is_judged_as_saved(tmp_path):
    model = matmul_chain(tmp_path / "m.onnx", width=64)
    profile = fast_profile(tmp_path)
    b = cli("bench", model, "--device", profile, "--json", "-q", env={"EDGEDISTILL_CACHE": str(tmp_path / "c")})
    assert b.returncode == 0, b.stderr
    doc = tmp_path / "bench.json"
    doc.write_text(b.stdout)
    p50 = next(m["value"] for m in json.loads(b.stdout)["measurements"] if m["metric"] == "p50_ms")
    model.unlink()  # judged on the document's figures alone: the file is not needed any more
    ok = budgets_file(tmp_path / "ok.toml", [("m.onnx", "p50_ms", "10 s", "host-cpu", None),
                                             ("m.onnx", "size", "1 MB", None, None)])
    r = gate("--budgets", ok, doc, "--json", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["checks"][0]["measured"]["value"] == p50
    tight = budgets_file(tmp_path / "tight.toml", [("m.onnx", "size", "1 kB", None, None)])
    assert gate("--budgets", tight, doc, tmp_path=tmp_path).returncode == 1
    # a bench document holds figures, not files: re-benching options make no sense with it
    r = gate("--budgets", ok, doc, "--shape", "x=1x64", tmp_path=tmp_path)
    assert r.returncode == 2 and "--shape and --data apply when gating model files" in r.stderr


@pytest.mark.parametrize("row, problem", [
    ({"artifact": "../../etc/passwd", "device": None, "metric": "size", "value": 1, "unit": "B"}, "plain file name"),
    ({"artifact": "m.onnx", "device": None, "metric": "size", "value": "big", "unit": "B"}, "'value'"),
    ({"artifact": "m.onnx", "device": "host\x1b[2J", "metric": "size", "value": 1, "unit": "B"}, "'device'"),
    ({"artifact": "m.onnx", "device": None, "metric": "size", "value": 1, "unit": "B", "how": "guessed"}, "'how'"),
])
def test_hostile_bench_document_is_rejected_with_exit_3(tmp_path, row, problem):
    doc = tmp_path / "bench.json"
    doc.write_text(json.dumps({"schema": "edgedistill.bench/1", "measurements": [row], "statuses": []}))
    budgets = budgets_file(tmp_path / "b.toml", [("m.onnx", "size", "1 MB", None, None)])
    r = gate("--budgets", budgets, doc, tmp_path=tmp_path)
    assert r.returncode == 3, r.stdout + r.stderr
    assert problem in r.stderr and "measurements[0]" in r.stderr and "Traceback" not in r.stderr
    assert "\x1b" not in r.stderr


def test_foreign_json_names_both_accepted_schemas(tmp_path):
    doc = tmp_path / "other.json"
    doc.write_text(json.dumps({"schema": "someone.else/3"}))
    budgets = budgets_file(tmp_path / "b.toml", [("m.onnx", "size", "1 MB", None, None)])
    r = gate("--budgets", budgets, doc, tmp_path=tmp_path)
    assert r.returncode == 3 and "edgedistill.report/1 or edgedistill.bench/1" in r.stderr


@pytest.mark.browser
def test_third_party_and_tiny_model_gated_in_the_browser(tmp_path):
    """The same gate on browser-wasm: silero-vad with --shape, the tiny model's accuracy with --data."""
    from test_browser import quick_profile

    silero = shipped("silero_vad", f"data/{SILERO}")
    tiny = matmul_chain(tmp_path / "tiny.onnx", width=256)
    data, _ = _labelled_eval_set(tiny, tmp_path / "eval.npz")
    quick_profile(tmp_path, "browser-wasm")
    profile = tmp_path / "browser-wasm.toml"
    budgets = budgets_file(tmp_path / "b.toml", [(SILERO, "p50_ms", "10 s", "browser-wasm", None)])
    r = gate("--budgets", budgets, silero, "--shape", "input=1x256", "--device", profile, "--json",
             tmp_path=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["checks"][0]["measured"]["how"] == "browser"
    budgets = budgets_file(tmp_path / "acc.toml", [("tiny.onnx", "accuracy", "80 %", "browser-wasm", None)])
    r = gate("--budgets", budgets, tiny, "--data", data, "--device", profile, "--json", tmp_path=tmp_path)
    assert r.returncode == 1, r.stderr
    measured = json.loads(r.stdout)["checks"][0]["measured"]
    assert measured == {"value": pytest.approx(75.0), "unit": "%", "how": "browser"}


def _qdq(src: Path, dest: Path) -> Path:
    """A static int8 QDQ file made with onnxruntime.quantization (what a third party ships as "int8")."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.rows = iter([{"x": np.random.default_rng(i).standard_normal((1, 64)).astype(np.float32)}
                              for i in range(8)])

        def get_next(self):
            return next(self.rows, None)

    quantize_static(str(src), str(dest), Reader(), quant_format=QuantFormat.QDQ)
    return dest


def test_hints_follow_what_the_third_party_file_already_is(tmp_path):
    fp32 = matmul_chain(tmp_path / "fp32.onnx", width=64)
    int8 = _qdq(fp32, tmp_path / "int8.onnx")
    budgets = budgets_file(tmp_path / "b.toml", [("fp32.onnx", "brotli_size", "1 kB", None, None),
                                                 ("int8.onnx", "brotli_size", "1 kB", None, None)])
    r = gate("--budgets", budgets, fp32, int8, "--json", tmp_path=tmp_path)
    assert r.returncode == 1, r.stderr
    hints = {c["artifact"]: c["message"].split(" — try: ")[1] for c in json.loads(r.stdout)["checks"]}
    assert hints["int8.onnx"].endswith("this file is already int8-qdq")
    assert hints["fp32.onnx"].startswith("int8 quantization (onnxruntime.quantization")
    for text in hints.values():
        assert "preset" not in text and "smaller student" not in text, text


def test_bench_unstable_flag_shows_in_gate_rows_json_and_markdown(tmp_path):
    """(m.onnx, host-cpu) flagged unstable by the bench: its timed checks say so everywhere, nothing else does."""
    rows = [{"artifact": "m.onnx", "device": None, "metric": "size", "value": 5000, "unit": "B"},
            {"artifact": "m.onnx", "device": "host-cpu", "metric": "p50_ms", "value": 7.63, "unit": "ms"},
            {"artifact": "m.onnx", "device": "host-cpu", "metric": "accuracy", "value": 90.0, "unit": "%"},
            {"artifact": "m.onnx", "device": "mobile-big-core", "metric": "p50_ms", "value": 9.0, "unit": "ms"}]
    statuses = [{"artifact": "m.onnx", "device": "host-cpu", "status": "unstable",
                 "reason": "latency IQR/median 31% > 10%", "details": {}},
                {"artifact": "m.onnx", "device": "mobile-big-core", "status": "ok", "reason": "", "details": {}}]
    doc = tmp_path / "bench.json"
    doc.write_text(json.dumps({"schema": "edgedistill.bench/1", "measurements": rows, "statuses": statuses}))
    budgets = budgets_file(tmp_path / "b.toml", [("m.onnx", "size", "1 MB", None, None),
                                                 ("m.onnx", "p50_ms", "5 ms", "host-cpu", None),
                                                 ("m.onnx", "accuracy", "80 %", "host-cpu", None),
                                                 ("m.onnx", "p50_ms", "10 ms", "mobile-big-core", None)])
    r = gate("--budgets", budgets, doc, "--json", tmp_path=tmp_path)
    assert r.returncode == 1, r.stderr
    flags = [c.get("unstable") for c in json.loads(r.stdout)["checks"]]
    assert flags == [None, "latency IQR/median 31% > 10%", None, None]
    r = gate("--budgets", budgets, doc, "--markdown", tmp_path / "gate.md", tmp_path=tmp_path)
    rows = [ln for ln in r.stdout.splitlines() if ln.startswith("│")]
    assert [("(unstable)" in row) for row in rows] == [False, True, False, False]
    fail = next(ln for ln in r.stdout.splitlines() if ": FAIL: " in ln)
    assert fail.startswith("m.onnx on host-cpu: FAIL: p50_ms") and "measured unstable: latency IQR/median 31%" in fail
    md = (tmp_path / "gate.md").read_text()
    assert "| m.onnx p50_ms | host-cpu | 7.63 ms | 5 ms | -2.63 ms | FAIL (unstable) |" in md
