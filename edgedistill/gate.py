"""The gate: pure (checks, measurements) → Verdict. No I/O; the CLI turns the verdict into exit codes.

A check whose measurement is missing fails: a budget never passes silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from .budgets import Check
from .results import Figure, fmt, label, lookup

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
    return Verdict(tuple(_judge_one(c, lookup(figures, c.artifact, c.device, c.metric)) for c in checks))


def _judge_one(c: Check, fig: Figure | None) -> CheckResult:
    on = f" on {c.device}" if c.device else ""
    if fig is None:
        return CheckResult(c, None, False, f"{c.metric} of {c.artifact}{on} was not measured — a budget "
                                           f"without a measurement fails [{c.where}]; bench that artifact there")
    ok = fig.value <= c.limit if c.upper else fig.value >= c.limit
    shown = label(fig)
    if ok:
        return CheckResult(c, fig, True, f"{c.metric} {shown} within {c.limit_text}{on}")
    over = abs(fig.value - c.limit)
    rel = f" ({'+' if c.upper else '-'}{over / c.limit:.0%})" if c.limit else ""
    verb = "exceeds" if c.upper else "is below"
    by = fmt(over, "pp" if fig.unit == "%" else fig.unit)  # a gap between percentages is in points
    return CheckResult(c, fig, False, f"{c.metric} {shown} {verb} {c.limit_text} by {by}{rel}{on} "
                                      f"[{c.where}] — try: {HINTS.get(c.metric, '')}")
