"""Interleaved A/B latency: new vs old file in one child process, ratio new/old with a bootstrap 95% CI.

Absolute times from different machines (or different minutes of a busy CI runner) cannot tell a
5% regression from noise; two files timed alternately in one process can. The runs come in
paired blocks (old block i, new block i run back to back), and the bootstrap resamples those
pairs, so load that shifts both sides of a pair cancels in the ratio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputFileError, UsageError
from ..results import Figure, Measurement

STATS = {"p50": ("latency_ratio", 50), "p90": ("latency_ratio_p90", 90), "p99": ("latency_ratio_p99", 99)}
BLOCK_RUNS = 10
RESAMPLES = 2000


@dataclass(frozen=True)
class Ratio:
    ratio: float  # new / old, of the statistic over all runs
    low: float  # bootstrap 95% CI over paired blocks
    high: float


@dataclass(frozen=True)
class ABResult:
    new: str  # paths as given
    old: str
    device: str
    how: str
    blocks: int
    block_runs: int
    old_ms: dict[str, float]  # "p50" | "p90" | "p99" → ms, over all interleaved runs
    new_ms: dict[str, float]
    ratios: dict[str, Ratio]  # "p50" | "p90" | "p99" → Ratio

    def to_json(self) -> dict:
        """Plain JSON: file names, block counts, percentiles, each ratio with its CI, and the measurements."""
        return {"new": self.new, "old": self.old, "device": self.device, "how": self.how, "blocks": self.blocks,
                "block_runs": self.block_runs, "old_ms": self.old_ms, "new_ms": self.new_ms,
                "ratios": {k: vars(r) for k, r in self.ratios.items()},
                "measurements": [m.to_json() for m in measurements(self)]}


def ratios(old_ns, new_ns, seed: int = 0, resamples: int = RESAMPLES) -> dict[str, Ratio]:
    """Ratio new/old of p50/p90/p99 over paired blocks (blocks × runs arrays), with a paired bootstrap CI."""
    old, new = np.asarray(old_ns, dtype=np.float64), np.asarray(new_ns, dtype=np.float64)
    if old.shape != new.shape or old.ndim != 2 or old.shape[0] < 2:
        raise ValueError(f"need matching (blocks ≥ 2, runs) arrays, got {old.shape} and {new.shape}")
    n = old.shape[0]
    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n))  # same blocks for old and new
    old_bs, new_bs = old[idx].reshape(resamples, -1), new[idx].reshape(resamples, -1)
    out = {}
    for stat, (_, q) in STATS.items():
        boot = np.percentile(new_bs, q, axis=1) / np.percentile(old_bs, q, axis=1)
        lo, hi = np.percentile(boot, [2.5, 97.5])
        out[stat] = Ratio(float(np.percentile(new, q) / np.percentile(old, q)), float(lo), float(hi))
    return out


def run_ab(new: Path, old: Path, profile, shapes: dict | None = None) -> ABResult:
    """Time `new` against `old` interleaved in one child process under `profile`."""
    if profile.runtime != "onnxruntime":
        raise UsageError(f"the interleaved A/B runs in onnxruntime native; device {profile.name} uses "
                         f"runtime {profile.runtime!r} — pick an onnxruntime profile (e.g. host-cpu)")
    lat = profile.latency
    min_blocks = max(4, math.ceil(lat.runs / BLOCK_RUNS))
    spec = {"a": str(Path(old).resolve()), "b": str(Path(new).resolve()), "threads": profile.threads,
            "batch": lat.batch, "warmup": lat.warmup, "block_runs": BLOCK_RUNS, "min_blocks": min_blocks,
            "max_blocks": 10 * min_blocks, "min_seconds": 2 * lat.min_seconds, "shapes": shapes or {}}
    raw = _child(spec, profile, f"{new} vs {old}")
    def pct(ns):
        return {stat: float(np.percentile(ns, q)) / 1e6 for stat, (_, q) in STATS.items()}

    return ABResult(str(new), str(old), profile.name, profile.how, len(raw["a_ns"]), BLOCK_RUNS,
                    pct(raw["a_ns"]), pct(raw["b_ns"]), ratios(raw["a_ns"], raw["b_ns"]))


def _child(spec: dict, profile, what: str) -> dict:
    """The A/B child under the profile's limits; over a limit or refused by onnxruntime is exit 3 naming both files."""
    from . import sandbox
    from .ort_native import child_limits, child_result
    from .outcome import DeviceLimitExceeded

    limits = child_limits(profile)
    try:
        return child_result(sandbox.run("edgedistill.bench._ab_child", spec, limits), Path(what), profile, limits)
    except DeviceLimitExceeded as exc:
        raise InputFileError(what, f"the interleaved A/B {exc}") from None
    except InputFileError as exc:
        raise InputFileError(what, str(exc).removeprefix(f"{what}: ").replace(
            "could not run it", "could not run the A/B")) from None


def measurements(res: ABResult, artifact: str | None = None) -> list[Measurement]:
    """latency_ratio (p50), latency_ratio_p90/_p99, each with _low/_high, for the new file on the device."""
    out, name = [], artifact or Path(res.new).name
    for stat, (metric, _) in STATS.items():
        r = res.ratios[stat]
        for suffix, value in (("", r.ratio), ("_low", r.low), ("_high", r.high)):
            out.append(Measurement(name, res.device, metric + suffix, Figure(value, "×", res.how)))
    return out
