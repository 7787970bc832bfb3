"""Terminal output: rich tables on stdout (plain text when piped)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from .gate import fmt
from .report import gap_text, ordered


def _console() -> Console:
    return Console(highlight=False, markup=False)  # messages hold "[file:line]", never rich markup


def print_run(report: dict, out: Path) -> None:
    """Training summary, side-by-side comparison and gate table of a run."""
    from .report import comparison_tables

    con = _console()
    tr = report.get("training")
    if tr:
        t = Table(title="Training (torch, test set)")
        for col in ("model", "params", "test accuracy", "time"):
            t.add_column(col, justify="left" if col == "model" else "right")
        tt = tr["teacher"]
        t.add_row("teacher" + (" (cached)" if tt["cached"] else ""), f"{tt['params']:,}",
                  f"{tt['test_accuracy']['value']:.2f}%", f"{tt['seconds']['value']:.1f} s")
        for k, s in ordered(tr["students"]):
            t.add_row(f"student: {k}", f"{s['params']:,}", f"{s['test_accuracy']['value']:.2f}%",
                      f"{s['seconds']['value']:.1f} s")
        con.print(t)
        con.print(f"gap closed by distillation + transfer: {gap_text(tr)} · "
                  f"{tr['params_ratio']:.0f}× fewer parameters")
    for device, (header, rows) in comparison_tables(report).items():
        t = Table(title=f"Side by side on {device}")
        for i, h in enumerate(header):
            t.add_column(h, justify="left" if i == 0 else "right")
        for r in rows:
            t.add_row(*r)
        con.print(t)
    if report.get("gate"):
        print_gate(report["gate"])
    con.print(f"run folder: {out}  (report.json, report.md)")


def print_gate(gate: dict) -> None:
    """Verdict table, then one line per failed check."""
    con = _console()
    t = Table(title="Gate: " + ("PASSED" if gate["passed"] else "FAILED"))
    for col in ("check", "device", "measured", "limit", "verdict"):
        t.add_column(col)
    for c in gate["checks"]:
        m = c["measured"]
        verdict = "pass" if c["passed"] else ("warn" if c["level"] == "warn" else "FAIL")
        t.add_row(f"{c['artifact']} {c['metric']}", c["device"] or "—",
                  fmt(m["value"], m["unit"]) if m else "not measured", c["limit"], verdict)
    con.print(t)
    for c in gate["checks"]:
        if not c["passed"]:
            # plain print: one unwrapped line per failure, greppable in CI logs
            print(("warning: " if c["level"] == "warn" else "FAIL: ") + c["message"], flush=True)


def print_measurements(ms) -> None:
    """One row per (artifact, device, metric)."""
    t = Table(title="Measurements")
    for col in ("artifact", "device", "metric", "value", "how"):
        t.add_column(col)
    for m in ms:
        t.add_row(m.artifact, m.device or "—", m.metric, fmt(m.figure.value, m.figure.unit), m.figure.how)
    _console().print(t)
