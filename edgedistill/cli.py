"""Command line: run | distill | bench | gate | report | export | devices | presets.

Exit codes: 0 pass, 1 a budget failed, 2 bad config or usage, 3 a rejected input file,
4 internal error. Errors are one line on stderr; --debug adds the traceback.
Heavy modules (torch, onnxruntime, coremltools) are imported inside commands only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .errors import EdgeDistillError, UsageError

EXIT_PASS, EXIT_BUDGET, EXIT_CONFIG, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3, 4


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="edgedistill")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx, debug):
    """Distil a teacher into an on-device student, export it, benchmark it, gate the release.

    \b
    edgedistill run                      the default recipe (mnist1d), end to end
    edgedistill bench model.onnx         measure any ONNX file on host-cpu
    edgedistill gate --budgets b.toml runs/mnist1d-…   judge a run against budgets
    """
    ctx.obj = {"debug": debug}


@cli.command()
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
    from .pipeline import run as run_pipeline
    from .progress import Reporter

    result = run_pipeline(recipe, out=out, force=force, reporter=Reporter(quiet or as_json),
                          use_cache=not no_cache, resume=resume, checkpoint_every=checkpoint_every)
    if as_json:
        click.echo(json.dumps(result.report, indent=2, default=str))
    elif result.report.get("kind") == "charlm":  # perplexity table instead of the classifier tables
        from .lm.report import print_run as print_lm_run

        print_lm_run(result.report, result.out)
    else:
        from .console import print_run

        print_run(result.report, result.out)
    return _verdict_exit(result.report.get("gate"))


@cli.command()
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
        from .distill.ddp import launch
        from .pipeline import default_out
        from .recipe import load_recipe

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
    from .pipeline import distill_only
    from .progress import Reporter

    doc = distill_only(recipe, out=out, force=force, reporter=Reporter(quiet or as_json), use_cache=not no_cache,
                       resume=resume, checkpoint_every=checkpoint_every)
    if "WORLD_SIZE" in os.environ and os.environ.get("RANK", "0") != "0":
        return
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(f"teacher {doc['teacher']['test_accuracy']:.2%}" + (" (cached)" if doc["teacher"]["cached"] else "")
               + " · students: " + ", ".join(f"{k} {r['test_accuracy']:.2%}" for k, r in doc["students"].items())
               + f" · {doc['processes']} process(es), {doc['seconds']:.0f} s")
    click.echo(f"run folder: {doc['out']}  (distill.json, *.safetensors)")


@cli.command()
@click.argument("models", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--device", "devices", multiple=True, default=["host-cpu"], show_default=True,
              help="Device profile name or TOML path; repeatable.")
@click.option("--data", type=click.Path(path_type=Path), help="Eval set .npz: each model input under its graph "
              "input name (x for a single-input model) and the task's references (y, teacher_pred, "
              "teacher_embedding, …); task metrics are computed through the runtime.")
@click.option("--task", type=click.Choice(["classify", "embed", "lm"]),
              help="Task of the --data references (default: inferred from the arrays it holds).")
@click.option("--shape", "shapes", multiple=True, metavar="NAME=1x3x224x224",
              help="Concrete shape for an input with dynamic dims; repeatable. NAME must be a model input.")
@click.option("--repeat", type=click.IntRange(1, 100), default=1, show_default=True, metavar="N",
              help="Measure each file N times, each in a fresh session; figures are the median over sessions "
              "and the spread between them is reported (like Lighthouse CI's numberOfRuns).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (schema edgedistill.bench/1).")
@click.option("--markdown", "as_markdown", is_flag=True, help="Print the result as markdown tables.")
@click.option("--plot", "plot_dir", type=click.Path(path_type=Path), metavar="DIR",
              help="Write latency.png and pareto.png into DIR.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@click.option("--vs", "vs", type=click.Path(path_type=Path), metavar="OLD.onnx",
              help="Interleaved A/B: time each MODEL against OLD in one process; print the ratio new/old + 95% CI.")
def bench(models, devices, data, task, shapes, repeat, as_json, as_markdown, plot_dir, quiet, vs):
    """Measure model files (ONNX or ORT format: ours or anyone's; .mlpackage on coreml) on device profiles.

    Each (file, profile) runs in a fresh child process under the profile's constraints and time
    limit; the graph is checked and costed in a child too, so a hostile file cannot take the
    machine. Every figure says how it was obtained (measured / browser / estimated); each pair gets
    a status: ok, unstable (latency IQR > 10% of the median, or --repeat sessions > 10% apart),
    not_runnable (e.g. coreml off macOS) or failed (over the profile's memory ceiling or time limit).

    \b
    edgedistill bench model.onnx --device host-cpu --device mobile-big-core
    edgedistill bench model.onnx --shape input=1x3x224x224 --json > bench.json
    edgedistill bench model.ort --repeat 5                 # 5 fresh sessions, median + spread
    edgedistill bench lm.onnx --data eval.npz --task lm    # perplexity, next-token accuracy, agreement
    edgedistill bench new.onnx --vs old.onnx     # interleaved A/B: ratio new/old with a 95% CI
    """
    try:
        return _bench(models, devices, data, task, _parse_shapes(shapes), repeat, as_json, as_markdown, plot_dir,
                      quiet, vs)
    except KeyboardInterrupt:  # children are killed by now; one line and exit 130, never a traceback
        raise click.exceptions.Abort() from None


def _bench(models, devices, data, task, shapes, repeat, as_json, as_markdown, plot_dir, quiet, vs) -> int:
    if vs is not None:  # A/B latency ratio (what CI should gate on: absolute times drift between machines)
        from .console import print_ab
        from .standalone import ab_files

        results = ab_files(models, vs, devices, shapes)
        click.echo(json.dumps([r.to_json() for r in results], indent=2)) if as_json else print_ab(results)
        return EXIT_PASS
    from .bench.render import markdown as render_md
    from .progress import Reporter
    from .standalone import bench_run

    if plot_dir is not None and plot_dir.exists() and not plot_dir.is_dir():  # before minutes of benching
        raise UsageError(f"--plot {plot_dir}: not a folder — give a folder for latency.png and pareto.png")
    run = bench_run(models, devices, data, shapes, Reporter(quiet=quiet or as_json or as_markdown), task=task,
                    repeat=repeat)
    if plot_dir is not None:
        from .bench.plots import write_plots
        from .errors import InputFileError

        try:
            write_plots(run, plot_dir)
        except OSError as exc:  # read-only, disk full: the path and the reason, never an internal error
            raise InputFileError(str(plot_dir), f"cannot write the plots ({exc.strerror or exc})",
                                 "pick a writable folder") from None
    if as_json:
        click.echo(json.dumps(run.to_json(), indent=2))
    elif as_markdown:
        click.echo(render_md(run.to_json()))
    else:
        from .console import print_bench

        print_bench(run.to_json())
    return EXIT_PASS


# ---- gate (release gate: budgets, baseline, CI outputs) -------------------------------------------
@cli.command()
@click.option("--budgets", required=True, type=click.Path(path_type=Path), help="Budgets TOML file.")
@click.argument("targets", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--baseline", type=click.Path(path_type=Path),
              help="Baseline folder (report.json + artifact files, from --update-baseline) for relative limits.")
@click.option("--device", "profiles", multiple=True, type=click.Path(path_type=Path),
              help="Device profile TOML replacing the shipped profile of the same name; repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.option("--junit", type=click.Path(path_type=Path), help="Write JUnit XML (one testcase per check).")
@click.option("--markdown", "markdown_file", type=click.Path(path_type=Path),
              help="Write a markdown summary (PR comment); also appended to $GITHUB_STEP_SUMMARY when set.")
@click.option("--update-baseline", type=click.Path(path_type=Path),
              help="On a passing gate, write report.json and the artifact files into this baseline folder.")
@click.option("--force", is_flag=True, help="With --update-baseline: replace a different baseline, or accept a "
              "failing gate.")
def gate(budgets, targets, baseline, profiles, as_json, junit, markdown_file, update_baseline, force):
    """Judge a run folder (its report.json) or ONNX files against a budgets file.

    TARGETS is one run folder (or report.json), or model files which are benched first on the
    devices the budgets name. Relative limits ("+5%") need --baseline: sizes are compared with the
    baseline's figures, latencies by timing each file against the baseline's copy, interleaved.
    Exit 0 when every error-level check passes, 1 otherwise; `warn` checks never fail.
    """
    from .console import print_gate
    from .standalone import gate_targets

    # creating the first baseline: relative checks fail (no baseline yet) rather than stop the command,
    # so `--update-baseline DIR --force` can accept the first release deliberately
    result = gate_targets(budgets, targets, baseline, profiles, bootstrap=update_baseline is not None)
    payload = result.report["gate"]
    if as_json:
        click.echo(json.dumps(payload, indent=2))
    else:
        print_gate(payload)
    _gate_outputs(payload, junit, markdown_file)
    if update_baseline is not None and not (payload["passed"] or force):
        click.echo(f"baseline {update_baseline} not updated: the gate failed (--force accepts it anyway)", err=True)
    elif update_baseline is not None:
        from .baseline import update_baseline as write_baseline

        click.echo(write_baseline(update_baseline, result.report, result.files, payload["passed"], force), err=True)
    return _verdict_exit(payload)


def _gate_outputs(payload: dict, junit, markdown_file) -> None:
    """JUnit XML, the markdown summary, and the GitHub Actions step summary."""
    import os

    from .artifacts import atomic_write_text
    from .report import gate_markdown

    if junit is not None:
        from .junit import to_junit

        atomic_write_text(junit, to_junit(payload))
    text = "\n".join(gate_markdown(payload))
    if markdown_file is not None:
        atomic_write_text(markdown_file, text)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as fh:  # appended: other steps share it
            fh.write(text + "\n")
# ---- end gate ------------------------------------------------------------------------------------


# ---- report (incl. --compare, gate helper) ------------------------------------------------------
@cli.command()
@click.argument("run_dir", required=False, type=click.Path(path_type=Path))
@click.option("--markdown", is_flag=True, help="Print markdown instead of tables.")
@click.option("--compare", nargs=2, type=click.Path(path_type=Path), metavar="A B",
              help="Show what changed from run A to run B (folders or report.json files).")
@click.option("--json", "as_json", is_flag=True, help="With --compare: print the changes as JSON.")
@click.option("--plot", type=click.Path(path_type=Path), help="With --compare: write a PNG of the b/a ratios.")
def report(run_dir, markdown, compare, as_json, plot):
    """Show a finished run's report, or with --compare A B what changed between two runs."""
    from .standalone import read_report

    if compare:
        return _compare(*compare, markdown, as_json, plot)
    if run_dir is None or as_json or plot:
        raise UsageError("give a RUN_DIR, or --compare A B (--json and --plot work with --compare)")
    from .console import print_run
    from .report import markdown as render

    rep = read_report(run_dir)
    if rep.get("kind") == "charlm":  # a char-LM run folder (edgedistill/lm)
        from .lm.report import markdown as render
        from .lm.report import print_run
    click.echo(render(rep)) if markdown else print_run(rep, run_dir)
    return EXIT_PASS


def _compare(a: Path, b: Path, markdown: bool, as_json: bool, plot) -> int:
    from . import compare as cmp
    from .standalone import read_report

    result = cmp.compare(read_report(a), read_report(b))
    if as_json:
        click.echo(json.dumps({"a": str(a), "b": str(b), **result}, indent=2))
    elif markdown:
        click.echo(cmp.markdown(result, str(a), str(b)))
    else:
        from .console import print_compare

        print_compare(result, str(a), str(b))
    if plot is not None:
        cmp.plot(result, plot)
    return EXIT_PASS
# ---- end report ----------------------------------------------------------------------------------


@cli.command()
@click.option("--json", "as_json", is_flag=True)
def devices(as_json):
    """List the shipped device profiles."""
    from .devices import list_profiles, load_profile

    rows = [load_profile(n) for n in list_profiles()]
    _listing([(p.name, p.how, p.description) for p in rows], as_json, ("name", "how", "description"))
    return EXIT_PASS


@cli.command()
@click.option("--json", "as_json", is_flag=True)
def presets(as_json):
    """List the shipped export presets."""
    from .export.presets import list_presets, load_preset

    rows = [load_preset(n) for n in list_presets()]
    _listing([(p.name, p.format, p.precision, p.description) for p in rows], as_json,
             ("name", "format", "precision", "description"))
    return EXIT_PASS


# --- export (issue 4) -----------------------------------------------------------------------
@cli.command("export")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--preset", required=True, help="Preset name (see `edgedistill presets`), a preset TOML path, "
              "or `auto`: the smallest file within --max-drop.")
@click.option("--recipe", help="Recipe of a .safetensors CHECKPOINT (built-in name or TOML path); with a run "
              "folder, your recipe replaces the one its report.json records.")
@click.option("--trust-run", is_flag=True, help="Use a run folder's recorded recipe even when it names code "
              "(a factory, TorchScript): only for folders you made yourself.")
@click.option("--out", type=click.Path(path_type=Path), help="Output folder (default: beside the checkpoint).")
@click.option("--max-drop", type=float, default=0.5, show_default=True,
              help="With --preset auto: largest accuracy drop vs the fp32 student, in percentage points.")
@click.option("--auto-exclude", is_flag=True, help="Keep the int8 layers that break the tolerance in float, "
              "worst first, until the file passes.")
@click.option("--qat-epochs", type=int, default=0, show_default=True, help="When a static int8 file fails "
              "its tolerance: fine-tune this many epochs with fake quantization + the teacher's soft targets "
              "(QAT + KD; needs a run folder for the teacher), then re-export.")
@click.option("--force", is_flag=True, help="Write into a non-empty --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the export record (export.json) to stdout.")
def export_cmd(checkpoint, preset, recipe, trust_run, out, max_drop, auto_exclude, qat_epochs, force, as_json):
    """Export one trained student to a preset's file, proven against the student on held-out data.

    \b
    CHECKPOINT is a run folder (`edgedistill run` output) or a student .safetensors with --recipe.
    edgedistill export runs/mnist1d-… --preset onnx-int8-qdq
    edgedistill export runs/mnist1d-… --preset auto --max-drop 0.5
    edgedistill export student.safetensors --recipe my.toml --preset coreml-int8-weights
    """
    from .export.standalone import run_export

    record = run_export(checkpoint, preset, out, recipe, force, auto_exclude, max_drop, qat_epochs=qat_epochs,
                        trust_run=trust_run)
    if as_json:
        click.echo(json.dumps(record, indent=2, default=str))
    else:
        art, par = record["artifact"], record["parity"]
        shown = (f"accuracy {par['accuracy']['value']:.2f}% (drop {par['accuracy_drop']['value']:.2f} pp), "
                 f"top-1 agreement {par['top1_agreement']['value']:.2f}%" if "accuracy" in par else par["skipped"])
        click.echo(f"{art['name']}  {art['bytes']:,} B  [{record.get('chosen', record['preset'])}]  {shown}")
        for a in record.get("attempts", []):
            got = f"{a['bytes']:,} B, drop {a['accuracy_drop_pp']:.2f} pp" if a["bytes"] else a["error"]
            click.echo(f"  {'kept ' if a['kept'] else 'tried'} {a['preset']:<22} {got}")
    return EXIT_PASS
# --- end export ------------------------------------------------------------------------------


def _listing(rows, as_json: bool, keys) -> None:
    if as_json:
        click.echo(json.dumps([dict(zip(keys, r)) for r in rows], indent=2))
    else:
        for r in rows:
            click.echo("  ".join(f"{c:<16}" if i < len(r) - 1 else c for i, c in enumerate(r)))


def _parse_shapes(items) -> dict[str, list[int]]:
    out = {}
    for item in items:
        name, _, dims = item.partition("=")
        try:
            out[name] = [int(d) for d in dims.lower().split("x")]
        except ValueError:
            raise UsageError(f"--shape {item!r}: write NAME=1x3x224x224") from None
    return out


def _verdict_exit(gate: dict | None) -> int:
    return EXIT_PASS if gate is None or gate["passed"] else EXIT_BUDGET


def main(argv=None) -> None:
    """Entry point: run the CLI and map every outcome to the documented exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        code = cli.main(args=argv, prog_name="edgedistill", standalone_mode=False)
    except click.exceptions.Exit as exc:  # --help, --version
        code = exc.exit_code
    except click.ClickException as exc:  # usage errors: click's message, exit 2
        exc.show()
        code = EXIT_CONFIG
    except click.exceptions.Abort:
        click.echo("edgedistill: aborted", err=True)
        code = 130
    except EdgeDistillError as exc:
        if debug:
            raise
        click.echo(f"edgedistill: error: {exc}", err=True)
        code = exc.exit_code
    except Exception as exc:  # a bug: say so in one line, keep the traceback for --debug
        if debug:
            raise
        click.echo(f"edgedistill: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the "
                   f"traceback)", err=True)
        code = EXIT_INTERNAL
    sys.exit(code or 0)
