"""Graph cost time vs number of graph outputs (issue 11 item 6: 20,000 outputs took 185 s).

Builds x → n Identity nodes, each a graph output (tests/hostile/hostile_models.many_outputs), and
times, in this process, side by side on the same graphs: the whole graph_cost (symbolic shape
inference included) and the peak-activation walk alone — the linear one now in bench/cost.py and the
previous quadratic one (kept below, verbatim, for the comparison only). Median of 3 of each.

    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/cost_scaling.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "hostile"))
import hostile_models as hm  # noqa: E402

from edgedistill.bench.cost import _info, _peak_activations, _tensor_bytes, graph_cost  # noqa: E402


def old_peak_activations(g, info: dict, weights: set) -> int:
    """The walk before issue 11: re-sums every live tensor at every node (quadratic in graph outputs)."""
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


def median_s(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    import onnx

    print(f"load average before: {os.getloadavg()}")
    print("| outputs | graph_cost (s) | peak walk, linear (s) | peak walk, previous (s) | previous / linear |")
    print("|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1_000, 2_000, 4_000, 8_000, 20_000):
            path = hm.many_outputs(Path(tmp) / f"wide{n}.onnx", n)
            total = median_s(lambda: graph_cost(path))
            g = onnx.load(str(path)).graph
            info = _info(g)
            assert _peak_activations(g, info, set()) == old_peak_activations(g, info, set())
            new = median_s(lambda: _peak_activations(g, info, set()))
            old = median_s(lambda: old_peak_activations(g, info, set()), 1 if n >= 8_000 else 3)
            print(f"| {n:,} | {total:.2f} | {new:.4f} | {old:.2f} | {old / new:,.0f}× |", flush=True)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
