"""The only module that knows the order of the stages:

    recipe → data → teacher → the task's students (classify: scratch, distilled, distilled + transfer)
           → export (ONNX fp32, Core ML) → quantize (int8 QDQ) → bench → gate → report

for every task (tasks/: classify, embed, lm): the task decides tensors, students and metrics,
never the order of the stages.

(each export and quantize step proves its file against the torch model before returning it)

Everything is written into a staging folder beside the run folder and renamed into place at
the end, so an interrupted or failed run never leaves a half-written run folder behind.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError
from .progress import Reporter


@dataclass(frozen=True)
class RunResult:
    out: Path
    report: dict
    verdict: object  # gate.Verdict, or None when the recipe has no budgets


def default_out(recipe_name: str, root: Path = Path("runs")) -> Path:
    """runs/<recipe>-<YYYYmmdd-HHMMSS>/"""
    return root / f"{recipe_name}-{time.strftime('%Y%m%d-%H%M%S')}"


def claim_out(out: Path, force: bool) -> Path:
    """Refuse an existing run folder unless --force; return a fresh staging folder beside it."""
    out = Path(out)
    if out.exists() and not force:
        raise UsageError(f"{out} already exists — pass --force to replace it, or choose another --out")
    from .staging import claim_staging

    # unique per run: two runs aiming at one folder never write into each other's staging; locked while we
    # live, so a later completed run can tell a killed run's leftover from a live run's folder
    return claim_staging(out)


def publish(staging: Path, out: Path, force: bool) -> None:
    """Move the finished staging folder into place (replacing an old run only now, with --force);
    then remove leftover `.NAME.partial-*` folders of killed runs of the same name."""
    from .staging import sweep_stale

    if not out.exists():
        staging.rename(out)
        sweep_stale(out)
        return
    if not force:  # appeared while we ran
        raise UsageError(f"{out} appeared during the run — results kept in {staging}; rename it or rerun with --force")
    trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    out.rename(trash / "run")
    staging.rename(out)
    shutil.rmtree(trash, ignore_errors=True)
    sweep_stale(out)


def run(recipe_arg=None, out: Path | None = None, force: bool = False, reporter: Reporter | None = None,
        cache_dir: Path | None = None, overrides: dict | None = None, use_cache: bool = True,
        resume: bool = False, checkpoint_every: int = 200) -> RunResult:
    """Run every stage of a recipe; return the run folder, the report and the gate verdict.

    Training checkpoints go to `.<out>.checkpoints/` beside the run folder every `checkpoint_every`
    steps (0: never); `resume` continues an interrupted run from them, bit for bit.
    """
    from .recipe import load_recipe
    from .release import report as report_mod
    from .resources import default_cache_dir

    reporter = reporter or Reporter()
    recipe, recipe_file = load_recipe(recipe_arg, overrides)
    checks = _budgets(recipe, recipe_file)  # validated before any training: bad budgets fail fast
    out = Path(out) if out else default_out(recipe.name)
    ckpt_root = claim_checkpoints(out, resume, force)
    staging = claim_out(out, force)
    cache = (cache_dir or default_cache_dir()) if use_cache else None
    try:
        from .bench.stage import bench_all
        from .distill.stage import distill_all
        from .export.stage import export_all
        from .quantize.stage import quantize_all

        checkpoints = _checkpointer(ckpt_root, checkpoint_every, resume, force, reporter) if checkpoint_every else None
        trained = distill_all(recipe, cache, staging, reporter, str(recipe_file), checkpoints)
        exported = export_all(recipe, trained, staging, reporter)
        quantized = quantize_all(recipe, trained, exported, staging, reporter)
        artifacts = {**exported.artifacts, **quantized.artifacts}
        parity = {**exported.parity, **quantized.parity}
        bench = bench_all(recipe, trained, artifacts, staging, reporter)  # also writes latency.png, pareto.png
        measurements = bench.measurements
        verdict = _judge(checks, measurements, artifacts)
        report = report_mod.build(recipe, recipe_file, trained, artifacts, parity, measurements, verdict, staging)
        report["bench"] = bench.section()  # statuses, graph cost, profiles, environment (edgedistill.bench/1)
        report_mod.write(staging, report)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if ckpt_root.is_dir():  # training is not lost: say how to pick it up again
            print(f"training checkpoints kept in {ckpt_root}: rerun with --resume --out {out}", file=sys.stderr)
        raise
    publish(staging, out, force)
    shutil.rmtree(ckpt_root, ignore_errors=True)  # the run is complete: nothing left to resume
    return RunResult(out, report, verdict)


def distill_only(recipe_arg=None, out: Path | None = None, force: bool = False, reporter: Reporter | None = None,
                 cache_dir: Path | None = None, use_cache: bool = True, resume: bool = False,
                 checkpoint_every: int = 200) -> dict:
    """The distill stage alone: teacher and students → weights + distill.json in the run folder.

    Under torchrun (or `edgedistill distill --nproc N`) every process is a rank of one data-parallel
    job (distill/ddp.py); only rank 0 writes. Returns the distill.json document.
    """
    import json
    from dataclasses import asdict

    from .artifacts import atomic_write_text
    from .distill.ddp import finish, from_env
    from .distill.stage import distill_all
    from .recipe import load_recipe
    from .resources import default_cache_dir

    recipe, recipe_file = load_recipe(recipe_arg)
    dist = from_env()
    if dist.world > 1 and not use_cache:
        raise UsageError("--no-cache cannot be used with several processes: the ranks share the teacher and "
                         "its outputs through the cache")
    if dist.world > 1 and out is None:
        raise UsageError("several processes need --out (every rank must name the same run folder)")
    reporter = (reporter or Reporter()) if dist.is_main else Reporter(quiet=True)
    if dist.is_main:
        out = Path(out) if out else default_out(recipe.name)
        ckpt_root, staging = claim_checkpoints(out, resume, force), claim_out(out, force)
    else:
        ckpt_root, staging = checkpoint_root(Path(out)), None
    try:
        make = _checkpointer(ckpt_root, checkpoint_every, resume, force, reporter) if checkpoint_every else None
        if make and not dist.is_main:  # the other ranks only read checkpoints, to resume from rank 0's
            make = _checkpointer(ckpt_root, 0, True, force, reporter) if resume else None
        start = time.perf_counter()
        trained = distill_all(recipe, (cache_dir or default_cache_dir()) if use_cache else None, staging, reporter,
                              str(recipe_file), make, dist)
        doc = {"schema": "edgedistill.distill/1", "recipe": recipe.name, "recipe_sha256": recipe.section_hash(),
               "processes": dist.world, "seconds": time.perf_counter() - start, "how": "measured",
               "task": recipe.task, "headline": trained.task.headline, "shipped": trained.shipped,
               "teacher": {**asdict(trained.teacher_result), "cached": trained.teacher_cached},
               "students": {k: asdict(r) for k, r in trained.students.items()},
               "weights": {k: a.path.name for k, a in trained.weights.items()}}
        if dist.is_main:
            atomic_write_text(staging / "distill.json", json.dumps(doc, indent=2))
    except BaseException:
        if staging:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        finish(dist)
    if dist.is_main:
        publish(staging, out, force)
        shutil.rmtree(ckpt_root, ignore_errors=True)
    return {**doc, "out": str(out)}


def claim_checkpoints(out: Path | None, resume: bool, force: bool) -> Path:
    """The run's checkpoint folder, after refusing a resume without checkpoints and a silent restart."""
    if resume and not out:
        raise UsageError("--resume needs --out: the run folder the interrupted run was writing")
    ckpt_root = checkpoint_root(out)
    if resume and not ckpt_root.is_dir():
        raise UsageError(f"nothing to resume: no checkpoints at {ckpt_root} — run without --resume")
    if not resume and ckpt_root.is_dir():
        if not force:
            raise UsageError(f"{ckpt_root} holds checkpoints of an interrupted run — pass --resume to continue "
                             "it, or --force to start over")
        shutil.rmtree(ckpt_root)
    return ckpt_root


