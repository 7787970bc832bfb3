"""How much does the teacher-output cache save? Epoch time of the default recipe's shipped-student
run (labelled + transfer rows, batch 256) with the teacher's outputs read from the cache vs the
teacher run on every batch, for the default teacher and a larger one. All figures measured.

    .venv/bin/python benchmarks/teacher_cache.py [--repeats 3] [--json]

Per teacher: the cache is filled once (timed: that is what a run pays once), then epochs of
"live", "cache" (float32, memory-mapped from disk) and "cache fp16" are timed interleaved
(live, cache, fp16, live, …) so machine load hits all alike; the table gives the median epoch
time of each and the ratio live ÷ cache. Teacher weights are random: a forward pass costs the
same whatever the weights, and the comparison is about time only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from edgedistill.data import load_dataset
from edgedistill.distill.cache import LiveOutputs, Stored, teacher_outputs
from edgedistill.distill.rows import Rows, with_transfer
from edgedistill.distill.train import fit
from edgedistill.hostinfo import cpu, versions
from edgedistill.models import build_model, count_params
from edgedistill.progress import Reporter
from edgedistill.recipe import load_recipe
from edgedistill.resources import default_cache_dir

TEACHERS = {"default teacher": None, "larger teacher": (128, 256, 512, 512)}  # None: the recipe's channels


def epoch_seconds(recipe, ds, x, y, outputs) -> float:
    """One epoch of the shipped student's run (its batch size, its loss), timed by fit()."""
    torch.manual_seed(1)
    student = build_model(recipe.student, ds.input_shape, ds.num_classes)
    cfg = recipe.student.transfer_train.model_copy(update={"epochs": 1})
    x_test, y_test = torch.from_numpy(ds.x_test["input"]), torch.from_numpy(ds.y_test)
    return fit(student, x, y, cfg=cfg, loss=recipe.distill.loss, loss_params=recipe.distill.loss_params(),
               x_test=x_test, y_test=y_test, seed=1, label="epoch", reporter=Reporter(quiet=True),
               outputs=outputs).seconds


def measure(recipe, ds, x, y, channels, repeats: int, cache: Path) -> dict:
    cfg = recipe.teacher if channels is None else recipe.teacher.model_copy(update={"channels": channels})
    torch.manual_seed(0)
    teacher = build_model(cfg, ds.input_shape, ds.num_classes).eval()
    t = time.perf_counter()
    cached = teacher_outputs(teacher, x, Stored(), ds.num_classes, cache)
    fill = time.perf_counter() - t
    modes = {"live": LiveOutputs(teacher), "cache": cached,
             "cache fp16": teacher_outputs(teacher, x, Stored(dtype="float16"), ds.num_classes, cache)}
    times = {m: [] for m in modes}
    for r in range(repeats):
        for mode, outputs in modes.items():
            times[mode].append(epoch_seconds(recipe, ds, x, y, outputs))
            print(f"{cfg.channels} repeat {r} {mode}: {times[mode][-1]:.2f} s", file=sys.stderr, flush=True)
    med = {m: statistics.median(v) for m, v in times.items()}
    return {"teacher_channels": list(cfg.channels), "teacher_params": count_params(teacher), "rows": len(x),
            "fill_seconds": fill, "epoch_seconds": times, "median": med,
            "live_over_cache": med["live"] / med["cache"], "live_over_fp16": med["live"] / med["cache fp16"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print raw results as JSON")
    args = ap.parse_args()
    recipe, _ = load_recipe("mnist1d")
    ds = load_dataset(recipe.data, default_cache_dir())
    x, y = with_transfer(Rows(ds.x_train), torch.from_numpy(ds.y_train), Rows(ds.x_unlabeled))
    with tempfile.TemporaryDirectory(prefix="teacher-cache-bench-") as tmp:  # private: every fill is timed
        results = {label: measure(recipe, ds, x, y, ch, args.repeats, Path(tmp)) for label, ch in TEACHERS.items()}
    epochs = recipe.student.transfer_train.epochs
    if args.json:
        print(json.dumps({"results": results, "cpu": cpu(), "versions": versions("torch")}, indent=2))
        return 0
    print(f"{cpu()['model']} ({cpu()['logical_cores']} cores), torch {versions('torch')['torch']}; "
          f"{len(x):,} rows per epoch, batch {recipe.student.transfer_train.batch_size}; median of {args.repeats} "
          "interleaved epochs each, measured:\n")
    print("| teacher | params | fill (once) | epoch, teacher live | epoch, cache fp32 | epoch, cache fp16 "
          f"| live ÷ cache | {epochs}-epoch run saves |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, r in results.items():
        m = r["median"]
        saved = epochs * (m["live"] - m["cache"]) - r["fill_seconds"]
        print(f"| {label} {tuple(r['teacher_channels'])} | {r['teacher_params']:,} | {r['fill_seconds']:.2f} s | "
              f"{m['live']:.2f} s | {m['cache']:.2f} s | {m['cache fp16']:.2f} s | {r['live_over_cache']:.2f}× | "
              f"{saved:.0f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
