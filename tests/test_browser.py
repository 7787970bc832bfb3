"""The browser runner, for real: headless Debian Chromium running onnxruntime-web on a loopback page.

Tests marked `browser` skip with the reason (tests/conftest.py) where Chromium or
devices/browser/node_modules is missing; the unmarked tests need neither and run everywhere.
Run counts are cut down through user profile TOMLs in tmp_path; speed itself is never asserted.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgedistill.devices import load_profile
from edgedistill.errors import InputFileError


def tiny_mlp(path, op="Relu", rows=40):
    """x (N, 40) → MatMul → `op` → MatMul → logits (N, 10): a real single-file ONNX model
    (`rows` ≠ 40: a first weight that cannot multiply x, which only a runtime notices)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    w1 = numpy_helper.from_array((0.3 * rng.standard_normal((rows, 64))).astype(np.float32), "w1")
    w2 = numpy_helper.from_array((0.3 * rng.standard_normal((64, 10))).astype(np.float32), "w2")
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node(op, ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "w2"], ["logits"])]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 40])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], [w1, w2])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def model_and_data(tmp_path_factory):
    """The tiny model and an eval set whose labels are native onnxruntime's argmax for 80% of rows."""
    import onnxruntime as ort

    d = tmp_path_factory.mktemp("browser")
    model = tiny_mlp(d / "tiny.onnx")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 40)).astype(np.float32)
    logits = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    pred = logits.argmax(1)
    y = np.where(np.arange(300) % 5 == 0, (pred + 1) % 10, pred)  # every 5th label wrong: accuracy 80%
    np.savez(d / "eval.npz", x=x, y=y.astype(np.int64), teacher_pred=pred.astype(np.int64))
    return model, d / "eval.npz", logits


def quick_profile(tmp_path, name, threads=None):
    """The shipped profile `name` with few runs (20 samples, no minimum time), as a user TOML file."""
    p = load_profile(name)
    b = p.browser
    text = (f'name = "{name}"\ndescription = "{name}, few runs for tests"\nruntime = "{p.runtime}"\n'
            f'how = "{p.how}"\nthreads = {p.threads if threads is None else threads}\n[browser]\n'
            f'isolated = {str(b.isolated).lower()}\n'
            f'cpu_throttle = {b.cpu_throttle}\n[latency]\nwarmup = 10\nruns = 20\nmin_seconds = 0\n'
            f'[throughput]\nbatch = 8\nruns = 5\n')
    (tmp_path / f"{name}.toml").write_text(text)
    return load_profile(str(tmp_path / f"{name}.toml"))


@pytest.mark.browser
def test_page_predictions_equal_native_onnxruntime(model_and_data, tmp_path):
    from edgedistill.bench.browser import run_page

    model, data, native = model_and_data
    raw = run_page(model, quick_profile(tmp_path, "browser-wasm"), data)
    logits = raw["outputs"]  # POSTed back by the page as raw float32 bytes, batch by batch
    assert logits.shape == native.shape and logits.dtype == np.float32
    np.testing.assert_allclose(logits, native, rtol=1e-4, atol=1e-4)
    assert (logits.argmax(1) == native.argmax(1)).all()
    assert raw["task"] == "classify" and raw["eval_samples"] == 300
    assert raw["metrics"]["accuracy"] == [pytest.approx(80.0), "%"] and raw["metrics"]["agreement"] == [100.0, "%"]


@pytest.mark.browser
@pytest.mark.parametrize("name", ["browser-wasm", "browser-wasm-threads", "browser-mobile-throttled"])
def test_runner_reports_every_metric_labelled_browser(model_and_data, tmp_path, name):
    from edgedistill.bench.stage import RUNNERS

    model, data, _ = model_and_data
    # 2 threads asked for explicitly (the shipped profile asks for every logical core, maybe 1 on CI)
    profile = quick_profile(tmp_path, name, threads=2 if name == "browser-wasm-threads" else None)
    ms, _ = RUNNERS.get("onnxruntime-web")("tiny.onnx", model, profile, data)  # (measurements, status details)
    got = {m.metric: m.figure for m in ms}
    assert {m.device for m in ms} == {name} and {f.how for f in got.values()} == {"browser"}
    expected = {"session_create_ms", "first_run_ms", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "latency_cv",
                "latency_runs", "throughput", "peak_memory", "accuracy", "agreement", "threads",
                "timer_resolution_ms", "isolated", "cpu_throttle"}
    assert expected <= got.keys()
    assert 0 < got["p50_ms"].value <= got["p90_ms"].value <= got["p99_ms"].value
    assert got["latency_runs"].value >= 20 and got["throughput"].value > 0 and got["session_create_ms"].value > 0
    assert got["peak_memory"].value >= got["wasm_memory"].value > 1e6  # the wasm heap alone is megabytes
    assert got["accuracy"].value == pytest.approx(80.0) and got["agreement"].value == 100.0
    assert 0 < got["timer_resolution_ms"].value <= 1
    if name == "browser-wasm-threads":
        assert got["isolated"].value == 1 and got["threads"].value == 2  # read back from onnxruntime-web
        assert got["timer_resolution_ms"].value < 0.1  # isolated pages get fine timers
    else:
        assert got["isolated"].value == 0 and got["threads"].value == 1
    assert got["cpu_throttle"].value == (4 if name == "browser-mobile-throttled" else 1)


