"""Native vs in-browser: the same ONNX files on onnxruntime native and on onnxruntime-web in headless
Chromium, in one run, with p50 ratios side by side (published in-browser slowdown on CPU averages
~17×, arXiv:2402.05981). Profiles: host-cpu (all cores), host-cpu with 1 thread (the fair baseline
for a 1-thread wasm page), browser-wasm, browser-wasm-threads, browser-mobile-throttled.

    .venv/bin/python benchmarks/browser_vs_native.py [MODEL.onnx …] [--json]

Without files it exports three CNN1d nets with random weights (latency does not depend on the
weights): the default recipe's student and teacher architectures, and a wider one that takes
milliseconds, so both overhead-bound and compute-bound sizes are covered.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from edgedistill.bench.stage import RUNNERS
from edgedistill.devices import load_profile
from edgedistill.hostinfo import cpu, versions

# name → (channels, input length): recipe student, recipe teacher, a wide net (~ms per run)
NETS = {"student": ([6, 12, 24], 40), "teacher": ([32, 64, 128, 128], 40), "wide": ([64, 128, 256, 256], 512)}
PROFILES = ("host-cpu", "host-cpu-1t", "browser-wasm", "browser-wasm-threads", "browser-mobile-throttled")
SHOW = ("p50_ms", "mean_ms", "latency_cv", "threads", "session_create_ms", "timer_resolution_ms", "runs_per_sample")


def export_nets(folder: Path) -> list[Path]:
    """The NETS as single-file fp32 ONNX (opset 18, dynamic batch), random weights, seed 0."""
    import torch

    from edgedistill.export.onnx import export_onnx
    from edgedistill.models.cnn1d import CNN1d
    from edgedistill.tasks import Signature, TensorSpec

    torch.manual_seed(0)
    out = []
    for name, (channels, length) in NETS.items():
        path = folder / f"{name}.onnx"
        sig = Signature("classify", (TensorSpec("input", "float32", ("batch", length), (length,)),),
                        (TensorSpec("logits", "float32", ("batch", 10)),))
        export_onnx(CNN1d(length, 10, channels), sig, path, opset=18)
        out.append(path)
    return out


def one_thread_host():
    """host-cpu with intra_op_num_threads = 1: the fair native baseline for a 1-thread wasm page."""
    return load_profile("host-cpu").model_copy(update={"name": "host-cpu-1t", "threads": 1})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", type=Path)
    ap.add_argument("--json", action="store_true", help="print every figure as JSON")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        models = args.models or export_nets(tmp)
        profiles = [one_thread_host() if p == "host-cpu-1t" else load_profile(p) for p in PROFILES]
        start, res = time.time(), {}
        for model in models:
            for p in profiles:
                figs = {m.metric: m.figure.value for m in RUNNERS.get(p.runtime)(model.name, model, p)}
                res[(model.name, p.name)] = figs
                print(f"{model.name} on {p.name}: p50 {figs['p50_ms'] * 1000:.1f} µs", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps({f"{a} {d}": f for (a, d), f in res.items()}, indent=2))
        return 0
    env = versions("onnxruntime", "playwright")
    print(f"{time.time() - start:.0f} s on {cpu()['model']} ({cpu()['logical_cores']} logical cores); {env}\n")
    print("| model | " + " | ".join(f"{p.name} p50" for p in profiles) + " | wasm ÷ native-1t (p50) |"
          " threads ÷ native (p50) | throttled ÷ wasm (mean) |")
    print("|---|" + "---:|" * (len(profiles) + 3))
    for model in models:
        f = {p.name: res[(model.name, p.name)] for p in profiles}
        cells = [f"{f[p.name]['p50_ms'] * 1000:.1f} µs" for p in profiles]
        print(f"| {model.name} | " + " | ".join(cells) +
              f" | {f['browser-wasm']['p50_ms'] / f['host-cpu-1t']['p50_ms']:.2f}× | "
              f"{f['browser-wasm-threads']['p50_ms'] / f['host-cpu']['p50_ms']:.2f}× | "
              f"{f['browser-mobile-throttled']['mean_ms'] / f['browser-wasm']['mean_ms']:.2f}× |")
    print("\n| model | profile | " + " | ".join(SHOW) + " |\n|---|---|" + "---:|" * len(SHOW))
    for (model, dev), f in res.items():
        print(f"| {model} | {dev} | " + " | ".join(f"{f[k]:.4g}" if k in f else "—" for k in SHOW) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
