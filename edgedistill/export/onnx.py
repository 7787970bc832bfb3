"""torch → ONNX: one self-contained file, dynamic batch axis, fully checked.

torch 2.13's exporter (dynamo=True) writes weights to a side `.onnx.data` file by default,
which onnxruntime-web cannot load; `external_data=False` keeps everything in one file (fine
below ONNX's 2 GB protobuf limit, which no on-device model approaches).
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

import onnx
import torch

from ..artifacts import atomic_write_bytes
from ..errors import StageError

INPUT, OUTPUT = "input", "logits"


def dynamic_shapes(input_shape: tuple[int, ...], axes: tuple[str, ...]) -> dict[int, object]:
    """torch.export dims for the input (batch, *input_shape) from a preset's `dynamic_axes`
    (names by position, "" = static): ("batch",) → {0: Dim("batch")}; ("batch", "sequence") also
    frees dim 1. Each dynamic dim is traced at size ≥ 2 so the exporter cannot specialise it to 1."""
    dims = {}
    for i, name in enumerate(axes):
        if name:
            dims[i] = torch.export.Dim(name, min=1, max=65536) if i == 0 else torch.export.Dim(name, min=2, max=65536)
    return dims


def export_onnx(model: torch.nn.Module, input_shape: tuple[int, ...], path: Path, opset: int,
                axes: tuple[str, ...] = ("batch",)) -> dict:
    """Write `model` to `path`; return metadata (opset, op counts). Raises StageError on failure."""
    path = Path(path)
    model = model.eval()
    example = torch.zeros(2, *input_shape)  # batch 2, so the batch dim cannot be specialised to 1
    log = io.StringIO()
    exporter_log = logging.getLogger("torch.onnx")  # "torchvision is not installed" chatter
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            torch.onnx.export(model, (example,), str(path), input_names=[INPUT], output_names=[OUTPUT],
                              opset_version=opset, dynamo=True, external_data=False,
                              dynamic_shapes=(dynamic_shapes(input_shape, axes),), optimize=True)
    except Exception as exc:  # the exporter's own message is long; keep its first line
        raise StageError(f"ONNX export of {path.name} failed: {str(exc).splitlines()[0]}") from exc
    finally:
        exporter_log.setLevel(level)
    return checked_single_file(path)


def checked_single_file(path: Path) -> dict:
    """After torch.onnx.export: refuse external data, strip debug metadata, full check; return describe()."""
    side = path.with_name(path.name + ".data")
    if side.exists():
        raise StageError(f"{path.name}: exporter wrote external data {side.name}; refusing a two-file model")
    m = strip_debug_metadata(path)
    onnx.checker.check_model(m, full_check=True)
    return describe(m)


def strip_debug_metadata(path: Path) -> onnx.ModelProto:
    """Drop the exporter's per-node debug records (stack traces with local source paths, FX node
    dumps, rewrite-rule names): a third of a small model's bytes, and nothing a runtime reads."""
    m = onnx.load(str(path))
    for node in m.graph.node:
        node.doc_string = ""
        del node.metadata_props[:]
    for v in (*m.graph.value_info, *m.graph.input, *m.graph.output, *m.graph.initializer):
        del v.metadata_props[:]
    atomic_write_bytes(path, m.SerializeToString())
    return m


def describe(model: Path | onnx.ModelProto) -> dict:
    """Opset, input/output names and shapes, op-type counts and weight bytes of an ONNX model or file."""
    m = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model))
    ops: dict[str, int] = {}
    for node in m.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    init_names = {i.name for i in m.graph.initializer}

    def shape(v):
        return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]

    return {
        "opset": max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")),
        "graph_inputs": {v.name: shape(v) for v in m.graph.input if v.name not in init_names},
        "graph_outputs": {v.name: shape(v) for v in m.graph.output},
        "ops": dict(sorted(ops.items())),
        "weight_bytes": sum(len(i.raw_data) or onnx.numpy_helper.to_array(i).nbytes for i in m.graph.initializer),
    }
