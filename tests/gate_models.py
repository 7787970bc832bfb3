"""Tiny real ONNX files for the gate's tests, built with onnx.helper (no torch, no download)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def matmul_chain(path: Path, depth: int = 1, width: int = 256, extra_bytes: int = 0) -> Path:
    """x (N, width) → `depth` chained MatMul+Tanh → logits (N, 10). `extra_bytes` of unused-free padding weights.

    depth 1 vs depth 16: the same interface, ~16× the arithmetic, so clearly slower at any machine load.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(depth)
    nodes, inits, cur = [], [], "x"
    for i in range(depth):
        w = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        nodes += [helper.make_node("MatMul", [cur, f"w{i}"], [f"m{i}"]), helper.make_node("Tanh", [f"m{i}"], [f"t{i}"])]
        cur = f"t{i}"
    head = rng.standard_normal((width, 10)).astype(np.float32)
    if extra_bytes:  # a bigger file with the same outputs: random (incompressible) bias added as zero-weighted
        pad = rng.standard_normal(extra_bytes // 4).astype(np.float32)
        inits.append(numpy_helper.from_array(pad, "pad"))
    inits.append(numpy_helper.from_array(head, "head"))
    nodes.append(helper.make_node("MatMul", [cur, "head"], ["logits"]))
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", width])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="edgedistill-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return Path(path)


def fast_profile(folder: Path, runs: int = 40, name: str = "host-cpu") -> Path:
    """A user device profile FOLDER/NAME.toml with few runs, so tests stay fast (same name as the shipped one)."""
    path = Path(folder) / f"{name}.toml"
    path.write_text(f'name = "{name}"\ndescription = "test profile: few runs"\nruntime = "onnxruntime"\n'
                    f'how = "measured"\nthreads = 1\n[latency]\nwarmup = 3\nruns = {runs}\nmin_seconds = 0\n'
                    f'[throughput]\nbatch = 8\nruns = 3\n', encoding="utf-8")
    return path
