"""Exported file ↔ the torch model it came from: numbers on held-out data, checked against the preset.

Outputs are compared row by row on the task's primary output: logits (N, C) row per example,
per-token logits (N, T, V) row per position, vectors (N, D) row per example. Top-1 agreement and
accuracy exist where rows are class scores (classify, lm); vectors (embed) are judged by max |Δ|
and cosine alone.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ParityError, StageError
from ..results import Figure


@dataclass(frozen=True)
class ParityResult:
    """Agreement of an exported file with its torch source on the test set (measured, onnxruntime CPU)."""

    max_abs_diff: float
    mean_cosine: float
    top1_agreement: float  # fraction of test rows where both pick the same class
    accuracy: float  # of the exported file, fraction
    samples: int
    reference_accuracy: float = float("nan")  # of the torch model on the same rows, fraction

    @property
    def accuracy_drop(self) -> float:
        """Percentage points lost against the torch model (negative: the file scored higher)."""
        return 100 * (self.reference_accuracy - self.accuracy)

    def to_json(self, runtime: str) -> dict:
        """Report form: every number a figure with unit and how it was obtained (absent when not defined)."""
        figures = {"max_abs_diff": Figure(self.max_abs_diff, "logit"),
                   "mean_cosine": Figure(self.mean_cosine, "cosine"),
                   "top1_agreement": Figure(100 * self.top1_agreement, "%"),
                   "accuracy": Figure(100 * self.accuracy, "%"),
                   "accuracy_drop": Figure(self.accuracy_drop, "pp")}
        return {**{k: f.to_json() for k, f in figures.items() if f.value == f.value},  # NaN: not defined here
                "samples": self.samples, "runtime": runtime}


def feed_names(graph_inputs: list[str], inputs: dict) -> dict[str, str]:
    """Graph input name → our input name: by name, or a single input whatever the file calls it."""
    if set(graph_inputs) <= set(inputs):
        return {n: n for n in graph_inputs}
    if len(graph_inputs) == 1 and len(inputs) == 1:
        return {graph_inputs[0]: next(iter(inputs))}
    raise StageError(f"the model's inputs {graph_inputs} are not the data's {sorted(inputs)}")


def onnx_outputs(path: Path, x, batch: int = 256) -> np.ndarray:
    """Run an ONNX file (or .ort) over rows of named inputs x {name: (N, ...)} (or one array) in
    onnxruntime (CPU); return its first output, (N, ...)."""
    import onnxruntime as ort

    x = x if isinstance(x, dict) else {"input": x}
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = feed_names([i.name for i in sess.get_inputs()], x)
    first = sess.get_outputs()[0].name
    n = len(next(iter(x.values())))
    return np.concatenate([sess.run([first], {g: np.asarray(x[k][i:i + batch]) for g, k in names.items()})[0]
                           for i in range(0, n, batch)])


def onnx_logits(path: Path, x, batch: int = 256) -> np.ndarray:
    """A classifier's logits (N, C) from an ONNX file (see onnx_outputs)."""
    return onnx_outputs(path, x, batch)


def compare(reference: np.ndarray, exported: np.ndarray, labels, classes: bool = True) -> ParityResult:
    """Numbers comparing two output arrays row by row: (N, C), (N, T, V) → (N·T, V) rows, or vectors.
    `labels` (N,) / (N, T), negative where there is none; `classes=False` (vectors): no top-1 figures."""
    ref, got = reference.astype(np.float64), exported.astype(np.float64)
    if ref.ndim > 2:  # one row per position
        ref, got = ref.reshape(-1, ref.shape[-1]), got.reshape(-1, got.shape[-1])
    cos = (ref * got).sum(1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1) + 1e-12)
    nan = float("nan")
    if not classes or labels is None:
        return ParityResult(float(np.abs(ref - got).max()), float(cos.mean()), nan, nan, len(reference))
    y = np.asarray(labels).reshape(-1)
    keep = y >= 0  # positions with a label (UNLABELED ones count for agreement only)
    return ParityResult(float(np.abs(ref - got).max()), float(cos.mean()),
                        float((ref.argmax(1) == got.argmax(1)).mean()),
                        float((got.argmax(1)[keep] == y[keep]).mean()) if keep.any() else nan, len(reference),
                        float((ref.argmax(1)[keep] == y[keep]).mean()) if keep.any() else nan)


def problems(result: ParityResult, tolerance) -> list[str]:
    """Every way `result` is beyond the preset's tolerance, as text with the numbers ([] = within)."""
    found = []
    if tolerance.min_cosine is not None and result.mean_cosine < tolerance.min_cosine:
        found.append(f"mean cosine {result.mean_cosine:.5f} < {tolerance.min_cosine:.5f}")
    if tolerance.max_accuracy_drop is not None and result.accuracy_drop > tolerance.max_accuracy_drop:
        found.append(f"accuracy drop {result.accuracy_drop:.2f} pp > {tolerance.max_accuracy_drop:.2f} pp")
    if tolerance.max_abs_diff is not None and result.max_abs_diff > tolerance.max_abs_diff:
        found.append(f"max |Δ| {result.max_abs_diff:.3g} > {tolerance.max_abs_diff:.3g}")
    if result.top1_agreement < tolerance.min_top1_agreement:
        found.append(f"top-1 agreement {result.top1_agreement:.2%} < {tolerance.min_top1_agreement:.2%}")
    return found


def check(name: str, result: ParityResult, tolerance) -> None:
    """Raise ParityError (exit 5) naming the numbers when `result` is beyond the preset's tolerance."""
    if found := problems(result, tolerance):
        raise ParityError(f"{name} fails parity with the torch model on {result.samples} test rows: "
                         + "; ".join(found) + " — the export is wrong or the preset's quantization too coarse")


def check_file(preset, name: str, path: Path, reference: np.ndarray, x, y, classes: bool = True) -> dict:
    """Run an exported file on rows x {name: array}, compare with the torch outputs, enforce the preset's
    tolerance. `classes=False` for vector outputs (no top-1 figures)."""
    if preset.format in ("onnx", "ort"):  # onnxruntime loads .ort files directly
        result = compare(reference, onnx_outputs(path, x), y, classes)
        runtime = "onnxruntime CPU"
    elif preset.format != "coreml":  # a plugin's format: edgedistill has no runtime of its own for it
        return {"skipped": f"no parity check for format {preset.format!r}: edgedistill runs onnx, ort and coreml "
                           "files; the plugin's runner measures this one"}
    elif sys.platform == "darwin":
        from .coreml import coreml_logits

        result = compare(reference, coreml_logits(path, dict(x) if isinstance(x, dict) else x), y, classes)
        runtime = "Core ML"
    else:
        return {"skipped": "Core ML predicts only on macOS; on this host the package was reloaded and its "
                           "interface, ops and weight bytes validated instead"}
    check(name, result, preset.parity)
    return result.to_json(runtime)
