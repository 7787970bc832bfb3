"""`gate`: judge a run folder, a bench document or model files against a budgets file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .common import parse_shapes, verdict_exit


@click.command()
@click.option("--budgets", required=True, type=click.Path(path_type=Path), help="Budgets TOML file.")
@click.argument("targets", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--baseline", type=click.Path(path_type=Path),
              help="Baseline folder (report.json + artifact files, from --update-baseline) for relative limits.")
@click.option("--device", "profiles", multiple=True, type=click.Path(path_type=Path),
              help="Device profile TOML replacing the shipped profile of the same name; repeatable.")
@click.option("--shape", "shapes", multiple=True, metavar="NAME=1x3x224x224",
              help="With model files: concrete shape for an input with dynamic dims; repeatable (as in bench).")
@click.option("--data", type=click.Path(path_type=Path), metavar="EVAL.npz",
              help="With model files: .npz with x (N,…) and y (N,) [and teacher_pred], so accuracy and "
              "agreement checks are measured through the runtime (as in bench).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.option("--junit", type=click.Path(path_type=Path), help="Write JUnit XML (one testcase per check).")
@click.option("--markdown", "markdown_file", type=click.Path(path_type=Path),
              help="Write a markdown summary (PR comment); also appended to $GITHUB_STEP_SUMMARY when set.")
@click.option("--update-baseline", type=click.Path(path_type=Path),
              help="On a passing gate, write report.json and the artifact files into this baseline folder.")
@click.option("--force", is_flag=True, help="With --update-baseline: replace a different baseline, or accept a "
              "failing gate.")
def gate(budgets, targets, baseline, profiles, shapes, data, as_json, junit, markdown_file, update_baseline,
         force):
    """Judge a run folder, a saved bench document, or model files against a budgets file.

    \b
    TARGETS is one of:
      a run folder (or its report.json)      judged on the figures the run measured
      a bench document (bench --json > b.json, schema edgedistill.bench/1)   judged as saved
      model files (.onnx, anyone's)          benched first on the devices the budgets name,
                                             with --shape / --data as in `edgedistill bench`
    Relative limits ("+5%") need --baseline: sizes are compared with the baseline's figures,
    latencies by timing each file against the baseline's copy, interleaved.
    Exit 0 when every error-level check passes, 1 otherwise; `warn` checks never fail.

    \b
    edgedistill gate --budgets b.toml runs/mnist1d-…
    edgedistill gate --budgets b.toml vad.onnx --shape input=1x256 --data eval.npz
    edgedistill bench m.onnx --json > bench.json && edgedistill gate --budgets b.toml bench.json
    """
    from ..release.ci import write_ci_outputs
    from ..release.console import print_gate
    from ..release.targets import gate_targets

    # creating the first baseline: relative checks fail (no baseline yet) rather than stop the command,
    # so `--update-baseline DIR --force` can accept the first release deliberately
    result = gate_targets(budgets, targets, baseline, profiles, bootstrap=update_baseline is not None,
                          shapes=parse_shapes(shapes), data=data)
    payload = result.report["gate"]
    if as_json:
        click.echo(json.dumps(payload, indent=2))
    else:
        print_gate(payload)
    write_ci_outputs(payload, junit, markdown_file)
    if update_baseline is not None and not (payload["passed"] or force):
        click.echo(f"baseline {update_baseline} not updated: the gate failed (--force accepts it anyway)", err=True)
    elif update_baseline is not None:
        from ..release.baseline import update_baseline as write_baseline

        click.echo(write_baseline(update_baseline, result.report, result.files, payload["passed"], force), err=True)
    return verdict_exit(payload)
