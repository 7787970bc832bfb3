"""`export`: one trained student to a preset's file, proven against the student."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import UsageError
from .common import EXIT_PASS


@click.command("export")
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
@click.option("--by", type=click.Choice(["size", "brotli_size", "p50_ms"]),
              help="With --preset auto: keep the best file by this figure (p50_ms: measured on the recipe's "
              "first device). Default: brotli_size when that device is a browser (it downloads the file "
              "compressed), else size.")
@click.option("--auto-exclude", is_flag=True, help="Keep the int8 layers that break the tolerance in float, "
              "worst first, until the file passes.")
@click.option("--qat-epochs", type=int, default=0, show_default=True, help="When a static int8 file fails "
              "its tolerance: fine-tune this many epochs with fake quantization + the teacher's soft targets "
              "(QAT + KD; needs a run folder for the teacher), then re-export.")
@click.option("--force", is_flag=True, help="Write into a non-empty --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the export record (export.json) to stdout.")
def export_cmd(checkpoint, preset, recipe, trust_run, out, max_drop, by, auto_exclude, qat_epochs, force, as_json):
    """Export one trained student to a preset's file, proven against the student on held-out data.

    \b
    CHECKPOINT is a run folder (`edgedistill run` output) or a student .safetensors with --recipe.
    edgedistill export runs/mnist1d-… --preset onnx-int8-qdq
    edgedistill export runs/mnist1d-… --preset auto --max-drop 0.5 --by brotli_size
    edgedistill export student.safetensors --recipe my.toml --preset coreml-int8-weights
    """
    from ..export.standalone import run_export

    if by is not None and preset != "auto":
        raise UsageError("--by ranks the files of --preset auto; with one preset there is nothing to rank")
    record = run_export(checkpoint, preset, out, recipe, force, auto_exclude, max_drop, qat_epochs=qat_epochs,
                        trust_run=trust_run, by=by)
    if as_json:
        click.echo(json.dumps(record, indent=2, default=str))
    else:
        from ..release.console import print_export

        print_export(record)
    return EXIT_PASS
