"""Stages started from files the user already has: bench any ONNX file, gate a run or files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import InputFileError
from .results import Figure, Measurement


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


def bench_files(models, devices, data: Path | None = None, shapes: dict | None = None,
                only_file: bool = False) -> list[Measurement]:
    """Measure each model file on each device profile (names, paths or loaded profiles); named by file name.

    `only_file`: just the device-independent figures (sizes), no benchmark run.
    """
    return bench_run(models, [] if only_file else devices, data, shapes).measurements


def bench_run(models, devices, data: Path | None = None, shapes: dict | None = None, reporter=None,
              task: str | None = None, repeat: int = 1):
    """Every model file × every profile → BenchRun (figures, a status per pair, graph cost, environment).

    Model files are ONNX or ORT format (told apart by their first bytes, never read whole here) or
    .mlpackage folders; each is checked and costed in a child process under limits (exit 3 over them)."""
    from .bench.analysis import sniff
    from .bench.stage import measure
    from .devices import load_profile
    from .progress import Reporter

    # bad profile names fail before any work
    profiles = [d if hasattr(d, "runtime") else load_profile(d) for d in devices]
    files = []
    for m in models:
        m = Path(m)
        if m.suffix == ".mlpackage":
            if not m.is_dir():
                raise InputFileError(str(m), "no such .mlpackage folder", "check the path")
            files.append((m.name, m, "coreml"))
        else:
            files.append((m.name, m, sniff(m)))
    if data is not None and not Path(data).is_file():
        raise InputFileError(str(data), "no such file", "pass an .npz with each model input by name (or x) and y")
    from .resources import default_cache_dir

    return measure(files, profiles, data, shapes, reporter or Reporter(), cache=default_cache_dir(), task=task,
                   repeat=repeat)


def ab_files(models, old: Path, devices, shapes: dict | None = None) -> list:
    """Interleaved A/B of each model against `old` on each device (`edgedistill bench NEW --vs OLD`)."""
    from .bench import ab, ort_native
    from .bench.analysis import check_shapes
    from .devices import load_profile

    profiles = [load_profile(str(d)) for d in devices]
    infos = [ort_native.check_onnx_file(Path(m), profiles) for m in (*models, old)]
    check_shapes(infos, shapes)
    return [ab.run_ab(Path(m), Path(old), p, shapes) for p in profiles for m in models]


@dataclass(frozen=True)
class GateRun:
    """What `edgedistill gate` judged: the verdict, the accepted-report candidate and its files."""

    verdict: object  # gate.Verdict
    report: dict  # report.json form, with "gate" filled in
    files: dict  # artifact name → Path


def gate_targets(budgets: Path, targets, baseline: Path | None = None, profiles: tuple = (),
                 bootstrap: bool = False) -> GateRun:
    """Judge a run folder's report, or bench the given files on the budgets' devices first.

    `baseline` (a folder written by --update-baseline, or its report.json) resolves relative limits;
    `profiles` are user device profile files that replace shipped ones of the same name.
    `bootstrap` (creating the first baseline): relative checks without a baseline fail instead of exit 2.
    """
    from .baseline import load_baseline
    from .budgets import load_budgets, require_baseline
    from .devices import list_profiles, load_profile
    from .gate import judge
    from .report import gate_json
    from .results import index

    user = {p.name: p for p in (load_profile(str(f)) for f in profiles)}
    checks = load_budgets(budgets, sorted(set(list_profiles()) | set(user)))
    if not bootstrap:
        require_baseline(checks, baseline)
    base = load_baseline(baseline) if baseline is not None else None
    targets = [Path(t) for t in targets]
    if len(targets) == 1 and (targets[0].is_dir() or targets[0].suffix == ".json"):
        report, files, measurements = _from_run(targets[0])
    else:
        devices = sorted({c.device for c in checks if c.device and not c.metric.startswith("latency_ratio")})
        measurements = bench_files(targets, [user.get(d, d) for d in devices], shapes=None, only_file=not devices)
        files = {t.name: t for t in targets}
        report = files_report(measurements, files)
    if any(c.metric == "brotli_size" for c in checks):  # quality 11 takes seconds on MB files: only when asked
        measurements += _brotli_if_missing(measurements, files)
    _check_artifacts(checks, measurements, budgets)
    if base is not None:
        measurements += _ab_ratios(checks, files, base, user)
    verdict = judge(checks, index(measurements), base.figures if base else None)
    saved = [m for m in measurements if not m.metric.startswith(("latency_ratio", "parity_"))]
    report = {**report, "measurements": [m.to_json() for m in saved], "gate": gate_json(verdict)}
    return GateRun(verdict, report, files)


def _from_run(target: Path):
    """A finished run: its report, its artifact files and its measurements (parity included)."""
    from .report import measurements_of

    report = read_report(target)
    folder = target if target.is_dir() else target.parent
    return report, report_files(report, folder, str(target)), measurements_of(report)


def report_files(report: dict, folder: Path, where: str) -> dict[str, Path]:
    """artifact name → file, for a report read from disk: every name and path must stay inside `folder`
    (a report from someone else's branch must not make us read or copy /etc/hostname)."""
    from .artifacts import confined, safe_name

    artifacts = report.get("artifacts") or {}
    if not isinstance(artifacts, dict):
        raise InputFileError(where, "'artifacts' is not a table", "pass a report.json written by edgedistill")
    return {safe_name(n, where): confined(folder, a.get("path", n), where)
            for n, a in artifacts.items() if isinstance(a, dict)}


def files_report(measurements, files: dict) -> dict:
    """report.json for files the user gave us (no recipe, no training): artifacts and measurements."""
    import datetime as dt

    from .artifacts import sha256_path, size_path
    from .hostinfo import cpu, versions
    from .report import SCHEMA

    return {"schema": SCHEMA, "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "environment": {"cpu": cpu(), "versions": versions("edgedistill", "onnx", "onnxruntime", "numpy")},
            "artifacts": {n: {"name": n, "path": n, "kind": "onnx", "sha256": sha256_path(p), "bytes": size_path(p)}
                          for n, p in files.items()},
            "measurements": [m.to_json() for m in measurements]}


def _brotli_if_missing(measurements, files: dict) -> list[Measurement]:
    """brotli_size (quality 11, what a CDN serves with Content-Encoding: br) of files whose report lacks it."""
    have = {m.artifact for m in measurements if m.metric == "brotli_size"}
    out = []
    for name, path in files.items():
        if name not in have and Path(path).is_file() and Path(path).suffix == ".onnx":
            from .bench.ort_native import brotli_size

            out.append(Measurement(name, None, "brotli_size", Figure(brotli_size(Path(path).read_bytes()), "B")))
    return out


def _ab_ratios(checks, files: dict, base, user: dict) -> list[Measurement]:
    """Interleaved A/B of each (artifact, device) a latency-ratio check needs: current file vs baseline's."""
    from .bench import ab
    from .budgets import RELATIVE
    from .devices import load_profile

    wanted = {(c.artifact, c.device) for c in checks
              if c.metric.startswith("latency_ratio") or (c.relative and RELATIVE.get(c.metric))}
    out = []
    for artifact, device in sorted(wanted):
        new, old = files.get(artifact), base.file(artifact)
        profile = user.get(device) or load_profile(device)
        if new is None or old is None or profile.runtime != "onnxruntime":
            continue  # the judge fails the check, saying no A/B ratio could be measured
        out += ab.measurements(ab.run_ab(new, old, profile), artifact)
    return out


def _check_artifacts(checks, measurements, budgets) -> None:
    """A check naming an artifact that is not in the run or file list is a config error (exit 2)."""
    from .errors import ConfigError
    from .registry import suggest

    known = {m.artifact for m in measurements}
    for c in checks:
        if c.artifact not in known:
            raise ConfigError(c.where, "artifact", f"unknown artifact {c.artifact!r}", suggest(c.artifact, known))
