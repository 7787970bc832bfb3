"""Child process: load one ONNX file in onnxruntime and measure it. Imports no torch.

Run by ort_native.py as `python -m edgedistill.bench._child` with a JSON spec on stdin (no temp file);
prints one JSON object on stdout. It dies with the parent and caps its memory first (bench/sandbox.py).
Peak memory is this process's own VmHWM, read from /proc/self/status: a fresh process per
measurement, so nothing from the parent (torch, training) is counted.

A profile's constraints are applied here, before onnxruntime is imported: CPU affinity
(os.sched_setaffinity, inherited by every thread onnxruntime starts) and a memory ceiling
(RLIMIT_DATA: since Linux 4.7 it bounds brk and private writable mmaps, i.e. every malloc, while
leaving untouched the large PROT_NONE address reservations that make RLIMIT_AS unusable with a
thread pool) — the profile's, or half the host's memory where the profile sets none. An allocation
beyond it fails inside this process; the parent reports it.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from .sandbox import enter, first_line


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _peak_rss_bytes() -> int:
    kb = _status_kb("VmHWM")
    if kb is not None:
        return kb * 1024
    import psutil  # non-Linux fallback: the child's own peak working set where psutil has it

    info = psutil.Process().memory_info()
    return int(getattr(info, "peak_wset", info.rss))


_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
           "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(uint8)": np.uint8, "tensor(int8)": np.int8}


def _synth(inp, batch: int, shapes: dict) -> np.ndarray:
    """Random input of the model's declared type; dynamic dims: batch first, else --shape, else 1."""
    dims = shapes.get(inp.name) or [batch if i == 0 and not isinstance(d, int) else (d if isinstance(d, int) else 1)
                                    for i, d in enumerate(inp.shape)]
    rng = np.random.default_rng(0)
    return rng.standard_normal(dims).astype(_DTYPES.get(inp.type, np.float32))


def _timed(sess, feed, n: int) -> list[int]:
    out = []
    for _ in range(n):
        t = time.perf_counter_ns()
        sess.run(None, feed)
        out.append(time.perf_counter_ns() - t)
    return out


def constrain(constraints: dict) -> dict:
    """Apply CPU affinity to this process; return what was actually applied, memory ceiling included (read back)."""
    import os
    import resource

    applied = {}
    if constraints.get("cpus") and hasattr(os, "sched_setaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, allowed[:constraints["cpus"]])
        applied["affinity"] = sorted(os.sched_getaffinity(0))
    limit = resource.getrlimit(resource.RLIMIT_DATA)[0]  # set by sandbox.enter() before anything heavy
    if limit != resource.RLIM_INFINITY:
        applied["rlimit_data_bytes"] = limit
    return applied


def timer_resolution() -> dict:
    """The clock's declared resolution and the smallest step actually observed between two reads."""
    step = None
    for _ in range(200):
        a = time.perf_counter_ns()
        b = time.perf_counter_ns()
        while b == a:
            b = time.perf_counter_ns()
        step = b - a if step is None else min(step, b - a)
    return {"declared_ns": time.get_clock_info("perf_counter").resolution * 1e9, "smallest_step_ns": step}


def _threads() -> int:
    return _status_kb("Threads") or 0  # /proc/self/status "Threads: N" (a count, not kB)


def measure(spec: dict) -> dict:
    """Session create, first run, warm latency, throughput, accuracy, peak memory of one file."""
    import onnxruntime as ort

    baseline = (_status_kb("VmRSS") or 0) * 1024
    so = ort.SessionOptions()
    so.intra_op_num_threads = spec["threads"]
    before = _threads()
    t = time.perf_counter_ns()
    sess = ort.InferenceSession(spec["model"], so, providers=["CPUExecutionProvider"])
    create_ns = time.perf_counter_ns() - t
    pool = _threads() - before  # onnxruntime's worker threads; the calling thread runs work too
    inputs = sess.get_inputs()
    data = np.load(spec["data"], allow_pickle=False) if spec.get("data") else None
    lat, thr = spec["latency"], spec["throughput"]

    def feed(batch):
        if data is not None and len(inputs) == 1:
            rows = np.resize(data["x"], (batch, *data["x"].shape[1:]))  # repeats rows if batch > N
            return {inputs[0].name: rows.astype(_DTYPES.get(inputs[0].type, np.float32))}
        return {i.name: _synth(i, batch, spec.get("shapes", {})) for i in inputs}

    one = feed(lat["batch"])
    first_ns = _timed(sess, one, 1)[0]
    _timed(sess, one, lat["warmup"])  # discarded: caches, allocator arenas, thread-pool spin-up
    times, start = [], time.perf_counter()
    while len(times) < lat["runs"] or time.perf_counter() - start < lat["min_seconds"]:
        times += _timed(sess, one, 10)
    many = feed(thr["batch"])
    _timed(sess, many, 2)
    t = time.perf_counter_ns()
    _timed(sess, many, thr["runs"])
    throughput = thr["batch"] * thr["runs"] / ((time.perf_counter_ns() - t) / 1e9)
    result = {"session_create_ns": create_ns, "first_run_ns": first_ns, "latency_ns": times,
              "throughput_per_s": throughput, "baseline_rss_bytes": baseline, "threads": spec["threads"],
              "intra_op_threads_used": pool + 1, "ort_version": ort.__version__}
    if data is not None and "y" in data.files:
        x = data["x"]
        preds = np.concatenate([sess.run(None, {inputs[0].name: x[i:i + 256]})[0].argmax(1)
                                for i in range(0, len(x), 256)])
        result["accuracy"] = float((preds == data["y"]).mean())
        if "teacher_pred" in data.files:
            result["agreement"] = float((preds == data["teacher_pred"]).mean())
        result["eval_samples"] = int(len(x))
    result["peak_rss_bytes"] = _peak_rss_bytes()
    return result


_OOM_WORDS = ("memoryerror", "bad_alloc", "failed to allocate", "cannot allocate", "out of memory")


def main(spec: dict) -> int:
    """Constrain, measure, print one JSON line; an error becomes {"error", "kind"} (kind "memory" past the ceiling)."""
    try:
        applied = constrain(spec.get("constraints") or {})
        result = measure(spec)
        result.update(constraints_applied=applied, timer=timer_resolution())
        print(json.dumps(result))
        return 0
    except Exception as exc:  # the parent turns this into a one-line error naming the file
        text = first_line(exc)
        oom = isinstance(exc, MemoryError) or any(w in text.lower() for w in _OOM_WORDS)
        print(json.dumps({"error": text, "kind": "memory" if oom else "run"}), flush=True)
        return 3


if __name__ == "__main__":
    sys.exit(main(enter()))
