"""report.json (the join of every stage's receipts), report.md, and the terminal tables.

Schema `edgedistill.report/1`: every figure is {value, unit, how}; artifact paths are
relative to the run folder so a run folder can be moved or uploaded as a whole.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..artifacts import atomic_write_json, atomic_write_text
from ..results import Figure, Measurement, fmt, index, label, lookup

SCHEMA = "edgedistill.report/1"
TABLE_METRICS = ("size", "gzip_size", "brotli_size", "p50_ms", "p90_ms", "p99_ms", "estimated_ms", "throughput",
                 "peak_memory", "accuracy", "agreement")
# shown only where some artifact has them on the device: the other tasks' metrics, and text in the page
TASK_METRICS = ("perplexity", "cosine", "nn_overlap", "spearman", "knn_accuracy", "fewshot_accuracy",
                "tokenizer_parity", "tokenize_ms", "text_p50_ms")


def build(recipe, recipe_file, trained, artifacts, parity, measurements, verdict, root: Path) -> dict:
    """Assemble the report dict from the stages' frozen results."""
    from ..hostinfo import cpu, versions
    from ..tasks.metrics import METRICS

    task, ds = trained.task, trained.dataset

    def train_json(r, params):
        out = {"metrics": {k: Figure(v, METRICS[k][0]).to_json() for k, v in r.metrics.items()}, "params": params,
               "epochs": r.epochs, "steps": r.steps, "examples_per_epoch": r.examples,
               "seconds": Figure(r.seconds, "s").to_json()}
        if "accuracy" in r.metrics:  # the figure every classifier report has carried
            out["test_accuracy"] = out["metrics"]["accuracy"]
        return out

    students = {k: train_json(r, r.params) for k, r in trained.students.items()}
    return {
        "schema": SCHEMA,
        "task": task.name,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "recipe": {"name": recipe.name, "file": str(recipe_file), "hash": recipe.section_hash(),
                   "config": recipe.model_dump(mode="json")},
        "environment": {"cpu": cpu(), "versions": versions("edgedistill", "torch", "onnx", "onnxruntime",
                                                           "coremltools", "numpy", "mnist1d")},
        "data": {"name": ds.name, "source": ds.source, "train": len(ds.y_train), "test": len(ds.y_test),
                 "unlabeled": len(next(iter(ds.x_unlabeled.values()))) if ds.x_unlabeled else 0,
                 "inputs": [s.describe() for s in task.inputs(ds)],
                 "outputs": [s.describe() for s in task.outputs(ds)],
                 "classes": list(ds.classes)},  # class names by id (folders, text labels); [] when the data has none
        "training": {
            "headline": task.headline,
            "shipped": trained.shipped,
            "teacher": {**train_json(trained.teacher_result, trained.teacher_result.params),
                        "cached": trained.teacher_cached,
                        **({"warning": trained.teacher_warning} if trained.teacher_warning else {}),
                        **({"labelling": trained.labelling} if trained.labelling else {})},
            "students": students,
            "gap_closed": _gap_closed(task, trained),
            "params_ratio": trained.teacher_result.params / trained.students[trained.shipped].params,
        },
        "artifacts": {a.name: a.to_json(root) for a in [*trained.weights.values(), *artifacts.values()]},
        "parity": parity,
        "measurements": [m.to_json() for m in measurements],
        "gate": gate_json(verdict),
    }


def _gap_closed(task, trained) -> dict | None:
    """Share of the scratch → teacher gap in the headline metric that the shipped student closes;
    None without a scratch student, or when the teacher is no better than scratch (no gap to close)."""
    scratch = trained.students.get("scratch")
    t = trained.teacher_result.metrics.get(task.headline)
    if scratch is None or t is None or task.headline not in scratch.metrics:
        return None
    sc, s = scratch.metrics[task.headline], trained.students[trained.shipped].metrics[task.headline]
    gap = t - sc
    if gap == 0 or (gap > 0) == task.lower_is_better:
        return None
    return Figure(100 * (s - sc) / gap, "%").to_json()


def gap_text(training: dict) -> str:
    """"84%", or why there is no figure."""
    gap = training["gap_closed"]
    return f"{gap['value']:.0f}%" if gap else "n/a (no scratch student, or the teacher is not better than scratch)"


