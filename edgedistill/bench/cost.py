"""Graph cost at the bench's concrete shapes: parameters, MACs per op, weight bytes, peak activations.

MACs are counted for the ops that dominate compute — Conv, ConvTranspose, Gemm, MatMul and their
integer / QLinear forms. Every other op counts 0 MACs; the roofline estimator charges it one FLOP
per output element instead (`elements`), and its bytes like any op. Shapes come from
bench/shapes.py (onnxruntime's symbolic shape inference, else ONNX's) after the dynamic input dims
are fixed the way the benchmark child feeds them (`--shape`, else batch for a leading dynamic dim,
else 1).

Control flow is counted once per execution: an If counts the heavier of its two branches (the
taken one when its condition is a constant: symbolic inference then copies it over the other), a
Loop its body × the trip count when that count is a constant, a Scan its body × the scanned length.
A Loop whose count is only known at run time, and every op whose shapes stay unknown, is
*uncounted*; when uncounted ops are more than UNCOUNTED_SHARE of all ops, or include a MAC op, the
latency estimate is withheld ("estimate unavailable (N ops uncounted)") rather than printed low.

Cost is linear in the graph (nodes, tensors, outputs) and bounded: at most MAX_NODES nodes are
costed, the rest counted as uncounted. It runs inside the analysis child (bench/analysis.py).
"""

from __future__ import annotations

from collections import ChainMap
from dataclasses import asdict, dataclass, field
from math import prod
from pathlib import Path

_CONV = {"Conv", "ConvInteger", "QLinearConv"}
_MATMUL = {"MatMul", "MatMulInteger", "QLinearMatMul"}
MAC_OPS = frozenset(_CONV | _MATMUL | {"Gemm", "ConvTranspose"})
# numpy-free dtype sizes (onnx.TensorProto enum → bytes); unknown types count 4
_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}
UNCOUNTED_SHARE = 0.10
MAX_NODES = 500_000  # nodes costed per file, subgraph bodies included
MAX_TRIPS = 10**7  # a static Loop count beyond this is not believed
NAMES_KEPT = 50  # unknown-shape op names listed in the JSON


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
    peak_activation_bytes: int  # largest sum of live intermediate tensors, walking the main graph in order
    ops: tuple[OpCost, ...] = field(repr=False)
    unknown_shape_ops: tuple[str, ...] = ()  # names (first NAMES_KEPT) of ops whose shapes stayed unknown
    subgraph_ops: int = 0  # nodes inside If/Loop/Scan bodies that could not be counted (dynamic trip count)
    uncounted_ops: int = 0  # unknown-shape ops + subgraph_ops + ops past MAX_NODES
    total_ops: int = 0  # every node, bodies included
    uncounted_mac_ops: int = 0  # of the uncounted, Conv/MatMul/Gemm-like ops
    shape_inference: str = ""  # "symbolic", or which fallback produced the shapes and why

    def heaviest(self, n: int = 5) -> list[OpCost]:
        """The `n` ops with the most MACs (then bytes)."""
        return sorted(self.ops, key=lambda o: (o.macs, o.bytes), reverse=True)[:n]

    @property
    def estimate_unavailable(self) -> str | None:
        """Why no latency estimate should be shown ("estimate unavailable (N ops uncounted)"), else None."""
        if self.uncounted_ops and (self.uncounted_mac_ops or self.uncounted_ops > UNCOUNTED_SHARE * self.total_ops):
            return f"estimate unavailable ({self.uncounted_ops} ops uncounted)"
        return None

    def to_json(self, top: int = 5) -> dict:
        """Totals, the heaviest ops, the op-type histogram of MACs, and what went uncounted."""
        by_type: dict[str, int] = {}
        for o in self.ops:
            by_type[o.op_type] = by_type.get(o.op_type, 0) + o.macs
        return {"params": self.params, "weight_bytes": self.weight_bytes, "macs": self.macs,
                "peak_activation_bytes": self.peak_activation_bytes, "ops": self.total_ops or len(self.ops),
                "macs_by_op_type": {k: v for k, v in sorted(by_type.items(), key=lambda kv: -kv[1]) if v},
                "heaviest_ops": [asdict(o) for o in self.heaviest(top)],
                "unknown_shape_ops": list(self.unknown_shape_ops), "subgraph_ops_not_counted": self.subgraph_ops,
                "uncounted_ops": self.uncounted_ops, "shape_inference": self.shape_inference,
                "estimate": self.estimate_unavailable or "available",
                "macs_counted_for": sorted(MAC_OPS)}

    def to_wire(self) -> dict:
        """Everything, ops as compact rows: how the analysis child hands a cost to the parent."""
        d = {k: v for k, v in asdict(self).items() if k != "ops"}
        d["ops"] = [[o.name, o.op_type, o.macs, o.elements, o.bytes] for o in self.ops]
        return d

    @classmethod
    def from_wire(cls, d: dict) -> "GraphCost":
        """Inverse of to_wire."""
        ops = tuple(OpCost(str(n), str(t), int(m), int(e), int(b)) for n, t, m, e, b in d["ops"])
        return cls(**{**d, "ops": ops, "unknown_shape_ops": tuple(d["unknown_shape_ops"])})


