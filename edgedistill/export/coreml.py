"""torch → Core ML mlprogram (.mlpackage) via coremltools, and a Linux-side validation.

coremltools converts `torch.jit.trace` output from torch 2.13 (it warns that the version is
untested; we record that). Core ML can *predict* only on macOS; elsewhere we reload the saved
package and check its interface, op list and weight bytes — the numbers are never faked.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from ..errors import StageError
from ..progress import silenced

INPUT, OUTPUT = "input", "logits"  # a classifier's names; other tasks name theirs (tasks/)


def _quiet():
    """coremltools without its tqdm bars and Linux-only '_MLModelProxy' log lines."""
    return silenced(TQDM_DISABLE="1")


def export_coreml(model: torch.nn.Module, sig, path: Path, preset, metadata: dict) -> dict:
    """Trace, convert and save an .mlpackage at `path` (written beside, then renamed); return validate().

    Takes one float input (the task signature's first), named as the signature names it."""
    (inp,), out_name = sig.inputs, sig.outputs[0].name
    input_shape = tuple(inp.example)
    import warnings

    with _quiet(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import coremltools as ct

        traced = torch.jit.trace(model.eval(), torch.zeros(1, *input_shape))
        batch = ct.RangeDim(lower_bound=1, upper_bound=1024, default=1)
        target = getattr(ct.target, preset.minimum_deployment_target or "iOS16")
        precision = ct.precision.FLOAT16 if preset.precision == "fp16" else ct.precision.FLOAT32
        try:
            ml = ct.convert(traced, convert_to="mlprogram", minimum_deployment_target=target,
                            inputs=[ct.TensorType(name=inp.name, shape=(batch, *input_shape), dtype=np.float32)],
                            outputs=[ct.TensorType(name=out_name, dtype=np.float32)],
                            compute_precision=precision)
        except Exception as exc:
            raise StageError(f"Core ML conversion of {path.name} failed: {exc}") from exc
        ml.author = metadata.get("author", "edgedistill")
        ml.license = metadata.get("license", "")
        ml.version = metadata.get("version", "")
        ml.short_description = metadata.get("description", "")
        ml.user_defined_metadata.update({k: str(v) for k, v in metadata.items()})
        tmp = path.with_name(f".tmp-{path.name}")  # coremltools insists on the .mlpackage suffix
        shutil.rmtree(tmp, ignore_errors=True)
        ml.save(str(tmp))
        os.replace(tmp, path)
    return validate(path, [inp.name], [out_name])


def validate(path: Path, want_inputs=None, want_outputs=None) -> dict:
    """Reload a saved .mlpackage: interface, op types, weight bytes. Raises StageError if malformed."""
    with _quiet():
        import coremltools as ct

        try:
            spec = ct.utils.load_spec(str(path))
        except Exception as exc:
            raise StageError(f"{path.name}: saved Core ML package does not reload: {exc}") from exc
    if not spec.HasField("mlProgram"):
        raise StageError(f"{path.name}: not an mlprogram package")
    fn = spec.mlProgram.functions["main"]
    ops = Counter(op.type for op in fn.block_specializations[fn.opset].operations)
    weights = path / "Data" / "com.apple.CoreML" / "weights" / "weight.bin"
    inputs, outputs = [i.name for i in spec.description.input], [o.name for o in spec.description.output]
    weight_bytes = weights.stat().st_size if weights.exists() else 0
    problems = []
    want_inputs, want_outputs = want_inputs or inputs, want_outputs or outputs  # a compressed copy: as it is
    if inputs != list(want_inputs) or outputs != list(want_outputs) or len(inputs) != 1 or len(outputs) != 1:
        problems.append(f"interface {inputs} → {outputs}, expected {list(want_inputs)} → {list(want_outputs)}")
    if not {"conv", "linear", "matmul"} & set(ops):
        problems.append(f"no conv/linear/matmul among ops {sorted(ops)}")
    if weight_bytes == 0:
        problems.append("weights/weight.bin is missing or empty")
    if problems:
        raise StageError(f"{path.name}: saved Core ML package is malformed: " + "; ".join(problems))
    return {
        "spec_version": spec.specificationVersion,
        "opset": fn.opset,
        "graph_inputs": inputs,
        "graph_outputs": outputs,
        "ops": dict(sorted(ops.items())),
        "weight_bytes": weight_bytes,
        "metadata": dict(spec.description.metadata.userDefined),
        "predicted": sys.platform == "darwin",
    }


def coreml_logits(path: Path, x: np.ndarray) -> np.ndarray:
    """Core ML predictions (N, C); macOS only — elsewhere Core ML has no runtime."""
    if sys.platform != "darwin":
        raise RuntimeError("Core ML prediction needs macOS")
    import coremltools as ct

    ml = ct.models.MLModel(str(path))
    spec = ml.get_spec().description
    inp, out = spec.input[0].name, spec.output[0].name
    return np.concatenate([ml.predict({inp: x[i:i + 1]})[out] for i in range(len(x))])
