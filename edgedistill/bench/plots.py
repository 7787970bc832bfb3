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
    profiles = getattr(run, "profiles", None) or {}
    for name, draw in ((LATENCY_PNG, _latency), (PARETO_PNG, lambda ms: _pareto(ms, profiles))):
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


FAMILY = {"onnxruntime": "native onnxruntime (CPU)", "onnxruntime-web": "browser (onnxruntime-web)",
          "coreml": "Core ML"}


def _pareto(measurements, profiles: dict | None = None):
    """Accuracy vs measured p50, one panel per device family (native, browser, Core ML): colour = file,
    marker = device, dashed = that device's Pareto front. No text on the points: with seven devices the
    same file sits at nearly one accuracy on each, and labels piled up; both legends sit outside."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, NullFormatter

    fig_ix = index(measurements)
    pts = [(fig_ix[(a, d, "p50_ms")].value, f.value, a, d) for (a, d, metric), f in fig_ix.items()
           if metric == "accuracy" and (a, d, "p50_ms") in fig_ix]
    if not pts:
        return None
    runtime = {d: (profiles or {}).get(d, {}).get("runtime", d) for d in {p[3] for p in pts}}
    families = sorted(set(runtime.values()), key=lambda r: (list(FAMILY).index(r) if r in FAMILY else 9, r))
    artifacts = sorted({p[2] for p in pts}, key=lambda n: (not n.startswith("teacher"), n))
    devices = sorted(runtime, key=lambda d: (families.index(runtime[d]), d))
    colors, markers, dashes = plt.get_cmap("tab10"), "osD^v<>p*h", ["--", ":", "-.", (0, (5, 1))]
    fig, axes = plt.subplots(1, len(families), figsize=(4.2 * len(families) + 2.4, 4.2), squeeze=False,
                             sharey=True)
    for ax, family in zip(axes[0], families):
        mine = [d for d in devices if runtime[d] == family]
        for k, d in enumerate(mine):
            here = [p for p in pts if p[3] == d]
            ax.scatter([p[0] for p in here], [p[1] for p in here], s=36, marker=markers[devices.index(d) % 10],
                       c=[colors(artifacts.index(p[2]) % 10) for p in here], edgecolors="black", linewidths=0.4)
            front = pareto_front([(p[0], p[1]) for p in here])
            ax.plot(*zip(*front), linestyle=dashes[k % len(dashes)], color="0.45", linewidth=0.9)
        ax.set_xscale("log")
        xs = [p[0] for p in pts if p[3] in mine]
        plain = FuncFormatter(lambda v, _: f"{v:.2g}")  # 0.1, 1, 10: no 10^-1 labels
        ax.xaxis.set_major_formatter(plain)
        # minor labels collide across several decades, but are the only labels within one
        ax.xaxis.set_minor_formatter(plain if max(xs) < 8 * min(xs) else NullFormatter())
        ax.set_title(FAMILY.get(family, family), fontsize=9)
        ax.set_xlabel("p50 latency, ms (log)")
        ax.grid(alpha=0.3, which="both", linewidth=0.4)
    axes[0][0].set_ylabel("accuracy through the runtime, %")
    files = [Line2D([], [], linestyle="", marker="s", color=colors(i % 10), label=a) for i, a in enumerate(artifacts)]
    places = [Line2D([], [], linestyle=dashes[[x for x in devices if runtime[x] == runtime[d]].index(d) % 4],
                     marker=markers[i % 10], color="0.3", markerfacecolor="white", label=d)
              for i, d in enumerate(devices)]
    first = fig.legend(handles=files, title="file (colour)", fontsize=7, title_fontsize=8, loc="upper left",
                       bbox_to_anchor=(1.0, 0.95))
    fig.add_artist(first)
    fig.legend(handles=places, title="device (marker; dashed: its Pareto front)", fontsize=7, title_fontsize=8,
               loc="lower left", bbox_to_anchor=(1.0, 0.05))
    fig.suptitle("Accuracy vs measured latency, one panel per device family", fontsize=10)
    fig.tight_layout()
    return fig


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points not beaten by another that is both faster (lower x) and at least as accurate (higher y), by x."""
    front, best = [], float("-inf")
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if y > best:
            front.append((x, y))
            best = y
    return front