def test_synthesised_inputs_respect_shapes(model_and_data, tmp_path):
    from edgedistill.bench.browser import page_spec

    model, _, _ = model_and_data
    inputs = [{"name": "x", "dtype": "float32", "dims": [None, 40]}]
    spec, blobs, _ = page_spec(model, quick_profile(tmp_path, "browser-wasm"), None, {"x": [3, 40]}, inputs)
    assert spec["inputs"][0]["lat"]["dims"] == [3, 40] and len(blobs["/blob/lat0"]) == 3 * 40 * 4
    assert spec["throughput"]["batch"] == 3  # --shape pins the batch: throughput counts 3 per run, not 8
    spec, _, _ = page_spec(model, quick_profile(tmp_path, "browser-wasm"), None, None, inputs)
    assert spec["inputs"][0]["lat"]["dims"] == [1, 40] and spec["inputs"][0]["thr"]["dims"] == [8, 40]
    assert spec["throughput"]["batch"] == 8


@pytest.mark.browser
def test_broken_model_is_a_one_line_input_file_error(tmp_path):
    from edgedistill.bench.browser import bench

    profile = quick_profile(tmp_path, "browser-wasm")
    bad = tiny_mlp(tmp_path / "bad-matmul.onnx", rows=41)  # passes the checker; (N, 40) @ (41, 64) cannot run
    with pytest.raises(InputFileError) as exc:
        bench("bad-matmul.onnx", bad, profile)
    msg = str(exc.value)
    assert msg.startswith(str(bad)) and "onnxruntime-web" in msg and "matrix multiplication" in msg and "\n" not in msg
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00\x01 definitely not protobuf" * 10)
    with pytest.raises(InputFileError) as exc:
        bench("garbage.onnx", garbage, profile)
    assert str(exc.value).startswith(str(garbage)) and "\n" not in str(exc.value)


def test_missing_chromium_or_npm_packages_say_how_to_install(tmp_path, monkeypatch):  # runs anywhere
    from edgedistill.bench import chromium
    from edgedistill.errors import StageError

    monkeypatch.setenv("EDGEDISTILL_CHROMIUM", str(tmp_path / "no-chromium"))
    with pytest.raises(StageError, match=r"apt-get install -y chromium"):
        chromium.chromium_path()
    monkeypatch.setattr(chromium, "page_dir", lambda: tmp_path)
    with pytest.raises(StageError, match=r"npm ci --no-audit --no-fund"):
        chromium.ort_dist()
    assert "npm ci" in chromium.missing() or "apt-get" in chromium.missing()
    from edgedistill.bench import browser
    from edgedistill.bench.outcome import NotRunnable
    from edgedistill.devices import load_profile

    with pytest.raises(NotRunnable, match="not runnable on this host"):  # a status in reports, not a crash
        browser.bench("m.onnx", tmp_path / "m.onnx", load_profile("browser-wasm"))


def test_threads_on_a_page_that_is_not_isolated_is_a_config_error(tmp_path):
    from edgedistill.bench.browser import run_page
    from edgedistill.errors import ConfigError

    profile = quick_profile(tmp_path, "browser-wasm", threads=2)
    with pytest.raises(ConfigError, match="isolated = true"):
        run_page(tmp_path / "never-read.onnx", profile)


@pytest.mark.browser
def test_ctrl_c_during_the_browser_bench_exits_130_in_one_line(model_and_data, tmp_path):
    """Ctrl-C in a terminal signals the whole foreground group: edgedistill, and (before the fix) Playwright's
    driver and Chromium too, which died first and made the parent exit 4 with asyncio lines."""
    import os
    import signal
    import subprocess
    import sys
    import time
    import uuid
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent / "hostile"))
    import tempfile

    import hostile_models as hm

    model, _, _ = model_and_data
    tag = uuid.uuid4().hex
    scratch_before = set(Path(tempfile.gettempdir()).glob("edc-*"))  # this test's cache path is long: /tmp
    env = {**os.environ, hm.TAG: tag, "EDGEDISTILL_CACHE": str(tmp_path / "cache")}
    quick_profile(tmp_path, "browser-wasm")
    proc = subprocess.Popen([sys.executable, "-m", "edgedistill", "bench", model, "--device",
                             tmp_path / "browser-wasm.toml"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, cwd=hm.ROOT,  # its own group, like a shell job
                            # … started as a terminal starts it: Ctrl-C not ignored, even when this test process
                            # inherited SIGINT ignored (a background `make test &`), which the child would inherit
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(b"chrom" in Path(f"/proc/{p}/cmdline").read_bytes()
                                                  for p in hm.tagged(tag) if Path(f"/proc/{p}").exists()):
        time.sleep(0.1)
    time.sleep(0.3)  # Chromium is starting or measuring
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgedistill: interrupted"), err
    time.sleep(1.0)
    assert hm.tagged(tag) == []  # Chromium and the driver went with it …
    assert set(Path(tempfile.gettempdir()).glob("edc-*")) <= scratch_before  # … and so did their scratch folder
