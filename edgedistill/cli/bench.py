"""`bench`: measure model files on device profiles (or an interleaved A/B with --vs)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import UsageError
from .common import EXIT_PASS, parse_shapes


@click.command()
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
        return _bench(models, devices, data, task, parse_shapes(shapes), repeat, as_json, as_markdown, plot_dir,
                      quiet, vs)
    except KeyboardInterrupt:  # children are killed by now; one line and exit 130, never a traceback
        raise click.exceptions.Abort() from None


def _bench(models, devices, data, task, shapes, repeat, as_json, as_markdown, plot_dir, quiet, vs) -> int:
    if vs is not None:  # A/B latency ratio (what CI should gate on: absolute times drift between machines)
        from ..release.console import print_ab
        from ..standalone import ab_files

        results = ab_files(models, vs, devices, shapes)
        click.echo(json.dumps([r.to_json() for r in results], indent=2)) if as_json else print_ab(results)
        return EXIT_PASS
    from ..bench.render import markdown as render_md
    from ..progress import Reporter
    from ..standalone import bench_run

    if plot_dir is not None and plot_dir.exists() and not plot_dir.is_dir():  # before minutes of benching
        raise UsageError(f"--plot {plot_dir}: not a folder — give a folder for latency.png and pareto.png")
    run = bench_run(models, devices, data, shapes, Reporter(quiet=quiet or as_json or as_markdown), task=task,
                    repeat=repeat)
    if plot_dir is not None:
        from ..bench.plots import write_plots
        from ..errors import InputFileError

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
        from ..release.console import print_bench

        print_bench(run.to_json())
    return EXIT_PASS
