"""Measured figures, each carrying its unit and how it was obtained.

`how` is one of: "measured" (on this host, under the device profile's constraints),
"browser" (in a real headless Chromium), "estimated" (from graph cost and published peaks).
Nothing in a report is a bare number.
"""

from __future__ import annotations

import math
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

    def to_json(self) -> dict:
        """One row of a report's `measurements`: artifact, device, metric, value, unit, how."""
        return {"artifact": self.artifact, "device": self.device, "metric": self.metric, **self.figure.to_json()}


# Figures that describe the file, not a run of it: stored with device None, valid for every device.
DEVICE_INDEPENDENT = frozenset({"size", "gzip_size", "brotli_size", "weight_bytes",
                                "parity_max_abs_diff", "parity_cosine", "parity_agreement"})


def lookup(figures: dict, artifact: str, device: str | None, metric: str) -> Figure | None:
    """The figure for (artifact, device, metric); a device-independent metric also matches device None."""
    found = figures.get((artifact, device, metric))
    if found is None and metric in DEVICE_INDEPENDENT:
        found = figures.get((artifact, None, metric))
    return found


def label(fig: Figure) -> str:
    """A figure in human form, with how it was obtained unless it was measured on this host."""
    return fmt(fig.value, fig.unit) + ("" if fig.how == "measured" else f" ({fig.how})")


def index(measurements) -> dict[tuple[str, str | None, str], Figure]:
    """(artifact, device, metric) → Figure, for look-ups by the gate and the report."""
    return {(m.artifact, m.device, m.metric): m.figure for m in measurements}


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
    if unit == "×":  # a ratio new/old
        return f"{value:.2f}×"
    if unit == "cosine":
        return f"{value:.5f}"
    return f"{_sig3(value)} {unit}"


def _sig3(v: float) -> str:
    """3 significant digits like "%.3g" (32000 → "3.2e+04" never: → "32000"), no exponent notation."""
    s = f"{v:.3g}"
    if "e" not in s:
        return s
    return f"{v:.0f}" if abs(v) >= 1 else f"{v:.{2 - math.floor(math.log10(abs(v)))}f}"
