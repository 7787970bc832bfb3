"""`report`: show a finished run's report, or with --compare what changed between two runs."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import UsageError
from .common import EXIT_PASS


@click.command()
@click.argument("run_dir", required=False, type=click.Path(path_type=Path))
@click.option("--markdown", is_flag=True, help="Print markdown instead of tables.")
@click.option("--compare", nargs=2, type=click.Path(path_type=Path), metavar="A B",
              help="Show what changed from run A to run B (folders or report.json files).")
@click.option("--json", "as_json", is_flag=True, help="Print report.json (with --compare: the changes as JSON).")
@click.option("--plot", type=click.Path(path_type=Path), help="With --compare: write a PNG of the b/a ratios.")
def report(run_dir, markdown, compare, as_json, plot):
    """Show a finished run's report, or with --compare A B what changed between two runs.

    \b
    edgedistill report runs/mnist1d-…            tables
    edgedistill report runs/mnist1d-… --json     report.json, checked (schema edgedistill.report/1)
    edgedistill report --compare A B --markdown
    """
    from ..release.runfolder import figures_of, read_report

    if compare:
        return _compare(*compare, markdown, as_json, plot)
    if run_dir is None or plot or (as_json and markdown):
        raise UsageError("give a RUN_DIR (with --markdown or --json), or --compare A B (--plot works with --compare)")
    from ..release.console import print_run
    from ..release.report import markdown as render

    rep = read_report(run_dir)
    figures_of(rep, str(run_dir))  # someone else's report: every figure checked before it is shown (exit 3)
    if as_json:
        click.echo(json.dumps(rep, indent=2))
        return EXIT_PASS
    click.echo(render(rep)) if markdown else print_run(rep, run_dir)
    return EXIT_PASS


def _compare(a: Path, b: Path, markdown: bool, as_json: bool, plot) -> int:
    from ..release import compare as cmp
    from ..release.runfolder import read_report

    result = cmp.compare(read_report(a), read_report(b))
    if as_json:
        click.echo(json.dumps({"a": str(a), "b": str(b), **result}, indent=2))
    elif markdown:
        click.echo(cmp.markdown(result, str(a), str(b)))
    else:
        from ..release.console import print_compare

        print_compare(result, str(a), str(b))
    if plot is not None:
        cmp.plot(result, plot)
    return EXIT_PASS
