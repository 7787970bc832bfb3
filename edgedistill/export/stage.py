"""Export stage: teacher and shipped student → files, each proven against its torch source.

The student's fp32 ONNX file is always written: it is the int8 quantizer's input, and the
teacher's fp32 ONNX file sits beside it so every benchmark ratio is measured side by side.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .. import __version__
from ..artifacts import Artifact, receipt
from ..distill.train import predict_logits
from . import coreml as coreml_export
from . import onnx as onnx_export
from . import parity
from .presets import load_preset


def export_all(recipe, trained, out: Path, reporter) -> tuple[dict[str, Artifact], dict[str, dict]]:
    """Write every preset's file for the student (and fp32 ONNX for the teacher); return receipts + parity."""
    import torch

    ds = trained.dataset
    x_test, y_test = ds.x_test, ds.y_test
    fp32 = load_preset("onnx-fp32")
    presets = [load_preset(p) for p in recipe.export.presets]
    from ..models import count_params

    n_params = {"teacher": count_params(trained.teacher), "student": count_params(trained.student)}
    artifacts: dict[str, Artifact] = {}
    checks: dict[str, dict] = {}
    with reporter.task("export", 2 + sum(p.name != "onnx-fp32" for p in presets)) as advance:
        for role, model in (("teacher", trained.teacher), ("student", trained.student)):
            name = fp32.artifact_name(role)
            meta = onnx_export.export_onnx(model, ds.input_shape, out / name, fp32.opset)
            source = "teacher.safetensors" if role == "teacher" else "student-distilled_transfer.safetensors"
            artifacts[name] = receipt(name, out / name, "onnx", "export.onnx", [source], preset=fp32.name,
                                      params=n_params[role], **meta)
            ref = predict_logits(model, torch.from_numpy(x_test)).numpy()
            checks[name] = _onnx_parity(name, out / name, ref, x_test, y_test, fp32.parity)
            advance(file=name)
        ref = predict_logits(trained.student, torch.from_numpy(x_test)).numpy()
        src = out / fp32.artifact_name("student")
        for preset in (p for p in presets if p.name != "onnx-fp32"):
            name = preset.artifact_name("student")
            if preset.format == "onnx":
                meta = _onnx_variant(preset, src, out / name, ds.x_train)
                artifacts[name] = receipt(name, out / name, "onnx", f"quantize.{preset.precision}", [src.name],
                                          preset=preset.name, params=n_params["student"], **meta)
                checks[name] = _onnx_parity(name, out / name, ref, x_test, y_test, preset.parity)
            else:
                meta = coreml_export.export_coreml(trained.student, ds.input_shape, out / name, preset, {
                    "author": "edgedistill", "version": __version__, "recipe": recipe.name,
                    "recipe_hash": recipe.section_hash(), "description": f"{recipe.name} student ({preset.name})"})
                artifacts[name] = receipt(name, out / name, "coreml", "export.coreml",
                                          ["student-distilled_transfer.safetensors"], preset=preset.name,
                                          params=n_params["student"], **meta)
                checks[name] = _coreml_parity(name, out / name, ref, x_test, y_test, preset.parity)
            advance(file=name)
    return artifacts, checks


def _onnx_variant(preset, src: Path, dst: Path, x_train: np.ndarray) -> dict:
    from ..quantize.onnx import quantize_static_qdq

    if preset.precision != "int8" or preset.quantization is None:
        raise NotImplementedError(f"preset {preset.name}: only fp32 and static int8 QDQ ONNX exist so far")
    meta = quantize_static_qdq(src, dst, x_train, preset.quantization)
    return {**onnx_export.describe(dst), "quantization": meta}


def _onnx_parity(name, path, ref, x, y, tolerance) -> dict:
    result = parity.compare(ref, parity.onnx_logits(path, x), y)
    parity.check(name, result, tolerance)
    return {**result.to_json(), "runtime": "onnxruntime CPU", "how": "measured"}


def _coreml_parity(name, path, ref, x, y, tolerance) -> dict:
    if sys.platform != "darwin":
        return {"skipped": "Core ML predicts only on macOS; on this host the package was reloaded and "
                           "its spec, ops and weight bytes validated instead"}
    result = parity.compare(ref, coreml_export.coreml_logits(path, x), y)
    parity.check(name, result, tolerance)
    return {**result.to_json(), "runtime": "Core ML", "how": "measured"}
