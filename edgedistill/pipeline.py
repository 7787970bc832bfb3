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

from . import runlock, threads
from .artifacts import unusable_output
from .errors import OutputPathError, UsageError
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
        runlock.release(out)  # (held since claim_checkpoints)
        raise UsageError(f"{out} already exists — pass --force to replace it, or choose another --out")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        runlock.acquire(out)  # a second run into the same folder is refused while this one is alive
        from .staging import claim_staging

        # unique per run: two runs aiming at one folder never write into each other's staging; locked while we
        # live, so a later completed run can tell a killed run's leftover from a live run's folder
        return claim_staging(out)
    except OSError as exc:  # a read-only or full file system, no permission: name the path
        raise (unusable_output(exc, out.parent) or exc) from None


def _lock(out: Path) -> None:
    """Hold the run folder's lock (runlock.py); a folder we cannot even lock is named, exit 3."""
    try:
        runlock.acquire(out)
    except OSError as exc:
        raise (unusable_output(exc, Path(out).absolute().parent) or exc) from None


def publish(staging: Path, out: Path, force: bool) -> None:
    """Move the finished staging folder into place (replacing an old run only now, with --force), give up
    the folder's run lock (taken by claim_out), then remove leftover `.NAME.partial-*` folders of killed
    runs of the same name."""
    from .staging import sweep_stale

    if not out.exists():
        staging.rename(out)
        runlock.release(out)
        sweep_stale(out)
        return
    if not force:  # appeared while we ran
        runlock.release(out)
        raise UsageError(f"{out} appeared during the run — results kept in {staging}; rename it or rerun with --force")
    trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    out.rename(trash / "run")
    staging.rename(out)
    runlock.release(out)
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
    threads.configure()  # torch's pool: usable CPUs ÷ sibling processes, unless the user chose (threads.py)
    checks = _budgets(recipe, recipe_file)  # validated before any training: bad budgets fail fast
    if recipe.export.bundle:  # the page's runtime files (npm ci), asked for before any training
        from .export.bundle import runtime_files

        runtime_files()
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
        from .export.bundle import bundle_stage

        bundle = bundle_stage(recipe, trained, artifacts, staging, reporter)  # embed: the page bundle, or None
        bench = bench_all(recipe, trained, artifacts, staging, reporter)  # also writes latency.png, pareto.png
        measurements = bench.measurements
        verdict = _judge(checks, measurements, artifacts)
        report = report_mod.build(recipe, recipe_file, trained, artifacts, parity, measurements, verdict, staging)
        report["bench"] = bench.section()  # statuses, graph cost, profiles, environment (edgedistill.bench/1)
        if bundle is not None:
            report["bundle"] = bundle
        report_mod.write(staging, report)
    except BaseException as exc:
        abandon(exc, staging, ckpt_root, out, cache)
        raise
    shutil.rmtree(ckpt_root, ignore_errors=True)  # the run is complete: nothing left to resume
    publish(staging, out, force)
    return RunResult(out, report, verdict)


