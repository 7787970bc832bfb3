"""Quantize stage: the student's float files → every derived preset of the recipe (ONNX fp16,
int8 dynamic, int8 QDQ, ORT mobile, Core ML int8 / palettized), each checked against the float
torch student on the test set before it is reported.

`derive` is shared with the standalone `edgedistill export` command: one file, one preset.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..artifacts import receipt
from ..errors import ParityError
from ..export import parity
from ..export.onnx import describe
from ..export.presets import load_preset
from ..export.stage import Exported

SOURCE = "student-fp32.onnx"
COREML_SOURCE = "student-fp16.mlpackage"


@dataclass(frozen=True)
class Sources:
    """What a derived file is made from: the fp32 ONNX file, the fp16 Core ML package (made on
    demand), calibration rows and the held-out test set with the torch student's outputs."""

    onnx_fp32: Path
    coreml_fp16: object  # () -> Path
    x_cal: dict  # {input name: (N, ...)}: every input is fed to the calibrator
    x_test: dict
    y_test: np.ndarray
    reference: np.ndarray  # (N_test, …) the torch student's primary outputs
    classes: bool = True  # outputs are class scores (top-1 figures); False for vectors

    def compare(self, path: Path):
        """Parity of a derived file against the torch student on the test rows."""
        return parity.compare(self.reference, parity.onnx_outputs(path, self.x_test), self.y_test, self.classes)


def _onnx_int8(preset, src: Path, dst: Path, s: Sources, auto_exclude: bool) -> tuple[dict, dict]:
    """Static or dynamic int8 ONNX file, parity-checked; static files get the sensitivity pass on failure."""
    from .onnx import quantize_dynamic_int8, quantize_static_qdq

    q = preset.quantization
    if q.mode == "dynamic":
        meta = quantize_dynamic_int8(src, dst, q)
        return meta, s.compare(dst)
    meta = quantize_static_qdq(src, dst, s.x_cal, q)
    result = s.compare(dst)
    if not parity.problems(result, preset.parity):
        return meta, result
    from .sensitivity import auto_exclude as fix
    from .sensitivity import layer_sensitivity

    ranking = layer_sensitivity(src, s, q, preset.parity)
    meta["sensitivity"] = ranking
    if not auto_exclude:
        return meta, result
    return fix(src, dst, s, preset, ranking, meta)


def derive(preset, name: str, out: Path, s: Sources, auto_exclude: bool = False) -> tuple[dict, dict]:
    """Make `out/name` for a derived preset from `s`; return (receipt meta, parity json).
    Raises ParityError (exit 5) with the numbers (and the layers that hurt most) when parity fails."""
    from . import coreml as cml
    from .onnx import convert_fp16

    dst = out / name
    if preset.format == "coreml":
        meta = cml.compress(s.coreml_fp16(), dst, preset.quantization)
        return meta, parity.check_file(preset, name, dst, s.reference, s.x_test, s.y_test, s.classes)
    if preset.precision == "fp16":
        meta = convert_fp16(s.onnx_fp32, dst, preset.keep_io_types)
        result = s.compare(dst)
    elif preset.format == "ort":
        with tempfile.TemporaryDirectory() as tmp:
            q_onnx = Path(tmp) / "q.onnx"
            meta, result = _onnx_int8(preset, s.onnx_fp32, q_onnx, s, auto_exclude)
            from ..export.ortfiles import convert_to_ort, mobile_usability

            meta.update(convert_to_ort(q_onnx, dst), mobile=mobile_usability(q_onnx), **describe(q_onnx))
        result = s.compare(dst)  # the .ort itself
    else:
        meta, result = _onnx_int8(preset, s.onnx_fp32, dst, s, auto_exclude)
    if preset.format == "onnx":
        meta.update(describe(dst))
    if found := parity.problems(result, preset.parity):
        hint = _hint(meta.get("sensitivity"), meta.get("auto_exclude"))
        err = ParityError(f"{name} fails parity with the torch model on {result.samples} test rows: "
                         + "; ".join(found) + hint)
        err.parity, err.meta = result.to_json("onnxruntime CPU"), meta  # for callers that recover (QAT)
        raise err
    return meta, result.to_json("onnxruntime CPU")