def checkpoint_root(out: Path) -> Path:
    """Where a run's training checkpoints live: `.<name>.checkpoints/` beside its run folder."""
    return out.parent / f".{out.name}.checkpoints"


def _checkpointer(root: Path, every: int, resume: bool, force: bool, reporter):
    """label, fingerprint → a Checkpointer in `root/label`."""
    from .distill.checkpoint import Checkpointer

    def warn(message: str) -> None:  # shown even with --quiet: a skipped checkpoint must never go unnoticed
        print(message, file=sys.stderr, flush=True)

    return lambda label, fingerprint: Checkpointer(root / label, fingerprint, every=every, resume=resume,
                                                   force=force, warn=warn)


def _budgets(recipe, recipe_file: Path):
    if not recipe.gate.budgets:
        return None
    from .devices import list_profiles
    from .release.budgets import load_budgets

    return load_budgets(recipe_file.parent / recipe.gate.budgets, list_profiles())


def _judge(checks, measurements, artifacts):
    if checks is None:
        return None
    from .release.gate import judge
    from .release.hints import origins_of_report
    from .results import index

    # hints follow what made each file and what it already is (no "use int8" for an int8 file)
    origins = origins_of_report({"artifacts": {n: a.to_json() for n, a in artifacts.items()}},
                                {n: a.path for n, a in artifacts.items()})
    return judge(checks, index(measurements), origins=origins)
