"""Stages started from files the user already has: bench any ONNX file, gate a run or files."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import InputFileError
from .results import Measurement


def read_report(run_dir: Path) -> dict:
    """report.json of a run folder (or the file itself); a missing or foreign file is exit 3."""
    path = Path(run_dir)
    path = path / "report.json" if path.is_dir() else path
    try:
        rep = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputFileError(str(path), "no report.json here",
                             "pass a run folder written by `edgedistill run`") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(str(path), f"not valid JSON ({exc})") from None
    if not isinstance(rep, dict) or not str(rep.get("schema", "")).startswith("edgedistill.report/"):
        raise InputFileError(str(path), "not an edgedistill report (no 'schema' key)")
    return rep


def bench_files(models, devices, data: Path | None = None, shapes: dict | None = None) -> list[Measurement]:
    """Measure each model file on each device profile; artifacts are named by file name."""
    return bench_run(models, devices, data, shapes).measurements


def bench_run(models, devices, data: Path | None = None, shapes: dict | None = None, reporter=None):
    """Every model file × every profile → BenchRun (figures, a status per pair, graph cost, environment)."""
    from .bench.stage import measure
    from .devices import load_profile
    from .progress import Reporter

    profiles = [load_profile(d) for d in devices]  # bad profile names fail before any work
    files = []
    for m in models:
        m = Path(m)
        if m.suffix == ".mlpackage":
            if not m.is_dir():
                raise InputFileError(str(m), "no such .mlpackage folder", "check the path")
            files.append((m.name, m, "coreml"))
        else:
            from .bench import ort_native

            ort_native.check_onnx_file(m)
            files.append((m.name, m, "onnx"))
    if data is not None and not Path(data).is_file():
        raise InputFileError(str(data), "no such file", "pass an .npz with arrays x and y")
    from .resources import default_cache_dir

    return measure(files, profiles, data, shapes, reporter or Reporter(), cache=default_cache_dir())


def gate_targets(budgets: Path, targets):
    """Judge a run folder's report, or bench the given files on the budgets' devices first."""
    from .budgets import load_budgets
    from .devices import list_profiles
    from .gate import judge
    from .report import measurements_of
    from .results import index

    checks = load_budgets(budgets, list_profiles())
    targets = [Path(t) for t in targets]
    if len(targets) == 1 and (targets[0].is_dir() or targets[0].suffix == ".json"):
        measurements = measurements_of(read_report(targets[0]))
    else:
        devices = sorted({c.device for c in checks if c.device}) or ["host-cpu"]
        measurements = bench_files(targets, devices)
    _check_artifacts(checks, measurements, budgets)
    return judge(checks, index(measurements))


def _check_artifacts(checks, measurements, budgets) -> None:
    """A check naming an artifact that is not in the run or file list is a config error (exit 2)."""
    from .errors import ConfigError
    from .registry import suggest

    known = {m.artifact for m in measurements}
    for c in checks:
        if c.artifact not in known:
            raise ConfigError(c.where, "artifact", f"unknown artifact {c.artifact!r}", suggest(c.artifact, known))
