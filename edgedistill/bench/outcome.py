"""What one benchmark invocation produced: figures, a status per (artifact, device), cost, environment.

Schema `edgedistill.bench/1` (the `--json` of `edgedistill bench`, and the `bench` section of a
run's report.json):
  measurements  [{artifact, device, metric, value, unit, how}]  — how ∈ measured/browser/estimated
  statuses      [{artifact, device, status, reason, details}]   — status ∈ ok/unstable/not_runnable/failed;
                details: threads, constraints read back, batches that ran, task, sessions,
                conditions {load_average, steal_pct, busy_pct}, estimate (when unavailable)
  cost          {artifact: graph cost (params, macs, weight_bytes, peak activations, heaviest ops)}
  profiles      {device: {runtime, how, threads, constraints, peak}}
  environment   {cpu, versions, conditions (over the whole bench), repeat}
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..results import Measurement
from .stats import UNSTABLE_IQR_PERCENT

SCHEMA = "edgedistill.bench/1"
STATUSES = ("ok", "unstable", "not_runnable", "failed")
UNSTABLE_SESSIONS_PERCENT = 10.0  # with --repeat: p50 of the sessions differ by more than this (max−min over median)


class NotRunnable(Exception):
    """This profile cannot run on this host (e.g. Core ML off macOS): a status, never fake numbers."""


class DeviceLimitExceeded(Exception):
    """The file does not fit the profile's constraints (e.g. its memory ceiling): a result, not a crash."""


@dataclass(frozen=True)
class Status:
    artifact: str
    device: str
    status: str
    reason: str = ""
    details: dict = field(default_factory=dict)  # threads used, affinity, rlimit, timer resolution

    def to_json(self) -> dict:
        return {"artifact": self.artifact, "device": self.device, "status": self.status,
                "reason": self.reason, "details": self.details}


def stability(artifact: str, device: str, measurements: list[Measurement], details: dict) -> Status:
    """ok, or unstable (the figures stay, flagged) when the runs' interquartile range exceeds 10% of their
    median, or with --repeat when the sessions' medians differ by more than 10%. The CV stays a figure only:
    one preemption among µs-scale runs makes std/mean huge while the quartiles barely move."""
    got = {m.metric: m.figure.value for m in measurements if m.artifact == artifact and m.device == device}
    why = []
    if got.get("latency_iqr", 0) > UNSTABLE_IQR_PERCENT:
        why.append(f"latency IQR {got['latency_iqr']:.1f}% of the median > {UNSTABLE_IQR_PERCENT:.0f}%")
    if got.get("session_spread", 0) > UNSTABLE_SESSIONS_PERCENT:
        why.append(f"p50 differs by {got['session_spread']:.1f}% between {got.get('sessions', 0):.0f} sessions "
                   f"> {UNSTABLE_SESSIONS_PERCENT:.0f}%")
    return Status(artifact, device, "unstable" if why else "ok", "; ".join(why), details)


@dataclass(frozen=True)
class BenchRun:
    measurements: list[Measurement]
    statuses: list[Status]
    cost: dict  # artifact → GraphCost.to_json()
    profiles: dict  # device → profile summary
    environment: dict

    def status_of(self, artifact: str, device: str) -> Status | None:
        """The status of one (artifact, device) pair."""
        return next((s for s in self.statuses if s.artifact == artifact and s.device == device), None)

    def to_json(self) -> dict:
        """The versioned JSON document (schema edgedistill.bench/1)."""
        return {"schema": SCHEMA,
                "measurements": [m.to_json() for m in self.measurements],
                "statuses": [s.to_json() for s in self.statuses],
                "cost": self.cost, "profiles": self.profiles, "environment": self.environment}

    def section(self) -> dict:
        """What a run's report.json carries under "bench" (measurements already sit at its top level)."""
        doc = self.to_json()
        doc.pop("measurements")
        return doc
