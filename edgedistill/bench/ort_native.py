"""onnxruntime native on this host: one fresh child process per (file, profile) measurement."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import InputFileError, StageError
from ..results import Figure, Measurement
from .outcome import DeviceLimitExceeded
from .stats import summarize_ns


def check_onnx_file(path: Path) -> None:
    """Reject (exit 3) a file that is missing or not a loadable ONNX model, before spawning anything."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise InputFileError(str(path), "no such file", "check the path")
    try:
        onnx.checker.check_model(onnx.load(str(path)))
    except Exception as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise InputFileError(str(path), f"not a valid ONNX model ({first})",
                             "re-export it, or check the download is complete") from None


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


def spawn_child(module: str, spec: dict, timeout: float) -> tuple[dict, subprocess.CompletedProcess, bool]:
    """Run `python -m MODULE SPEC.json` in a fresh process; return (its last JSON line, or {"error": its
    last stderr line}, the process, whether it printed JSON at all)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(spec, fh)
    try:
        proc = subprocess.run([sys.executable, "-m", module, fh.name], capture_output=True, text=True,
                              timeout=timeout)
    finally:
        Path(fh.name).unlink(missing_ok=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    out = json.loads(lines[-1]) if lines else {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}
    return out, proc, bool(lines)


def run_child(path: Path, profile, data: Path | None = None, shapes: dict | None = None,
              timeout: float = 600, task: str | None = None) -> dict:
    """Measure `path` under `profile` in a child process; return the child's raw JSON."""
    spec = {"model": str(Path(path).resolve()), "threads": profile.threads, "data": str(data) if data else None,
            "latency": profile.latency.model_dump(), "throughput": profile.throughput.model_dump(),
            "shapes": shapes or {}, "constraints": profile.constraints.model_dump(), "task": task}
    out, proc, printed = spawn_child("edgedistill.bench._child", spec, timeout)
    limit = profile.constraints.memory_limit_mib
    # past RLIMIT_DATA a C++ allocation may abort the child (no JSON, killed by a signal) instead of raising
    if limit and (out.get("kind") == "memory" or (not printed and proc.returncode < 0)):
        raise DeviceLimitExceeded(f"exceeded the {profile.name} memory ceiling of {limit} MiB (RLIMIT_DATA): "
                                  f"{out['error']}")
    if "error" in out:
        raise InputFileError(str(path), f"onnxruntime could not run it: {out['error']}")
    if proc.returncode != 0:
        raise StageError(f"benchmark child for {path} exited {proc.returncode}")
    return out


def bench(artifact: str, path: Path, profile, data: Path | None = None,
          shapes: dict | None = None) -> list[Measurement]:
    """All figures for one file on one profile (how = the profile's `how`)."""
    return bench_detailed(artifact, path, profile, data, shapes)[0]


def bench_detailed(artifact: str, path: Path, profile, data: Path | None = None,
                   shapes: dict | None = None) -> tuple[list[Measurement], dict]:
    """bench() plus the run's details: threads actually used, constraints read back, timer resolution."""
    raw = run_child(path, profile, data, shapes)
    s = summarize_ns(raw["latency_ns"])
    how, dev = profile.how, profile.name

    def m(metric, value, unit):
        return Measurement(artifact, dev, metric, Figure(value, unit, how))

    out = [m("session_create_ms", raw["session_create_ns"] / 1e6, "ms"),
           m("first_run_ms", raw["first_run_ns"] / 1e6, "ms"),
           m("p50_ms", s["p50_ms"], "ms"), m("p90_ms", s["p90_ms"], "ms"), m("p99_ms", s["p99_ms"], "ms"),
           m("mean_ms", s["mean_ms"], "ms"), m("latency_cv", 100 * s["cv"], "%"),
           m("latency_runs", s["runs"], "runs"),
           m("throughput", raw["throughput_per_s"], "samples/s"),
           m("peak_memory", raw["peak_rss_bytes"], "B"),
           m("baseline_memory", raw["baseline_rss_bytes"], "B")]
    out += [m(metric, value, unit) for metric, (value, unit) in raw.get("metrics", {}).items()]  # tasks/metrics.py
    details = {"intra_op_threads_set": raw["threads"], "intra_op_threads_used": raw.get("intra_op_threads_used"),
               "constraints_applied": raw.get("constraints_applied", {}), "timer": raw.get("timer"),
               "runtime": f"onnxruntime {raw['ort_version']}", "latency_batch": profile.latency.batch,
               "throughput_batch": profile.throughput.batch}
    return out, details