GATE_HEADER = ["check", "device", "measured", "limit", "margin", "verdict"]


def training_header(training: dict) -> list[str]:
    """Columns of the training table: the task's headline metric is the figure shown."""
    return ["model", "params", f"test {training.get('headline', 'accuracy')}", "epochs", "time"]


def training_rows(training: dict) -> list[list[str]]:
    """Teacher, then the students in story order: the rows of the training table (report.md and terminal)."""
    from ..results import fmt

    headline = training.get("headline", "accuracy")
    t = training["teacher"]
    models = [("teacher" + (" (cached)" if t["cached"] else ""), t)]
    models += [(f"student: {k}" + (" (shipped)" if k == training.get("shipped") else ""), s)
               for k, s in ordered(training["students"])]

    def shown(m):
        f = m.get("metrics", {}).get(headline) or m.get("test_accuracy")
        return fmt(f["value"], f["unit"]) if f else "—"

    return [[name, f"{m['params']:,}", shown(m), str(m["epochs"]), f"{m['seconds']['value']:.1f} s"]
            for name, m in models]


def gate_rows(gate: dict) -> list[list[str]]:
    """One row per check of a gate verdict: the gate table (report.md and terminal)."""
    rows = []
    for c in gate["checks"]:
        verdict = "pass" if c["passed"] else ("warn" if c["level"] == "warn" else "FAIL")
        if c.get("inconclusive"):
            verdict += " (inconclusive)"
        if c.get("unstable"):
            verdict += " (unstable)"
        shown = label(Figure.from_json(c["measured"])) if c["measured"] else "not measured"
        rows.append([f"{c['artifact']} {c['metric']}", c["device"] or "—", shown, c.get("limit_shown") or c["limit"],
                     c.get("margin_shown") or "—", verdict])
    return rows


# figures that come from timing runs: the ones a bench's `unstable` flag for (artifact, device) is about
TIMED = ("session_create_ms", "first_run_ms", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "throughput",
         "latency_ratio", "latency_ratio_p90", "latency_ratio_p99")


def with_stability(gate: dict | None, bench: dict | None) -> dict | None:
    """The gate with `unstable` (the bench's reason) on each timed check whose (artifact, device) the bench
    flagged: a latency verdict measured while the host was noisy says so in every output."""
    flagged = {(s.get("artifact"), s.get("device")): str(s.get("reason") or "unstable")
               for s in ((bench or {}).get("statuses") or []) if isinstance(s, dict) and s.get("status") == "unstable"}
    if gate is None or not flagged:
        return gate
    checks = [{**c, "unstable": flagged[(c["artifact"], c["device"])]}
              if c["metric"] in TIMED and (c["artifact"], c["device"]) in flagged else c for c in gate["checks"]]
    return {**gate, "checks": checks}


def ordered(students: dict):
    """Students in the order they tell the story: scratch, distilled, distilled + transfer."""
    rank = {"scratch": 0, "distilled": 1, "word": 1, "distilled_transfer": 2, "sequence": 2}
    return sorted(students.items(), key=lambda kv: (rank.get(kv[0], 3), kv[0]))


def gate_json(verdict) -> dict | None:
    """The verdict as JSON: one entry per check."""
    if verdict is None:
        return None
    return {"passed": verdict.passed, "checks": [
        {"artifact": r.check.artifact, "device": r.check.device, "metric": r.check.metric,
         "limit": r.check.limit_text, "level": r.check.level, "where": r.check.where,
         "measured": r.measured.to_json() if r.measured else None, "passed": r.passed, "message": r.message,
         "limit_value": r.limit if r.limit is not None else r.check.limit, "limit_shown": r.limit_shown or None,
         "margin": _finite(r.margin), "margin_shown": _margin_text(r), "inconclusive": r.inconclusive}
        for r in verdict.results]}


def _finite(x: float | None) -> float | None:
    """JSON has no NaN: a figure that could not be computed is null."""
    return None if x is None or x != x or x in (float("inf"), float("-inf")) else x


