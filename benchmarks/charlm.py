"""Sequence-level vs word-level distillation of a char-level LM (the `charlm` recipe), over seeds:
validation perplexity of the teacher, the scratch student and the two distilled students.
All figures measured (torch, eval mode, the held-out pydoc_data blocks, this host).

    .venv/bin/python benchmarks/charlm.py [--seeds 0 1 2] [--recipe charlm] [--set student.train.epochs=6] [--json]

Each seed trains its own teacher in a private, empty cache (the seed sets every initial weight,
the batch order, the teacher's prompts and samples). `--set KEY=VALUE` overrides a recipe key
(dotted path; the value is parsed as TOML), for tuning runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from edgedistill.distill.stage import distill_all
from edgedistill.hostinfo import cpu, versions
from edgedistill.progress import Reporter
from edgedistill.recipe import load_recipe

ROWS = ("teacher", "scratch", "word", "sequence")


def one_seed(recipe_arg: str, seed: int, overrides: dict, reporter: Reporter) -> dict:
    """Train teacher + students for one seed in an empty cache; perplexities, seconds and sizes."""
    recipe, _ = load_recipe(recipe_arg, {**overrides, "seed": seed})
    cache = Path(tempfile.mkdtemp(prefix="charlm-bench-"))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            trained = distill_all(recipe, cache, Path(tmp), reporter)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    assert not trained.teacher_cached  # every seed's teacher is trained here
    results = {"teacher": trained.teacher_result, **trained.students}
    return {"perplexity": {k: r.metrics["perplexity"] for k, r in results.items()},
            "seconds": {k: r.seconds for k, r in results.items()},
            "params": {"teacher": trained.teacher_result.params, "student": trained.students["scratch"].params}}


def parse_sets(items) -> dict:
    """["a.b=1", "c=\"x\""] → {"a": {"b": 1}, "c": "x"} (values parsed as TOML)."""
    out: dict = {}
    for item in items:
        key, _, value = item.partition("=")
        *parents, leaf = key.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = tomllib.loads(f"v = {value}")["v"]
    return out


def table(per_seed: dict, seeds: list[int]) -> list[str]:
    """Markdown: one row per model, one column per seed, mean ± std; then each distilled student vs scratch."""
    lines = ["| model | " + " | ".join(f"seed {s}" for s in seeds) + " | mean ± std |",
             "|---|" + "---:|" * (len(seeds) + 1)]
    for row in ROWS:
        vals = [per_seed[s]["perplexity"][row] for s in seeds]
        sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
        cells = " | ".join(f"{v:.3f}" for v in vals)
        lines.append(f"| {row} | {cells} | {statistics.mean(vals):.3f} ± {sd:.3f} |")
    for row in ROWS[2:]:
        rel = [100 * (per_seed[s]["perplexity"][row] / per_seed[s]["perplexity"]["scratch"] - 1) for s in seeds]
        cells = " | ".join(f"{v:+.2f}%" for v in rel)
        lines.append(f"| {row} vs scratch | {cells} | {statistics.mean(rel):+.2f}% |")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipe", default="charlm")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--json", action="store_true", help="print raw per-seed results as JSON")
    ap.add_argument("--verbose", action="store_true", help="show training progress")
    args = ap.parse_args()
    overrides, reporter = parse_sets(args.sets), Reporter(quiet=not args.verbose)
    start, per_seed = time.time(), {}
    for seed in args.seeds:
        per_seed[seed] = one_seed(args.recipe, seed, overrides, reporter)
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in per_seed[seed]["perplexity"].items())
              + f" ({sum(per_seed[seed]['seconds'].values()):.0f} s training)", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps({"seeds": per_seed, "overrides": overrides, "cpu": cpu(), "versions": versions("torch")},
                         indent=2))
        return 0
    first = per_seed[args.seeds[0]]
    print(f"Recipe `{args.recipe}` {overrides or ''}, seeds {args.seeds}; teacher {first['params']['teacher']:,} "
          f"params, students {first['params']['student']:,} params; {time.time() - start:.0f} s on "
          f"{cpu()['model']} ({cpu()['logical_cores']} cores). "
          "Validation perplexity, measured, lower is better:\n")
    print("\n".join(table(per_seed, args.seeds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
