"""The gate: pure (checks, measurements) → Verdict. No I/O; the CLI turns the verdict into exit codes.

A check whose measurement is missing fails: a budget never passes silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .budgets import METRICS, Check
from .results import Figure

HINTS = {
    "size": "a smaller student, or the onnx-int8-qdq preset",
    "gzip_size": "a smaller student, or the onnx-int8-qdq preset",
    "p50_ms": "the onnx-int8-qdq preset, or a smaller student",
    "p90_ms": "the onnx-int8-qdq preset, or a smaller student",
    "p99_ms": "the onnx-int8-qdq preset, or a smaller student; check the run's latency_cv for noise",
    "session_create_ms": "a smaller file, or saving the onnxruntime-optimised graph",
    "first_run_ms": "a smaller file, or saving the onnxruntime-optimised graph",
    "throughput": "the onnx-int8-qdq preset, or a smaller student",
    "peak_memory": "a smaller model, or fewer threads",
    "accuracy": "more distillation epochs, more transfer data, or a wider student",
    "accuracy_drop": "more distillation epochs, more transfer data, or fp32 instead of int8",
    "agreement": "a higher alpha or temperature, or more transfer data",
}


@dataclass(frozen=True)
class CheckResult:
    check: Check
    measured: Figure | None
    passed: bool
    message: str  # one line: what, where, by how much, what to try

    @property
    def margin(self) -> float | None:
        """Headroom in the metric's unit: positive = within the limit, negative = over it."""
        if self.measured is None:
            return None
        v, lim = self.measured.value, self.check.limit
        return lim - v if self.check.upper else v - lim


@dataclass(frozen=True)
class Verdict:
    results: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        """False when any `error`-level check failed (`warn` checks never fail the gate)."""
        return all(r.passed or r.check.level == "warn" for r in self.results)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if not r.passed)


def judge(checks: list[Check], figures: dict) -> Verdict:
    """Compare each check with its figure; `figures` maps (artifact, device, metric) → Figure."""
    return Verdict(tuple(_judge_one(c, _lookup(c, figures)) for c in checks))


def _lookup(c: Check, figures: dict) -> Figure | None:
    found = figures.get((c.artifact, c.device, c.metric))
    if found is None and not METRICS[c.metric][2]:
        # Size does not depend on the device: a size check may name a device or not.
        found = figures.get((c.artifact, None, c.metric))
    return found


def _judge_one(c: Check, fig: Figure | None) -> CheckResult:
    on = f" on {c.device}" if c.device else ""
    if fig is None:
        return CheckResult(c, None, False, f"{c.metric} of {c.artifact}{on} was not measured — a budget "
                                           f"without a measurement fails [{c.where}]; bench that artifact there")
    ok = fig.value <= c.limit if c.upper else fig.value >= c.limit
    shown = fmt(fig.value, fig.unit) + ("" if fig.how == "measured" else f" ({fig.how})")
    if ok:
        return CheckResult(c, fig, True, f"{c.metric} {shown} within {c.limit_text}{on}")
    over = abs(fig.value - c.limit)
    rel = f" ({'+' if c.upper else '-'}{over / c.limit:.0%})" if c.limit else ""
    verb = "exceeds" if c.upper else "is below"
    by = fmt(over, "pp" if fig.unit == "%" else fig.unit)  # a gap between percentages is in points
    return CheckResult(c, fig, False, f"{c.metric} {shown} {verb} {c.limit_text} by {by}{rel}{on} "
                                      f"[{c.where}] — try: {HINTS.get(c.metric, '')}")


def fmt(value: float, unit: str) -> str:
    """Human form of a figure, 3 significant digits, never in exponent notation."""
    if unit == "B":
        for div, u in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
            if abs(value) >= div:
                return f"{_sig3(value / div)} {u}"
        return f"{value:.0f} B"
    if unit == "%":
        return f"{value:.2f}%"
    if unit == "pp":
        return f"{value:.2f} pp"
    if unit == "ms":
        if abs(value) >= 1000:
            return f"{_sig3(value / 1000)} s"
        return f"{_sig3(value * 1000)} µs" if abs(value) < 1 else f"{_sig3(value)} ms"
    if unit == "samples/s":
        return f"{value:,.0f}/s"
    return f"{_sig3(value)} {unit}"


def _sig3(v: float) -> str:
    """3 significant digits like "%.3g" (32000 → "3.2e+04" never: → "32000"), no exponent notation."""
    s = f"{v:.3g}"
    if "e" not in s:
        return s
    return f"{v:.0f}" if abs(v) >= 1 else f"{v:.{2 - math.floor(math.log10(abs(v)))}f}"