def _margin_text(r) -> str | None:
    """Signed headroom in the figure's unit ("+1.2 ms" within, "-1.2 ms" over); None when not measured."""
    m = r.margin
    if m is None or m != m:  # not measured, or NaN
        return None
    unit = "pp" if r.measured.unit == "%" else r.measured.unit
    return ("+" if m >= 0 else "-") + fmt(abs(m), unit)


def measurements_of(report: dict) -> list[Measurement]:
    """Measurements back out of a report.json (for `edgedistill gate RUN_DIR`), parity figures included."""
    ms = [Measurement(m["artifact"], m["device"], m["metric"], Figure.from_json(m)) for m in report["measurements"]]
    return ms + parity_measurements(report.get("parity") or {})


# report.json `parity` key → gate metric (exported file vs its torch model; device-independent)
PARITY_METRICS = {"max_abs_diff": "parity_max_abs_diff", "mean_cosine": "parity_cosine",
                  "top1_agreement": "parity_agreement"}


def parity_measurements(parity: dict) -> list[Measurement]:
    """The parity section as device-independent measurements; skipped entries (no numbers) give none."""
    return [Measurement(name, None, metric, Figure.from_json(p[key]))
            for name, p in parity.items() if isinstance(p, dict)
            for key, metric in PARITY_METRICS.items() if isinstance(p.get(key), dict)]


def write(folder: Path, report: dict) -> None:
    """report.json and report.md, atomically."""
    atomic_write_json(folder / "report.json", report)
    atomic_write_text(folder / "report.md", markdown(report))


