"""`--repeat N`: N fresh sessions of one (file, profile) pair, reported as their median and their spread.

Like Lighthouse CI's `numberOfRuns`: one session on a shared machine is a coin toss (the same file
measured minutes apart gave p50 7.3 ms and 37 ms); each session is a fresh child process (native)
or a fresh Chromium (browser), and every figure reported is the median over the sessions. The
spread is reported beside them: `sessions` (N) and `session_spread` — (max − min) / median of the
sessions' p50, in % — and the per-session p50s in the status details.
"""

from __future__ import annotations

import numpy as np

from ..results import Figure, Measurement


def merge(results: list[tuple[list[Measurement], dict]]) -> tuple[list[Measurement], dict]:
    """One session's (measurements, details) per element → (median figures + spread, details)."""
    if len(results) == 1:
        return results[0]
    by_metric: dict[tuple, list[Measurement]] = {}
    for ms, _ in results:
        for m in ms:
            by_metric.setdefault((m.artifact, m.device, m.metric), []).append(m)
    out = []
    for (artifact, device, metric), ms in by_metric.items():
        value = float(np.median([m.figure.value for m in ms]))
        out.append(Measurement(artifact, device, metric, Figure(value, ms[0].figure.unit, ms[0].figure.how)))
    p50s = [m.figure.value for ms, _ in results for m in ms if m.metric == "p50_ms"]
    first = next(iter(by_metric))
    artifact, device, how = first[0], first[1], by_metric[first][0].figure.how
    out.append(Measurement(artifact, device, "sessions", Figure(len(results), "sessions", how)))
    if p50s and np.median(p50s) > 0:
        spread = 100 * (max(p50s) - min(p50s)) / float(np.median(p50s))
        out.append(Measurement(artifact, device, "session_spread", Figure(spread, "%", how)))
    details = {**results[0][1], "sessions": len(results), "session_p50_ms": p50s}
    return out, details
