"""Latency statistics over per-run times."""

from __future__ import annotations

import numpy as np


def summarize_ns(times_ns) -> dict[str, float]:
    """p50/p90/p99/mean in ms and the coefficient of variation (std/mean) of the runs."""
    t = np.asarray(times_ns, dtype=np.float64) / 1e6
    mean = float(t.mean())
    return {"p50_ms": float(np.percentile(t, 50)), "p90_ms": float(np.percentile(t, 90)),
            "p99_ms": float(np.percentile(t, 99)), "mean_ms": mean,
            "cv": float(t.std() / mean) if mean > 0 else 0.0, "runs": int(t.size)}
