"""Bench stage: every artifact of a run on every device in the recipe, side by side.

`measure` is shared by the pipeline (`bench_all`) and `edgedistill bench` (standalone.py): it
runs each file on each profile through the runner registered for the profile's runtime, records
a status per (artifact, device) — ok, unstable, not_runnable, failed — adds the graph cost and,
for profiles with published peaks, a roofline `estimated_ms`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..artifacts import atomic_write_npz
from ..devices import load_profile
from ..errors import InputFileError, StageError
from ..registry import Registry
from ..results import Figure, Measurement
from . import browser, coreml, ort_native
from .estimate import estimated
from .outcome import BenchRun, DeviceLimitExceeded, NotRunnable, Status, stability

# device profile `runtime` → runner(artifact, path, profile, eval_set, shapes) -> [Measurement] or
# ([Measurement], details)
RUNNERS: Registry = Registry("runner", plugin_group="edgedistill.runners")
RUNNERS.register("onnxruntime", ort_native.bench_detailed)
RUNNERS.register("onnxruntime-web", browser.bench)  # headless Chromium; how = "browser"
RUNNERS.register("coreml", coreml.bench)
# which artifact kind each runtime takes (a runtime not listed takes ONNX files)
RUNTIME_KIND = {"coreml": "coreml"}

TEACHER = "teacher-fp32.onnx"


def write_eval_set(path: Path, inputs: dict, references: dict) -> Path:
    """The arrays the bench children evaluate (tasks/metrics.py): each model input by name (a single
    input also as `x`), plus the task's references (y, teacher_pred, teacher_embedding, …)."""
    arrays = {k: np.asarray(v) for k, v in inputs.items()}
    if len(arrays) == 1:
        arrays["x"] = next(iter(arrays.values()))
    arrays.update({k: np.asarray(v) for k, v in references.items()})
    atomic_write_npz(path, arrays)
    return path


def bench_all(recipe, trained, artifacts: dict, out: Path, reporter) -> BenchRun:
    """Measure each artifact on each device; add sizes, cost, estimates, the accuracy drop vs the teacher, plots."""
    from .plots import write_plots

    ds = trained.dataset
    eval_set = write_eval_set(out / "eval.npz", ds.x_test, trained.references)
    files = [(a.name, a.path, a.kind) for a in artifacts.values() if a.kind in ("onnx", "coreml")]
    profiles = [load_profile(d) for d in recipe.bench.devices]
    try:
        run = measure(files, profiles, eval_set, None, reporter, task=trained.task.name)
    except InputFileError as exc:  # our own file failing to run is our bug, not bad input
        raise StageError(f"benchmark failed: {exc}") from exc
    extra = [Measurement(a.name, None, "size", Figure(a.bytes, "B")) for a in artifacts.values()
             if a.kind not in ("onnx",)]
    ms = run.measurements + extra
    run = BenchRun(ms + accuracy_drops(ms, TEACHER), run.statuses, run.cost, run.profiles, run.environment)
    write_plots(run, out)
    return run


def measure(files, profiles, data: Path | None, shapes: dict | None, reporter, cache: Path | None = None,
            sizes: bool = True, task: str | None = None) -> BenchRun:
    """files: [(artifact, path, kind)] with kind "onnx" or "coreml" (.mlpackage); every file × every profile.

    `cache`: where brotli sizes are kept by content hash (None: always recompute); `sizes=False`
    skips the file-size figures (benchmarks that only need latency)."""
    from .cost import graph_cost

    ms: list[Measurement] = []
    statuses: list[Status] = []
    costs: dict = {}
    for name, path, kind in files:
        if kind == "onnx":
            costs[name] = graph_cost(path, 1, shapes)
            if sizes:
                ms += ort_native.file_measurements(name, path, costs[name].weight_bytes, cache)
    for p in profiles:
        kind = RUNTIME_KIND.get(p.runtime, "onnx")
        todo = [f for f in files if f[2] == kind]
        if not todo:  # e.g. only ONNX files on coreml: say so instead of silently leaving a gap
            statuses += [Status(name, p.name, "not_runnable", _wrong_kind(p, kind, other)) for name, _, other in files]
        with reporter.task(f"bench {p.name}", max(len(todo), 1)) as advance:
            for name, path, _ in todo:
                got, status = _run_one(name, path, p, data, shapes)
                ms += got
                statuses.append(status)
                if kind == "onnx" and p.peak is not None:
                    cost = costs[name] if p.latency.batch == 1 else graph_cost(path, p.latency.batch, shapes)
                    ms += estimated(name, cost, p)
                advance(file=name, status=status.status)
    return BenchRun(ms, statuses, {n: c.to_json() for n, c in costs.items()},
                    {p.name: _profile_json(p) for p in profiles}, environment())


def _run_one(name: str, path: Path, profile, data, shapes) -> tuple[list[Measurement], Status]:
    """One (file, profile) measurement; a profile that cannot run here, or a file that does not fit, is a status."""
    runner = RUNNERS.get(profile.runtime)
    try:
        result = runner(name, path, profile, data, shapes)
    except NotRunnable as exc:
        return [], Status(name, profile.name, "not_runnable", str(exc))
    except DeviceLimitExceeded as exc:
        return [], Status(name, profile.name, "failed", str(exc))
    got, details = result if isinstance(result, tuple) else (result, {})
    return got, stability(name, profile.name, got, details)


def _wrong_kind(profile, kind: str, other: str) -> str:
    reason = f"{profile.runtime} runs {kind} files, this is {other}"
    host = coreml.runnable() if profile.runtime == "coreml" else None
    return f"{host}; {reason}" if host else reason


def _profile_json(p) -> dict:
    return {"runtime": p.runtime, "how": p.how, "threads": p.threads, "description": p.description,
            "latency": p.latency.model_dump(), "throughput": p.throughput.model_dump(),
            "constraints": p.constraints.model_dump(), "peak": p.peak.model_dump() if p.peak else None}


def environment() -> dict:
    """CPU model and flags, core count and runtime versions of the host that measured."""
    from ..hostinfo import cpu, versions

    return {"cpu": cpu(), "versions": versions("edgedistill", "onnx", "onnxruntime", "coremltools", "numpy")}


def accuracy_drops(measurements: list[Measurement], teacher: str) -> list[Measurement]:
    """teacher accuracy − artifact accuracy, in percentage points, per device (same runtime, same data)."""
    acc = {(m.artifact, m.device): m.figure for m in measurements if m.metric == "accuracy"}
    out = []
    for (artifact, device), fig in acc.items():
        ref = acc.get((teacher, device))
        if ref is not None and artifact != teacher:
            out.append(Measurement(artifact, device, "accuracy_drop", Figure(ref.value - fig.value, "pp", fig.how)))
    return out
