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

from ..errors import InputFileError, ParityError, StageError
from ..progress import silenced

INPUT, OUTPUT = "input", "logits"  # a classifier's names; other tasks name theirs (tasks/)


def _quiet():
    """coremltools without its tqdm bars and Linux-only '_MLModelProxy' log lines."""
    return silenced(TQDM_DISABLE="1")


class _Traceable(torch.nn.Module):
    """The model called as Task.call calls it (one input positionally, several by keyword), returning the
    primary output tensor: what torch.jit.trace needs (tensors in, one tensor out)."""

    def __init__(self, model: torch.nn.Module, names: list[str], output: str):
        super().__init__()
        self.model, self.names, self.output = model, names, output

    def forward(self, *xs):
        out = self.model(*xs) if len(xs) == 1 else self.model(**dict(zip(self.names, xs)))
        return out[self.output] if isinstance(out, dict) else out


def _shape(spec, ct) -> tuple:
    """Core ML's shape for one input: batch 1…1024, another named axis (a sequence) 1…its length in the
    data, an int axis fixed."""
    dims = [ct.RangeDim(lower_bound=1, upper_bound=1024, default=1)]
    for axis, size in zip(spec.axes[1:], spec.example):
        dims.append(ct.RangeDim(lower_bound=1, upper_bound=size, default=size) if isinstance(axis, str) else size)
    return tuple(dims)


def _example(sig, batch: int, length: int | None = None) -> tuple:
    """Inputs to trace or probe with: floats zero, integer ids and masks one (a real token, attended);
    a dynamic non-batch axis cut to `length` when given."""
    out = []
    for spec in sig.inputs:
        shape = [batch] + [length if length and isinstance(a, str) else n for a, n in zip(spec.axes[1:], spec.example)]
        dtype = getattr(torch, spec.dtype)
        out.append(torch.ones(shape, dtype=dtype) if not dtype.is_floating_point else torch.zeros(shape, dtype=dtype))
    return tuple(out)


def _flexible(traced, model, sig) -> dict | None:
    """A graph traced at the data's length must still be right at another: run both at batch 2 and a third
    of the length (the last third of the second row masked when it has a mask); None without such an axis.
    ParityError (exit 5) when the traced graph kept its traced length (fails or differs there)."""
    sizes = [n for spec in sig.inputs for a, n in zip(spec.axes[1:], spec.example) if isinstance(a, str)]
    if not sizes:
        return None
    length = max(1, min(sizes) // 3)
    xs = list(_example(sig, 2, length))
    for i, spec in enumerate(sig.inputs):
        if spec.name == "attention_mask" and length > 1:
            xs[i][1, -max(1, length // 3):] = 0
    fix = ("compute sizes with tensor ops in forward (no int(), .item() or Python lengths), or drop the coreml "
           "presets from export.presets")
    with torch.no_grad():
        try:
            diff = float((traced(*xs) - model(*xs)).abs().max())
        except RuntimeError as exc:
            raise ParityError(f"the traced graph fails at length {length} ({str(exc).splitlines()[0][:200]}): "
                              f"it kept the traced length; {fix}") from exc
    if not diff <= 1e-4:
        raise ParityError(f"the traced graph differs from the model at length {length} by {diff:.3g}: it kept the "
                          f"traced length, so Core ML would give wrong outputs; {fix}")
    return {"checked_length": length, "max_abs_diff": diff}


def export_coreml(model: torch.nn.Module, sig, path: Path, preset, metadata: dict) -> dict:
    """Trace, convert and save an .mlpackage at `path` (written beside, then renamed); return validate().

    Takes the task signature's inputs by name: floats as float32, integer ids and masks as int32 (Core ML has
    no int64 inputs); batch 1…1024 and a sequence 1…the data's length are flexible (RangeDim)."""
    names, out_name = [s.name for s in sig.inputs], sig.outputs[0].name
    import warnings

    with _quiet(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import coremltools as ct

        wrapped = _Traceable(model.eval(), names, out_name).eval()
        traced = torch.jit.trace(wrapped, _example(sig, 1), strict=False)
        flexible = _flexible(traced, wrapped, sig)
        target = getattr(ct.target, preset.minimum_deployment_target or "iOS16")
        precision = ct.precision.FLOAT16 if preset.precision == "fp16" else ct.precision.FLOAT32
        inputs = [ct.TensorType(name=s.name, shape=_shape(s, ct),
                                dtype=np.float32 if s.dtype.startswith("float") else np.int32) for s in sig.inputs]
        try:
            ml = ct.convert(traced, convert_to="mlprogram", minimum_deployment_target=target, inputs=inputs,
                            outputs=[ct.TensorType(name=out_name, dtype=np.float32)], compute_precision=precision)
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
        replace_package(tmp, path)
    meta = validate(path, names, [out_name])
    return {**meta, "traced_flexible": flexible} if flexible else meta


def replace_package(tmp: Path, path: Path) -> None:
    """Move a finished .mlpackage folder into place; an older package of that name (a rerun) goes first, as
    os.replace cannot replace a non-empty folder."""
    old = path.with_name(f".old-{path.name}")
    if path.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


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
    if inputs != list(want_inputs) or outputs != list(want_outputs) or not inputs or len(outputs) != 1:
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


def coreml_logits(path: Path, x) -> np.ndarray:
    """Core ML predictions (N, …) on rows `x` ({name: array}, or one array for a one-input model), one row
    at a time; integer inputs fed as int32. macOS only — elsewhere Core ML has no runtime."""
    if sys.platform != "darwin":
        raise RuntimeError("Core ML prediction needs macOS")
    import coremltools as ct

    ml = ct.models.MLModel(str(path))
    spec = ml.get_spec().description
    names, out = [i.name for i in spec.input], spec.output[0].name
    if not isinstance(x, dict) or len(x) == len(names) == 1:
        arrays = [next(iter(x.values())) if isinstance(x, dict) else x]
    elif set(names) <= set(x):
        arrays = [x[n] for n in names]
    else:
        raise InputFileError(str(path), f"inputs {names}, the data has {list(x)}",
                             "export the package from this recipe (its inputs are named as the data's)")
    cast = [a.astype(np.int32) if a.dtype.kind in "iu" else a for a in arrays]
    return np.concatenate([ml.predict({n: a[i:i + 1] for n, a in zip(names, cast)})[out] for i in range(len(cast[0]))])
