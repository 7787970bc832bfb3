"""How `export --preset auto` ranks the files within the accuracy budget: by a named criterion.

Raw bytes are what a phone stores, but a browser downloads the file brotli-compressed, and the two
orders can differ (issue 13: onnx-fp16 11,237 B beat onnx-int8-qdq 12,499 B raw, yet brotli gave
7.58 kB vs 5.72 kB); a CPU budget cares about latency instead. So the criterion is named (`--by`), and
its default follows what the recipe's first device does with the file.
"""

from __future__ import annotations

from pathlib import Path

CRITERIA = ("size", "brotli_size", "p50_ms")


def default_criterion(device: str) -> tuple[str, str]:
    """(criterion, why) for the recipe's first bench device: brotli_size for a browser, size otherwise."""
    from ..devices import load_profile

    profile = load_profile(device)  # a name or a profile file: the message names the profile
    if profile.runtime == "onnxruntime-web":
        return "brotli_size", f"default for {profile.name}: a browser downloads the file brotli-compressed"
    return "size", f"default for {profile.name}: the device stores and loads the file as it is"


def rank_value(by: str, path: Path, device: str) -> float | None:
    """The file's figure for `by`; None when it cannot be had here (e.g. latency of a file the device cannot run)."""
    if by == "size" or by == "brotli_size":
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        if by == "size":
            return float(sum(p.stat().st_size for p in files))
        from ..bench.ort_native import brotli_size

        return float(sum(brotli_size(p.read_bytes()) for p in files))
    return _p50_ms(path, device)


def _p50_ms(path: Path, device: str) -> float | None:
    """Median warm latency of `path` on `device`, measured by the bench stage (a fresh child process)."""
    from ..bench.stage import measure, runtime_kinds
    from ..devices import load_profile
    from ..errors import EdgeDistillError
    from ..progress import Reporter

    profile = load_profile(device)
    kind = "coreml" if path.suffix == ".mlpackage" else "onnx"
    if kind not in runtime_kinds(profile.runtime):
        return None
    try:
        run = measure([(path.name, path, kind)], [profile], None, None, Reporter(quiet=True), sizes=False)
    except EdgeDistillError:  # e.g. a file format this runtime does not load: not ranked, not fatal
        return None
    return next((m.figure.value for m in run.measurements if m.metric == "p50_ms"), None)
