"""Bench stage: every artifact of a run on every device in the recipe, side by side.

`measure` is shared by the pipeline (`bench_all`) and `edgedistill bench` (standalone.py): it
runs each file on each profile through the runner registered for the profile's runtime, records
a status per (artifact, device) — ok, unstable, not_runnable, failed — adds the graph cost and,
for profiles with published peaks, a roofline `estimated_ms`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from ..artifacts import atomic_write_npz
from ..devices import load_profile
from ..errors import InputFileError, StageError
from ..registry import Registry
from ..results import Figure, Measurement
from . import browser, conditions, coreml, ort_native, sessions
from .analysis import analyse, check_shapes, limits_for
from .estimate import estimated
from .evalset import check_eval_set
from .outcome import BenchRun, DeviceLimitExceeded, NotRunnable, Status, stability

# device profile `runtime` → runner(artifact, path, profile, eval_set, shapes, **options) -> [Measurement] or
# ([Measurement], details). options (keyword, passed only where the runner accepts them): info (the
# file's ModelInfo from the analysis child: inputs, outputs, cost), task (the eval set's task).
RUNNERS: Registry = Registry("runner", plugin_group="edgedistill.runners")
RUNNERS.register("onnxruntime", ort_native.bench_detailed)
RUNNERS.register("onnxruntime-web", browser.bench_detailed)  # headless Chromium; how = "browser"
RUNNERS.register("coreml", coreml.bench)
# which artifact kinds each runtime takes; a plugin runner says so in its `formats` attribute, else ONNX
RUNTIME_KINDS = {"onnxruntime": ("onnx", "ort"), "onnxruntime-web": ("onnx", "ort"), "coreml": ("coreml",)}


def check_runtime(profile, where: str | None = None) -> None:
    """ConfigError (exit 2) for a profile whose runtime has no runner (built-in or plugin), with the closest name."""
    if profile.runtime not in RUNNERS:
        from ..errors import ConfigError

        raise ConfigError(where or f"device profile {profile.name}", "runtime",
                          RUNNERS.unknown_message(profile.runtime),
                          "a plugin package adds runtimes (entry point edgedistill.runners)")


def plugin_suffixes(profiles) -> dict[str, str]:
    """File suffix → artifact kind for the formats the profiles' plugin runners take (their `formats`
    attribute; `suffixes` maps a suffix to one, else the suffix is "." + the kind)."""
    out = {}
    for p in profiles:
        kinds = [k for k in runtime_kinds(p.runtime) if k not in ("onnx", "ort", "coreml")]
        out.update({f".{k}": k for k in kinds})
        out.update(getattr(RUNNERS.get(p.runtime), "suffixes", {}) if kinds else {})
    return out


def runtime_kinds(runtime: str) -> tuple[str, ...]:
    """The artifact kinds (file formats) a profile's runtime can run."""
    if runtime in RUNTIME_KINDS:
        return RUNTIME_KINDS[runtime]
    return tuple(getattr(RUNNERS.get(runtime), "formats", ("onnx",)))

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
    profiles = [load_profile(d) for d in recipe.bench.devices]
    runnable = {"onnx", "ort", "coreml"}.union(*(runtime_kinds(p.runtime) for p in profiles))
    files = [(a.name, a.path, a.kind) for a in artifacts.values() if a.kind in runnable]
    try:
        run = measure(files, profiles, eval_set, None, reporter, task=trained.task.name)
    except InputFileError as exc:  # our own file failing to run is our bug, not bad input
        raise StageError(f"benchmark failed: {exc}") from exc
    extra = [Measurement(a.name, None, "size", Figure(a.bytes, "B")) for a in artifacts.values()
             if a.kind not in ("onnx", "ort")]
    ms = run.measurements + extra
    run = BenchRun(ms + accuracy_drops(ms, TEACHER), run.statuses, run.cost, run.profiles, run.environment)
    write_plots(run, out)
    return run


