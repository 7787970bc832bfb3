"""Which distillation family helps most? The shipped student (distilled on labelled + transfer set)
of each family's documented recipe (`edgedistill/recipes/mnist1d-*.toml`), over several seeds:
test accuracy mean ± std, next to the teacher and the scratch student. All figures measured
(torch, the 1,000-example test set, this host).

    .venv/bin/python benchmarks/kd_families.py [--seeds 0 1 2] [--families hinton dkd ...] [--json]
                                               [--save results.json]   # kept after each run; reruns skip done ones

Per seed, one teacher is trained (cached) and reused by every family: differences between rows
are the loss's doing, not the teacher's. Several minutes per seed and family on 2 cores.
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

from edgedistill.distill.stage import SHIPPED, distill_all
from edgedistill.hostinfo import cpu, versions
from edgedistill.progress import Reporter
from edgedistill.recipe import load_recipe

FAMILIES = {  # row label → built-in recipe
    "hinton_kd (response)": "mnist1d",
    "dkd (response, decoupled)": "mnist1d-dkd",
    "hint_mse (feature, FitNets)": "mnist1d-fitnets",
    "attention_transfer (feature)": "mnist1d-at",
    "rkd (relation)": "mnist1d-rkd",
    "similarity_preserving (relation)": "mnist1d-sp",
    "embedding_cosine (embedding)": "mnist1d-embedding",
}


def run(recipe_name: str, seed: int, cache: Path) -> dict[str, float]:
    recipe, path = load_recipe(recipe_name, {"seed": seed})
    with tempfile.TemporaryDirectory() as tmp:
        t = time.time()
        trained = distill_all(recipe, cache, Path(tmp), Reporter(quiet=True), str(path))
    return {"teacher": 100 * trained.teacher_result.test_accuracy,
            "scratch": 100 * trained.students["scratch"].test_accuracy,
            "student": 100 * trained.students[SHIPPED].test_accuracy, "seconds": time.time() - t}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--families", nargs="+", choices=sorted(FAMILIES.values()), default=list(FAMILIES.values()))
    ap.add_argument("--json", action="store_true", help="print raw results as JSON")
    ap.add_argument("--save", type=Path, help="write results here after every run; runs already in it are skipped")
    args = ap.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="kd-families-"))  # private: teachers trained here, shared by families
    saved = json.loads(args.save.read_text()) if args.save and args.save.exists() else {}
    results: dict[str, dict[int, dict]] = {k: {int(s): r for s, r in v.items()} for k, v in saved.items()}
    start = time.time()
    for seed in args.seeds:
        for label, name in FAMILIES.items():
            if name in args.families and seed not in results.get(label, {}):
                results.setdefault(label, {})[seed] = r = run(name, seed, cache)
                print(f"seed {seed} {name}: student {r['student']:.2f}% ({r['seconds']:.0f} s)", file=sys.stderr,
                      flush=True)
                if args.save:
                    args.save.write_text(json.dumps(results, indent=2))
    shutil.rmtree(cache, ignore_errors=True)
    if args.json:
        print(json.dumps({"results": results, "cpu": cpu(), "versions": versions("torch")}, indent=2))
        return 0
    results = {label: results[label] for label in FAMILIES if label in results}  # the table's order
    first = next(iter(results.values()))
    print(f"Seeds {args.seeds}; {time.time() - start:.0f} s on {cpu()['model']} ({cpu()['logical_cores']} cores). "
          "Test accuracy of the shipped student (labelled + transfer set), measured, mean ± std over seeds:\n")
    print("| family | " + " | ".join(f"seed {s}" for s in args.seeds) + " | mean ± std |")
    print("|---|" + "---:|" * (len(args.seeds) + 1))
    rows = [("teacher", {s: first[s]["teacher"] for s in args.seeds}),
            ("scratch student (no teacher)", {s: first[s]["scratch"] for s in args.seeds})]
    rows += [(label, {s: r[s]["student"] for s in args.seeds}) for label, r in results.items()]
    for label, by_seed in rows:
        vals = [by_seed[s] for s in args.seeds]
        sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
        print(f"| {label} | " + " | ".join(f"{v:.2f}%" for v in vals) + f" | {statistics.mean(vals):.2f} ± {sd:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
