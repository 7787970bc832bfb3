"""How well does the interleaved A/B tell a slower file from noise? A vs A, and A vs 2/4/16× the MatMuls.

Usage: .venv/bin/python benchmarks/ab_ratio.py [--repeats 5]
Builds the files with onnx.helper (tests/gate_models.py), times each pair with the shipped
host-cpu profile through edgedistill.bench.ab.run_ab, and prints the p50/p90 ratios with their 95% CIs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from gate_models import matmul_chain  # noqa: E402

from edgedistill.bench.ab import run_ab  # noqa: E402
from edgedistill.devices import load_profile  # noqa: E402


def main() -> None:
    """Print one line per (pair, repeat): p50 and p90 ratios new/old with their CIs."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    profile = load_profile("host-cpu")
    with tempfile.TemporaryDirectory() as tmp:
        files = {d: matmul_chain(Path(tmp) / f"d{d}.onnx", d) for d in (1, 2, 4, 16)}
        for depth in (1, 2, 4, 16):
            for i in range(args.repeats):
                r = run_ab(files[depth], files[1], profile)
                p50, p90 = r.ratios["p50"], r.ratios["p90"]
                print(f"depth {depth:2d} vs 1  run {i}: p50 {p50.ratio:.3f}× [{p50.low:.3f}, {p50.high:.3f}]  "
                      f"p90 {p90.ratio:.3f}× [{p90.low:.3f}, {p90.high:.3f}]  old p50 {r.old_ms['p50'] * 1e3:.1f} µs "
                      f"({r.blocks} blocks × {r.block_runs})", flush=True)


if __name__ == "__main__":
    main()