def graph_cost(path: Path, batch: int = 1, shapes: dict | None = None) -> GraphCost:
    """Cost of one forward pass of the ONNX file at `batch` (dynamic dims fixed like the benchmark child).

    Reads the whole graph: call it in a child process for files you did not make (bench/analysis.py)."""
    import onnx

    return model_cost(onnx.load(str(path), load_external_data=False), batch, shapes)


def model_cost(model, batch: int = 1, shapes: dict | None = None, budget_s: float | None = None,
               rows: dict | None = None) -> GraphCost:
    """graph_cost on a loaded ModelProto (modified in place: its input dims are fixed, `rows`: the eval set's
    row dims, fix_input_dims); `budget_s` bounds symbolic shape inference (bench/shapes.py) before ONNX's
    inference takes over."""
    from .shapes import SYMBOLIC_BUDGET_S, fix_input_dims, infer

    inits = {i.name: i for i in model.graph.initializer}
    fix_input_dims(model, batch, shapes, rows)
    model, how = infer(model, budget_s or SYMBOLIC_BUDGET_S)
    g = model.graph
    info = _info(g)
    params = sum(prod(t.dims) for t in inits.values())
    weight_bytes = sum(_tensor_bytes(list(t.dims), t.data_type) for t in inits.values())
    tally = _Tally()
    _count(g, ChainMap(info), 1, tally)
    ops = tuple(tally.ops)
    return GraphCost(params, weight_bytes, sum(o.macs for o in ops), _peak_activations(g, info, set(inits)), ops,
                     tuple(tally.unknown[:NAMES_KEPT]), tally.body_uncounted, tally.uncounted, tally.total,
                     tally.uncounted_macs, how)


class _Tally:
    """What the walk over the graph and its bodies has counted so far."""

    def __init__(self):
        self.ops: list[OpCost] = []
        self.unknown: list[str] = []
        self.total = self.uncounted = self.uncounted_macs = self.body_uncounted = 0

    def skip(self, node, body: bool = False) -> None:
        self.uncounted += 1
        self.uncounted_macs += node.op_type in MAC_OPS
        self.body_uncounted += body


def _info(g) -> dict:
    """tensor name → (dims or None, elem type) from a graph's inputs, value_info, outputs and initializers."""
    info = {v.name: _shape_of(v) for v in [*g.input, *g.value_info, *g.output]}
    for t in g.initializer:
        info[t.name] = (list(t.dims), t.data_type)
    return info


def _count(g, info: ChainMap, scale: int, tally: _Tally) -> None:
    """Add every node of `g` (× `scale` executions) to `tally`, descending into control-flow bodies."""
    consts = _int_constants(g)
    for i, node in enumerate(g.node):
        tally.total += 1
        bodies = [(a.name, a.g) for a in node.attribute if a.HasField("g")]
        bodies += [(a.name, s) for a in node.attribute for s in a.graphs]
        if bodies:
            _count_bodies(node, bodies, info, consts, scale, tally)
        if len(tally.ops) >= MAX_NODES:
            tally.skip(node)
            continue
        op = _op_cost(node, info, i)
        if op is None:
            tally.skip(node)
            tally.unknown.append(node.name or f"{node.op_type}#{i}")
            continue
        if scale != 1:
            op = OpCost(op.name, op.op_type, op.macs * scale, op.elements * scale, op.bytes * scale)
        tally.ops.append(op)


def _count_bodies(node, bodies, info: ChainMap, consts: dict, scale: int, tally: _Tally) -> None:
    """If: the heavier branch, once; Loop: body × static trip count; Scan: body × scanned length."""
    if node.op_type == "If":
        branches = []
        for _, body in bodies:
            t = _Tally()
            _count(body, info.new_child(_info(body)), scale, t)
            branches.append(t)
        heavier = max(branches, key=lambda t: (sum(o.macs for o in t.ops), sum(o.bytes for o in t.ops)))
        _merge(tally, heavier)
        tally.total += sum(b.total for b in branches if b is not heavier)  # the other branch never runs
        return
    trips = _trips(node, info, consts)
    for _, body in bodies:
        if trips is None:
            for n in _all_nodes(body):
                tally.total += 1
                tally.skip(n, body=True)
            continue
        _count(body, info.new_child(_info(body)), scale * trips, tally)


def _merge(into: _Tally, t: _Tally) -> None:
    into.ops += t.ops
    into.unknown += t.unknown
    into.total += t.total
    into.uncounted += t.uncounted
    into.uncounted_macs += t.uncounted_macs
    into.body_uncounted += t.body_uncounted


