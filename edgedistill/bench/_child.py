"""Child process: load one ONNX (or ORT-format) file in onnxruntime and measure it. Imports no torch.

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

Every graph input is fed (bench/feeds.py): from the eval set by input name (`x` for a single-input
model), else synthesised. With an eval set, the task's metrics (tasks/metrics.py) are computed on
the first output over all its rows.
"""

from __future__ import annotations

import json
import math
import sys
import time

import numpy as np

from .feeds import batch_of, eval_batches, eval_rows, feed, refs_of
from .sandbox import enter, first_line

ORT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
             "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(int16)": "int16", "tensor(int8)": "int8",
             "tensor(uint8)": "uint8", "tensor(uint16)": "uint16", "tensor(bool)": "bool"}


class DataProblem(Exception):
    """The eval set cannot be evaluated on this model: reported naming the data file, not the model."""


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


def input_specs(sess) -> list[dict]:
    """The session's inputs as {"name", "dtype", "dims"} (None for a dynamic dim); an unfeedable type raises."""
    out = []
    for i in sess.get_inputs():
        if i.type not in ORT_TYPES:
            raise TypeError(f"input {i.name!r} has type {i.type}, which the bench cannot synthesise")
        out.append({"name": i.name, "dtype": ORT_TYPES[i.type],
                    "dims": [d if isinstance(d, int) and d > 0 else None for d in i.shape]})
    return out


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


def load_eval(path: str | None) -> dict | None:
    """The eval set's arrays (never unpickled), loaded here under the child's memory ceiling."""
    if not path:
        return None
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def measure(spec: dict) -> dict:
    """Session create, first run, warm latency, throughput, task metrics, peak memory of one file."""
    import onnxruntime as ort

    baseline = (_status_kb("VmRSS") or 0) * 1024
    so = ort.SessionOptions()
    so.intra_op_num_threads = spec["threads"]
    before = _threads()
    t = time.perf_counter_ns()
    sess = ort.InferenceSession(spec["model"], so, providers=["CPUExecutionProvider"])
    create_ns = time.perf_counter_ns() - t
    pool = _threads() - before  # onnxruntime's worker threads; the calling thread runs work too
    inputs, shapes = input_specs(sess), spec.get("shapes") or {}
    data = load_eval(spec.get("data"))
    lat, thr = spec["latency"], spec["throughput"]
    one = feed(inputs, lat["batch"], shapes, data)
    first_ns = _timed(sess, one, 1)[0]
    _timed(sess, one, lat["warmup"])  # discarded: caches, allocator arenas, thread-pool spin-up
    times, start = [], time.perf_counter()
    while len(times) < lat["runs"] or time.perf_counter() - start < lat["min_seconds"]:
        times += _timed(sess, one, 10)
    many = feed(inputs, thr["batch"], shapes, data)
    _timed(sess, many, 2)
    t = time.perf_counter_ns()
    _timed(sess, many, thr["runs"])
    # samples per second at the batch that actually ran: --shape or a fixed leading dim can pin it
    throughput = batch_of(many) * thr["runs"] / ((time.perf_counter_ns() - t) / 1e9)
    result = {"session_create_ns": create_ns, "first_run_ns": first_ns, "latency_ns": times,
              "throughput_per_s": throughput, "throughput_batch": batch_of(many), "latency_batch": batch_of(one),
              "baseline_rss_bytes": baseline, "threads": spec["threads"], "intra_op_threads_used": pool + 1,
              "ort_version": ort.__version__}
    if data is not None:
        result.update(task_metrics(sess, inputs, data, shapes, spec.get("task")))
    result["peak_rss_bytes"] = _peak_rss_bytes()
    return result


def task_metrics(sess, inputs: list[dict], data: dict, shapes: dict, task: str | None) -> dict:
    """{"metrics": {name: [value, unit]}, "task", "eval_samples"} of the first output over the eval set."""
    from ..tasks.metrics import evaluate, infer_task

    refs = refs_of(inputs, data)
    if not refs:  # inputs only: nothing to score against
        return {}
    task = task or infer_task(refs)
    first = sess.get_outputs()[0].name
    try:
        out = np.concatenate([sess.run([first], chunk)[0] for _, chunk in eval_batches(inputs, data, shapes)])
        got = evaluate(task, out, refs)
    except (ValueError, IndexError, KeyError) as exc:  # shapes of the refs and the outputs disagree
        raise DataProblem(f"{task} metrics on the output {first!r}: {first_line(exc)}") from None
    metrics = {k: [float(v), unit] for k, (v, unit) in got.items() if math.isfinite(v)}
    return {"metrics": metrics, "task": task, "eval_samples": eval_rows(inputs, data)}


_OOM_WORDS = ("memoryerror", "bad_alloc", "failed to allocate", "cannot allocate", "out of memory")


def main(spec: dict) -> int:
    """Constrain, measure, print one JSON line; an error becomes {"error", "cause"} (memory, data or run)."""
    try:
        applied = constrain(spec.get("constraints") or {})
        result = measure(spec)
        result.update(constraints_applied=applied, timer=timer_resolution())
        print(json.dumps(result))
        return 0
    except Exception as exc:  # the parent turns this into a one-line error naming the file
        text = first_line(exc)
        oom = isinstance(exc, MemoryError) or any(w in text.lower() for w in _OOM_WORDS)
        cause = "memory" if oom else "data" if isinstance(exc, DataProblem) else "run"
        print(json.dumps({"error": str(exc) if cause == "data" else text, "cause": cause}), flush=True)
        return 3


if __name__ == "__main__":
    sys.exit(main(enter()))
