"""Latency statistics over per-run times, and the figures every runner reports from them."""

from __future__ import annotations

import numpy as np

# Robust spread above which a pair is flagged `unstable`: the interquartile range over the median.
# std/mean is not used for the flag: one preemption of a µs-scale run (a 1 ms stall among 7 µs runs)
# makes it 1000% while p50 and p90 agree to 2%; the quartiles ignore rare stalls and see real noise.
UNSTABLE_IQR_PERCENT = 10.0


def summarize_ns(times_ns) -> dict[str, float]:
    """p50/p90/p99/mean in ms, the coefficient of variation (std/mean), IQR/median and MAD/median, run count."""
    t = np.asarray(times_ns, dtype=np.float64) / 1e6
    mean = float(t.mean())
    p25, p50, p75 = (float(v) for v in np.percentile(t, [25, 50, 75]))
    mad = float(np.median(np.abs(t - p50)))
    return {"p50_ms": p50, "p90_ms": float(np.percentile(t, 90)),
            "p99_ms": float(np.percentile(t, 99)), "mean_ms": mean,
            "cv": float(t.std() / mean) if mean > 0 else 0.0,
            "iqr": (p75 - p25) / p50 if p50 > 0 else 0.0, "mad": mad / p50 if p50 > 0 else 0.0,
            "runs": int(t.size)}


def latency_measurements(s: dict, m) -> list:
    """p50/p90/p99/mean, latency_cv, latency_iqr, latency_mad (% of the median) and the run count;
    `m(metric, value, unit)` makes one Measurement."""
    return [m("p50_ms", s["p50_ms"], "ms"), m("p90_ms", s["p90_ms"], "ms"), m("p99_ms", s["p99_ms"], "ms"),
            m("mean_ms", s["mean_ms"], "ms"), m("latency_cv", 100 * s["cv"], "%"),
            m("latency_iqr", 100 * s["iqr"], "%"), m("latency_mad", 100 * s["mad"], "%"),
            m("latency_runs", s["runs"], "runs")]
