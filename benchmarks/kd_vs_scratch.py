"""Does distillation pay? Teacher, scratch student, distilled student, distilled + transfer student,
over several seeds of the default recipe (mnist1d): test accuracy mean ± std and the share of the
scratch → teacher gap that distillation closes. All figures measured (torch, test set, this host).

    .venv/bin/python benchmarks/kd_vs_scratch.py [--seeds 0 1 2] [--recipe mnist1d] [--json]

Each seed trains its own teacher in a private, empty cache (the recipe seed sets initial weights
and batch order; the data is mnist1d's fixed default split). About a minute per seed on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from edgedistill.distill.stage import distill_all
from edgedistill.hostinfo import cpu, versions
from edgedistill.progress import Reporter
from edgedistill.recipe import load_recipe

ROWS = ("teacher", "scratch", "distilled", "distilled_transfer")


def one_seed(recipe_arg: str, seed: int, cache: Path, reporter: Reporter) -> dict[str, float]:
    recipe, _ = load_recipe(recipe_arg, {"seed": seed})
    with tempfile.TemporaryDirectory() as tmp:
        trained = distill_all(recipe, cache, Path(tmp), reporter)
    assert not trained.teacher_cached  # every seed's teacher is trained here, never reused
    acc = {k: 100 * r.test_accuracy for k, r in trained.students.items()}
    acc["teacher"] = 100 * trained.teacher_result.test_accuracy
    acc["gap_closed"] = 100 * (acc["distilled_transfer"] - acc["scratch"]) / (acc["teacher"] - acc["scratch"])
    acc["params_teacher"], acc["params_student"] = trained.teacher_result.params, trained.students["scratch"].params
    return acc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipe", default="mnist1d")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--json", action="store_true", help="print raw per-seed results as JSON")
    args = ap.parse_args()
    reporter = Reporter(quiet=True)
    start, per_seed = time.time(), {}
    cache = Path(tempfile.mkdtemp(prefix="kd-bench-"))  # private: no teacher from an earlier run
    for seed in args.seeds:
        per_seed[seed] = one_seed(args.recipe, seed, cache, reporter)
        print(f"seed {seed}: " + ", ".join(f"{k} {per_seed[seed][k]:.2f}%" for k in (*ROWS, "gap_closed")),
              file=sys.stderr, flush=True)
    shutil.rmtree(cache, ignore_errors=True)
    if args.json:
        print(json.dumps({"seeds": per_seed, "cpu": cpu(), "versions": versions("torch", "mnist1d")}, indent=2))
        return 0
    first = per_seed[args.seeds[0]]
    print(f"Recipe `{args.recipe}`, seeds {args.seeds}; teacher {first['params_teacher']:,} params, student "
          f"{first['params_student']:,} params; {time.time() - start:.0f} s on {cpu()['model']} "
          f"({cpu()['logical_cores']} cores). Test accuracy (1,000 samples), measured, mean ± std over seeds:\n")
    print("| model | " + " | ".join(f"seed {s}" for s in args.seeds) + " | mean ± std |")
    print("|---|" + "---:|" * (len(args.seeds) + 1))
    for row in (*ROWS, "gap_closed"):
        vals = [per_seed[s][row] for s in args.seeds]
        sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
        label = "gap closed (distilled + transfer)" if row == "gap_closed" else row
        print(f"| {label} | " + " | ".join(f"{v:.2f}%" for v in vals) + f" | {statistics.mean(vals):.2f} ± {sd:.2f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
