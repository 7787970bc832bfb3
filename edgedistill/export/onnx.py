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


def dynamic_shapes(sig) -> tuple[dict[int, object], ...]:
    """torch.export dims for every input from the task's axes: a str axis is dynamic (batch 1 … 65536; any
    other from 2 to the size seen in the data, e.g. a sequence up to the context), an int axis static."""
    out = []
    for spec in sig.inputs:
        dims = {}
        for i, axis in enumerate(spec.axes):
            if isinstance(axis, str):
                dims[i] = torch.export.Dim(axis, min=1, max=65536) if i == 0 else \
                    torch.export.Dim(f"{spec.name}_{axis}", min=2, max=max(2, spec.example[i - 1]))
        out.append(dims)
    return tuple(out)


def export_onnx(model: torch.nn.Module, sig, path: Path, opset: int) -> dict:
    """Write `model` to `path` with the task's named inputs/outputs and dynamic axes; return metadata
    (opset, op counts). Raises StageError on failure."""
    path = Path(path)
    model = model.eval()
    example = sig.example(2)  # batch 2, so the batch dim cannot be specialised to 1
    dims = dynamic_shapes(sig)
    # one input positionally; several by keyword, as Task.call feeds them (Hugging Face models take keywords)
    args, kwargs = (tuple(example.values()), None) if len(example) == 1 else ((), example)
    shapes = dims if kwargs is None else dict(zip(example, dims))
    log = io.StringIO()
    exporter_log = logging.getLogger("torch.onnx")  # "torchvision is not installed" chatter
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            torch.onnx.export(model, args, str(path), kwargs=kwargs, input_names=[s.name for s in sig.inputs],
                              output_names=[s.name for s in sig.outputs], opset_version=opset, dynamo=True,
                              external_data=False, dynamic_shapes=shapes, optimize=True)
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
    single_assignment(m.graph)
    for node in m.graph.node:
        node.doc_string = ""
        del node.metadata_props[:]
    for v in (*m.graph.value_info, *m.graph.input, *m.graph.output, *m.graph.initializer):
        del v.metadata_props[:]
    atomic_write_bytes(path, m.SerializeToString())
    return m


def single_assignment(graph: onnx.GraphProto) -> None:
    """Rename inner values that share a graph output's name, in place. The exporter names values after FX
    nodes, so `F.embedding` (a token table) yields a value "embedding" before the output we named "embedding"
    is written; a value may be assigned once (SSA). Every producer but the last gets a fresh name, and the
    nodes between it and the next producer read that name (nodes are in topological order)."""
    outputs = {o.name for o in graph.output}
    last = {}
    for k, node in enumerate(graph.node):
        for name in node.output:
            if name in outputs:
                last[name] = k
    current: dict[str, str] = {}  # output name → what nodes read under it right now
    for k, node in enumerate(graph.node):
        for i, name in enumerate(node.input):
            if name in current:
                node.input[i] = current[name]
        for i, name in enumerate(node.output):
            if name in last and k != last[name]:
                node.output[i] = current[name] = f"{name}__inner{k}"
            elif name in current:
                del current[name]


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
