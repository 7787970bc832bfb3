"""Roofline latency estimate: per op max(FLOPs / peak compute, bytes / memory bandwidth), summed.

FLOPs are 2 × MACs for the MAC-counted ops and one per output element for every other op.
This is a lower bound on latency: it assumes every op runs at the cores' published fp32 peak,
with no dispatch overhead, no cache misses beyond one pass over each tensor, and perfect
threading; int8 ops are charged at the fp32 peak. Its error against a measurement on the same
host is recorded in benchmarks/RESULTS.md.
"""

from __future__ import annotations

from ..results import Figure, Measurement
from .cost import GraphCost


def op_seconds(macs: int, elements: int, nbytes: int, gflops: float, bandwidth_gbs: float) -> float:
    """Roofline time of one op: compute-bound or memory-bound, whichever is slower."""
    flops = 2 * macs if macs else elements
    return max(flops / (gflops * 1e9), nbytes / (bandwidth_gbs * 1e9))


def estimate_ms(cost: GraphCost, gflops: float, bandwidth_gbs: float) -> float:
    """Estimated latency of one forward pass in milliseconds (sum of the ops' roofline times)."""
    return 1e3 * sum(op_seconds(o.macs, o.elements, o.bytes, gflops, bandwidth_gbs) for o in cost.ops)


def estimated(artifact: str, cost: GraphCost, profile) -> list[Measurement]:
    """`estimated_ms` (how="estimated") for a profile with published peaks; nothing without them."""
    if profile.peak is None:
        return []
    ms = estimate_ms(cost, profile.peak.gflops, profile.peak.bandwidth_gbs)
    return [Measurement(artifact, profile.name, "estimated_ms", Figure(ms, "ms", "estimated"))]