def _trips(node, info, consts: dict) -> int | None:
    """Executions of a Loop/Scan body when known before running, else None."""
    if node.op_type == "Loop":
        m = consts.get(node.input[0]) if node.input and node.input[0] else None
        return m if m is not None and 0 <= m <= MAX_TRIPS else None
    if node.op_type == "Scan":
        n_scan = next((a.i for a in node.attribute if a.name == "num_scan_inputs"), 0)
        if n_scan <= 0:
            return None
        dims = info.get(node.input[len(node.input) - n_scan], (None, 0))[0]
        return dims[0] if dims and 0 <= dims[0] <= MAX_TRIPS else None  # default scan axis 0
    return None


def _int_constants(g) -> dict[str, int]:
    """Scalar integer constants of a graph (initializers and Constant nodes): Loop trip counts."""
    from onnx import numpy_helper

    out = {}
    tensors = [(t.name, t) for t in g.initializer if prod(t.dims) == 1 and t.data_type in (6, 7)]
    tensors += [(n.output[0], a.t) for n in g.node if n.op_type == "Constant" and n.output
                for a in n.attribute if a.name == "value" and prod(a.t.dims) == 1 and a.t.data_type in (6, 7)]
    for name, t in tensors:
        try:
            out[name] = int(numpy_helper.to_array(t).reshape(-1)[0])
        except Exception:  # external or malformed data: not a known count
            continue
    return out


def _all_nodes(g):
    for node in g.node:
        yield node
        for a in node.attribute:
            for sub in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                yield from _all_nodes(sub)


def _shape_of(v) -> tuple[list[int] | None, int]:
    if not v.type.HasField("tensor_type"):
        return None, 0
    t = v.type.tensor_type
    if not t.HasField("shape") or any(not d.HasField("dim_value") or d.dim_value < 0 for d in t.shape.dim):
        return None, t.elem_type
    return [d.dim_value for d in t.shape.dim], t.elem_type


def _tensor_bytes(dims, dtype: int) -> int:
    return prod(dims) * _BYTES.get(dtype, 4)


def _op_cost(node, info, i: int) -> OpCost | None:
    """MACs, output elements and bytes of one node; None when a shape it needs is unknown."""
    ins = [info.get(n, (None, 0)) for n in node.input if n]
    outs = [info.get(n, (None, 0)) for n in node.output if n]
    if any(s is None for s, _ in ins + outs):
        return None
    out_shape = outs[0][0] if outs else []
    nbytes = sum(_tensor_bytes(s, t) for s, t in ins + outs)
    try:
        macs = _macs(node, [s for s, _ in ins], out_shape)
    except (IndexError, TypeError):  # an op with fewer inputs or lower rank than its type allows
        return None
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
    if node.domain == "com.microsoft" and op in ("Attention", "MultiHeadAttention"):
        return _attention_macs(op, in_shapes, out)
    return 0


def _attention_macs(op: str, in_shapes: list[list[int]], out: list[int]) -> int:
    """onnxruntime's fused attention (export/fusion.py makes it): the MACs of the MatMuls it replaced.
    Attention: x (B, S, Hin) @ packed QKV weights (Hin, Hq + Hk + Hv), then per head QKᵀ and softmax·V,
    summed over heads S·S·Hq and S·S·Hv. MultiHeadAttention: Q (B, S, Hq), K (B, L, Hq) already projected."""
    b, s, hv = out[0], out[1], out[-1]
    if op == "Attention":
        x, w = in_shapes[0], in_shapes[1]
        hq = (w[-1] - hv) // 2
        return b * s * x[-1] * w[-1] + b * s * s * hq + b * s * s * hv
    q, k = in_shapes[0], in_shapes[1]
    length = k[1] if len(k) == 3 else s
    return b * s * length * q[-1] + b * s * length * hv


def _peak_activations(g, info: dict, weights: set) -> int:
    """Largest total of live non-weight tensors while the main graph's nodes run in order.

    Linear in nodes + tensors: each tensor is added once when produced and subtracted once after
    its last reader (graph outputs stay live to the end), with a running sum — never a re-sum of
    everything live at each node (20,000 graph outputs made that quadratic)."""
    last_use: dict[str, int] = {}
    for i, node in enumerate(g.node):
        for n in node.input:
            last_use[n] = i
    keep = {o.name for o in g.output}
    dies: dict[int, list[str]] = {}

    def size(n: str) -> int:
        s, t = info.get(n, (None, 0))
        return _tensor_bytes(s, t) if s is not None and n not in weights else 0

    live = 0
    for inp in g.input:
        if inp.name not in weights:
            live += size(inp.name)
            if inp.name not in keep:
                dies.setdefault(last_use.get(inp.name, 0), []).append(inp.name)
    peak = live
    for i, node in enumerate(g.node):
        for n in node.output:
            if n:
                live += size(n)
                if n not in keep:
                    dies.setdefault(max(last_use.get(n, i), i), []).append(n)
        peak = max(peak, live)
        live -= sum(size(n) for n in dies.pop(i, ()))
    return peak
