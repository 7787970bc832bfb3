"""Human forms of a benchmark (schema edgedistill.bench/1): table rows shared by terminal and markdown.

Every cell carries how it was obtained unless measured on this host ("(estimated)", "(browser)"),
and a warm latency whose IQR exceeded 10% of its median (or whose --repeat sessions disagreed by
more than 10%) is marked "unstable"; the CV is shown as a figure only.
"""

from __future__ import annotations

from ..artifacts import printable
from ..results import Figure, index, label, lookup

ROW_METRICS = ("size", "gzip_size", "brotli_size", "weight_bytes", "session_create_ms", "first_run_ms",
               "p50_ms", "p90_ms", "p99_ms", "mean_ms", "latency_iqr", "latency_cv", "sessions", "session_spread",
               "estimated_ms", "throughput", "throughput_batch", "peak_memory", "accuracy", "agreement", "perplexity",
               "cosine", "nn_overlap", "spearman", "knn_accuracy", "fewshot_accuracy", "tokenizer_parity",
               "tokenize_ms", "text_p50_ms")
STATUS_HEADER = ["artifact", "device", "status", "reason / threads used"]
COST_HEADER = ["artifact", "params", "MACs", "weight bytes", "peak activations", "heaviest op"]


def device_tables(doc: dict) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Per device: (header, rows) — metrics down, artifacts across; unstable latencies flagged, and
    "estimate unavailable (N ops uncounted)" where the graph cost was too incomplete for an estimate."""
    ms = [_m(d) for d in doc["measurements"]]
    fig = index(ms)
    unstable = {(s["artifact"], s["device"]) for s in doc["statuses"] if s["status"] == "unstable"}
    notes = {(s["artifact"], s["device"]): (s.get("details") or {}).get("estimate") for s in doc["statuses"]}
    tables = {}
    for device in sorted({m.device for m in ms if m.device is not None}):
        names = sorted({m.artifact for m in ms if m.device == device}, key=lambda n: (not n.startswith("teacher"), n))
        rows = []
        for metric in ROW_METRICS:
            cells = [lookup(fig, n, device, metric) for n in names]
            texts = [_cell(f, metric, (n, device) in unstable) if f or metric != "estimated_ms"
                     else (notes.get((n, device)) or "—") for f, n in zip(cells, names)]
            if any(cells) or any(t != "—" for t in texts):
                rows.append([metric] + texts)
        tables[device] = (["metric", *map(printable, names)], rows)
    return tables


def status_rows(doc: dict) -> list[list[str]]:
    """One row per (artifact, device): ok / unstable / not_runnable / failed, with the reason or threads used."""
    rows = []
    for s in doc["statuses"]:
        d = s.get("details") or {}
        note = s["reason"]
        if not note and d.get("intra_op_threads_used"):
            pinned = d.get("constraints_applied", {}).get("affinity")
            note = f"{d['intra_op_threads_used']} intra-op threads" + (f", pinned to CPUs {pinned}" if pinned else "")
        rows.append([printable(s["artifact"]), printable(s["device"]), s["status"], printable(note)])
    return rows


def cost_rows(doc: dict) -> list[list[str]]:
    """Graph cost per ONNX file (symbolic shape inference at batch 1); names from the file are escaped."""
    rows = []
    for name, c in doc.get("cost", {}).items():
        if "unavailable" in c:
            rows.append([printable(name), "—", "—", "—", "—", printable(c["unavailable"])])
            continue
        top = c["heaviest_ops"][0] if c["heaviest_ops"] else None
        macs = f"{c['macs']:,}" + (f" ({c['uncounted_ops']} ops uncounted)" if c.get("uncounted_ops") else "")
        rows.append([printable(name), f"{c['params']:,}", macs, label(Figure(c["weight_bytes"], "B")),
                     label(Figure(c["peak_activation_bytes"], "B")),
                     printable(f"{top['op_type']} {top['name']} ({top['macs']:,} MACs)") if top else "—"])
    return rows


def conditions_line(doc: dict) -> str:
    """"measured under load 1.20 0.90 0.70, steal 0.0%, busy 45% · 3 sessions per pair" ("" when unknown)."""
    from .conditions import describe

    env = doc.get("environment", {})
    text = describe(env.get("conditions") or {})
    repeat = env.get("repeat", 1)
    if not text:
        return ""
    return f"measured under {text}" + (f" · median of {repeat} sessions per pair" if repeat > 1 else "")


def markdown(doc: dict, title: str = "edgedistill bench") -> str:
    """The whole benchmark as markdown: per-device tables, statuses, cost, environment and load."""
    env = doc.get("environment", {})
    cpu = env.get("cpu", {})
    lines = [f"# {title}", "", f"CPU {cpu.get('model', '?')} ({', '.join(cpu.get('flags', []))}), "
             f"{cpu.get('logical_cores', '?')} logical cores · " +
             ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items() if v), ""]
    if conditions_line(doc):
        lines += [conditions_line(doc), ""]
    for device, (header, rows) in device_tables(doc).items():
        lines += [f"## {device}", "", _md(header), "|---|" + "---:|" * (len(header) - 1), *map(_md, rows), ""]
    lines += status_markdown(doc) + ["## Graph cost", "", _md(COST_HEADER), "|---|---:|---:|---:|---:|---|",
                                     *map(_md, cost_rows(doc)), ""]
    lines += ["Figures are measured on this host under each profile's constraints unless marked `(estimated)` "
              "(roofline from graph cost and the profile's published peaks) or `(browser)`.", ""]
    return "\n".join(lines)


def status_markdown(doc: dict | None) -> list[str]:
    """The status section (also appended to a run's report.md)."""
    if not doc or not doc.get("statuses"):
        return []
    return ["## Benchmark status per file and device", "", _md(STATUS_HEADER), "|---|---|---|---|",
            *map(_md, status_rows(doc)), ""]


def _cell(f: Figure | None, metric: str, unstable: bool) -> str:
    if f is None:
        return "—"
    text = label(f)
    flagged = unstable and metric in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "latency_iqr", "session_spread")
    return text + " unstable" if flagged else text


def _m(d: dict):
    from ..results import Measurement

    return Measurement(d["artifact"], d["device"], d["metric"], Figure.from_json(d))


def _md(cells) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
