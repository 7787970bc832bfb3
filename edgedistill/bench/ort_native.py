"""onnxruntime native on this host: one fresh child process per (file, profile) measurement."""

from __future__ import annotations

import gzip
from pathlib import Path

from ..artifacts import printable
from ..errors import InputFileError, StageError
from ..results import Figure, Measurement
from . import sandbox
from .outcome import DeviceLimitExceeded
from .sandbox import MIB, Limits, host_ceiling
from .stats import latency_measurements, summarize_ns


def check_onnx_file(path: Path, profiles=()):
    """Reject (exit 3) a file that is missing or not a loadable model, before benching it; its ModelInfo.

    The checker runs in the analysis child under its memory and time limits (bench/analysis.py)."""
    from .analysis import analyse, limits_for, sniff

    sniff(path)
    return analyse(path, limits=limits_for(path, profiles))


def file_measurements(artifact: str, path: Path, weight_bytes: int | None = None,
                      cache: Path | None = None) -> list[Measurement]:
    """Device-independent figures: raw, gzip and brotli size (what a browser downloads), weight bytes."""
    raw = Path(path).read_bytes()
    out = [Measurement(artifact, None, "size", Figure(len(raw), "B")),
           Measurement(artifact, None, "gzip_size", Figure(len(gzip.compress(raw, 9, mtime=0)), "B")),
           Measurement(artifact, None, "brotli_size", Figure(brotli_size(raw, cache), "B"))]
    if weight_bytes is not None:
        out.append(Measurement(artifact, None, "weight_bytes", Figure(weight_bytes, "B")))
    return out


def brotli_size(raw: bytes, cache: Path | None = None) -> int:
    """Bytes after brotli quality 11 (what a CDN serves pre-compressed); with `cache`, kept by content hash.

    Quality 11 runs at well under 1 MB/s, so a 10 MB model costs tens of seconds: `edgedistill bench`
    keeps the size in the cache folder under the file's sha256 and reuses it for the same bytes.
    """
    import hashlib

    import brotli

    from ..artifacts import atomic_write_text

    if cache is None:
        return len(brotli.compress(raw, quality=11))
    entry = Path(cache) / "brotli" / f"{hashlib.sha256(raw).hexdigest()}.q11"
    try:
        return int(entry.read_text(encoding="ascii"))
    except (OSError, ValueError):
        pass
    size = len(brotli.compress(raw, quality=11))
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(entry, str(size))
    except OSError:  # a read-only cache only costs time
        pass
    return size


def child_limits(profile) -> Limits:
    """The profile's memory ceiling (else half the host's memory) and its time limit."""
    mib = profile.constraints.memory_limit_mib
    if mib:
        return Limits(mib * MIB, profile.constraints.time_limit_s, f"the {profile.name} memory ceiling")
    return Limits(host_ceiling(), profile.constraints.time_limit_s, "the host default memory ceiling")


def run_child(path: Path, profile, data: Path | None = None, shapes: dict | None = None,
              task: str | None = None) -> dict:
    """Measure `path` under `profile` in a child process; return the child's raw JSON."""
    spec = {"model": str(Path(path).resolve()), "threads": profile.threads,
            "data": str(Path(data).resolve()) if data else None, "task": task,
            "latency": profile.latency.model_dump(), "throughput": profile.throughput.model_dump(),
            "shapes": shapes or {}, "constraints": profile.constraints.model_dump()}
    limits = child_limits(profile)
    child = sandbox.run("edgedistill.bench._child", spec, limits)
    if child.out.get("cause") == "data":  # the eval set does not fit the model: name the data file
        raise InputFileError(str(data), printable(child.out["error"]),
                             "save each model input under its graph input name (x for one input) and the "
                             "references the task needs (tasks/metrics.py)")
    return child_result(child, path, profile, limits)


def child_result(child, path: Path, profile, limits: Limits) -> dict:
    """The child's JSON, or the way it failed: over a limit is DeviceLimitExceeded, a refusal InputFileError."""
    out = child.out
    if child.timed_out:
        raise DeviceLimitExceeded(f"did not finish within the {profile.name} time limit of "
                                  f"{limits.seconds:g} s (constraints.time_limit_s); killed")
    mib = limits.memory_bytes // MIB
    # past RLIMIT_DATA a C++ allocation may abort the child (no JSON, SIGABRT) instead of raising
    if out.get("cause") == "memory" or (not child.printed and child.signal_name in ("SIGABRT", "SIGKILL")):
        why = printable(out.get("error", "")) if child.printed else f"the child died of {child.signal_name}"
        raise DeviceLimitExceeded(f"exceeded {limits.memory_source} of {mib} MiB (RLIMIT_DATA): {why}")
    if not child.printed and child.signal_name:
        raise InputFileError(str(path), f"onnxruntime crashed on it ({child.signal_name})",
                             "report it to onnxruntime with the file; meanwhile it cannot be benched")
    if "error" in out:
        raise InputFileError(str(path), f"onnxruntime could not run it: {printable(out['error'])}")
    if child.returncode != 0:
        raise StageError(f"benchmark child for {path} exited {child.returncode}")
    return out


def bench(artifact: str, path: Path, profile, data: Path | None = None,
          shapes: dict | None = None, **options) -> list[Measurement]:
    """All figures for one file on one profile (how = the profile's `how`)."""
    return bench_detailed(artifact, path, profile, data, shapes, **options)[0]


def bench_detailed(artifact: str, path: Path, profile, data: Path | None = None,
                   shapes: dict | None = None, task: str | None = None, **_) -> tuple[list[Measurement], dict]:
    """bench() plus the run's details: threads actually used, constraints read back, timer resolution."""
    raw = run_child(path, profile, data, shapes, task)
    how, dev = profile.how, profile.name

    def m(metric, value, unit):
        return Measurement(artifact, dev, metric, Figure(value, unit, how))

    out = [m("session_create_ms", raw["session_create_ns"] / 1e6, "ms"),
           m("first_run_ms", raw["first_run_ns"] / 1e6, "ms"),
           *latency_measurements(summarize_ns(raw["latency_ns"]), m),
           m("throughput", raw["throughput_per_s"], "samples/s"),
           m("throughput_batch", raw["throughput_batch"], "samples"),
           m("peak_memory", raw["peak_rss_bytes"], "B"),
           m("baseline_memory", raw["baseline_rss_bytes"], "B")]
    out += [m(name, value, unit) for name, (value, unit) in raw.get("metrics", {}).items()]
    details = {"intra_op_threads_set": raw["threads"], "intra_op_threads_used": raw.get("intra_op_threads_used"),
               "constraints_applied": raw.get("constraints_applied", {}), "timer": raw.get("timer"),
               "runtime": f"onnxruntime {raw['ort_version']}", "latency_batch": raw["latency_batch"],
               "throughput_batch": raw["throughput_batch"]}
    if "task" in raw:
        details.update(task=raw["task"], eval_samples=raw["eval_samples"])
    return out, details
