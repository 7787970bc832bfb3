"""Measured figures, each carrying its unit and how it was obtained.

`how` is one of: "measured" (on this host, under the device profile's constraints),
"browser" (in a real headless Chromium), "estimated" (from graph cost and published peaks).
Nothing in a report is a bare number.
"""

from __future__ import annotations

from dataclasses import dataclass

HOW = ("measured", "browser", "estimated")


@dataclass(frozen=True)
class Figure:
    value: float
    unit: str  # "B", "ms", "%", "samples/s", "params"
    how: str = "measured"

    def __post_init__(self):
        if self.how not in HOW:
            raise ValueError(f"figure.how must be one of {HOW}, got {self.how!r}")

    def to_json(self) -> dict:
        return {"value": self.value, "unit": self.unit, "how": self.how}

    @classmethod
    def from_json(cls, d: dict) -> "Figure":
        return cls(float(d["value"]), str(d["unit"]), str(d.get("how", "measured")))


@dataclass(frozen=True)
class Measurement:
    """One figure about one artifact, on one device (None for device-independent figures like size)."""

    artifact: str
    device: str | None
    metric: str
    figure: Figure


def index(measurements) -> dict[tuple[str, str | None, str], Figure]:
    """(artifact, device, metric) → Figure, for look-ups by the gate and the report."""
    return {(m.artifact, m.device, m.metric): m.figure for m in measurements}
