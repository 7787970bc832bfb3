"""Graph cost from ONNX shape inference: parameters, MACs per op, weight bytes, peak activations.

MACs are counted for the ops that dominate compute — Conv, ConvTranspose, Gemm, MatMul and their
integer / QLinear forms. Every other op counts 0 MACs; the roofline estimator charges it one FLOP
per output element instead (`elements`), and its bytes like any op. Shapes come from
onnx.shape_inference with data propagation, after the dynamic input dims are fixed the same
way the benchmark child fixes them (batch for a leading dynamic dim, `--shape`, else 1).
An op whose shapes stay unknown counts 0 and is listed in `unknown_shape_ops`; ops inside
subgraphs (If, Loop, Scan bodies) are not counted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from math import prod
from pathlib import Path

_CONV = {"Conv", "ConvInteger", "QLinearConv"}
_MATMUL = {"MatMul", "MatMulInteger", "QLinearMatMul"}
# numpy-free dtype sizes (onnx.TensorProto enum → bytes); unknown types count 4
_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}


@dataclass(frozen=True)
class OpCost:
    name: str
    op_type: str
    macs: int
    elements: int  # output elements (what a non-MAC op does work on)
    bytes: int  # input + output tensor bytes, weights included


@dataclass(frozen=True)
class GraphCost:
    params: int  # elements of every initializer (weights, biases, quantization scales)
    weight_bytes: int  # bytes of every initializer as stored
    macs: int
    peak_activation_bytes: int  # largest sum of live intermediate tensors, walking the graph in order
    ops: tuple[OpCost, ...] = field(repr=False)
    unknown_shape_ops: tuple[str, ...] = ()
    subgraph_ops: int = 0  # nodes inside If/Loop/Scan bodies: not counted (a branch may never run)

    def heaviest(self, n: int = 5) -> list[OpCost]:
        """The `n` ops with the most MACs (then bytes)."""
        return sorted(self.ops, key=lambda o: (o.macs, o.bytes), reverse=True)[:n]

    def to_json(self, top: int = 5) -> dict:
        """Totals, the heaviest ops and the op-type histogram of MACs."""
        by_type: dict[str, int] = {}
        for o in self.ops:
            by_type[o.op_type] = by_type.get(o.op_type, 0) + o.macs
        return {"params": self.params, "weight_bytes": self.weight_bytes, "macs": self.macs,
                "peak_activation_bytes": self.peak_activation_bytes, "ops": len(self.ops),
                "macs_by_op_type": {k: v for k, v in sorted(by_type.items(), key=lambda kv: -kv[1]) if v},
                "heaviest_ops": [asdict(o) for o in self.heaviest(top)],
                "unknown_shape_ops": list(self.unknown_shape_ops), "subgraph_ops_not_counted": self.subgraph_ops,
                "macs_counted_for": sorted(_CONV | _MATMUL | {"Gemm", "ConvTranspose"})}


def graph_cost(path: Path, batch: int = 1, shapes: dict | None = None) -> GraphCost:
    """Cost of one forward pass of the ONNX file at `batch` (dynamic dims fixed like the benchmark child)."""
    import onnx
    from onnx import shape_inference

    model = onnx.load(str(path))
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    for inp in g.input:
        if inp.name not in inits:
            _fix_dims(inp, batch, (shapes or {}).get(inp.name))
    model = shape_inference.infer_shapes(model, data_prop=True)
    g = model.graph
    info = {v.name: _shape_of(v) for v in [*g.input, *g.value_info, *g.output]}
    for name, t in inits.items():
        info[name] = (list(t.dims), t.data_type)
    params = sum(prod(t.dims) for t in inits.values())
    weight_bytes = sum(_tensor_bytes(list(t.dims), t.data_type) for t in inits.values())
    ops, unknown = [], []
    for i, node in enumerate(g.node):
        op = _op_cost(node, info, i)
        if op is None:
            unknown.append(node.name or f"{node.op_type}#{i}")
            op = OpCost(node.name or f"{node.op_type}#{i}", node.op_type, 0, 0, 0)
        ops.append(op)
    return GraphCost(params, weight_bytes, sum(o.macs for o in ops), _peak_activations(g, info, set(inits)),
                     tuple(ops), tuple(unknown), _subgraph_ops(g))


def _subgraph_ops(g) -> int:
    """Nodes inside the graph attributes (If branches, Loop/Scan bodies), recursively."""
    n = 0
    for node in g.node:
        for a in node.attribute:
            for sub in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                n += len(sub.node) + _subgraph_ops(sub)
    return n


def _fix_dims(value_info, batch: int, given: list[int] | None) -> None:
    dims = value_info.type.tensor_type.shape.dim
    for i, d in enumerate(dims):
        if given is not None and i < len(given):
            d.dim_value = given[i]
        elif not d.HasField("dim_value"):
            d.dim_value = batch if i == 0 else 1


def _shape_of(v) -> tuple[list[int] | None, int]:
    t = v.type.tensor_type
    if not t.HasField("shape") or any(not d.HasField("dim_value") for d in t.shape.dim):
        return None, t.elem_type
    return [d.dim_value for d in t.shape.dim], t.elem_type


def _tensor_bytes(dims, dtype: int) -> int:
    return prod(dims) * _BYTES.get(dtype, 4)


def _op_cost(node, info: dict, i: int) -> OpCost | None:
    """MACs, output elements and bytes of one node; None when a shape it needs is unknown."""
    ins = [info.get(n, (None, 0)) for n in node.input if n]
    outs = [info.get(n, (None, 0)) for n in node.output if n]
    if any(s is None for s, _ in ins + outs):
        return None
    out_shape = outs[0][0] if outs else []
    nbytes = sum(_tensor_bytes(s, t) for s, t in ins + outs)
    macs = _macs(node, [s for s, _ in ins], out_shape)
    return OpCost(node.name or f"{node.op_type}#{i}", node.op_type, macs, prod(out_shape) if outs else 0, nbytes)


def _macs(node, in_shapes: list[list[int]], out: list[int]) -> int:
    op = node.op_type
    if op in _CONV:
        w = in_shapes[3] if op == "QLinearConv" else in_shapes[1]  # (Cout, Cin/group, k...)
        return prod(out) * prod(w[1:])  # every output element: Cin/group × kernel MACs
    if op == "ConvTranspose":
        x, w = in_shapes[0], in_shapes[1]  # w: (Cin, Cout/group, k...)
        return prod(x) * prod(w[1:])  # every input element scatters into Cout/group × kernel outputs
    if op == "Gemm":
        a = in_shapes[0]
        trans_a = next((a_.i for a_ in node.attribute if a_.name == "transA"), 0)
        k = a[0] if trans_a else a[1]
        return prod(out) * k
    if op in _MATMUL:
        a = in_shapes[0]
        return prod(out) * a[-1]  # output (…, M, N), each a K-long dot product
    return 0


def _peak_activations(g, info: dict, weights: set) -> int:
    """Largest total of live non-weight tensors while the nodes run in graph order."""
    last_use: dict[str, int] = {}
    for i, node in enumerate(g.node):
        for n in node.input:
            last_use[n] = i
    outputs = {o.name for o in g.output}
    size = {n: _tensor_bytes(s, t) for n, (s, t) in info.items() if s is not None and n not in weights}
    live = {i.name for i in g.input if i.name not in weights}
    peak = sum(size.get(n, 0) for n in live)
    for i, node in enumerate(g.node):
        live |= {n for n in node.output if n}
        peak = max(peak, sum(size.get(n, 0) for n in live))
        live = {n for n in live if last_use.get(n, -1) > i or n in outputs}
    return peak
