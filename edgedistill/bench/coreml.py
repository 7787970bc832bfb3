"""Core ML predictions on macOS; on any other OS the profile is reported as not runnable (no numbers).

Core ML's runtime ships only with macOS/iOS: coremltools can build and save an .mlpackage on
Linux but `MLModel.predict` needs the OS framework. Rather than estimate or substitute another
runtime, this runner raises NotRunnable and the report shows that status for the pair.
"""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

from ..results import Figure, Measurement
from .outcome import NotRunnable
from .stats import latency_measurements, summarize_ns


def runnable() -> str | None:
    """None when Core ML can predict here, else the reason it cannot."""
    if sys.platform != "darwin":
        return f"not runnable on this host: Core ML predictions need macOS (this host: {platform.system()})"
    return None


def _input(array, rng):
    """One input at its default shape: token ids / masks (int32) all ones, floats standard normal."""
    import numpy as np

    shape = [d if d > 0 else 1 for d in array.shape]
    if array.dataType == type(array).INT32:
        return np.ones(shape, np.int32)
    return rng.standard_normal(shape).astype(np.float32)


def bench(artifact: str, path: Path, profile, data: Path | None = None,
          shapes: dict | None = None) -> tuple[list[Measurement], dict]:
    """Session create (model load + compile), first prediction and warm latency of an .mlpackage."""
    reason = runnable()
    if reason:
        raise NotRunnable(reason)
    import coremltools as ct  # macOS only from here on
    import numpy as np

    t = time.perf_counter_ns()
    model = ct.models.MLModel(str(path), compute_units=ct.ComputeUnit.ALL)
    create_ns = time.perf_counter_ns() - t
    spec_inputs = model.get_spec().description.input
    rng = np.random.default_rng(0)
    feed = {i.name: _input(i.type.multiArrayType, rng) for i in spec_inputs}
    t = time.perf_counter_ns()
    model.predict(feed)
    first_ns = time.perf_counter_ns() - t
    lat = profile.latency
    for _ in range(lat.warmup):
        model.predict(feed)
    times, start = [], time.perf_counter()
    while len(times) < lat.runs or time.perf_counter() - start < lat.min_seconds:
        t = time.perf_counter_ns()
        model.predict(feed)
        times.append(time.perf_counter_ns() - t)
    s = summarize_ns(times)

    def m(metric, value, unit):
        return Measurement(artifact, profile.name, metric, Figure(value, unit, profile.how))

    out = [m("session_create_ms", create_ns / 1e6, "ms"), m("first_run_ms", first_ns / 1e6, "ms"),
           *latency_measurements(s, m)]
    return out, {"runtime": f"coremltools {ct.__version__}", "compute_units": "ALL",
                 "note": "in-process (Core ML has no child-process isolation here); peak memory not measured"}
