"""Export stage: teacher and shipped student → float files (ONNX, Core ML), each proven against
its torch source before it is reported. Quantized files come from the next stage (quantize/).

The student's fp32 ONNX file is always written: it is the quantizer's input, and the teacher's
fp32 ONNX file sits beside it so every benchmark ratio is measured side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..artifacts import Artifact, receipt
from ..registry import Registry
from . import parity
from .presets import load_preset


@dataclass(frozen=True)
class Exported:
    """Files written by a stage, with each file's parity against the model it came from."""

    artifacts: dict[str, Artifact]
    parity: dict[str, dict]


def _onnx(model, sig, path: Path, preset, metadata: dict) -> dict:
    from .onnx import describe, export_onnx

    write = getattr(model, "write_onnx", None)  # a pretrained ONNX / TorchScript teacher writes its own file
    meta = write(path, preset.opset) if write else export_onnx(model, sig, path, preset.opset)
    if preset.optimization == "basic":
        from .ortfiles import optimize_offline

        meta = {**describe(path), "offline_optimization": optimize_offline(path)}
    return meta


def _coreml(model, sig, path: Path, preset, metadata: dict) -> dict:
    from .coreml import export_coreml

    return export_coreml(model, sig, path, preset, metadata)


# format → exporter(model, signature (tasks.Signature: named inputs/outputs), path, preset, metadata)
#          -> receipt metadata. Plugins add formats through the `edgedistill.exporters` entry points.
EXPORTERS: Registry = Registry("exporter", plugin_group="edgedistill.exporters")
EXPORTERS.register("onnx", _onnx)
EXPORTERS.register("coreml", _coreml)


def formats() -> list[str]:
    """Every format a preset may name: the exporters' (built-in and plugins) plus `ort` (made by quantize)."""
    return sorted({*EXPORTERS.names(), "ort"})


def check_format(preset, where: str) -> None:
    """ConfigError (exit 2) for a preset whose format no exporter is registered for, with the closest name."""
    if preset.format not in formats():
        from ..errors import ConfigError
        from ..registry import suggest

        raise ConfigError(str(where), "format", f"no exporter for format {preset.format!r} (preset {preset.name})",
                          f"{suggest(preset.format, formats())}; a plugin package adds formats (entry point "
                          "edgedistill.exporters)")


def package_metadata(recipe, ds) -> dict:
    """Author, license, version, recipe hash and class labels (the data's names — folders, text labels — else
    the ids), written into Core ML packages."""
    import json

    names = list(ds.classes) if len(ds.classes) == ds.num_classes else [str(i) for i in range(ds.num_classes)]
    return {"author": recipe.export.author, "license": recipe.export.license,
            "version": recipe.export.version or __version__, "recipe": recipe.name,
            "recipe_hash": recipe.section_hash(), "description": f"{recipe.name} student ({recipe.task})",
            "classes": json.dumps(names if recipe.task == "classify" else [])}


def export_all(recipe, trained, out: Path, reporter) -> Exported:
    """Write the teacher's fp32 ONNX file and every float preset's file for the shipped student."""
    from ..models import count_params
    from .fusion import fusable, fuse_export

    ds, task = trained.dataset, trained.task
    sig = task.signature(ds)
    fp32 = load_preset("onnx-fp32")
    student_presets = [fp32] + [p for p in map(load_preset, recipe.export.presets)
                                if not p.derived and p.artifact_name("student") != fp32.artifact_name("student")]
    jobs = [("teacher", trained.teacher, fp32)] + [("student", trained.student, p) for p in student_presets]
    metadata = package_metadata(recipe, ds)
    shipped = {}
    if recipe.data.tokenizer:  # token-id models: the tokenizer goes with them, at the recipe's length
        from .tokenizer import ship_tokenizer

        shipped = {"tokenizer": ship_tokenizer(recipe.data.tokenizer, out, recipe.data.max_len)}
    artifacts, checks = {}, {}
    with reporter.task("export", len(jobs)) as advance:
        for role, model, preset in jobs:
            name = preset.artifact_name(role)
            meta = EXPORTERS.get(preset.format)(model, sig, out / name, preset, metadata)

            def check(path, preset=preset, name=name, role=role) -> dict:  # every file, fused or not, proven alike
                return parity.check_file(preset, name, path, trained.test_outputs[role], ds.x_test, ds.y_test,
                                         classes=task.name != "embed")

            result = None
            if preset.fused and fusable(model):  # a transformer: ORT's fused ops, kept only when parity holds
                meta, result = fuse_export(model, out / name, meta, check)
            source = trained.weights["teacher" if role == "teacher" else trained.shipped].name
            artifacts[name] = receipt(name, out / name, preset.format, f"export.{preset.format}", [source],
                                      preset=preset.name, params=count_params(model), task=task.name,
                                      signature={"inputs": [s.describe() for s in sig.inputs],
                                                 "outputs": [s.describe() for s in sig.outputs]},
                                      **shipped, **meta)
            checks[name] = result if result is not None else check(out / name)
            advance(file=name)
    return Exported(artifacts, checks)
