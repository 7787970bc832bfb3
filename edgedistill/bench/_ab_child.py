"""Child process: two ONNX files in ONE process, timed alternately in blocks (interleaved A/B).

Run by ab.py as `python -m edgedistill.bench._ab_child` with a JSON spec on stdin; prints one JSON
object on stdout. It dies with the parent and caps its memory first (bench/sandbox.py).
Both sessions live side by side, so drift in the machine's load (other jobs, thermal state,
frequency scaling) hits A and B alike; the block order alternates AB, BA, AB … so neither side
always runs first after the other. Imports no torch.
"""

from __future__ import annotations

import json
import sys
import time

from ._child import _timed, input_specs
from .feeds import feed
from .sandbox import enter, first_line


def _session(path: str, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def measure(spec: dict) -> dict:
    """Per-block run times (ns) of A (old) and B (new): lists of `blocks` lists of `block_runs` each."""
    sa, sb = _session(spec["a"], spec["threads"]), _session(spec["b"], spec["threads"])
    shapes, batch = spec.get("shapes", {}), spec["batch"]
    fa, fb = feed(input_specs(sa), batch, shapes), feed(input_specs(sb), batch, shapes)
    for sess, feeds in ((sa, fa), (sb, fb)):
        _timed(sess, feeds, spec["warmup"])  # discarded: caches, arenas, thread-pool spin-up
    a_ns, b_ns, start = [], [], time.perf_counter()
    k = spec["block_runs"]
    while len(a_ns) < spec["min_blocks"] or (time.perf_counter() - start < spec["min_seconds"]
                                             and len(a_ns) < spec["max_blocks"]):
        if len(a_ns) % 2 == 0:
            a_ns.append(_timed(sa, fa, k))
            b_ns.append(_timed(sb, fb, k))
        else:
            b_ns.append(_timed(sb, fb, k))
            a_ns.append(_timed(sa, fa, k))
    return {"a_ns": a_ns, "b_ns": b_ns}


if __name__ == "__main__":
    spec = enter()
    try:
        print(json.dumps(measure(spec)))
    except Exception as exc:  # the parent turns this into a one-line error naming the files
        print(json.dumps({"error": first_line(exc)}))
        sys.exit(3)
