"""The gate: pure (checks, measurements[, baseline]) → Verdict. No I/O; the CLI turns it into exit codes.

A check whose measurement is missing fails: a budget never passes silently. So does a relative
check whose baseline value is missing. A result's message says what was measured, against what
limit, by how much and what to try; what it is about (`CheckResult.subject`: "ARTIFACT on DEVICE")
starts every line the CLI prints for it.

Relative limits ("+5%", Check.relative, limit = factor 1.05):
- sizes: limit = the baseline report's figure × factor, then judged like an absolute limit;
- latencies: judged on the ratio new/old of an interleaved A/B run against the baseline's file
  (metric latency_ratio / latency_ratio_p90 / _p99, with `_low`/`_high` = its bootstrap 95% CI),
  never on absolute times from different machines. The verdict follows the median ratio; when the
  CI straddles the limit the result says "inconclusive" (it still passes or fails on the median,
  so a noisy run neither blocks nor waves through a release on its own: rerun to confirm).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..results import Figure, fmt, label, lookup
from .budgets import METRICS, RELATIVE, Check
from .hints import HINTS, Origin, hint

UNIT_OF = {"bytes": "B", "time": "ms", "percent": "%", "points": "pp", "rate": "samples/s", "logit": "logit",
           "cosine": "cosine", "ratio": "×", "perplexity": "ppl", "rho": "rho"}


@dataclass(frozen=True)
class CheckResult:
    check: Check
    measured: Figure | None
    passed: bool
    message: str  # one line: what, where, by how much, what to try
    limit: float | None = None  # the limit actually applied, in the measured unit (relative ones resolved)
    limit_shown: str = ""  # e.g. "+5% (≤ 33.6 kB)"; empty: the check's limit as written
    inconclusive: bool = False  # an A/B ratio whose 95% CI straddles the limit

    @property
    def margin(self) -> float | None:
        """Headroom in the metric's unit: positive = within the limit, negative = over it."""
        if self.measured is None:
            return None
        v = self.measured.value
        lim = self.check.limit if self.limit is None else self.limit
        return lim - v if self.check.upper else v - lim


    @property
    def subject(self) -> str:
        """What the check is about: "student-int8-qdq.onnx on host-cpu" (the start of its CI log line)."""
        return subject(self.check.artifact, self.check.device)


def subject(artifact: str, device: str | None) -> str:
    """The artifact, and the device when the figure depends on one."""
    return artifact + (f" on {device}" if device else "")


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


def judge(checks: list[Check], figures: dict, baseline: dict | None = None,
          origins: dict[str, Origin] | None = None) -> Verdict:
    """Compare each check with its figure; `figures` (and `baseline`) map (artifact, device, metric) → Figure.

    `origins` (artifact → Origin: what made the file, what it already is) fits each failure's hint to the file.
    """
    return Verdict(tuple(_judge(c, figures, baseline, (origins or {}).get(c.artifact)) for c in checks))


def _judge(c: Check, figures: dict, baseline: dict | None, origin: Origin | None = None) -> CheckResult:
    if c.metric.startswith("latency_ratio"):
        return _judge_ratio(c, figures, c.metric, c.limit, c.limit_text)
    if not c.relative:
        fig = lookup(figures, c.artifact, c.device, c.metric)
        why = _missing_why(c, figures) if fig is None else ""
        if why:
            return CheckResult(c, None, False, why, c.limit)
        return _judge_one(c, fig, c.limit, c.limit_text, origin=origin)
    missing = _baseline_gap(c, baseline)
    if missing:
        return CheckResult(c, None, False, missing)
    if RELATIVE[c.metric] is not None:  # latency: the interleaved A/B ratio, never absolute times
        return _judge_ratio(c, figures, RELATIVE[c.metric], c.limit, f"{c.limit_text} (≤ {c.limit:.2f}×)")
    base = lookup(baseline, c.artifact, c.device, c.metric)
    if base is None:
        return CheckResult(c, None, False, f"{c.metric} is not in the baseline — a relative "
                                           f"limit without a baseline value fails [{c.where}]; update the baseline "
                                           f"or write an absolute limit")
    limit = base.value * c.limit
    shown = f"{c.limit_text} (≤ {fmt(limit, base.unit)})"
    return _judge_one(c, lookup(figures, c.artifact, c.device, c.metric), limit, shown,
                      f" vs baseline {label(base)}", origin)


