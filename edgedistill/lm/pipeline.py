"""`edgedistill run charlm`: train → export → bench → report, into a run folder published atomically.

Like the classifier pipeline (and with its claim_out / publish), everything is written into a
staging folder beside the run folder and renamed into place at the end.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import UsageError


def run_charlm(recipe, recipe_file: Path, out: Path | None, force: bool, reporter, cache_dir: Path | None,
               use_cache: bool, resume: bool):
    """Run a char-LM recipe end to end; return the pipeline's RunResult (verdict None: no budgets)."""
    from ..pipeline import RunResult, claim_out, default_out, publish
    from ..resources import default_cache_dir

    if resume:
        raise UsageError("--resume is not available for kind = \"charlm\" recipes — rerun without it "
                         "(the trained teacher is reused from the cache)")
    out = Path(out) if out else default_out(recipe.name)
    staging = claim_out(out, force)
    cache = (cache_dir or default_cache_dir()) if use_cache else None
    try:
        report = _stages(recipe, recipe_file, cache, staging, reporter)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    publish(staging, out, force)
    return RunResult(out, report, None)


def _stages(recipe, recipe_file: Path, cache, staging: Path, reporter) -> dict:
    from . import report as lm_report
    from .stage import train_all

    trained = train_all(recipe, cache, staging, reporter)
    artifacts, parity, bench = dict(trained.weights), {}, None
    if recipe.export.onnx:
        artifacts, parity = _export(recipe, trained, staging, reporter)
    if recipe.bench.devices:
        bench = _bench(recipe, artifacts, reporter)
    report = lm_report.build(recipe, recipe_file, trained, artifacts, parity, bench, staging)
    lm_report.write(staging, report)
    return report


def _export(recipe, trained, staging: Path, reporter):
    """The shipped student as ONNX, with its parity against the torch model."""
    from ..artifacts import receipt
    from .export import export_lm, parity

    name = f"student-{recipe.export.student}.onnx"
    model = trained.students[recipe.export.student]
    reporter.info(f"export: {name} (fixed input 1 × {recipe.data.context})")
    meta = export_lm(model, recipe.data.context, staging / name, recipe.export.opset)
    art = receipt(name, staging / name, "onnx", "lm.export", [f"student-{recipe.export.student}.safetensors"],
                  params=trained.results[recipe.export.student].params, **meta)
    return {**trained.weights, "onnx": art}, {name: parity(model, staging / name, trained.val)}


def _bench(recipe, artifacts: dict, reporter):
    """The ONNX student on each onnxruntime profile (synthetic ids: latency does not depend on them)."""
    from ..bench.stage import measure
    from ..devices import load_profile

    onnx = artifacts["onnx"]
    return measure([(onnx.name, onnx.path, "onnx")], [load_profile(d) for d in recipe.bench.devices], None, None,
                   reporter)