def _hint(ranking, auto) -> str:
    if not ranking:
        return " — the export is wrong or the preset's quantization too coarse"
    worst = ", ".join(f"{r['node']} (cosine {r['mean_cosine']:.4f} alone)" for r in ranking["layers"][:3])
    if auto:
        return f" — --auto-exclude could not fix it: {auto['note']}; layers that hurt most: {worst}"
    return (f" — layers that hurt most: {worst}; try quantization.nodes_to_exclude = "
            f"{ranking['suggested_nodes_to_exclude']!r} or `edgedistill export --auto-exclude`")


def sources(trained, fp32_onnx: Path, coreml_fp16, calibration: dict) -> Sources:
    """Sources from the pipeline's trained models."""
    ds = trained.dataset
    return Sources(fp32_onnx, coreml_fp16, calibration, ds.x_test, ds.y_test, trained.test_outputs["student"],
                   trained.task.name != "embed")


def quantize_all(recipe, trained, exported: Exported, out: Path, reporter, base: Path | None = None) -> Exported:
    """Write each derived preset's file from the exported student; return receipts and parity."""
    presets = [p for p in (load_preset(n, base) for n in recipe.export.presets) if p.derived]
    if not presets:
        return Exported({}, {})
    src = exported.artifacts[SOURCE]
    artifacts, checks = {}, {}
    with reporter.task("quantize", len(presets)) as advance, tempfile.TemporaryDirectory() as tmp:
        fp32, onnx_input, graph = _float_source(trained, src, presets, Path(tmp))
        s = sources(trained, fp32, _coreml_source(trained, exported, Path(tmp)), trained.dataset.x_train)
        for preset in presets:
            name = preset.artifact_name("student")
            meta, checks[name] = derive(preset, name, out, s, auto_exclude=recipe.export.auto_exclude)
            inputs = [COREML_SOURCE if preset.format == "coreml" else onnx_input]
            extra = {"source_graph": graph} if graph and preset.format != "coreml" else {}
            artifacts[name] = receipt(name, out / name, preset.format, f"quantize.{preset.format}", inputs,
                                      preset=preset.name, params=src.meta["params"], quantization=meta, **extra,
                                      **{k: src.meta[k] for k in ("tokenizer",) if k in src.meta})
            advance(file=name)
    return Exported(artifacts, checks)


def _float_source(trained, src, presets, out: Path) -> tuple[Path, str, str | None]:
    """The ONNX graph derived files are made from: (path, receipt input, note). A student-fp32.onnx whose
    transformer ops were fused (export/fusion.py) is re-exported unfused into `out`: the quantizers leave
    com.microsoft Attention in float (its Q/K/V weights, a quarter of each layer's, stay fp32: MiniLM's
    int8-dynamic file was 8 MB larger), and plain ONNX ops suit every runtime and execution provider."""
    if not src.meta.get("fusion", {}).get("kept") or all(p.format == "coreml" for p in presets):
        return src.path, SOURCE, None
    from ..export.onnx import export_onnx

    path = out / "student-fp32-unfused.onnx"
    export_onnx(trained.student, trained.task.signature(trained.dataset), path, load_preset("onnx-fp32").opset)
    return (path, trained.weights[trained.shipped].name,
            f"the student re-exported unfused ({SOURCE} holds onnxruntime-fused transformer ops)")


def _coreml_source(trained, exported: Exported, out: Path):
    """The fp16 package to compress: the run's own when the recipe exports it, else one made
    once into the temporary folder `out`."""
    made: list[Path] = []

    def get() -> Path:
        if COREML_SOURCE in exported.artifacts:
            return exported.artifacts[COREML_SOURCE].path
        if not made:
            from .. import __version__
            from ..export.coreml import export_coreml

            export_coreml(trained.student, trained.task.signature(trained.dataset), out / COREML_SOURCE,
                          load_preset("coreml-fp16"), {"version": __version__})
            made.append(out / COREML_SOURCE)
        return made[0]

    return get
