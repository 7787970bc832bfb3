"""Stages started from files the user already has: bench any ONNX file (gating them: release/targets.py)."""

from __future__ import annotations

from pathlib import Path

from .errors import InputFileError
from .results import Measurement


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
    from .bench.stage import check_runtime, measure, plugin_suffixes
    from .devices import load_profile
    from .progress import Reporter

    # bad profile names and runtimes without a runner fail before any work
    profiles = [d if hasattr(d, "runtime") else load_profile(d) for d in devices]
    for p in profiles:
        check_runtime(p)
    plugin = plugin_suffixes(profiles)  # file suffix → kind, for formats only a plugin's runner takes
    files = []
    for m in models:
        m = Path(m)
        if m.suffix in plugin:
            if not m.is_file():
                raise InputFileError(str(m), "no such file", "check the path")
            files.append((m.name, m, plugin[m.suffix]))
        elif m.suffix == ".mlpackage":
            if not m.is_dir():
                raise InputFileError(str(m), "no such .mlpackage folder", "check the path")
            files.append((m.name, m, "coreml"))
        else:
            files.append((m.name, m, sniff(m)))
    if data is not None and not Path(data).is_file():
        raise InputFileError(str(data), "no such file", "pass an .npz with each model input by name (or x) and y")
    if data is not None:  # headers, label dtypes and finite inputs, before any child starts
        from .data.checks import eval_set

        eval_set(Path(data))
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
