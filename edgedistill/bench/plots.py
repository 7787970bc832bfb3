"""PNG plots of a benchmark: latency per device (grouped bars) and the accuracy-vs-latency Pareto front.

Matplotlib with the Agg backend (no display). Estimated bars are hatched and lighter, with
"(estimated)" in the legend, so an estimate is never mistaken for a measurement.
"""

from __future__ import annotations

import io
from pathlib import Path

from ..artifacts import atomic_write_bytes
from ..results import index

LATENCY_PNG, PARETO_PNG = "latency.png", "pareto.png"


def write_plots(run, folder: Path) -> list[Path]:
    """Write latency.png (and pareto.png when accuracy was measured) into `folder`; return the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in ((LATENCY_PNG, _latency), (PARETO_PNG, _pareto)):
        fig = draw(run.measurements)
        if fig is not None:
            written.append(_save(fig, folder / name))
    return written


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _latency(measurements):
    """Grouped bars: one group per device, one bar per artifact: measured/browser p50, estimated_ms hatched."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig_ix = index(measurements)
    bars = [(d, a, metric) for (a, d, metric) in fig_ix if d is not None and metric in ("p50_ms", "estimated_ms")]
    if not bars:
        return None
    devices = sorted({d for d, _, _ in bars})
    artifacts = sorted({a for _, a, _ in bars}, key=lambda n: (not n.startswith("teacher"), n))
    series = [(a, m) for a in artifacts for m in ("p50_ms", "estimated_ms") if any(b[1:] == (a, m) for b in bars)]
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(devices) * max(1, len(series) / 3)), 4))
    colors = plt.get_cmap("tab10")
    for i, (a, metric) in enumerate(series):
        est = metric == "estimated_ms"
        xs, ys = zip(*[(j + (i - (len(series) - 1) / 2) * width, fig_ix[(a, d, metric)].value)
                       for j, d in enumerate(devices) if (a, d, metric) in fig_ix])
        ax.bar(xs, ys, width, color=colors(artifacts.index(a) % 10), alpha=0.45 if est else 1.0,
               hatch="//" if est else None, edgecolor="black" if est else None,
               label=f"{a} ({'estimated, roofline' if est else 'p50, measured'})")
    ax.set_xticks(range(len(devices)), devices)
    ax.set_yscale("log")
    ax.set_ylabel("latency per inference, ms (log)")
    ax.set_title("Latency at batch 1 per device — hatched bars are roofline estimates, not measurements")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def _pareto(measurements):
    """Accuracy vs measured p50 of every artifact on every device with both; the Pareto front joined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig_ix = index(measurements)
    pts = [(fig_ix[(a, d, "p50_ms")].value, f.value, a, d) for (a, d, metric), f in fig_ix.items()
           if metric == "accuracy" and (a, d, "p50_ms") in fig_ix]
    if not pts:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4))
    devices = sorted({p[3] for p in pts})
    markers = "osD^v<>p*h"
    for k, d in enumerate(devices):
        mine = [p for p in pts if p[3] == d]
        ax.scatter([p[0] for p in mine], [p[1] for p in mine], marker=markers[k % len(markers)], label=d)
        for x, y, a, _ in mine:
            ax.annotate(a.replace(".onnx", ""), (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
        front = pareto_front([(p[0], p[1]) for p in mine])
        ax.plot(*zip(*front), linestyle="--", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("p50 latency, ms (measured, log)")
    ax.set_ylabel("accuracy through the runtime, %")
    ax.set_title("Accuracy vs latency (dashed: Pareto front per device)")
    ax.legend(fontsize=7)
    return fig


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points not beaten by another that is both faster (lower x) and at least as accurate (higher y), by x."""
    front, best = [], float("-inf")
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if y > best:
            front.append((x, y))
            best = y
    return front
