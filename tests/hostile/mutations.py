"""Mutated ONNX models for the hostile-input fuzz: seeded, one mutation kind per case, real files.

`mutate(kind, seed, folder)` writes one model and returns its path. The kinds cover what issue 11's
campaign threw at `bench`: corrupt bytes, cut files, absurd dims, wrong dtypes, swapped ops, huge or
negative attributes, rewired edges, tensors asked for from nothing (ConstantOfShape / Range / Expand),
control bytes in names, lying initializers, loops, odd opsets and thousands of outputs.
"""

from __future__ import annotations

import random
from pathlib import Path

import hostile_models as hm

KINDS = ("bitflip", "truncate", "dims", "dtype", "op_swap", "attr", "rewire", "const_huge", "names",
         "initializer", "loop", "opset", "outputs")
OPS = ("Relu", "MatMul", "Conv", "Reshape", "Expand", "Tile", "Gather", "Concat", "Slice", "Pad", "Resize",
       "TopK", "NonZero", "Unique", "Loop", "If", "Scan", "NoSuchOp", "ConstantOfShape", "Range", "Einsum")
ODD = (0, -1, -7, 1, 2, 3, 1024, 2**31 - 1, 2**31, 2**40, 2**62)


def base_models(folder: Path) -> list[Path]:
    """Valid seeds to mutate: an MLP, a CNN, a 2-input LM, an If model, a static Loop."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from test_bench_cost import save_cnn
    from test_bench_tasks import tiny_lm
    from test_bench_trust import _if_model, _loop_model
    from test_browser import tiny_mlp

    folder.mkdir(parents=True, exist_ok=True)
    return [tiny_mlp(folder / "mlp.onnx"), save_cnn(folder / "cnn.onnx"), tiny_lm(folder / "lm.onnx"),
            _if_model(folder / "if.onnx"), _loop_model(folder / "loop.onnx", 3)]


def mutate(kind: str, seed: int, bases: list[Path], folder: Path) -> Path:
    """One mutated model file of `kind` from a base chosen by `seed`."""
    import onnx

    rng = random.Random(seed)
    base = bases[seed % len(bases)]
    out = Path(folder) / f"{kind}-{seed}.onnx"
    raw = base.read_bytes()
    if kind == "bitflip":
        buf = bytearray(raw)
        for _ in range(rng.randint(1, 16)):
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        out.write_bytes(bytes(buf))
        return out
    if kind == "truncate":
        out.write_bytes(raw[:rng.randrange(1, len(raw))])
        return out
    model = onnx.load_from_string(raw)
    MUTATORS[kind](model, rng)
    out.write_bytes(model.SerializeToString())
    return out


def _graphs(g):
    yield g
    for node in g.node:
        for a in node.attribute:
            for sub in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                yield from _graphs(sub)


def _value_infos(model):
    return [v for g in _graphs(model.graph) for v in [*g.input, *g.output, *g.value_info]]


def _dims(model, rng):
    vis = [v for v in _value_infos(model) if v.type.tensor_type.shape.dim]
    for v in rng.sample(vis, min(len(vis), rng.randint(1, 3))):
        dims = v.type.tensor_type.shape.dim
        d = dims[rng.randrange(len(dims))]
        if rng.random() < 0.2:
            d.dim_param = rng.choice(["N", "", "x" * 300])
        else:
            d.dim_value = rng.choice(ODD)


def _dtype(model, rng):
    targets = [v.type.tensor_type for v in _value_infos(model) if v.type.HasField("tensor_type")]
    targets += list(model.graph.initializer)
    for t in rng.sample(targets, min(len(targets), rng.randint(1, 2))):
        if hasattr(t, "elem_type"):
            t.elem_type = rng.randrange(0, 24)
        else:
            t.data_type = rng.randrange(0, 24)


def _op_swap(model, rng):
    nodes = [n for g in _graphs(model.graph) for n in g.node]
    for n in rng.sample(nodes, min(len(nodes), rng.randint(1, 2))):
        n.op_type = rng.choice(OPS)


def _attr(model, rng):
    from onnx import helper

    nodes = [n for g in _graphs(model.graph) for n in g.node]
    node = rng.choice(nodes)
    ints = [a for a in node.attribute if a.type in (2, 7)]  # INT, INTS
    if ints and rng.random() < 0.7:
        a = rng.choice(ints)
        if a.type == 2:
            a.i = rng.choice(ODD) * rng.choice((1, -1))
        else:
            del a.ints[:]
            a.ints.extend(rng.choice(ODD) for _ in range(rng.randint(0, 6)))
    else:
        node.attribute.append(helper.make_attribute(rng.choice(["axis", "pads", "kernel_shape", "to", "group"]),
                                                    rng.choice([rng.choice(ODD), [rng.choice(ODD)] * 4])))


def _rewire(model, rng):
    g = model.graph
    names = [t for n in g.node for t in n.output] + [i.name for i in g.input] + ["", "missing", "x" * 64]
    node = rng.choice(list(g.node))
    if node.input:
        node.input[rng.randrange(len(node.input))] = rng.choice(names)  # may form a cycle or dangle
    if rng.random() < 0.3 and node.output:
        node.output[0] = rng.choice(names)  # a second producer of one tensor


def _const_huge(model, rng):
    from onnx import TensorProto, helper

    g = model.graph
    n = rng.choice((2**31, 6_250_000_000, 10**12, 2**40))
    op = rng.choice(("ConstantOfShape", "Range", "Expand", "Tile"))
    value = helper.make_tensor("v", TensorProto.INT64 if rng.random() < 0.5 else TensorProto.FLOAT, [1], [1])
    nodes = [hm.const("fz_n", [n], [1])]
    if op == "ConstantOfShape":
        nodes.append(helper.make_node("ConstantOfShape", ["fz_n"], ["fz_big"], value=value))
    elif op == "Range":
        nodes += [hm.const("fz_0", [0], []), hm.const("fz_1", [1], []), hm.const("fz_s", [n], []),
                  helper.make_node("Range", ["fz_0", "fz_s", "fz_1"], ["fz_big"])]
    else:
        nodes += [hm.const("fz_one", [1], [1]), helper.make_node(op, ["fz_one", "fz_n"], ["fz_big"])]
    nodes.append(helper.make_node("Shape", ["fz_big"], ["fz_shape"]))
    g.node.extend(nodes)
    g.output.append(helper.make_tensor_value_info("fz_shape", TensorProto.INT64, [1]))


def _names(model, rng):
    bad = rng.choice(["\x1b[31mRED\x1b[0m", "a\nFAKE LINE", "\x07\x00bell", "../../etc/passwd", "é" * 5000])
    nodes = list(model.graph.node)
    node = rng.choice(nodes)
    node.name = bad
    if node.output and rng.random() < 0.5:
        old = node.output[0]
        for n in model.graph.node:
            for i, t in enumerate(n.input):
                if t == old:
                    n.input[i] = bad
        for o in model.graph.output:
            if o.name == old:
                o.name = bad
        node.output[0] = bad


def _initializer(model, rng):
    inits = list(model.graph.initializer)
    if not inits:
        return _dims(model, rng)
    t = rng.choice(inits)
    choice = rng.randrange(3)
    if choice == 0:  # dims that promise more data than there is
        t.dims[0] = rng.choice(ODD)
    elif choice == 1:
        t.raw_data = t.raw_data[: rng.randrange(max(1, len(t.raw_data)))]
    else:  # external data pointing anywhere
        t.data_location = 1
        del t.external_data[:]
        e = t.external_data.add()
        e.key, e.value = "location", rng.choice(["/etc/passwd", "../../secret", "nope.bin", "x\x00y"])


def _loop(model, rng):
    """A Loop whose trip count is missing (endless), negative, zero, one or 10^12."""
    from onnx import TensorProto, helper

    count = rng.choice([None, -1, 0, 1, 10**12])
    vi = helper.make_tensor_value_info
    body = helper.make_graph([helper.make_node("Identity", ["c"], ["c_out"]),
                              helper.make_node("Identity", ["v"], ["v_out"])], "fz_body",
                             [vi("i", TensorProto.INT64, []), vi("c", TensorProto.BOOL, []),
                              vi("v", TensorProto.FLOAT, [1])],
                             [vi("c_out", TensorProto.BOOL, []), vi("v_out", TensorProto.FLOAT, [1])])
    nodes = [hm.const("fz_true", [True], [], TensorProto.BOOL), hm.const("fz_v", [1.0], [1], TensorProto.FLOAT)]
    if count is not None:
        nodes.append(hm.const("fz_m", [count], []))
    nodes.append(helper.make_node("Loop", ["fz_m" if count is not None else "", "fz_true", "fz_v"], ["fz_loop"],
                                  body=body))
    model.graph.node.extend(nodes)
    model.graph.output.append(vi("fz_loop", TensorProto.FLOAT, [1]))


def _opset(model, rng):
    model.opset_import[0].version = rng.choice([1, 6, 12, 24, 30, 1000, -1])
    if rng.random() < 0.3:
        model.ir_version = rng.choice([0, 1, 3, 99, 2**40])


def _outputs(model, rng):
    from onnx import helper

    g = model.graph
    choice = rng.randrange(3)
    if choice == 0 and len(g.output):
        g.output.append(g.output[0])  # a duplicate output
    elif choice == 1 and len(g.output):
        del g.output[:]  # none at all
    else:
        src = g.input[0].name
        n = rng.choice([1000, 5000])
        g.node.extend(helper.make_node("Identity", [src], [f"fz_o{i}"]) for i in range(n))
        g.output.extend(helper.make_tensor_value_info(f"fz_o{i}", g.input[0].type.tensor_type.elem_type, ["d"])
                        for i in range(n))


MUTATORS = {"dims": _dims, "dtype": _dtype, "op_swap": _op_swap, "attr": _attr, "rewire": _rewire,
            "const_huge": _const_huge, "names": _names, "initializer": _initializer, "loop": _loop,
            "opset": _opset, "outputs": _outputs}


def cases(n: int, seed: int = 0) -> list[tuple[str, int]]:
    """`n` (kind, seed) pairs spread evenly over the kinds."""
    return [(KINDS[i % len(KINDS)], seed * 100_003 + i) for i in range(n)]

