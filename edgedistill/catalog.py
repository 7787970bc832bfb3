"""What `edgedistill devices` and `edgedistill presets` show: one row per shipped file, and its JSON.

The tables carry what the README promises — for a profile its runtime, threads, constraints,
warm-up and run counts and published peaks; for a preset its format, opset, precision,
quantization scheme and parity tolerances. `--json` gives every field of every file (peaks with
their sources), so nothing is only on screen.
"""

from __future__ import annotations

DEVICE_HEADER = ["name", "runtime", "how", "threads", "constraints", "runs (latency; throughput)", "peak",
                 "description"]
PRESET_HEADER = ["name", "format", "precision", "opset / target", "quantization", "parity tolerance",
                 "description"]


def device_rows(profiles) -> list[list[str]]:
    """One row per DeviceProfile."""
    return [[p.name, p.runtime, p.how, str(p.threads or "default"), _constraints(p), _runs(p), _peak(p),
             p.description] for p in profiles]


def _constraints(p) -> str:
    c = p.constraints
    parts = ([f"{c.cpus} CPU{'s' if c.cpus > 1 else ''}"] if c.cpus else []) + \
            ([f"{c.memory_limit_mib} MiB"] if c.memory_limit_mib else [])
    if p.browser is not None:
        parts += [("isolated" if p.browser.isolated else "not isolated")] + \
                 ([f"CPU throttle {p.browser.cpu_throttle:g}×"] if p.browser.cpu_throttle != 1 else [])
    return ", ".join(parts) or "—"


def _runs(p) -> str:
    lat, thr = p.latency, p.throughput
    return (f"batch {lat.batch}: {lat.warmup} warm-up + ≥{lat.runs} runs, ≥{lat.min_seconds:g} s; "
            f"batch {thr.batch}: {thr.runs} runs")


def _peak(p) -> str:
    return f"{p.peak.gflops:g} GFLOP/s, {p.peak.bandwidth_gbs:g} GB/s" if p.peak else "—"


def preset_rows(presets) -> list[list[str]]:
    """One row per Preset."""
    return [[p.name, p.format, p.precision, _target(p), _quantization(p), _tolerance(p.parity), p.description]
            for p in presets]


def _target(p) -> str:
    if p.opset is not None:
        return f"opset {p.opset}"
    return p.minimum_deployment_target or "—"


def _quantization(p) -> str:
    q = p.quantization
    if q is None:
        return "—"
    if q.mode == "static":
        return (f"static {q.format.upper()}, {'per-channel' if q.per_channel else 'per-tensor'}, {q.calibration} "
                f"on {q.calibration_samples} rows")
    if q.mode == "dynamic":
        return f"dynamic, {'per-channel' if q.per_channel else 'per-tensor'}"
    if q.mode == "palettize":
        return f"palettize {q.nbits}-bit {q.palettize_mode}"
    return "linear int8 weights"


def _tolerance(t) -> str:
    parts = [f"top-1 ≥ {100 * t.min_top1_agreement:g}%"]
    parts += [f"cosine ≥ {t.min_cosine:g}"] if t.min_cosine is not None else []
    parts += [f"drop ≤ {t.max_accuracy_drop:g} pp"] if t.max_accuracy_drop is not None else []
    parts += [f"|Δ| ≤ {t.max_abs_diff:g}"] if t.max_abs_diff is not None else []
    return ", ".join(parts)


def as_json(items) -> list[dict]:
    """Every field of every file (a profile's peak with its sources, a preset's full quantization)."""
    return [i.model_dump(mode="json") for i in items]
