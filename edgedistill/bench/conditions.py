"""The machine's conditions while a figure was measured: load average and CPU steal time.

A latency measured on a shared CI runner depends on what else runs there; every bench records
the 1/5/15-minute load average (os.getloadavg) and, from /proc/stat deltas over the measurement,
the share of CPU time stolen by the hypervisor (`steal`: a noisy neighbour on the same host) and
the share the machine was busy at all. Elsewhere than Linux only the load average is known.
"""

from __future__ import annotations

import os

_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def cpu_times() -> tuple[int, ...] | None:
    """The aggregate `cpu` line of /proc/stat (jiffies: user … steal), None where there is none."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            parts = fh.readline().split()
    except OSError:
        return None
    if not parts or parts[0] != "cpu" or len(parts) < 1 + len(_FIELDS):
        return None
    return tuple(int(v) for v in parts[1:1 + len(_FIELDS)])


def snapshot() -> dict:
    """What to diff against at the end of a measurement."""
    return {"cpu": cpu_times()}


def since(start: dict) -> dict:
    """{"load_average": [1, 5, 15 min], "steal_pct", "busy_pct"} over the time since `start` (snapshot())."""
    out: dict = {}
    try:
        out["load_average"] = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        pass
    end, begin = cpu_times(), start.get("cpu")
    if end and begin:
        delta = [b - a for a, b in zip(begin, end)]
        total = sum(delta)
        if total > 0:
            fields = dict(zip(_FIELDS, delta))
            out["steal_pct"] = round(100 * fields["steal"] / total, 2)
            out["busy_pct"] = round(100 * (total - fields["idle"] - fields["iowait"]) / total, 2)
    return out


def describe(c: dict) -> str:
    """"load 1.20 0.90 0.70, steal 0.0%, busy 45%" for tables."""
    parts = []
    if "load_average" in c:
        parts.append("load " + " ".join(f"{v:.2f}" for v in c["load_average"]))
    if "steal_pct" in c:
        parts.append(f"steal {c['steal_pct']:.1f}%")
    if "busy_pct" in c:
        parts.append(f"busy {c['busy_pct']:.0f}%")
    return ", ".join(parts)
