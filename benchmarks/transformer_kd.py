"""Transformer distillation (issue 14, the `minilm-news` recipe): over seeds, teacher vs scratch vs distilled
students (TinyBERT terms and plain Hinton KD); on a run folder, the int8 teacher, batch-1 latency of every
file, teacher labelling throughput and achieved GFLOP/s. All figures measured on this host.

    .venv/bin/python benchmarks/transformer_kd.py [--seeds 0 1 2] [--variants tinybert kd] [--recipe minilm-news]
        [--set student.train.epochs=6] [--reuse RUN_DIR ...] [--rounds 200] [--label-texts 2000] [--json]

Variants: `tinybert` is the recipe as it is; `kd` drops distill.terms (hinton_kd only). Run folders go to
--runs/<variant>-seed<N>/ (one that exists with the same recipe hash is reused, not retrained); each seed has
its own cache folder, so the two variants of a seed share one fine-tuned teacher. --reuse measures existing
run folders and trains nothing. Latency: onnxruntime CPU, 1 intra-op and 1 inter-op thread, sequential, batch
1 at the eval rows' length (128 for minilm-news), every file timed interleaved in one loop (round r: one call
of each file, order rotated by r) on real eval.npz rows. The int8 teacher is made here by the onnx-int8-dynamic
preset's quantizer; when teacher-fp32.onnx holds onnxruntime-fused ops (export/fusion.py), from the teacher
re-exported unfused (as the quantize stage does for the student), which is timed too. Prints a markdown block
for benchmarks/RESULTS.md and writes one JSON per run folder into --results.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import numpy as np
from charlm import parse_sets  # benchmarks/charlm.py: --set KEY=VALUE → nested overrides

from edgedistill.hostinfo import cpu, versions

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {"tinybert": {}, "kd": {"distill": {"terms": []}}}
STUDENTS = ("scratch", "distilled", "distilled_transfer")
FILES = ("teacher-fp32", "teacher-fp32-unfused", "teacher-int8", "student-fp32", "student-int8")
LABELLERS = ("teacher-fp32", "teacher-int8")
ON_DISK = {"teacher-fp32": "teacher-fp32.onnx", "student-fp32": "student-fp32.onnx",
           "student-int8": "student-int8-dynamic.onnx"}  # teacher-int8: made here


def merge(base: dict, over: dict) -> dict:
    """Nested dicts merged, `over` winning."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def train(recipe: str, seed: int, variant: str, sets: dict, runs: Path, verbose: bool) -> Path:
    """The recipe run for (variant, seed) into runs/<variant>-seed<seed>, unless an identical one is there."""
    from edgedistill.pipeline import run
    from edgedistill.progress import Reporter
    from edgedistill.recipe import load_recipe

    overrides, out = merge(merge(sets, VARIANTS[variant]), {"seed": seed}), runs / f"{variant}-seed{seed}"
    if (out / "report.json").is_file():
        done = json.loads((out / "report.json").read_text())["recipe"]["hash"]
        if done == load_recipe(recipe, overrides)[0].section_hash():
            print(f"{out}: same recipe already run there, reused", file=sys.stderr)
            return out
        sys.exit(f"{out} holds a run of another recipe: delete it or pass another --runs")
    t0 = time.time()
    run(recipe, out=out, reporter=Reporter(quiet=not verbose), cache_dir=runs / "cache" / f"seed{seed}",
        overrides=overrides)
    print(f"{variant} seed {seed}: {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    return out


def training(folder: Path) -> dict:
    """Seed, variant and torch test accuracies (%) from a run folder's report.json."""
    report = json.loads((folder / "report.json").read_text())
    config, t = report["recipe"]["config"], report["training"]
    acc = {"teacher": t["teacher"]["metrics"]["accuracy"]["value"],
           **{s: t["students"][s]["metrics"]["accuracy"]["value"] for s in STUDENTS if s in t["students"]}}
    return {"folder": str(folder), "recipe": report["recipe"]["name"], "seed": config["seed"],
            "variant": "tinybert" if config["distill"]["terms"] else "kd", "teacher_cached": t["teacher"]["cached"],
            "shipped": t["shipped"],  # the student the files are of (minilm-news: distilled)
            "accuracy": acc, "share_of_teacher": {s: 100 * acc[s] / acc["teacher"] for s in STUDENTS if s in acc},
            "beats_scratch": {s: acc[s] > acc["scratch"] for s in STUDENTS[1:] if s in acc}}


def session(path: Path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def predict(sess, ids: np.ndarray, mask: np.ndarray, batch: int = 32) -> np.ndarray:
    return np.concatenate([sess.run(None, {"input_ids": ids[i:i + batch], "attention_mask": mask[i:i + batch]})[0]
                           for i in range(0, len(ids), batch)]).argmax(1)


def latency(sessions: dict, ids: np.ndarray, mask: np.ndarray, rounds: int, warmup: int,
            own_length: bool = False) -> dict:
    """Per file: median and p90 ms of batch-1 calls, all files interleaved, order rotated each round; each
    row at the eval rows' length, or (`own_length`) cut to its own tokens."""
    names, times = list(sessions), {k: [] for k in sessions}
    for r in range(warmup + rounds):
        n = int(mask[r % len(ids)].sum()) if own_length else ids.shape[1]
        feed = {"input_ids": ids[r % len(ids), None, :n], "attention_mask": mask[r % len(ids), None, :n]}
        for k in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            sessions[k].run(None, feed)
            if r >= warmup:
                times[k].append(1000 * (time.perf_counter() - t0))
    return {k: {"p50_ms": float(np.median(v)), "p90_ms": float(np.percentile(v, 90))} for k, v in times.items()}


def labelling(sessions: dict, tokenizer: Path, max_len: int, n: int, batch: int = 64) -> dict:
    """Sentences per CPU-second of each teacher file on `n` WordNet glosses: padded to max_len in file order, vs
    sorted by length and each batch cut to its longest row; how often int8 labels agree with fp32's, and each
    file's cut labels with its padded ones."""
    from edgedistill.data.text import encode, load_tokenizer, sample
    from edgedistill.data.wordnet import glosses

    enc = encode(load_tokenizer(tokenizer, max_len), sample(glosses(Path("/usr/share/wordnet")), n, 0), max_len,
                 "glosses")
    lengths = enc["attention_mask"].sum(1)
    orders = {"padded": (np.arange(len(lengths)), False), "sorted": (np.argsort(lengths, kind="stable"), True)}
    out, labels = {}, {}
    for mode, (order, cut) in orders.items():
        for k, sess in sessions.items():
            preds, tokens, t0 = np.empty(len(order), np.int64), 0, time.process_time()
            for i in range(0, len(order), batch):
                rows = order[i:i + batch]
                width = int(lengths[rows].max()) if cut else max_len
                ids, mask = enc["input_ids"][rows, :width], enc["attention_mask"][rows, :width]
                preds[rows] = sess.run(None, {"input_ids": ids, "attention_mask": mask})[0].argmax(1)
                tokens += ids.size
            cpu_s = time.process_time() - t0
            out[f"{k} {mode}"] = {"sentences_per_cpu_s": len(order) / cpu_s, "cpu_s": cpu_s, "tokens_fed": tokens}
            labels[k, mode] = preds
            out[f"{k} {mode}"]["same_as_padded"] = 100 * float((preds == labels[k, "padded"]).mean())
        out[f"agreement {mode}"] = 100 * float((labels["teacher-int8", mode] == labels["teacher-fp32", mode]).mean())
    out["texts"], out["mean_tokens"], out["batch"] = n, float(lengths.mean()), batch
    return out


def graph_macs(path: Path, seq: int) -> tuple[int, int]:
    """(MACs at batch 1 × seq from bench/cost.py — a fused Attention counted as the MatMuls it replaced —,
    fused com.microsoft ops)."""
    import onnx

    from edgedistill.bench.cost import graph_cost

    macs = graph_cost(path, 1, {"input_ids": [1, seq], "attention_mask": [1, seq]}).macs
    g = onnx.load(str(path), load_external_data=False).graph
    return macs, sum(n.domain == "com.microsoft" for n in g.node)


def unfused_teacher(folder: Path, dst: Path) -> Path:
    """The run's fine-tuned teacher exported again without fusion (what the quantize stage derives files from)."""
    from edgedistill.export.onnx import export_onnx
    from edgedistill.export.presets import load_preset
    from edgedistill.export.standalone import load_checkpoint

    ck = load_checkpoint(folder, cache_dir=dst.parent / "cache")
    export_onnx(ck.teacher, ck.task.signature(ck.dataset), dst, load_preset("onnx-fp32").opset)
    return dst


def measure(folder: Path, rounds: int, warmup: int, label_texts: int) -> dict:
    """The int8 teacher (the onnx-int8-dynamic preset's quantizer, on the unfused graph) and every file's size,
    ORT accuracy, latency, achieved GFLOP/s, and the teacher's labelling throughput."""
    from edgedistill.export.presets import load_preset
    from edgedistill.quantize.onnx import quantize_dynamic_int8

    ev = np.load(folder / "eval.npz")
    ids, mask, y, seq = ev["input_ids"], ev["attention_mask"], ev["y"], ev["input_ids"].shape[1]
    with tempfile.TemporaryDirectory() as tmp:
        paths = {k: folder / v for k, v in ON_DISK.items()}
        src = paths["teacher-fp32"]
        if graph_macs(src, seq)[1]:  # fused: the quantizers leave com.microsoft Attention in float
            src = paths["teacher-fp32-unfused"] = unfused_teacher(folder, Path(tmp) / "teacher-fp32-unfused.onnx")
        paths["teacher-int8"] = Path(tmp) / "teacher-int8-dynamic.onnx"
        t0 = time.perf_counter()
        quant = quantize_dynamic_int8(src, paths["teacher-int8"], load_preset("onnx-int8-dynamic").quantization)
        quant.update(seconds=time.perf_counter() - t0, source=src.name)
        order = [k for k in FILES if k in paths]
        sessions, files = {k: session(paths[k]) for k in order}, {}
        for k in order:
            pred = predict(sessions[k], ids, mask)
            macs, fused = graph_macs(paths[k], seq)
            files[k] = {"bytes": paths[k].stat().st_size, "macs": macs, "fused_ops": fused,
                        "accuracy": 100 * float((pred == y).mean()),
                        "agreement": 100 * float((pred == ev["teacher_pred"]).mean())}
        load_before = os.getloadavg()
        lat = latency(sessions, ids, mask, rounds, warmup)
        load_after = os.getloadavg()
        label = labelling({k: sessions[k] for k in LABELLERS}, folder / "tokenizer.json", seq, label_texts)
    for k, f in files.items():
        f.update(lat[k], gflops=2 * f["macs"] / (lat[k]["p50_ms"] / 1000) / 1e9)
    return {"files": files, "seq": seq, "eval_rows": len(y), "rounds": rounds, "warmup": warmup, "quantization": quant,
            "load_average_latency": [load_before, load_after], "labelling": label}


def pct(vals) -> str:
    sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return f"{statistics.mean(vals):.2f} ± {sd:.2f}"


def present(runs: list[dict], variant: str) -> list[str]:
    """The students the variant's runs trained (a recipe without [student.transfer_train] has no transfer one)."""
    return [s for s in STUDENTS if any(s in r["accuracy"] for r in runs if r["variant"] == variant)]


def accuracy_table(runs: list[dict]) -> list[str]:
    """One row per model and variant, one column per seed: accuracy (share of the teacher's)."""
    seeds = sorted({r["seed"] for r in runs})
    by = {(r["variant"], r["seed"]): r for r in runs}
    variants = [v for v in VARIANTS if any(r["variant"] == v for r in runs)]
    lines = ["| model | variant | " + " | ".join(f"seed {s}" for s in seeds) + " | mean ± std | share of teacher |",
             "|---|---|" + "---:|" * (len(seeds) + 2)]
    for model in ("teacher", *STUDENTS):
        for v in variants[:1] if model == "teacher" else [v for v in variants if model in present(runs, v)]:
            got = [by.get((v, s)) for s in seeds]
            vals = [g["accuracy"][model] for g in got if g]
            share = [g["share_of_teacher"][model] for g in got if g] if model != "teacher" else [100.0]
            cells = " | ".join(f"{g['accuracy'][model]:.2f}%" if g else "—" for g in got)
            lines.append(f"| {model} | {'—' if model == 'teacher' else v} | {cells} | {pct(vals)}% | {pct(share)}% |")
    for v in variants:
        for s_ in present(runs, v)[1:]:
            wins = [by.get((v, s)) for s in seeds]
            cells = " | ".join(f"{g['accuracy'][s_] - g['accuracy']['scratch']:+.2f} pp" if g else "—" for g in wins)
            lines.append(f"| {s_} − scratch | {v} | {cells} | | |")
    return lines


def files_table(m: dict, peak: float) -> list[str]:
    f, t = m["files"], m["files"]["teacher-fp32"]
    lines = ["| file | bytes | × smaller than teacher-fp32 | accuracy | agreement w/ teacher | p50 ms | p90 ms "
             f"| × faster than teacher-fp32 | MMACs | achieved G(int)op/s | % of fp32 1-thread peak ({peak / 2:.1f}) |",
             "|---|" + "---:|" * 10]
    for k, x in f.items():
        name = f"{k} (fused: {x['fused_ops']} com.microsoft ops)" if x["fused_ops"] else k
        lines.append(f"| {name} | {x['bytes']:,} | {t['bytes'] / x['bytes']:.1f}× | {x['accuracy']:.2f}% | "
                     f"{x['agreement']:.2f}% | {x['p50_ms']:.2f} | {x['p90_ms']:.2f} | "
                     f"{t['p50_ms'] / x['p50_ms']:.2f}× | {x['macs'] / 1e6:,.2f} | {x['gflops']:.1f} | "
                     f"{100 * x['gflops'] / (peak / 2):.1f}% |")
    return lines


def label_table(lab: dict) -> list[str]:
    base = lab["teacher-fp32 padded"]["sentences_per_cpu_s"]
    lines = ["| teacher file | batches of 64 | tokens fed | sentences / CPU-s | × fp32 padded | labels = padded "
             "| int8 labels = fp32 |", "|---|---|---:|---:|---:|---:|---:|"]
    for mode in ("padded", "sorted"):
        how = "file order, padded to max_len" if mode == "padded" else "sorted by length, cut to longest row"
        for k in LABELLERS:
            x = lab[f"{k} {mode}"]
            lines.append(f"| {k} | {how} | {x['tokens_fed']:,} | {x['sentences_per_cpu_s']:,.1f} | "
                         f"{x['sentences_per_cpu_s'] / base:.2f}× | {x['same_as_padded']:.2f}% | "
                         f"{lab[f'agreement {mode}']:.2f}% |")
    return lines


def goals(runs: list[dict], m: dict) -> list[tuple[str, bool, str]]:
    """(goal, met, margin) for the issue's targets; the 97% one over the tinybert variant's seeds."""
    main = [r for r in runs if r["variant"] == "tinybert"] or runs
    share = [r["share_of_teacher"][r["shipped"]] for r in main]
    f = m["files"]
    speed = f["teacher-fp32"]["p50_ms"] / f["student-int8"]["p50_ms"]
    size = f["teacher-fp32"]["bytes"] / f["student-int8"]["bytes"]
    t8 = f["teacher-fp32"]["p50_ms"] / f["teacher-int8"]["p50_ms"]
    drop = f["teacher-fp32"]["accuracy"] - f["teacher-int8"]["accuracy"]
    goal = f"shipped student ({main[0]['shipped']}) ≥ 97% of teacher accuracy (mean over seeds)"
    out = [(goal, statistics.mean(share) >= 97,
            f"{statistics.mean(share):.2f}% (min {min(share):.2f}%), margin {statistics.mean(share) - 97:+.2f} pts"),
           ("student int8 p50 ≥ 5× lower than teacher fp32", speed >= 5, f"{speed:.2f}×, margin {speed - 5:+.2f}×"),
           ("student int8 file ≥ 10× smaller than teacher fp32", size >= 10, f"{size:.1f}×, margin {size - 10:+.1f}×")]
    for v in dict.fromkeys(r["variant"] for r in runs):
        for s in present(runs, v)[1:]:
            gaps = [r["accuracy"][s] - r["accuracy"]["scratch"] for r in runs if r["variant"] == v]
            out.append((f"{v}: {s} beats scratch on every seed ({len(gaps)})", min(gaps) > 0,
                        f"smallest gap {min(gaps):+.2f} pp"))
    unfused = f"; vs unfused fp32 {f['teacher-fp32-unfused']['p50_ms'] / f['teacher-int8']['p50_ms']:.2f}×" \
        if "teacher-fp32-unfused" in f else ""
    out.append(("teacher int8 ≥ 1.8× faster than the teacher-fp32 file at ≤ 0.5 pp drop", t8 >= 1.8 and drop <= 0.5,
                f"{t8:.2f}× (margin {t8 - 1.8:+.2f}×), drop {drop:+.2f} pp (margin {0.5 - drop:+.2f} pp){unfused}"))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipe", default="minilm-news")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--reuse", nargs="+", type=Path, metavar="RUN_DIR", help="measure these run folders, train none")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "transformer_kd", help="where trained runs go")
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "transformer_kd")
    ap.add_argument("--measure-all", action="store_true", help="measure every run folder, not only the first")
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--label-texts", type=int, default=2000)
    ap.add_argument("--json", action="store_true", help="print the whole result as JSON instead of markdown")
    ap.add_argument("--verbose", action="store_true", help="show training progress")
    args = ap.parse_args()
    load_start, start = os.getloadavg(), time.time()
    folders = args.reuse or [train(args.recipe, s, v, parse_sets(args.sets), args.runs, args.verbose)
                             for s in args.seeds for v in args.variants]
    runs = [training(f) for f in folders]
    for i, r in enumerate(runs):
        if i == 0 or args.measure_all:
            print(f"measuring {r['folder']} …", file=sys.stderr, flush=True)
            r["measured"] = measure(Path(r["folder"]), args.rounds, args.warmup, args.label_texts)
        args.results.mkdir(parents=True, exist_ok=True)
        (args.results / f"{r['recipe']}-{r['variant']}-seed{r['seed']}.json").write_text(json.dumps(r, indent=2))
    m, peak = runs[0]["measured"], tomllib.loads((ROOT / "devices" / "host-cpu.toml").read_text())["peak"]["gflops"]
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    doc = {"command": " ".join(["benchmarks/transformer_kd.py", *sys.argv[1:]]),
           "date": time.strftime("%Y-%m-%d %H:%M"), "commit": commit, "runs": runs,
           "goals": [{"goal": g, "met": ok, "detail": d} for g, ok, d in goals(runs, m)],
           "load_average": {"start": load_start, "end": os.getloadavg()}, "seconds": time.time() - start, "cpu": cpu(),
           "peak_gflops_2_cores": peak, "versions": versions("edgedistill", "torch", "onnxruntime", "tokenizers")}
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    c, v, la = cpu(), doc["versions"], doc["load_average"]
    print(f"Command: `.venv/bin/python {doc['command']}`, {doc['date']}, commit {commit}, edgedistill "
          f"{v['edgedistill']}, torch {v['torch']}, onnxruntime {v['onnxruntime']}; {c['model']} ({c['logical_cores']} "
          f"cores, {' '.join(c['flags'])}); load average {la['start'][0]:.2f} at start, {la['end'][0]:.2f} at end "
          f"({doc['seconds']:.0f} s). All figures measured.\n")
    print(f"Recipe `{runs[0]['recipe']}`, test accuracy (torch, held-out rows), seeds "
          f"{sorted({r['seed'] for r in runs})}; *tinybert*: hinton_kd + the recipe's TinyBERT terms, "
          "*kd*: hinton_kd only (same teacher per seed):\n")
    print("\n".join(accuracy_table(runs)))
    lb, la2 = m["load_average_latency"]
    print(f"\nFiles of `{runs[0]['folder']}` ({runs[0]['variant']}, seed {runs[0]['seed']}); teacher-int8 made here "
          f"from {m['quantization']['source']} by the onnx-int8-dynamic preset's quantizer "
          f"({m['quantization']['scheme']}, reduce_range {m['quantization']['reduce_range']}). Accuracy through "
          f"onnxruntime on the {m['eval_rows']} eval.npz rows. "
          f"Latency: batch 1 × {m['seq']} tokens (real eval rows), 1 thread, sequential, {m['rounds']} interleaved "
          f"rounds after {m['warmup']} warm-up; load average {lb[0]:.2f} before, {la2[0]:.2f} after. MACs from "
          f"bench/cost.py at 1×{m['seq']} (a fused Attention as the MatMuls it replaced); achieved = 2·MACs / p50, "
          f"against half of devices/host-cpu.toml's {peak} GFLOP/s peak (that figure is for 2 cores at the "
          "2.596 GHz base clock; we run 1 thread, which may boost above it; int8 files run integer ops, whose "
          "peak is higher, so their share can pass 100%):\n")
    print("\n".join(files_table(m, peak)))
    lab = m["labelling"]
    print(f"\nLabelling throughput of the teacher (process CPU time, 1 thread): {lab['texts']:,} WordNet glosses "
          f"(seeded sample; mean {lab['mean_tokens']:.1f} tokens with specials, cut at {m['seq']}):\n")
    print("\n".join(label_table(lab)))
    print("\nGoals:\n")
    for g in doc["goals"]:
        print(f"- **{'PASS' if g['met'] else 'MISS'}** {g['goal']}: {g['detail']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
