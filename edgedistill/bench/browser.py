"""onnxruntime-web in real headless Chromium: the `browser-*` device profiles (how = "browser").

One fresh Chromium per (file, profile), driven from a child process (bench/_browser_child.py, started
by bench/browser_launch.py) in its
own process group under the profile's time limit: a Ctrl-C reaches only the parent, which kills the
whole group (Playwright's driver and Chromium included) and exits 130 in one line; a page that never
finishes is a `failed` status naming the limit. In that child, Python prepares everything the page
needs as raw bytes (the model, every input tensor — bench/feeds.py, as the native runner feeds them —
and the eval set cut into batches; never pickles) and serves them on loopback with
devices/browser/index.html; the page (devices/browser/bench.js) creates the session, times the runs
with performance.now(), and POSTs the first output of every eval batch back as raw bytes, so the
task metrics are computed here by tasks/metrics.py — the one implementation the native runner uses.
Text models whose eval set holds the raw `text` are also tokenised in the page (bench/browser_text.py).

Memory: peak_memory = the wasm heap (the size of onnxruntime-web's WebAssembly.Memory after the
runs; a wasm heap never shrinks, so this is its peak) + the page's JS heap after the runs
(performance.memory.usedJSHeapSize with --enable-precise-memory-info; main thread only).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..artifacts import printable
from ..errors import ConfigError, InputFileError, StageError
from ..results import Figure, Measurement
from . import browser_text
from .feeds import batch_of, eval_batches, eval_rows, feed, refs_of
from .stats import latency_measurements, summarize_ns

# numpy dtype → onnxruntime-web tensor type (float16 travels as its raw 16-bit pattern)
ORT_WEB_TYPES = {"float32": "float32", "float64": "float64", "int64": "int64", "int32": "int32",
                 "uint8": "uint8", "int8": "int8", "bool": "bool", "float16": "float16", "int16": "int16",
                 "uint16": "uint16"}


def page_spec(path: Path, profile, data: Path | None, shapes: dict | None, inputs: list[dict]
              ) -> tuple[dict, dict[str, bytes], dict]:
    """The JSON spec for window.edgeBench, the blobs (URL path → raw bytes) it fetches, and the eval refs.

    `inputs`: [{"name", "dtype", "dims"}] of the model (from the analysis child)."""
    shapes = shapes or {}
    for s in inputs:
        if s["dtype"] not in ORT_WEB_TYPES:
            raise InputFileError(str(path), f"input {printable(s['name'])!r} has dtype {s['dtype']} "
                                 "onnxruntime-web cannot feed")
    arrays = load_eval(data) if data is not None else None
    blobs = {"/model.onnx": Path(path).read_bytes()}
    specs = [{"name": s["name"], "dtype": ORT_WEB_TYPES[s["dtype"]]} for s in inputs]
    lat, thr = profile.latency.model_dump(), profile.throughput.model_dump()
    for key, batch in (("lat", lat["batch"]), ("thr", thr["batch"])):
        feeds = feed(inputs, batch, shapes, arrays)
        for i, arr in enumerate(feeds.values()):
            blobs[f"/blob/{key}{i}"] = np.ascontiguousarray(arr).tobytes()
            specs[i][key] = {"url": f"/blob/{key}{i}", "dims": list(arr.shape)}
        if key == "thr":
            thr["batch"] = batch_of(feeds)  # samples per run that actually ran (--shape or a fixed dim pins it)
    spec = {"model": "/model.onnx", "threads": profile.threads, "latency": lat, "throughput": thr,
            "inputs": specs, "eval": None}
    refs = refs_of(inputs, arrays) if arrays is not None else {}
    refs.pop("text", None)  # the raw texts are the tokeniser's input, not a task reference
    if refs:
        spec["eval"] = _eval_blobs(inputs, arrays, shapes, blobs)
    throttle = profile.browser.cpu_throttle if profile.browser else 1.0
    spec["text"] = browser_text.text_spec(path, arrays, inputs, shapes, blobs, data, throttle) \
        if arrays is not None else None
    return spec, blobs, refs


def _eval_blobs(inputs: list[dict], arrays: dict, shapes: dict, blobs: dict) -> dict:
    """The eval set as ready-made batches (the same chunks the native child runs): URLs and dims per input."""
    batches = []
    for k, (_, chunk) in enumerate(eval_batches(inputs, arrays, shapes)):
        feeds = []
        for i, (name, arr) in enumerate(chunk.items()):
            url = f"/eval/{k}/{i}"
            blobs[url] = np.ascontiguousarray(arr).tobytes()
            feeds.append({"name": name, "dtype": ORT_WEB_TYPES[str(arr.dtype)], "url": url, "dims": list(arr.shape)})
        batches.append(feeds)
    return {"batches": batches, "rows": eval_rows(inputs, arrays), "post": "/outputs"}


def load_eval(data: Path) -> dict[str, np.ndarray]:
    """The eval set's arrays, never unpickled (checked against the models beforehand: bench/evalset.py)."""
    try:
        with np.load(data, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise InputFileError(str(data), f"not a readable .npz ({type(exc).__name__})",
                             "pass an .npz with each model input by name (or x) and the task's references") from None


def run_page(path: Path, profile, data: Path | None = None, shapes: dict | None = None,
             inputs: list[dict] | None = None, task: str | None = None) -> dict:
    """Measure `path` in a fresh headless Chromium under `profile` (in this process); the page's raw result,
    with "outputs" (the first output over the eval set) and "metrics" when the eval set has references."""
    from playwright.sync_api import Error as PlaywrightError

    from . import chromium

    settings = _settings(profile)
    if inputs is None:
        inputs = _inputs_of(path)
    spec, blobs, refs = page_spec(path, profile, data, shapes, inputs)
    posted: dict[int, tuple[str, list[int], bytes]] = {}
    timeout_s = profile.constraints.time_limit_s
    with chromium.serve(blobs, settings.isolated, posted) as url, \
            chromium.open_page(url + "/", settings.cpu_throttle) as (page, errors):
        page.evaluate("spec => { window.edgeOut = undefined; window.edgeBench(spec).then("
                      "r => { window.edgeOut = {ok: r}; }, e => { window.edgeOut = {error: String(e && e.message"
                      " || e)}; }); }", spec)
        try:
            page.wait_for_function("() => window.edgeOut !== undefined", timeout=timeout_s * 1000, polling=100)
        except PlaywrightError:
            if errors:
                raise InputFileError(str(path), f"onnxruntime-web did not finish: {chromium.first_line(errors[0])}") \
                    from None
            raise TimeoutError(f"no result within the {profile.name} time limit of {timeout_s:g} s") from None
        out = page.evaluate("() => window.edgeOut")
    if "error" in out:
        raise InputFileError(str(path), f"onnxruntime-web could not run it: {chromium.first_line(out['error'])}")
    raw = out["ok"]
    if spec["text"]:
        raw["tokenizer_note"] = browser_text.note(raw)
    if refs:
        raw["outputs"] = _posted_outputs(posted, len(spec["eval"]["batches"]))
        raw.update(page_metrics(raw["outputs"], refs, task, data))
    return raw


def _posted_outputs(posted: dict, n: int) -> np.ndarray:
    """The first output of each eval batch, as POSTed by the page, concatenated along rows."""
    if sorted(posted) != list(range(n)):
        raise StageError(f"the page posted outputs for {len(posted)} of {n} eval batches")
    parts = []
    for k in range(n):
        dtype, dims, body = posted[k]
        parts.append(np.frombuffer(body, dtype=np.dtype(dtype)).reshape(dims))
    return np.concatenate(parts)


def page_metrics(outputs: np.ndarray, refs: dict, task: str | None, data: Path | None) -> dict:
    """Task metrics of the page's outputs with tasks/metrics.py (the native child's function)."""
    from ..tasks.metrics import evaluate, infer_task

    task = task or infer_task(refs)
    try:
        got = evaluate(task, outputs, refs)
    except (ValueError, IndexError, KeyError) as exc:
        raise InputFileError(str(data), f"{task} metrics on the first output: {type(exc).__name__}: {exc}") from None
    return {"metrics": {k: [float(v), u] for k, (v, u) in got.items() if np.isfinite(v)}, "task": task,
            "eval_samples": int(outputs.shape[0]) if outputs.ndim else 0}


def _inputs_of(path: Path) -> list[dict]:
    from .analysis import analyse

    return [{"name": i.name, "dtype": i.dtype, "dims": list(i.dims)} for i in analyse(path).inputs]


def _settings(profile):
    """The profile's [browser] table (defaults when absent); threads need an isolated page."""
    from ..devices import BrowserSettings

    settings = profile.browser or BrowserSettings()
    if profile.threads != 1 and not settings.isolated:
        raise ConfigError(f"device profile {profile.name}", "threads", "wasm threads need a cross-origin isolated page",
                          "set [browser] isolated = true, or threads = 1")
    return settings


def bench(artifact: str, path: Path, profile, data: Path | None = None, shapes: dict | None = None,
          info=None, task: str | None = None) -> list[Measurement]:
    """All figures for one file on one browser profile (how = "browser"), named like the native runner's."""
    return bench_detailed(artifact, path, profile, data, shapes, info, task)[0]


def bench_detailed(artifact: str, path: Path, profile, data: Path | None = None, shapes: dict | None = None,
                   info=None, task: str | None = None) -> tuple[list[Measurement], dict]:
    """bench() plus the status details: for a text model, the page's tokenizer parity, its first mismatch
    and the note about it (bench/browser_text.py); {} otherwise."""
    from .browser_launch import run_in_child
    from .chromium import missing
    from .outcome import NotRunnable

    reason = missing()
    if reason:  # a status in the report ("not runnable on this host"), never a crash of the whole run
        raise NotRunnable(f"not runnable on this host: {reason}")
    _settings(profile)
    if info is not None and info.external_data:
        raise InputFileError(str(path), "weights in external data files",
                             "browser profiles take single-file models: onnx.save(model, path) without external data")
    inputs = ([{"name": i.name, "dtype": i.dtype, "dims": list(i.dims)} for i in info.inputs]
              if info is not None else _inputs_of(path))
    raw = run_in_child(path, profile, data, shapes, inputs, task)
    return measurements(artifact, profile, raw), browser_text.details(raw)


def measurements(artifact: str, profile, raw: dict) -> list[Measurement]:
    """The page's raw numbers as Measurements (how = "browser")."""
    # Each latency sample is the mean of `runs_per_sample` back-to-back runs (1 unless a run is
    # shorter than ~20 timer steps; see bench.js), so percentiles are over samples.
    s = summarize_ns(np.asarray(raw["latency_ms"], dtype=np.float64) * 1e6)
    s["runs"] *= raw["runs_per_sample"]
    dev, throttle = profile.name, (profile.browser.cpu_throttle if profile.browser else 1.0)

    def m(metric, value, unit):
        return Measurement(artifact, dev, metric, Figure(float(value), unit, "browser"))

    out = [m("session_create_ms", raw["session_create_ms"], "ms"), m("first_run_ms", raw["first_run_ms"], "ms"),
           *latency_measurements(s, m), m("runs_per_sample", raw["runs_per_sample"], "runs"),
           m("throughput", raw["throughput_per_s"], "samples/s"),
           m("throughput_batch", raw["throughput_batch"], "samples"),
           m("peak_memory", raw["wasm_memory_bytes"] + raw["js_heap_bytes"], "B"),
           m("wasm_memory", raw["wasm_memory_bytes"], "B"), m("js_heap", raw["js_heap_bytes"], "B"),
           m("threads", raw["threads"], "threads"), m("isolated", raw["isolated"], "bool"),
           m("timer_resolution_ms", raw["timer_resolution_ms"], "ms"), m("cpu_throttle", throttle, "×")]
    return out + [m(name, value, unit) for name, (value, unit) in raw.get("metrics", {}).items()] + \
        browser_text.measurements(raw, m)
