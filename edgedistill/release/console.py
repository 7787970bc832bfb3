"""Terminal output: rich tables on stdout (plain text when piped)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from ..results import fmt
from .report import (
    GATE_HEADER,
    comparison_tables,
    gap_text,
    gate_rows,
    training_header,
    training_rows,
    verdict_line,
    with_stability,
)


def _console() -> Console:
    """stdout as rich sees it; not a terminal (a CI log, a pipe): tables at full width, nothing wrapped.

    rich falls back to 80 columns without a terminal, which cuts names to `student-int8…` and folds rows
    in two; a CI log has no width, so the tables take what their cells need.
    """
    import sys

    wide = None if sys.stdout.isatty() else 100_000
    return Console(highlight=False, markup=False, width=wide)  # messages hold "[file:line]", never rich markup


def print_run(report: dict, out: Path) -> None:
    """Training summary, side-by-side comparison and gate table of a run."""
    con = _console()
    tr = report.get("training")
    if tr:
        con.print(_table("Training (torch, test set)", training_header(tr), training_rows(tr)))
        con.print(f"gap closed by the shipped student ({tr.get('shipped', 'distilled_transfer')}): {gap_text(tr)} · "
                  f"{tr['params_ratio']:.0f}× fewer parameters")
    for device, (header, rows) in comparison_tables(report).items():
        con.print(_table(f"Side by side on {device}", header, rows))
    print_bench_statuses(report.get("bench"))
    if report.get("gate"):
        print_gate(with_stability(report["gate"], report.get("bench")))
    con.print(f"run folder: {out}  (report.json, report.md)")


def print_gate(gate: dict) -> None:
    """Verdict table, then one line per failed check."""
    con = _console()
    con.print(_table("Gate: " + ("PASSED" if gate["passed"] else "FAILED"), GATE_HEADER, gate_rows(gate),
                     numeric=False))
    for c in gate["checks"]:
        if not c["passed"]:
            # plain print: one unwrapped line per failure, starting with the artifact (and device), greppable
            print(verdict_line(c), flush=True)


def _table(title: str, header, rows, numeric: bool = True) -> Table:
    """A rich table; with `numeric`, every column after the first is right-aligned."""
    t = Table(title=title)
    for i, h in enumerate(header):
        t.add_column(h, justify="right" if numeric and i > 0 else "left")
    for r in rows:
        t.add_row(*r)
    return t


def print_table(title: str, header, rows) -> None:
    """Any left-aligned table (the `devices` and `presets` listings)."""
    _console().print(_table(title, header, rows, numeric=False))


def print_export(record: dict) -> None:
    """`edgedistill export`: the kept file with its parity; with --preset auto, the criterion and every attempt."""
    art, par = record["artifact"], record["parity"]
    shown = (f"accuracy {par['accuracy']['value']:.2f}% (drop {par['accuracy_drop']['value']:.2f} pp), "
             f"top-1 agreement {par['top1_agreement']['value']:.2f}%" if "accuracy" in par else par["skipped"])
    print(f"{art['name']}  {art['bytes']:,} B  [{record.get('chosen', record['preset'])}]  {shown}")
    by = record.get("by")
    if by:
        print(f"ranked by {by} ({record['by_reason']}), within {record['max_drop_pp']} pp accuracy drop:")
    for a in record.get("attempts", []):
        got = f"{a['bytes']:,} B, drop {a['accuracy_drop_pp']:.2f} pp" if a["bytes"] else a["error"]
        if a["bytes"] and by and by != "size":
            value = a.get(by)
            got += f", {by} " + ("n/a" if value is None else f"{value:,.0f} B" if by == "brotli_size"
                                 else f"{value:.3f} ms")
        print(f"  {'kept ' if a['kept'] else 'tried'} {a['preset']:<22} {got}")


def print_measurements(ms) -> None:
    """One row per (artifact, device, metric)."""
    rows = [[m.artifact, m.device or "—", m.metric, fmt(m.figure.value, m.figure.unit), m.figure.how] for m in ms]
    _console().print(_table("Measurements", ["artifact", "device", "metric", "value", "how"], rows, numeric=False))


def print_ab(results) -> None:
    """Per A/B pair: old and new p50/p90/p99 and the ratio new/old with its bootstrap 95% CI."""
    con = _console()
    for r in results:
        rows = [[stat, fmt(r.old_ms[stat], "ms"), fmt(r.new_ms[stat], "ms"), fmt(v.ratio, "×"),
                 f"{v.low:.2f}–{v.high:.2f}×"] for stat, v in r.ratios.items()]
        con.print(_table(f"{r.new} vs {r.old} on {r.device}, interleaved ({r.blocks} blocks × {r.block_runs} runs)",
                         ["latency", "old", "new", "new/old", "95% CI"], rows))


def print_compare(result: dict, a: str, b: str) -> None:
    """What changed between two runs: one row per figure both have, then the caveats."""
    from .compare import notes, rows_text

    con = _console()
    con.print(f"What changed: {a} → {b}")
    for name in dict.fromkeys(r["artifact"] for r in result["rows"]):  # one narrow table per artifact
        rows = [[metric, device, a_, b_, ch] for _, device, metric, a_, b_, ch in rows_text(result, name)]
        con.print(_table(name, ["metric", "device", "a", "b", "b vs a"], rows))
    for n in notes(result):
        con.print(f"note: {n}")


# --- edgedistill bench: per-device tables, statuses, graph cost (native helper block) ---
def print_bench(doc: dict) -> None:
    """`edgedistill bench` output: per-device tables (how labelled, unstable flagged), statuses, graph cost."""
    from ..bench.render import COST_HEADER, STATUS_HEADER, conditions_line, cost_rows, device_tables, status_rows

    con = _console()
    for device, (header, rows) in device_tables(doc).items():
        con.print(_table(f"{device}", header, rows))
    con.print(_table("Status per file and device", STATUS_HEADER, status_rows(doc), numeric=False))
    if doc.get("cost"):
        con.print(_table("Graph cost (symbolic shape inference, batch 1)", COST_HEADER, cost_rows(doc)))
    if conditions_line(doc):
        con.print(conditions_line(doc))
    con.print("measured = this host under the profile's constraints · (estimated) = roofline from graph cost "
              "and published peaks · (browser) = headless Chromium")


def print_bench_statuses(section: dict | None) -> None:
    """A run's status table (only when some pair is not plain ok)."""
    from ..bench.render import STATUS_HEADER, status_rows

    if section and any(s["status"] != "ok" for s in section.get("statuses", [])):
        _console().print(_table("Benchmark status", STATUS_HEADER, status_rows(section), numeric=False))
