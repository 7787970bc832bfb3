"""Exported file ↔ the torch model it came from: numbers on held-out data, checked against the preset."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ParityError
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
        """Report form: every number a figure with unit and how it was obtained."""
        return {"max_abs_diff": Figure(self.max_abs_diff, "logit").to_json(),
                "mean_cosine": Figure(self.mean_cosine, "cosine").to_json(),
                "top1_agreement": Figure(100 * self.top1_agreement, "%").to_json(),
                "accuracy": Figure(100 * self.accuracy, "%").to_json(),
                "accuracy_drop": Figure(self.accuracy_drop, "pp").to_json(),
                "samples": self.samples, "runtime": runtime}


def onnx_logits(path: Path, x: np.ndarray, batch: int = 256) -> np.ndarray:
    """Run an ONNX file over x (N, ...) in onnxruntime (CPU) and return logits (N, C)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x[i:i + batch]})[0] for i in range(0, len(x), batch)])


def compare(reference: np.ndarray, exported: np.ndarray, labels: np.ndarray) -> ParityResult:
    """Numbers comparing two logit arrays (N, C)."""
    ref, got = reference.astype(np.float64), exported.astype(np.float64)
    cos = (ref * got).sum(1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1) + 1e-12)
    return ParityResult(float(np.abs(ref - got).max()), float(cos.mean()),
                        float((ref.argmax(1) == got.argmax(1)).mean()),
                        float((got.argmax(1) == labels).mean()), len(labels),
                        float((ref.argmax(1) == labels).mean()))


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


def check_file(preset, name: str, path: Path, reference: np.ndarray, x: np.ndarray, y: np.ndarray) -> dict:
    """Run an exported file on x, compare with the torch logits, enforce the preset's tolerance."""
    if preset.format in ("onnx", "ort"):  # onnxruntime loads .ort files directly
        result = compare(reference, onnx_logits(path, x), y)
        runtime = "onnxruntime CPU"
    elif sys.platform == "darwin":
        from .coreml import coreml_logits

        result = compare(reference, coreml_logits(path, x), y)
        runtime = "Core ML"
    else:
        return {"skipped": "Core ML predicts only on macOS; on this host the package was reloaded and its "
                           "interface, ops and weight bytes validated instead"}
    check(name, result, preset.parity)
    return result.to_json(runtime)
