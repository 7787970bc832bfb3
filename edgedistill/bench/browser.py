"""onnxruntime-web in real headless Chromium: the `browser-*` device profiles (how = "browser").

One fresh Chromium per (file, profile). Python prepares everything the page needs as raw bytes
(the model, input tensors, the eval set's x / y / teacher_pred — never pickles) and serves them
on loopback with devices/browser/index.html; the page (devices/browser/bench.js) creates the
session, times the runs with performance.now(), computes accuracy and agreement itself, and
returns raw numbers that are summarised here exactly like the native runner's.

Memory: peak_memory = the wasm heap (the size of onnxruntime-web's WebAssembly.Memory after the
runs; a wasm heap never shrinks, so this is its peak) + the page's JS heap after the runs
(performance.memory.usedJSHeapSize with --enable-precise-memory-info; main thread only).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ConfigError, InputFileError
from ..results import Figure, Measurement
from .stats import summarize_ns

EVAL_BATCH = 256


def input_specs(path: Path) -> list[dict]:
    """The graph inputs (name, numpy dtype, dims with None for dynamic) of a single-file ONNX model."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except FileNotFoundError:
        raise InputFileError(str(path), "no such file", "check the path") from None
    except Exception as exc:
        raise InputFileError(str(path), f"not an ONNX model ({type(exc).__name__})",
                             "re-export it, or check the download is complete") from None
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        raise InputFileError(str(path), "weights in external data files",
                             "browser profiles take single-file models: onnx.save(model, path) without external data")
    inits = {t.name for t in model.graph.initializer}
    specs = []
    for inp in model.graph.input:
        if inp.name in inits:
            continue
        tt = inp.type.tensor_type
        try:
            dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type))
        except Exception:
            raise InputFileError(str(path), f"input {inp.name!r} is not a tensor onnxruntime-web can feed") from None
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        specs.append({"name": inp.name, "dtype": dtype, "dims": dims})
    return specs


# numpy dtype → onnxruntime-web tensor type (float16 travels as its raw 16-bit pattern)
ORT_WEB_TYPES = {"float32": "float32", "float64": "float64", "int64": "int64", "int32": "int32",
                 "uint8": "uint8", "int8": "int8", "bool": "bool", "float16": "float16"}


def _dims(spec: dict, batch: int, shapes: dict) -> list[int]:
    """Concrete dims, as the native runner picks them: --shape, else batch for a dynamic first dim, else 1."""
    if spec["name"] in shapes:
        return list(shapes[spec["name"]])
    return [d if d is not None else (batch if i == 0 else 1) for i, d in enumerate(spec["dims"])]


def _feed(specs: list[dict], batch: int, shapes: dict, x: np.ndarray | None) -> list[tuple[dict, np.ndarray]]:
    """One array per input: eval rows repeated to `batch` when data is given (one input), else N(0, 1) noise."""
    rng = np.random.default_rng(0)
    out = []
    for s in specs:
        dims = _dims(s, batch, shapes)
        if x is not None and len(specs) == 1:
            arr = np.resize(x, (dims[0], *x.shape[1:]))
        else:
            arr = rng.standard_normal(dims)
        out.append((s, np.ascontiguousarray(arr.astype(s["dtype"]))))
    return out


def page_spec(path: Path, profile, data: Path | None, shapes: dict | None,
              want_outputs: bool = False) -> tuple[dict, dict[str, bytes]]:
    """The JSON spec for window.edgeBench and the blobs (URL path → raw bytes) it fetches."""
    specs, shapes = input_specs(path), shapes or {}
    for s in specs:
        if s["dtype"].name not in ORT_WEB_TYPES:
            raise InputFileError(str(path), f"input {s['name']!r} has dtype {s['dtype']} onnxruntime-web cannot feed")
    ev = _load_eval(data) if data is not None else None
    x = ev["x"] if ev is not None else None
    blobs = {"/model.onnx": Path(path).read_bytes()}
    inputs = [{"name": s["name"], "dtype": ORT_WEB_TYPES[s["dtype"].name]} for s in specs]
    lat, thr = profile.latency.model_dump(), profile.throughput.model_dump()
    for key, batch in (("lat", lat["batch"]), ("thr", thr["batch"])):
        for i, (s, arr) in enumerate(_feed(specs, batch, shapes, x)):
            blobs[f"/blob/{key}{i}"] = arr.tobytes()
            inputs[i][key] = {"url": f"/blob/{key}{i}", "dims": list(arr.shape)}
    thr["batch"] = inputs[0]["thr"]["dims"][0] if inputs and inputs[0]["thr"]["dims"] else 1  # a fixed batch dim wins
    spec = {"model": "/model.onnx", "threads": profile.threads, "latency": lat, "throughput": thr,
            "inputs": inputs, "eval": None, "want_outputs": want_outputs}
    if ev is not None and "y" in ev:
        if len(specs) != 1:
            raise InputFileError(str(data), f"accuracy needs a model with one input; {path} has {len(specs)}")
        s = specs[0]
        xs = np.ascontiguousarray(ev["x"].astype(s["dtype"]))
        blobs.update({"/blob/x": xs.tobytes(), "/blob/y": ev["y"].astype(np.int64).tobytes()})
        fixed = s["dims"][0] if s["dims"] and s["dims"][0] is not None else None
        spec["eval"] = {"input": s["name"], "batch": fixed or EVAL_BATCH, "y": {"url": "/blob/y"},
                        "x": {"url": "/blob/x", "dims": list(xs.shape), "dtype": ORT_WEB_TYPES[s["dtype"].name]},
                        "teacher": None}
        if "teacher_pred" in ev:
            blobs["/blob/teacher"] = ev["teacher_pred"].astype(np.int64).tobytes()
            spec["eval"]["teacher"] = {"url": "/blob/teacher"}
    return spec, blobs


