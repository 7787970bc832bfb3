"""What one benchmark invocation produced: figures, a status per (artifact, device), cost, environment.

Schema `edgedistill.bench/1` (the `--json` of `edgedistill bench`, and the `bench` section of a
run's report.json):
  measurements  [{artifact, device, metric, value, unit, how}]  — how ∈ measured/browser/estimated
  statuses      [{artifact, device, status, reason, details}]   — status ∈ ok/unstable/not_runnable/failed
  cost          {artifact: graph cost (params, macs, weight_bytes, peak activations, heaviest ops)}
  profiles      {device: {runtime, how, threads, constraints, peak}}
  environment   {cpu, versions}
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..results import Measurement

SCHEMA = "edgedistill.bench/1"
STATUSES = ("ok", "unstable", "not_runnable", "failed")
UNSTABLE_CV_PERCENT = 5.0  # warm-latency coefficient of variation above which a result is flagged


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
    """ok, or unstable when the warm-latency CV exceeds 5% (the figures stay, flagged)."""
    cv = next((m.figure.value for m in measurements
               if m.artifact == artifact and m.device == device and m.metric == "latency_cv"), None)
    if cv is not None and cv > UNSTABLE_CV_PERCENT:
        return Status(artifact, device, "unstable", f"latency CV {cv:.1f}% > {UNSTABLE_CV_PERCENT:.0f}%", details)
    return Status(artifact, device, "ok", "", details)


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
