"""A third-party plugin for edgedistill's tests: a TorchScript exporter and a TorchScript runner.

Installed by tests/test_plugins.py putting this folder on PYTHONPATH: the `.dist-info` beside it
publishes the two entry points, exactly as `pip install` of a plugin package would. Nothing in
edgedistill names this module; presets (`format = "torchscript"`) and device profiles
(`runtime = "torchscript"`) select it through the registries.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path


def export(model, sig, path: Path, preset, metadata: dict) -> dict:
    """`torch.jit.trace` the model on the task signature's example inputs and save it (receipt metadata back)."""
    import torch

    example = tuple(sig.example(2).values())
    traced = torch.jit.trace(model.eval(), example)
    torch.jit.save(traced, str(path))
    return {"format": "torchscript", "graph_inputs": [s.name for s in sig.inputs], "torch": torch.__version__}


def bench(artifact: str, path: Path, profile, data=None, shapes=None):
    """Latency of a TorchScript file at batch 1 (warm-up discarded, `runs` timed), in this process."""
    import numpy as np
    import torch

    from edgedistill.results import Figure, Measurement

    model = torch.jit.load(str(path)).eval()
    with np.load(data, allow_pickle=False) as z:
        x = torch.from_numpy(np.ascontiguousarray(z["x"][:1]))
    lat = profile.latency
    with torch.no_grad():
        for _ in range(lat.warmup):
            model(x)
        times = []
        for _ in range(lat.runs):
            t = time.perf_counter()
            model(x)
            times.append(1000 * (time.perf_counter() - t))
    return [Measurement(artifact, profile.name, "p50_ms", Figure(statistics.median(times), "ms", profile.how))]


bench.formats = ("torchscript",)  # the artifact kinds this runner takes
bench.suffixes = {".pt": "torchscript"}  # `edgedistill bench model.pt --device PROFILE` finds it by suffix