def _load_eval(data: Path) -> dict[str, np.ndarray]:
    """The eval set's arrays (x; y and teacher_pred optional), never unpickled."""
    try:
        with np.load(data, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files if k in ("x", "y", "teacher_pred")}
    except (OSError, ValueError) as exc:
        raise InputFileError(str(data), f"not a readable .npz ({type(exc).__name__})",
                             "pass an .npz with arrays x and y") from None
    if "x" not in arrays:
        raise InputFileError(str(data), "no array 'x'", "save the inputs as x (and labels as y)")
    return arrays


def run_page(path: Path, profile, data: Path | None = None, shapes: dict | None = None,
             want_outputs: bool = False, timeout_s: float = 900) -> dict:
    """Measure `path` in a fresh headless Chromium under `profile`; the page's raw result."""
    from playwright.sync_api import Error as PlaywrightError

    from . import chromium

    settings = _settings(profile)
    spec, blobs = page_spec(path, profile, data, shapes, want_outputs)
    with chromium.serve(blobs, settings.isolated) as url, \
            chromium.open_page(url + "/", settings.cpu_throttle) as (page, errors):
        page.evaluate("spec => { window.edgeOut = undefined; window.edgeBench(spec).then("
                      "r => { window.edgeOut = {ok: r}; }, e => { window.edgeOut = {error: String(e && e.message"
                      " || e)}; }); }", spec)
        try:
            page.wait_for_function("() => window.edgeOut !== undefined", timeout=timeout_s * 1000, polling=100)
        except PlaywrightError:
            why = chromium.first_line(errors[0]) if errors else f"no result within {timeout_s:.0f} s"
            raise InputFileError(str(path), f"onnxruntime-web did not finish: {why}") from None
        out = page.evaluate("() => window.edgeOut")
    if "error" in out:
        raise InputFileError(str(path), f"onnxruntime-web could not run it: {chromium.first_line(out['error'])}")
    return out["ok"]


def _settings(profile):
    """The profile's [browser] table (defaults when absent); threads need an isolated page."""
    from ..devices import BrowserSettings

    settings = profile.browser or BrowserSettings()
    if profile.threads != 1 and not settings.isolated:
        raise ConfigError(f"device profile {profile.name}", "threads", "wasm threads need a cross-origin isolated page",
                          "set [browser] isolated = true, or threads = 1")
    return settings


def bench(artifact: str, path: Path, profile, data: Path | None = None,
          shapes: dict | None = None) -> list[Measurement]:
    """All figures for one file on one browser profile (how = "browser"), named like the native runner's."""
    from .chromium import missing
    from .outcome import NotRunnable

    reason = missing()
    if reason:  # a status in the report ("not runnable on this host"), never a crash of the whole run
        raise NotRunnable(f"not runnable on this host: {reason}")
    raw = run_page(path, profile, data, shapes)
    # Each latency sample is the mean of `runs_per_sample` back-to-back runs (1 unless a run is
    # shorter than ~20 timer steps; see bench.js), so percentiles are over samples.
    s = summarize_ns(np.asarray(raw["latency_ms"], dtype=np.float64) * 1e6)
    dev, throttle = profile.name, (profile.browser.cpu_throttle if profile.browser else 1.0)

    def m(metric, value, unit):
        return Measurement(artifact, dev, metric, Figure(float(value), unit, "browser"))

    out = [m("session_create_ms", raw["session_create_ms"], "ms"), m("first_run_ms", raw["first_run_ms"], "ms"),
           m("p50_ms", s["p50_ms"], "ms"), m("p90_ms", s["p90_ms"], "ms"), m("p99_ms", s["p99_ms"], "ms"),
           m("mean_ms", s["mean_ms"], "ms"), m("latency_cv", 100 * s["cv"], "%"),
           m("latency_runs", s["runs"] * raw["runs_per_sample"], "runs"),
           m("runs_per_sample", raw["runs_per_sample"], "runs"),
           m("throughput", raw["throughput_per_s"], "samples/s"),
           m("peak_memory", raw["wasm_memory_bytes"] + raw["js_heap_bytes"], "B"),
           m("wasm_memory", raw["wasm_memory_bytes"], "B"), m("js_heap", raw["js_heap_bytes"], "B"),
           m("threads", raw["threads"], "threads"), m("isolated", raw["isolated"], "bool"),
           m("timer_resolution_ms", raw["timer_resolution_ms"], "ms"), m("cpu_throttle", throttle, "×")]
    if "accuracy" in raw:
        out.append(m("accuracy", 100 * raw["accuracy"], "%"))
    if "agreement" in raw:
        out.append(m("agreement", 100 * raw["agreement"], "%"))
    return out
