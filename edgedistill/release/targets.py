"""`edgedistill gate TARGETS`: judge a run folder's report, or bench model files first, against budgets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..results import Figure, Measurement
from ..standalone import bench_run
from .report import SCHEMA
from .runfolder import BENCH, figures_of, measurements_in, read_document, report_files


@dataclass(frozen=True)
class GateRun:
    """What `edgedistill gate` judged: the verdict, the accepted-report candidate and its files."""

    verdict: object  # gate.Verdict
    report: dict  # report.json form, with "gate" (and "bench" when files were benched) filled in
    files: dict  # artifact name → Path (empty for a bench document: it holds figures, not files)


def gate_targets(budgets: Path, targets, baseline: Path | None = None, profiles: tuple = (),
                 bootstrap: bool = False, shapes: dict | None = None, data: Path | None = None) -> GateRun:
    """Judge a run folder's report or a saved bench document, or bench the given files first.

    `baseline` (a folder written by --update-baseline, or its report.json) resolves relative limits;
    `profiles` are user device profile files that replace shipped ones of the same name.
    `bootstrap` (creating the first baseline): relative checks without a baseline fail instead of exit 2.
    `shapes` / `data` (`--shape`, `--data`) are passed to the bench when model files are given.
    """
    from ..devices import list_profiles, load_profile
    from ..results import index
    from .baseline import load_baseline
    from .budgets import load_budgets, require_baseline
    from .gate import judge
    from .report import gate_json, with_stability

    user = {p.name: p for p in (load_profile(str(f)) for f in profiles)}
    checks = load_budgets(budgets, sorted(set(list_profiles()) | set(user)))
    if not bootstrap:
        require_baseline(checks, baseline)
    base = load_baseline(baseline) if baseline is not None else None
    targets = [Path(t) for t in targets]
    if len(targets) == 1 and (targets[0].is_dir() or targets[0].suffix == ".json"):
        if shapes or data is not None:
            raise UsageError(f"--shape and --data apply when gating model files; {targets[0]} is judged on the "
                             f"figures it already holds — pass the model files to bench them again")
        report, files, measurements = _from_document(targets[0])
    else:
        devices = sorted({c.device for c in checks if c.device and not c.metric.startswith("latency_ratio")})
        report, files, measurements = _from_files(targets, [user.get(d, d) for d in devices], shapes, data)
    if any(c.metric == "brotli_size" for c in checks):  # quality 11 takes seconds on MB files: only when asked
        measurements += _brotli_if_missing(measurements, files)
    _check_artifacts(checks, measurements, budgets)
    if base is not None:
        measurements += _ab_ratios(checks, files, base, user)
    from .hints import origins_of_report

    verdict = judge(checks, index(measurements), base.figures if base else None, origins_of_report(report, files))
    saved = [m for m in measurements if not m.metric.startswith(("latency_ratio", "parity_"))]
    report = {**report, "measurements": [m.to_json() for m in saved],
              "gate": with_stability(gate_json(verdict), report.get("bench"))}
    return GateRun(verdict, report, files)


def _from_document(target: Path):
    """A finished run (report.json: its files and figures, parity included) or a saved bench document."""
    doc = read_document(target)
    where = str(target / "report.json" if target.is_dir() else target)
    if str(doc["schema"]).startswith(BENCH):
        return _from_bench(doc, where)
    folder = target if target.is_dir() else target.parent
    return doc, report_files(doc, folder, where), figures_of(doc, where)


def _from_bench(doc: dict, where: str):
    """`edgedistill bench --json` output: judged on its figures; its statuses travel as the report's bench section."""
    ms = measurements_in(doc, where)
    statuses = doc.get("statuses") if isinstance(doc.get("statuses"), list) else []
    section = {"schema": doc["schema"], "statuses": [s for s in statuses if isinstance(s, dict)],
               "environment": doc.get("environment") if isinstance(doc.get("environment"), dict) else {}}
    names = sorted({m.artifact for m in ms})
    report = {"schema": SCHEMA, "created": _now(), "source": {"bench_document": where},
              "environment": section["environment"],
              "artifacts": {n: {"name": n, "path": n, "kind": kind_of(Path(n))} for n in names}, "bench": section}
    return report, {}, ms


def _from_files(targets: list[Path], devices: list, shapes: dict | None, data: Path | None):
    """Bench model files on the budgets' devices (sizes only when no check names a device)."""
    files = {}
    for t in targets:
        if t.name in files:
            raise UsageError(f"two files named {t.name} ({files[t.name]} and {t}): the gate names artifacts by "
                             f"file name — rename one")
        files[t.name] = t
    run = bench_run(targets, devices, data, shapes)
    report = {**files_report(run.measurements, files), "bench": run.section()}
    return report, files, list(run.measurements)


def kind_of(path: Path) -> str:
    """The artifact kind of a file given by the user, from its name (what a run's receipts call it)."""
    return {".mlpackage": "coreml", ".ort": "ort"}.get(path.suffix, "onnx")


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def files_report(measurements, files: dict) -> dict:
    """report.json for files the user gave us (no recipe, no training): artifacts and measurements."""
    from ..artifacts import sha256_path, size_path
    from ..hostinfo import cpu, versions

    return {"schema": SCHEMA, "created": _now(),
            "environment": {"cpu": cpu(), "versions": versions("edgedistill", "onnx", "onnxruntime", "numpy")},
            "artifacts": {n: {"name": n, "path": n, "kind": kind_of(p), "sha256": sha256_path(p),
                              "bytes": size_path(p)} for n, p in files.items()},
            "measurements": [m.to_json() for m in measurements]}


def _brotli_if_missing(measurements, files: dict) -> list[Measurement]:
    """brotli_size (quality 11, what a CDN serves with Content-Encoding: br) of files whose report lacks it."""
    have = {m.artifact for m in measurements if m.metric == "brotli_size"}
    out = []
    for name, path in files.items():
        if name not in have and Path(path).is_file() and Path(path).suffix == ".onnx":
            from ..bench.ort_native import brotli_size

            out.append(Measurement(name, None, "brotli_size", Figure(brotli_size(Path(path).read_bytes()), "B")))
    return out


def _ab_ratios(checks, files: dict, base, user: dict) -> list[Measurement]:
    """Interleaved A/B of each (artifact, device) a latency-ratio check needs: current file vs baseline's."""
    from ..bench import ab
    from ..devices import load_profile
    from .budgets import RELATIVE

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
    from ..errors import ConfigError
    from ..registry import suggest

    known = {m.artifact for m in measurements}
    for c in checks:
        if c.artifact not in known:
            raise ConfigError(c.where, "artifact", f"unknown artifact {c.artifact!r}", suggest(c.artifact, known))
