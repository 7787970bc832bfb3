"""`run` (the pipeline end to end) and `distill` (train only, optionally data-parallel)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import UsageError
from .common import verdict_exit


@click.command()
@click.argument("recipe", required=False)
@click.option("--out", type=click.Path(path_type=Path), help="Run folder (default runs/<recipe>-<timestamp>).")
@click.option("--force", is_flag=True, help="Replace an existing run folder.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@click.option("--json", "as_json", is_flag=True, help="Print report.json to stdout instead of tables.")
@click.option("--no-cache", is_flag=True, help="Retrain the teacher and regenerate data even if cached.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run (same --out) from its last checkpoint; "
              "the result is bit-identical to an uninterrupted run.")
@click.option("--checkpoint-every", type=click.IntRange(min=0), default=200, show_default=True, metavar="STEPS",
              help="Checkpoint training every STEPS optimizer steps (0: never).")
def run(recipe, out, force, quiet, as_json, no_cache, resume, checkpoint_every):
    """Run a recipe end to end: distil, export, quantize, bench, gate, report.

    RECIPE is a built-in name (default: mnist1d) or a path to a recipe TOML file.
    Exits 1 when a budget fails, with one line per failed check. Training checkpoints are kept
    in .<out>.checkpoints/ beside the run folder until the run completes; a run killed at any
    point continues with `--resume --out <same folder>`.
    """
    from ..pipeline import run as run_pipeline
    from ..progress import Reporter

    result = run_pipeline(recipe, out=out, force=force, reporter=Reporter(quiet or as_json),
                          use_cache=not no_cache, resume=resume, checkpoint_every=checkpoint_every)
    if as_json:
        click.echo(json.dumps(result.report, indent=2, default=str))
    else:
        from ..release.console import print_run

        print_run(result.report, result.out)
    return verdict_exit(result.report.get("gate"))


@click.command()
@click.argument("recipe", required=False)
@click.option("--out", type=click.Path(path_type=Path), help="Run folder (default runs/<recipe>-<timestamp>).")
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True, metavar="N",
              help="Train the students data-parallel in N processes (torch.distributed, gloo on CPU).")
@click.option("--force", is_flag=True, help="Replace an existing run folder.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@click.option("--json", "as_json", is_flag=True, help="Print distill.json to stdout.")
@click.option("--no-cache", is_flag=True, help="Retrain the teacher and regenerate data even if cached (1 process).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run (same --out) from its last checkpoint.")
@click.option("--checkpoint-every", type=click.IntRange(min=0), default=200, show_default=True, metavar="STEPS",
              help="Checkpoint training every STEPS optimizer steps (0: never).")
@click.pass_context
def distill(ctx, recipe, out, nproc, force, quiet, as_json, no_cache, resume, checkpoint_every):
    """Train only: the teacher (or reuse it) and the three students; weights + distill.json.

    RECIPE is a built-in name (default: mnist1d) or a recipe TOML file. With --nproc N the students
    train data-parallel in N local processes; `torchrun --nproc-per-node N -m edgedistill distill
    RECIPE --out DIR` does the same under torchrun. Each rank trains on its slice of every batch
    and reads only its rows of the teacher-output cache; only rank 0 writes.
    """
    import os

    if nproc > 1 and "WORLD_SIZE" not in os.environ:  # the launcher: validate once, then start the ranks
        from ..distill.ddp import launch
        from ..pipeline import default_out
        from ..recipe import load_recipe

        if no_cache:
            raise UsageError("--no-cache cannot be used with --nproc: the ranks share the teacher and its outputs "
                             "through the cache")
        rec, _ = load_recipe(recipe)
        argv = ["--debug"] if ctx.obj["debug"] else []
        argv += ["distill", *([recipe] if recipe else []), "--out", str(out or default_out(rec.name)),
                 "--checkpoint-every", str(checkpoint_every)]
        argv += [flag for flag, on in (("--force", force), ("--quiet", quiet), ("--json", as_json),
                                       ("--resume", resume)) if on]
        sys.exit(launch(nproc, argv))
    from ..pipeline import distill_only
    from ..progress import Reporter

    doc = distill_only(recipe, out=out, force=force, reporter=Reporter(quiet or as_json), use_cache=not no_cache,
                       resume=resume, checkpoint_every=checkpoint_every)
    if "WORLD_SIZE" in os.environ and os.environ.get("RANK", "0") != "0":
        return
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    from ..tasks import get_task

    def shown(result):  # the task's own words: "97.80%", "NN@10 52.8%, knn 85.5%", or the teacher's probes
        return get_task(doc["task"]).summary(result["metrics"])

    click.echo(f"teacher {shown(doc['teacher'])}" + (" (cached)" if doc["teacher"]["cached"] else "")
               + " · students: " + ", ".join(f"{k} {shown(r)}" for k, r in doc["students"].items())
               + f" · {doc['processes']} process(es), {doc['seconds']:.0f} s")
    click.echo(f"run folder: {doc['out']}  (distill.json, *.safetensors)")
