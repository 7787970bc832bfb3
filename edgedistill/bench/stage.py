"""Bench stage: every ONNX artifact of a run on every device in the recipe, side by side."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..artifacts import atomic_write_npz
from ..devices import load_profile
from ..errors import InputFileError, StageError
from ..registry import Registry
from ..results import Figure, Measurement
from . import browser, ort_native

# device profile `runtime` → runner(artifact, path, profile, eval_set) -> [Measurement]
RUNNERS: Registry = Registry("runner", plugin_group="edgedistill.runners")
RUNNERS.register("onnxruntime", ort_native.bench)
RUNNERS.register("onnxruntime-web", browser.bench)  # headless Chromium; how = "browser"

TEACHER = "teacher-fp32.onnx"


def write_eval_set(path: Path, x: np.ndarray, y: np.ndarray, teacher_pred: np.ndarray | None) -> Path:
    """The arrays the child process evaluates: x (N, ...), y (N,), teacher_pred (N,) class ids."""
    arrays = {"x": x.astype(np.float32), "y": y.astype(np.int64)}
    if teacher_pred is not None:
        arrays["teacher_pred"] = teacher_pred.astype(np.int64)
    atomic_write_npz(path, arrays)
    return path


def bench_all(recipe, trained, artifacts: dict, out: Path, reporter) -> list[Measurement]:
    """Measure each ONNX artifact on each device; add sizes and the accuracy drop vs the teacher."""
    ds = trained.dataset
    teacher_pred = trained.test_logits["teacher"].argmax(1)
    eval_set = write_eval_set(out / "eval.npz", ds.x_test, ds.y_test, teacher_pred)
    onnx_files = [a for a in artifacts.values() if a.kind == "onnx"]
    measurements = [m for a in onnx_files for m in ort_native.file_measurements(a.name, a.path)]
    measurements += [Measurement(a.name, None, "size", Figure(a.bytes, "B")) for a in artifacts.values()
                     if a.kind != "onnx"]
    for device in recipe.bench.devices:
        profile = load_profile(device)
        runner = RUNNERS.get(profile.runtime)
        with reporter.task(f"bench {device}", len(onnx_files)) as advance:
            for a in onnx_files:
                try:
                    measurements += runner(a.name, a.path, profile, eval_set)
                except InputFileError as exc:  # our own file failing to run is our bug, not bad input
                    raise StageError(f"benchmark of {a.name} on {device} failed: {exc}") from exc
                advance(file=a.name)
    return measurements + accuracy_drops(measurements, TEACHER)


def accuracy_drops(measurements: list[Measurement], teacher: str) -> list[Measurement]:
    """teacher accuracy − artifact accuracy, in percentage points, per device (same runtime, same data)."""
    acc = {(m.artifact, m.device): m.figure for m in measurements if m.metric == "accuracy"}
    out = []
    for (artifact, device), fig in acc.items():
        ref = acc.get((teacher, device))
        if ref is not None and artifact != teacher:
            out.append(Measurement(artifact, device, "accuracy_drop", Figure(ref.value - fig.value, "pp", fig.how)))
    return out
