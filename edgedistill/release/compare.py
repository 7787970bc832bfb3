"""`edgedistill report --compare A B`: what changed between two runs, per artifact and device.

Sizes are properties of the files and compare exactly. Latency ratios b/a come from the two
reports' absolute times, which were measured at different moments (maybe on different machines):
they are indicative, and the result says so when the CPUs differ. For a regression verdict on
latency use `edgedistill bench NEW --vs OLD` or a relative budget with `gate --baseline`.
"""

from __future__ import annotations

from pathlib import Path

from ..results import Figure, fmt, index, lookup

SIZE = ("size", "gzip_size", "brotli_size")
PARITY = ("parity_max_abs_diff", "parity_cosine", "parity_agreement")  # device-independent
LATENCY = ("session_create_ms", "first_run_ms", "p50_ms", "p90_ms", "p99_ms")
RATE = ("throughput", "peak_memory")
POINTS = ("accuracy", "agreement", "accuracy_drop", "parity_agreement")  # changes in points, not ratios


def compare(a: dict, b: dict) -> dict:
    """Rows (artifact, device, metric, a, b, change) for every figure both reports have."""
    from .report import measurements_of

    ma, mb = measurements_of(a), measurements_of(b)
    fa, fb = index(ma), index(mb)
    names_a, names_b = {m.artifact for m in ma}, {m.artifact for m in mb}
    devices = sorted({m.device for m in ma + mb if m.device is not None})
    rows = []
    for name in sorted(names_a & names_b):
        for metric in (*SIZE, *PARITY):
            rows += _row(fa, fb, name, None, metric)
        for device in devices:
            for metric in (*LATENCY, *RATE, *POINTS[:3]):
                rows += _row(fa, fb, name, device, metric)
    cpu_a, cpu_b = (r.get("environment", {}).get("cpu", {}).get("model") for r in (a, b))
    return {"same_cpu": cpu_a == cpu_b, "cpu": {"a": cpu_a, "b": cpu_b}, "rows": rows,
            "only_in_a": sorted(names_a - names_b), "only_in_b": sorted(names_b - names_a)}


def _row(fa: dict, fb: dict, name: str, device, metric: str) -> list[dict]:
    x, y = lookup(fa, name, device, metric), lookup(fb, name, device, metric)
    if x is None or y is None:
        return []
    if metric in POINTS:  # percentages: the change is a difference in points
        change = {"type": "delta", "value": y.value - x.value, "unit": "pp"}
    else:
        change = {"type": "ratio", "value": y.value / x.value if x.value else None, "unit": "×"}
    return [{"artifact": name, "device": device, "metric": metric, "a": x.to_json(), "b": y.to_json(),
             "change": change}]


def change_text(row: dict) -> str:
    """"1.08× (+8%)" for a ratio, "-0.40 pp" for a difference in points."""
    c = row["change"]
    if c["value"] is None:
        return "n/a"
    if c["type"] == "delta":
        return f"{c['value']:+.2f} pp"
    return f"{c['value']:.2f}× ({c['value'] - 1:+.0%})"


def rows_text(result: dict, artifact: str | None = None) -> list[list[str]]:
    """Table rows: artifact, device, metric, a, b, change (only `artifact`'s rows when given)."""
    def shown(d):
        f = Figure.from_json(d)
        return fmt(f.value, f.unit)

    return [[r["artifact"], r["device"] or "—", r["metric"], shown(r["a"]), shown(r["b"]), change_text(r)]
            for r in result["rows"] if artifact is None or r["artifact"] == artifact]


HEADER = ["artifact", "device", "metric", "a", "b", "b vs a"]


def notes(result: dict) -> list[str]:
    """What the reader must know: artifacts in one run only, latency measured on different CPUs."""
    out = []
    if result["only_in_a"]:
        out.append(f"only in a: {', '.join(result['only_in_a'])}")
    if result["only_in_b"]:
        out.append(f"only in b: {', '.join(result['only_in_b'])}")
    if not result["same_cpu"]:
        out.append(f"latency was measured on different CPUs ({result['cpu']['a']} vs {result['cpu']['b']}): "
                   f"its ratios are indicative only — use `edgedistill bench NEW --vs OLD` for a verdict")
    return out


def markdown(result: dict, a: str, b: str) -> str:
    """A markdown table of the changes (for a PR comment)."""
    lines = [f"## What changed: `{a}` → `{b}`", "", "| " + " | ".join(HEADER) + " |", "|---|---|---|---:|---:|---:|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows_text(result)]
    return "\n".join(lines + [""] + [f"- {n}" for n in notes(result)]) + "\n"


def plot(result: dict, path: Path) -> None:
    """PNG: b/a ratios of size and latency per artifact (and device); 1.0 = unchanged."""
    import io

    import matplotlib

    matplotlib.use("Agg")  # files only, never a display
    import matplotlib.pyplot as plt

    from ..artifacts import atomic_write_bytes

    rows = [r for r in result["rows"] if r["change"]["type"] == "ratio" and r["change"]["value"] is not None
            and r["metric"] in (*SIZE, "p50_ms", "p90_ms")]
    labels = [f"{r['artifact']} {r['metric']}" + (f" @{r['device']}" if r["device"] else "") for r in rows]
    values = [r["change"]["value"] for r in rows]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1.5))
    colors = ["tab:grey" if abs(v - 1) < 0.005 else "tab:red" if v > 1 else "tab:green" for v in values]
    ax.barh(range(len(rows)), values, color=colors)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("b / a (1.0 = unchanged; right of the line = bigger or slower)")
    ax.set_title("edgedistill: what changed between two runs")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