def measure(files, profiles, data: Path | None, shapes: dict | None, reporter, cache: Path | None = None,
            sizes: bool = True, task: str | None = None, repeat: int = 1) -> BenchRun:
    """files: [(artifact, path, kind)] with kind "onnx", "ort" or "coreml" (.mlpackage); every file × every profile.

    Each model file is first read in the analysis child (checker, inputs, graph cost; exit 3 over its
    limits), `--shape` names are checked against the inputs (exit 2), then each pair is measured.
    `cache`: where brotli sizes are kept by content hash (None: always recompute); `sizes=False`
    skips the file-size figures (benchmarks that only need latency); `task` names the eval set's
    task (classify, embed, lm; None: inferred from its reference arrays); `repeat`: fresh sessions
    per pair, figures = their median (bench/sessions.py)."""
    for p in profiles:  # a profile naming a runtime nobody registered fails before any work
        check_runtime(p)
    start = conditions.snapshot()
    ms: list[Measurement] = []
    statuses: list[Status] = []
    rows = None
    if data is not None:  # graph cost at the eval rows' dims (a text model's sequence), as the runners feed
        from .evalset import read_headers

        rows = {name: list(shape[1:]) for name, (shape, _) in read_headers(data).items() if shape}
    infos = analyse_files(files, profiles, shapes, rows)
    check_shapes(list(infos.values()), shapes)
    if data is not None:
        check_eval_set(data, infos)
    costs = {name: cost_json(info) for name, info in infos.items()}
    if sizes:
        for name, path, _ in files:
            if name in infos:
                cost = infos[name].cost(1)
                ms += ort_native.file_measurements(name, path, cost.weight_bytes if cost else None, cache)
    for p in profiles:
        kinds = runtime_kinds(p.runtime)
        todo = [f for f in files if f[2] in kinds]
        statuses += [Status(name, p.name, "not_runnable", _wrong_kind(p, kinds, other))
                     for name, _, other in files if other not in kinds]
        with reporter.task(f"bench {p.name}", max(len(todo), 1)) as advance:
            for name, path, _ in todo:
                got, status = _run_one(name, path, p, data, shapes, repeat, info=infos.get(name), task=task)
                est, note = _estimate(name, infos.get(name), p, status)
                ms += got + est
                statuses.append(replace(status, details={**status.details, "estimate": note}) if note else status)
                advance(file=name, status=status.status)
    env = {**environment(), "conditions": conditions.since(start), "repeat": repeat}
    return BenchRun(ms, statuses, costs, {p.name: _profile_json(p) for p in profiles}, env)


def analyse_files(files, profiles, shapes: dict | None, rows: dict | None = None) -> dict:
    """artifact → ModelInfo for every ONNX / ORT file, costed at batch 1 and at each estimating profile's batch
    (dynamic dims past the batch at `rows`, the eval set's row dims, when given)."""
    batches = {1} | {p.latency.batch for p in profiles if p.peak is not None}
    return {name: analyse(path, batches, shapes, limits_for(path, profiles), rows)
            for name, path, kind in files if kind in ("onnx", "ort")}


def cost_json(info) -> dict:
    """The graph cost at batch 1 as report JSON, or {"unavailable": why}."""
    cost = info.cost(1)
    return cost.to_json() if cost is not None else {"unavailable": info.cost_note(1)}


def _estimate(name: str, info, profile, status: Status) -> tuple[list[Measurement], str]:
    """(estimated_ms for a profile with published peaks, ""), or ([], "estimate unavailable (N ops uncounted)")
    when the cost is missing or too incomplete to be worth a number."""
    if info is None or profile.peak is None or status.status == "not_runnable":
        return [], ""
    cost = info.cost(profile.latency.batch)
    why = info.cost_note(profile.latency.batch) if cost is None else cost.estimate_unavailable
    if why:
        return [], why if why.startswith("estimate") else f"estimate unavailable: {why}"
    return estimated(name, cost, profile), ""


def _run_one(name: str, path: Path, profile, data, shapes, repeat: int = 1,
             **options) -> tuple[list[Measurement], Status]:
    """One (file, profile) pair, `repeat` fresh sessions; a profile that cannot run here, or a file that does
    not fit, is a status. The machine's load and steal time over the measurement go into the details."""
    runner = RUNNERS.get(profile.runtime)
    start, results = conditions.snapshot(), []
    try:
        for _ in range(repeat):
            result = _call(runner, name, path, profile, data, shapes, **options)
            results.append(result if isinstance(result, tuple) else (result, {}))
    except NotRunnable as exc:
        return [], Status(name, profile.name, "not_runnable", str(exc), {})
    except DeviceLimitExceeded as exc:
        return [], Status(name, profile.name, "failed", str(exc), {"conditions": conditions.since(start)})
    got, details = sessions.merge(results)
    status = stability(name, profile.name, got, {**details, "conditions": conditions.since(start)})
    # the flag as a figure too, so a gate that reads only measurements can show it beside a latency
    how = got[0].figure.how if got else profile.how
    flag = Measurement(name, profile.name, "unstable", Figure(float(status.status == "unstable"), "bool", how))
    return got + [flag], status


def _call(runner, *args, **options):
    """Call a runner with the keyword options it accepts (a plugin written for the 5-argument protocol gets none)."""
    import inspect

    try:
        params = inspect.signature(runner).parameters
    except (TypeError, ValueError):
        params = {}
    if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        options = {k: v for k, v in options.items() if k in params}
    return runner(*args, **options)


def _wrong_kind(profile, kinds, other: str) -> str:
    reason = f"{profile.runtime} runs {' and '.join(kinds)} files, this is {other}"
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
