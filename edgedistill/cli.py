"""Command line: run | bench | gate | report | devices | presets.

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
def run(recipe, out, force, quiet, as_json, no_cache):
    """Run a recipe end to end: distil, export, quantize, bench, gate, report.

    RECIPE is a built-in name (default: mnist1d) or a path to a recipe TOML file.
    Exits 1 when a budget fails, with one line per failed check.
    """
    from .pipeline import run as run_pipeline
    from .progress import Reporter

    result = run_pipeline(recipe, out=out, force=force, reporter=Reporter(quiet or as_json),
                          use_cache=not no_cache)
    if as_json:
        click.echo(json.dumps(result.report, indent=2, default=str))
    else:
        from .console import print_run

        print_run(result.report, result.out)
    return _verdict_exit(result.report.get("gate"))


@cli.command()
@click.argument("models", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--device", "devices", multiple=True, default=["host-cpu"], show_default=True,
              help="Device profile name or TOML path; repeatable.")
@click.option("--data", type=click.Path(path_type=Path), help=".npz with x (N,…) and y (N,) [and teacher_pred] "
              "to compute accuracy through the runtime.")
@click.option("--shape", "shapes", multiple=True, metavar="NAME=1x3x224x224",
              help="Concrete shape for an input with dynamic dims; repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (schema edgedistill.bench/1).")
@click.option("--markdown", "as_markdown", is_flag=True, help="Print the result as markdown tables.")
@click.option("--plot", "plot_dir", type=click.Path(path_type=Path), metavar="DIR",
              help="Write latency.png and pareto.png into DIR.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
def bench(models, devices, data, shapes, as_json, as_markdown, plot_dir, quiet):
    """Measure model files (ONNX: ours or anyone's; .mlpackage on coreml) on device profiles.

    Each (file, profile) runs in a fresh child process under the profile's constraints. Every
    figure says how it was obtained (measured / browser / estimated); each pair gets a status:
    ok, unstable (latency CV > 5%), not_runnable (e.g. coreml off macOS) or failed (e.g. over the
    profile's memory ceiling).

    \b
    edgedistill bench model.onnx --device host-cpu --device mobile-big-core
    edgedistill bench model.onnx --shape input=1x3x224x224 --json > bench.json
    """
    from .bench.render import markdown as render_md
    from .progress import Reporter
    from .standalone import bench_run

    run = bench_run(models, devices, data, _parse_shapes(shapes), Reporter(quiet=quiet or as_json or as_markdown))
    if plot_dir is not None:
        from .bench.plots import write_plots

        write_plots(run, plot_dir)
    if as_json:
        click.echo(json.dumps(run.to_json(), indent=2))
    elif as_markdown:
        click.echo(render_md(run.to_json()))
    else:
        from .console import print_bench

        print_bench(run.to_json())
    return EXIT_PASS


@cli.command()
@click.option("--budgets", required=True, type=click.Path(path_type=Path), help="Budgets TOML file.")
@click.argument("targets", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
def gate(budgets, targets, as_json):
    """Judge a run folder (its report.json) or ONNX files against a budgets file.

    TARGETS is one run folder, or model files which are benched first on the devices the
    budgets name. Exit 0 when every error-level check passes, 1 otherwise.
    """
    from .console import print_gate
    from .report import gate_json
    from .standalone import gate_targets

    verdict = gate_targets(budgets, targets)
    payload = gate_json(verdict)
    if as_json:
        click.echo(json.dumps(payload, indent=2))
    else:
        print_gate(payload)
    return _verdict_exit(payload)


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--markdown", is_flag=True, help="Print report.md instead of tables.")
def report(run_dir, markdown):
    """Show a finished run's report."""
    from .console import print_run
    from .report import markdown as render
    from .standalone import read_report

    rep = read_report(run_dir)
    click.echo(render(rep)) if markdown else print_run(rep, run_dir)
    return EXIT_PASS


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
