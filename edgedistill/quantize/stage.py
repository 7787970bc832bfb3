"""Quantize stage: the student's fp32 ONNX file → every int8 preset of the recipe, each checked
against the float torch student on the test set before it is reported."""

from __future__ import annotations

from pathlib import Path

from ..artifacts import receipt
from ..export import parity
from ..export.onnx import describe
from ..export.presets import load_preset
from ..export.stage import Exported
from .onnx import quantize_static_qdq

SOURCE = "student-fp32.onnx"


def quantize_all(recipe, trained, exported: Exported, out: Path, reporter) -> Exported:
    """Write each int8 preset's file from the exported student; return receipts and parity."""
    presets = [p for p in map(load_preset, recipe.export.presets) if p.precision == "int8"]
    if not presets:
        return Exported({}, {})
    ds, src = trained.dataset, exported.artifacts[SOURCE]
    ref = trained.test_logits["student"]  # the float torch student: what int8 must stay close to
    artifacts, checks = {}, {}
    with reporter.task("quantize", len(presets)) as advance:
        for preset in presets:
            if preset.format != "onnx":
                raise NotImplementedError(f"preset {preset.name}: int8 exists only for ONNX so far")
            name = preset.artifact_name("student")
            quant = quantize_static_qdq(src.path, out / name, ds.x_train, preset.quantization)
            artifacts[name] = receipt(name, out / name, "onnx", "quantize.onnx", [SOURCE], preset=preset.name,
                                      params=src.meta["params"], quantization=quant, **describe(out / name))
            checks[name] = parity.check_file(preset, name, out / name, ref, ds.x_test, ds.y_test)
            advance(file=name)
    return Exported(artifacts, checks)