def abandon(exc: BaseException, staging: Path | None, ckpt_root: Path, out: Path, *folders) -> None:
    """A run failed: remove its staging folder, and turn a full or read-only disk into one line naming
    the path (exit 3); training checkpoints are kept, with how to resume from them."""
    if staging is None:  # another rank: rank 0 cleans up and explains
        return
    shutil.rmtree(staging, ignore_errors=True)
    if ckpt_root.is_dir() and not any(ckpt_root.glob("*/step-*")):  # nothing saved yet: nothing to resume
        shutil.rmtree(ckpt_root, ignore_errors=True)
    runlock.release(out)
    err = unusable_output(exc, out.parent, *folders)
    resume = f"rerun with --resume --out {out} (training checkpoints kept in {ckpt_root})"
    if err is not None and ckpt_root.is_dir() and isinstance(err, OutputPathError):
        raise OutputPathError(err.path, err.problem, f"{err.fix}, then {resume}") from None
    if err is not None:
        raise err from None
    if ckpt_root.is_dir():  # training is not lost: say how to pick it up again
        print(f"training checkpoints kept in {ckpt_root}: rerun with --resume --out {out}", file=sys.stderr)


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
    dist = from_env()  # (sizes torch's pool for several ranks)
    threads.configure()
    if dist.world > 1 and not use_cache:
        raise UsageError("--no-cache cannot be used with several processes: the ranks share the teacher and "
                         "its outputs through the cache")
    if dist.world > 1 and out is None:
        raise UsageError("several processes need --out (every rank must name the same run folder)")
    reporter = (reporter or Reporter()) if dist.is_main else Reporter(quiet=True)
    cache = (cache_dir or default_cache_dir()) if use_cache else None
    if dist.is_main:
        out = Path(out) if out else default_out(recipe.name)
        ckpt_root, staging = claim_checkpoints(out, resume, force), claim_out(out, force)
    else:
        ckpt_root, staging = checkpoint_root(Path(out)), None
    clean = False
    try:
        make = _checkpointer(ckpt_root, checkpoint_every, resume, force, reporter) if checkpoint_every else None
        if make and not dist.is_main:  # the other ranks only read checkpoints, to resume from rank 0's
            make = _checkpointer(ckpt_root, 0, True, force, reporter) if resume else None
        start = time.perf_counter()
        trained = distill_all(recipe, cache, staging, reporter, str(recipe_file), make, dist)
        doc = {"schema": "edgedistill.distill/1", "recipe": recipe.name, "recipe_sha256": recipe.section_hash(),
               "processes": dist.world, "seconds": time.perf_counter() - start, "how": "measured",
               "task": recipe.task, "headline": trained.task.headline, "shipped": trained.shipped,
               "teacher": {**asdict(trained.teacher_result), "cached": trained.teacher_cached,
                           **({"warning": trained.teacher_warning} if trained.teacher_warning else {}),
                           **({"labelling": trained.labelling} if trained.labelling else {})},
               "students": {k: asdict(r) for k, r in trained.students.items()},
               "weights": {k: a.path.name for k, a in trained.weights.items()}}
        if dist.is_main:
            atomic_write_text(staging / "distill.json", json.dumps(doc, indent=2))
        clean = True
    except BaseException as exc:
        abandon(exc, staging, ckpt_root, Path(out), cache)
        raise
    finally:
        finish(dist, clean)  # every rank leaves the process group together (ddp.finish)
    if dist.is_main:
        shutil.rmtree(ckpt_root, ignore_errors=True)  # complete: nothing left to resume
        publish(staging, out, force)
    return {**doc, "out": str(out)}


def claim_checkpoints(out: Path | None, resume: bool, force: bool) -> Path:
    """The run's checkpoint folder, after refusing a resume without checkpoints and a silent restart."""
    if resume and not out:
        raise UsageError("--resume needs --out: the run folder the interrupted run was writing")
    _lock(out)  # refused here while another run writes this folder: its checkpoints are not an interrupted run's
    ckpt_root = checkpoint_root(out)
    problem = None
    if resume and not ckpt_root.is_dir():
        problem = f"nothing to resume: no checkpoints at {ckpt_root} — run without --resume"
    elif not resume and ckpt_root.is_dir() and not force:
        problem = (f"{ckpt_root} holds checkpoints of an interrupted run — pass --resume to continue it, or "
                   "--force to start over")
    if problem:
        runlock.release(out)
        raise UsageError(problem)
    if not resume and ckpt_root.is_dir():
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
    from .devices import list_profiles, load_profile
    from .release.budgets import load_budgets

    # the recipe's own profile files (bench.devices paths, absolute by now) are devices a budget may name
    own = [load_profile(d).name for d in recipe.bench.devices if d.endswith(".toml")]
    return load_budgets(recipe_file.parent / recipe.gate.budgets, sorted({*list_profiles(), *own}))


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