def _baseline_gap(c: Check, baseline: dict | None) -> str:
    """Why a relative check cannot be judged against `baseline`, or "" when it can."""
    if baseline is None:
        return (f"{c.metric}: relative limit {c.limit_text} needs a baseline, and none was given "
                f"[{c.where}]; pass --baseline DIR")
    if not any(k[0] == c.artifact for k in baseline):
        return (f"{c.metric}: the baseline has no artifact {c.artifact!r} — a relative limit "
                f"without a baseline value fails [{c.where}]; update the baseline or write an absolute limit")
    return ""


def _missing_why(c: Check, figures: dict) -> str:
    """Why a quality metric (tasks/metrics.py) is missing for a file that *was* measured on the device, or ""
    when "bench that artifact there" is the right fix: a metric of another task, or no eval data given."""
    from ..tasks.metrics import METRICS as QUALITY

    here = {m for (a, d, m) in figures if a == c.artifact and d == c.device}
    if c.metric not in QUALITY or not here:
        return ""
    quality = sorted(here & set(QUALITY))
    if quality:
        return (f"{c.metric} was not measured — this file's eval set gives {', '.join(quality)} here, not "
                f"{c.metric} (a metric of another task) [{c.where}]; check one of those instead")
    return (f"{c.metric} was not measured — no eval data reached this file here [{c.where}]; give it one "
            "(`--data EVAL.npz`, e.g. a run's eval.npz)")


def _judge_one(c: Check, fig: Figure | None, limit: float, limit_text: str, context: str = "",
               origin: Origin | None = None) -> CheckResult:
    shown_limit = "" if limit_text == c.limit_text else limit_text
    if fig is None:
        return CheckResult(c, None, False, f"{c.metric} was not measured — a budget "
                                           f"without a measurement fails [{c.where}]; bench that artifact there",
                           limit, shown_limit)
    ok = fig.value <= limit if c.upper else fig.value >= limit
    shown = label(fig) + context
    if ok:
        return CheckResult(c, fig, True, f"{c.metric} {shown} within {limit_text}", limit, shown_limit)
    over = abs(fig.value - limit)
    rel = f" ({'+' if c.upper else '-'}{over / limit:.0%})" if limit else ""
    verb = "exceeds" if c.upper else "is below"
    by = fmt(over, "pp" if fig.unit == "%" else fig.unit)  # a gap between percentages is in points
    return CheckResult(c, fig, False, f"{c.metric} {shown} {verb} {limit_text} by {by}{rel} "
                                      f"[{c.where}] — try: {hint(c.metric, origin)}", limit, shown_limit)


def _judge_ratio(c: Check, figures: dict, metric: str, limit: float, limit_text: str) -> CheckResult:
    """A new/old latency ratio from an interleaved A/B run, with its 95% CI, against a factor."""
    shown_limit = "" if limit_text == c.limit_text else limit_text
    r = lookup(figures, c.artifact, c.device, metric)
    lo, hi = (lookup(figures, c.artifact, c.device, f"{metric}_{s}") for s in ("low", "high"))
    if r is None:
        return CheckResult(c, None, False, f"{c.metric}: no interleaved A/B ratio against "
                                           f"the baseline's file ({metric}) — a budget without a measurement "
                                           f"fails [{c.where}]; gate the file with --baseline DIR holding it "
                                           f"(onnxruntime profiles only)", limit, shown_limit)
    stat = {"latency_ratio": "p50", "latency_ratio_p90": "p90", "latency_ratio_p99": "p99"}[metric]
    ci = f" (95% CI {lo.value:.2f}–{hi.value:.2f}×)" if lo and hi else ""
    inconclusive = bool(lo and hi and lo.value <= limit < hi.value)
    note = "; inconclusive: the 95% CI straddles the limit, rerun to confirm" if inconclusive else ""
    shown = f"{stat} {label(r)} the baseline{ci}"
    head = c.metric if c.metric.startswith("latency_ratio") else f"{c.metric} ratio"
    if r.value <= limit:
        return CheckResult(c, r, True, f"{head}: {shown} within {limit_text}{note}", limit, shown_limit,
                           inconclusive)
    over = r.value - limit
    return CheckResult(c, r, False, f"{head}: {shown} exceeds {limit_text} by {over:.2f}× (+{over / limit:.0%})"
                                    f" [{c.where}] — try: {HINTS[RELATIVE.get(c.metric) or c.metric]}{note}",
                       limit, shown_limit, inconclusive)


def unit_of(metric: str) -> str:
    """The unit a metric's figures carry (B, ms, %, pp, samples/s, ×, …)."""
    return UNIT_OF[METRICS[metric][0]]
