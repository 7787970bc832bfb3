"""Which layers make an int8 file miss its tolerance, and keeping them in float until it passes.

The sensitivity pass quantizes one layer at a time (every other Conv/Gemm/MatMul excluded, so
only that layer's weights and its input activation are int8), runs each file on the test set and
ranks layers by how far their outputs move from the float student (mean cosine, lowest first).
`auto_exclude` then keeps layers in float, worst first, until the preset's tolerance is met, and
records every attempt — or reports that even excluding every ranked layer did not fix it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import onnx

from ..export import parity
from .onnx import preprocess, quantize_static_qdq

QUANTIZABLE = ("Conv", "ConvTranspose", "Gemm", "MatMul")
METHOD = ("one layer at a time: that layer's weights and input activation int8, every other "
          "Conv/Gemm/MatMul float; ranked by mean cosine with the float student on the test set")


def _row(result) -> dict:
    return {"mean_cosine": round(result.mean_cosine, 6), "top1_agreement": round(result.top1_agreement, 4),
            "accuracy_drop_pp": round(result.accuracy_drop, 3)}


def quantizable_nodes(src: Path) -> list[tuple[str, str]]:
    """(node name, op type) of the layers the static quantizer would make int8, in graph order."""
    with tempfile.TemporaryDirectory() as tmp:
        pre = onnx.load(str(preprocess(src, Path(tmp) / "pre.onnx")))
    return [(n.name, n.op_type) for n in pre.graph.node if n.op_type in QUANTIZABLE]


def layer_sensitivity(src: Path, s, q, tolerance=None) -> dict:
    """Rank the quantizable layers of `src` by the damage quantizing each alone does."""
    nodes = quantizable_nodes(src)
    names = [n for n, _ in nodes]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, op) in enumerate(nodes):
            path = Path(tmp) / f"only-{i}.onnx"
            quantize_static_qdq(src, path, s.x_cal, q, exclude=[n for n in names if n != name])
            result = s.compare(path)
            fails = bool(tolerance and parity.problems(result, tolerance))
            rows.append({"node": name, "op_type": op, **_row(result), "fails_alone": fails})
    rows.sort(key=lambda r: r["mean_cosine"])
    suggest = [r["node"] for r in rows if r["fails_alone"]] or [r["node"] for r in rows[:1]]
    return {"method": METHOD, "layers": rows, "suggested_nodes_to_exclude": suggest}


def auto_exclude(src: Path, dst: Path, s, preset, ranking: dict, meta: dict):
    """Keep ranked layers in float, worst first, until `preset.parity` holds; return (meta, result)."""
    q, excluded, attempts = preset.quantization, [], []
    result = None
    for row in ranking["layers"]:
        excluded.append(row["node"])
        meta = quantize_static_qdq(src, dst, s.x_cal, q, exclude=excluded)
        result = s.compare(dst)
        found = parity.problems(result, preset.parity)
        attempts.append({"nodes_to_exclude": list(excluded), **_row(result), "passed": not found})
        if not found:
            break
    fixed = bool(attempts) and attempts[-1]["passed"]
    meta["sensitivity"] = ranking
    meta["auto_exclude"] = {"fixed": fixed, "nodes_to_exclude": list(excluded), "attempts": attempts,
                            "note": "tolerance met" if fixed else
                            f"still beyond tolerance with all {len(excluded)} ranked layers in float"}
    return meta, result