def comparison_tables(report: dict) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Per device: header (metric, artifact…) and one row per metric — artifacts side by side."""
    ms = measurements_of(report)
    fig = index(ms)
    params = {n: a.get("meta", {}).get("params") for n, a in report["artifacts"].items()}
    tables = {}
    for device in sorted({m.device for m in ms if m.device is not None}):
        names = sorted({m.artifact for m in ms if m.device == device}, key=_teacher_first)
        rows = [["params"] + [f"{params[n]:,}" if params.get(n) else "—" for n in names]]
        for metric in TABLE_METRICS + TASK_METRICS:
            cells = []
            for n in names:
                f = lookup(fig, n, device, metric)
                cells.append(label(f) if f else "—")
            if metric in TABLE_METRICS or any(c != "—" for c in cells):
                rows.append([metric, *cells])
        tables[device] = (["metric", *names], rows)
    return tables


def _teacher_first(name: str) -> tuple:
    return (not name.startswith("teacher"), name)


def markdown(report: dict) -> str:
    """report.md: training results, the side-by-side comparison, parity, and the gate."""
    lines = [f"# edgedistill run: {report['recipe']['name']}", "",
             f"Created {report['created']} · recipe hash `{report['recipe']['hash'][:12]}` · "
             f"CPU {report['environment']['cpu']['model']} ({', '.join(report['environment']['cpu']['flags'])})", "",
             "All figures are **measured** on this host unless marked otherwise.", ""]
    if "training" in report:
        tr = report["training"]
        lines += ["## Training (torch, test set)", "", _md_row(training_header(tr)), "|---|---:|---:|---:|---:|"]
        lines += [_md_row(r) for r in training_rows(tr)]
        lines += ["", f"The shipped student ({tr.get('shipped', 'distilled_transfer')}) closes **{gap_text(tr)}** of "
                      f"the scratch → teacher gap in test {tr.get('headline', 'accuracy')}; it has "
                      f"{tr['params_ratio']:.0f}× fewer parameters.", ""]
        if report.get("data"):
            d = report["data"]
            lines += [f"Data: {d['source'] or d['name']} · task {report.get('task', 'classify')}: "
                      f"{', '.join(d['inputs'])} → {', '.join(d['outputs'])}.", ""]
    for device, (header, rows) in comparison_tables(report).items():
        lines += [f"## Teacher vs student, side by side on {device}", "", _md_row(header),
                  "|---|" + "---:|" * (len(header) - 1)] + [_md_row(r) for r in rows]
    lines += ["", "Latency at batch 1 (warm-up discarded); throughput at the profile's batch; peak memory is the "
                  "benchmark child process's own VmHWM; accuracy and agreement (top-1, with the teacher) computed "
                  "through the runtime on the test set.", ""]
    if report.get("parity"):
        lines += ["## Parity with the torch model", ""]
        for name, p in report["parity"].items():
            lines.append(f"- `{name}`: " + (p["skipped"] if "skipped" in p else parity_text(p)))
        lines.append("")
    lines += quantization_markdown(report.get("artifacts", {}))
    from ..bench.render import status_markdown  # native bench block: status per (artifact, device), plots

    lines += status_markdown(report.get("bench"))
    if report.get("bench"):
        lines += ["![latency per device](latency.png)", "", "![accuracy vs latency](pareto.png)", ""]
    lines += gate_markdown(with_stability(report.get("gate"), report.get("bench")))
    return "\n".join(lines) + "\n"


def parity_text(p: dict) -> str:
    """One parity entry in words; figures a task does not define (top-1 of vectors) are left out."""
    shown = [("max |Δ|", "max_abs_diff", "{:.3g}"), ("mean cosine", "mean_cosine", "{:.5f}"),
             ("top-1 agreement", "top1_agreement", "{:.2f}%"), ("accuracy", "accuracy", "{:.2f}%")]
    parts = [f"{label} {fmt.format(p[key]['value'])}" for label, key, fmt in shown if key in p]
    return ", ".join(parts) + f" ({p['runtime']}, {p['samples']} test rows)"


# --- export/quantize (issue 4): how each derived file was made, saturation choice, mobile EPs
def quantization_markdown(artifacts: dict) -> list[str]:
    """Scheme, calibration, x86 saturation choice, Core ML compression and mobile EP coverage per file."""
    lines = []
    for name, a in artifacts.items():
        q = a.get("meta", {}).get("quantization")
        if not q:
            continue
        parts = [q.get("scheme") or q.get("compression", {}).get("scheme", "")]
        if "calibration" in q:
            parts.append(f"{q['calibration']} calibration on {q['calibration_samples']} rows")
        if "saturation" in q:
            parts.append(q["saturation"]["reason"] + f" (CPU flags: {', '.join(q.get('cpu_flags', [])) or 'none'})")
        if "compression" in q:
            c = q["compression"]
            parts.append(f"weights {c['weight_bytes']:,} B vs {c['fp16_weight_bytes']:,} B fp16 "
                         f"({c['ratio_vs_fp16']:.2f}×)")
        if "mobile" in q:
            parts.append("mobile EPs: " + "; ".join(
                f"{ep} {m['supported_nodes']}/{m['nodes']} nodes, outside: {', '.join(m['unsupported_ops']) or 'none'}"
                for ep, m in q["mobile"].items()))
        if q.get("auto_exclude"):
            parts.append(f"kept in float by --auto-exclude: {', '.join(q['auto_exclude']['nodes_to_exclude'])}")
        lines.append(f"- `{name}`: " + " · ".join(p for p in parts if p))
    return ["## Quantization", "", *lines, ""] if lines else []


def gate_markdown(gate: dict | None) -> list[str]:
    """The gate section of report.md (also usable as a CI step summary)."""
    if gate is None:
        return ["## Gate", "", "No budgets file in this recipe.", ""]
    out = ["## Gate: " + ("PASSED" if gate["passed"] else "FAILED"), "", _md_row(GATE_HEADER),
           "|---|---|---:|---:|---:|---|"]
    out += [_md_row(r) for r in gate_rows(gate)]
    out += [""] + [f"- `{_subject(c)}`: " + ("warning: " if c["level"] == "warn" else "**FAIL**: ") + c["message"]
                   + _noisy(c) for c in gate["checks"] if not c["passed"]]
    return out + [""]


def verdict_line(c: dict) -> str:
    """A failed check as one CI log line that starts with what failed: `ARTIFACT on DEVICE: FAIL: …`."""
    return f"{_subject(c)}: " + ("warning: " if c["level"] == "warn" else "FAIL: ") + c["message"] + _noisy(c)


def _noisy(c: dict) -> str:
    return f" (measured unstable: {c['unstable']} — rerun to confirm)" if c.get("unstable") else ""


def _subject(c: dict) -> str:
    from .gate import subject

    return subject(c["artifact"], c["device"])


def _md_row(cells) -> str:
    return "| " + " | ".join(cells) + " |"
