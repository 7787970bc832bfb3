"""Fuzz `edgedistill bench` with mutated ONNX models (issue 11) and count every broken promise.

Each case: one mutation (tests/hostile/mutations.py) of a small valid model, run through the real CLI
(`edgedistill bench MODEL --device lean --json`, lean = 10 runs, 10 s time limit, 1 GiB ceiling) by
tests/hostile/hostile_models.run_cli, which records the exit code, stderr, the CLI process's own
peak memory (VmHWM at exit), wall time, processes of the run still alive afterwards and files left
in its cwd or TMPDIR. A case breaks a promise when it exits 4 (or anything outside 0-3), prints
more than one stderr line on failure or a traceback, peaks over the memory cap, runs past its limit,
leaves a process or a file.

    nice -n 10 env OMP_NUM_THREADS=1 timeout 10800 .venv/bin/python benchmarks/hostile_fuzz.py \\
        --cases 1000 --workers 2 --out benchmarks/results/hostile_fuzz.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "hostile"))
sys.path.insert(0, str(ROOT / "tests"))
import hostile_models as hm  # noqa: E402
import mutations as mu  # noqa: E402

CAP_MIB = 400  # the CLI process's own peak memory
LIMIT_S = 150  # analysis child (≤ 60 s) + bench child (10 s) + start-up, with room for a loaded machine
DEADLINE_S = 300  # the harness kills the CLI here and counts a hang


def run_case(kind: str, seed: int, bases, work: Path, profile: Path) -> dict:
    """Mutate, bench, judge; the case folder is removed afterwards."""
    folder = work / f"{kind}-{seed}"
    folder.mkdir(parents=True)
    try:
        model = mu.mutate(kind, seed, bases, folder)
        out = hm.run_cli(["bench", model, "--device", profile, "--json"], folder / "run", DEADLINE_S)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"kind": kind, "seed": seed, "exit": out.returncode, "seconds": round(out.seconds, 2),
            "peak_mib": round(out.peak_mib, 1), "hung": out.hung, "orphans": out.orphans,
            "stray": out.stray, "stderr": out.lines[:2], "problems": out.problems(CAP_MIB, LIMIT_S),
            "status": _statuses(out.stdout) if out.returncode == 0 else None}


def _statuses(stdout: str) -> list[str]:
    try:
        return [s["status"] for s in json.loads(stdout)["statuses"]]
    except (ValueError, KeyError, TypeError):
        return ["unparseable --json output"]


def summary(results: list[dict]) -> dict:
    """Counts by kind and exit code, and every broken promise."""
    by_kind: dict[str, Counter] = defaultdict(Counter)
    for r in results:
        by_kind[r["kind"]][str(r["exit"])] += 1
    return {"cases": len(results), "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
            "by_exit": dict(Counter(str(r["exit"]) for r in results)),
            "exit_4": sum(r["exit"] == 4 for r in results), "hangs": sum(r["hung"] for r in results),
            "over_cap": sum(not r["peak_mib"] <= CAP_MIB for r in results),
            "orphans": sum(bool(r["orphans"]) for r in results), "stray_files": sum(bool(r["stray"]) for r in results),
            "broken": [r for r in results if r["problems"]],
            "max_peak_mib": max((r["peak_mib"] for r in results), default=0),
            "max_seconds": max((r["seconds"] for r in results), default=0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "hostile_fuzz.json")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="edgedistill-fuzz-"))
    bases = mu.base_models(work / "base")
    profile = hm.lean_profile(work, time_limit_s=10)
    load_before, t0, results = os.getloadavg(), time.monotonic(), []
    with ThreadPoolExecutor(args.workers) as pool:
        futures = [pool.submit(run_case, k, s, bases, work, profile) for k, s in mu.cases(args.cases, args.seed)]
        for i, f in enumerate(futures, 1):
            results.append(f.result())
            if i % 50 == 0 or i == len(futures):
                _save(args.out, results, args, load_before, time.monotonic() - t0)
                print(f"{i}/{len(futures)} cases, {len(summary(results)['broken'])} broken", flush=True)
    doc = _save(args.out, results, args, load_before, time.monotonic() - t0)
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({k: v for k, v in doc["summary"].items() if k != "broken"}, indent=2))
    for r in doc["summary"]["broken"][:20]:
        print("BROKEN", r["kind"], r["seed"], r["problems"], r["stderr"][:1])


def _save(path: Path, results: list[dict], args, load_before, seconds: float) -> dict:
    doc = {"command": " ".join(sys.argv), "cases": args.cases, "workers": args.workers, "seed": args.seed,
           "load_average_before": load_before, "load_average_after": os.getloadavg(), "wall_s": round(seconds),
           "cap_mib": CAP_MIB, "limit_s": LIMIT_S, "summary": summary(results), "results": results}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1))
    return doc


if __name__ == "__main__":
    main()
