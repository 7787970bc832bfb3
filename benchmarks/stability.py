"""How stable are bench figures on this shared machine? CV vs IQR, and --repeat sessions (issue 13 items 4, 5).

Benches a µs-scale model (the tests' 40→64→10 MLP) and a larger one (a 3×64×64 CNN, 16 conv
channels) on host-cpu with `--repeat 5` through the real bench (bench_run): per session p50, the
latency CV (std/mean), IQR/median and MAD/median of the runs, the spread of the 5 sessions' p50, the
status, and the machine's load average, steal and busy time over each pair.

    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/stability.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def cnn(path: Path) -> Path:
    """x (1, 3, 64, 64) → Conv 16×3×3×3 → Relu → Conv 16×16×3×3 → ReduceMean: ~0.1 ms per run here."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((16, 3, 3, 3)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((16, 16, 3, 3)).astype(np.float32), "w2")
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c1"], ["r"]),
             helper.make_node("Conv", ["r", "w2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("ReduceMean", ["c2"], ["y"], keepdims=0)]
    vi = helper.make_tensor_value_info
    g = helper.make_graph(nodes, "cnn", [vi("x", TensorProto.FLOAT, [1, 3, 64, 64])], [vi("y", TensorProto.FLOAT, [])],
                          [w1, w2])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def main() -> None:
    from test_browser import tiny_mlp

    from edgedistill.progress import Reporter
    from edgedistill.standalone import bench_run

    with tempfile.TemporaryDirectory() as tmp:
        models = [tiny_mlp(Path(tmp) / "mlp.onnx"), cnn(Path(tmp) / "cnn.onnx")]
        run = bench_run(models, ["host-cpu"], reporter=Reporter(quiet=True), repeat=5)
    doc = run.to_json()
    print("| model | sessions' p50 | median p50 | session spread | IQR/median | MAD/median | CV | status "
          "| conditions |")
    print("|---|---|---:|---:|---:|---:|---:|---|---|")
    for s in doc["statuses"]:
        f = {m["metric"]: m["value"] for m in doc["measurements"] if m["artifact"] == s["artifact"]
             and m["device"] == s["device"]}
        d = s["details"]
        p50s = ", ".join(f"{v * 1000:.1f}" if v < 1 else f"{v:.2f}" for v in d["session_p50_ms"])
        unit = "µs" if f["p50_ms"] < 1 else "ms"
        print(f"| {s['artifact']} | {p50s} {unit} | {f['p50_ms'] * (1000 if unit == 'µs' else 1):.2f} {unit} | "
              f"{f['session_spread']:.1f}% | {f['latency_iqr']:.1f}% | {f['latency_mad']:.1f}% | "
              f"{f['latency_cv']:.1f}% | {s['status']} | {json.dumps(d['conditions'])} |")
    print(f"whole bench: {json.dumps(doc['environment']['conditions'])}")


if __name__ == "__main__":
    main()
