"""Every export preset for the default recipe's student and teacher: size, host latency
(onnxruntime, all files side by side in one process, interleaved rounds, medians), accuracy
and top-1 agreement with the fp32 teacher; then PTQ vs --auto-exclude vs QAT + KD int8 on the
normal and on the deliberately fragile student (models/fragile.py).

    python benchmarks/quantization.py --run runs/mnist1d-…        # a finished default-recipe run
    python benchmarks/quantization.py                              # runs the default recipe first

Prints markdown tables (for benchmarks/RESULTS.md) and writes benchmarks/results/quantization.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgedistill.errors import StageError  # noqa: E402
from edgedistill.export import parity  # noqa: E402
from edgedistill.export.presets import list_presets, load_preset  # noqa: E402
from edgedistill.export.standalone import export_one, load_checkpoint  # noqa: E402


def latency_side_by_side(files: dict[str, Path], x1: np.ndarray, rounds: int = 15, calls: int = 100) -> dict:
    """Median ms per batch-1 call, one thread, rounds interleaved across files so load is shared."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    sessions = {k: ort.InferenceSession(str(p), so, providers=["CPUExecutionProvider"]) for k, p in files.items()}
    feeds = {k: {s.get_inputs()[0].name: x1} for k, s in sessions.items()}
    per_round: dict[str, list[float]] = {k: [] for k in files}
    for k, s in sessions.items():  # warm-up
        for _ in range(20):
            s.run(None, feeds[k])
    for _ in range(rounds):
        for k, s in sessions.items():
            t0 = time.perf_counter()
            for _ in range(calls):
                s.run(None, feeds[k])
            per_round[k].append(1000 * (time.perf_counter() - t0) / calls)
    return {k: statistics.median(v) for k, v in per_round.items()}


def presets_table(ck, role: str, model, out: Path, work: Path, teacher_pred: np.ndarray) -> list[dict]:
    """Every preset's file for `model` (student or teacher): size, parity, accuracy, teacher agreement."""
    ck_role = replace(ck, student=model)
    rows = []
    for name in list_presets():
        preset = load_preset(name)
        folder = out / role / name
        folder.mkdir(parents=True)
        t0 = time.perf_counter()
        try:
            rec = export_one(ck_role, preset, folder, work / role)
        except StageError as exc:
            rows.append({"role": role, "preset": name, "error": str(exc)})
            continue
        path = folder / rec["artifact"]["name"]
        row = {"role": role, "preset": name, "file": rec["artifact"]["name"], "path": str(path),
               "bytes": rec["artifact"]["bytes"], "seconds": round(time.perf_counter() - t0, 2),
               "parity": rec["parity"]}
        if preset.format != "coreml":
            pred = parity.onnx_logits(path, ck.dataset.x_test["input"]).argmax(1)
            row["accuracy"] = 100 * float((pred == ck.dataset.y_test).mean())
            row["agreement"] = 100 * float((pred == teacher_pred).mean())
        rows.append(row)
    return rows


def int8_recovery(ck, model, label: str, out: Path, qat_epochs: int) -> dict:
    """fp32 vs PTQ int8 vs PTQ + --auto-exclude vs QAT + KD int8 for one student model."""
    from edgedistill.export.standalone import _reference
    from edgedistill.quantize.qat import qat_kd_qdq
    from edgedistill.quantize.stage import Sources, derive

    ds, preset = ck.dataset, load_preset("onnx-int8-qdq")
    ref = _reference(ck.student, ds.x_test, ck.task)  # the original float student: what int8 must keep
    folder = out / f"recovery-{label}"
    folder.mkdir(parents=True)
    fp32 = folder / "fp32.onnx"
    export_one(replace(ck, student=model), load_preset("onnx-fp32"), folder, folder)
    (folder / "student-fp32.onnx").rename(fp32)
    s = Sources(fp32, None, ds.x_train["input"], ds.x_test["input"], ds.y_test, ref)

    def acc(path):
        return 100 * float((parity.onnx_logits(path, ds.x_test["input"]).argmax(1) == ds.y_test).mean())

    row = {"model": label, "fp32_student": 100 * float((ref.argmax(1) == ds.y_test).mean()), "fp32_file": acc(fp32)}
    try:
        derive(preset, "ptq.onnx", folder, s)
        row["ptq_int8"] = acc(folder / "ptq.onnx")
    except StageError as exc:
        row["ptq_int8"] = exc.parity["accuracy"]["value"]
        row["ptq_cosine"] = exc.parity["mean_cosine"]["value"]
        meta, _ = derive(preset, "ax.onnx", folder, s, auto_exclude=True)
        row["auto_exclude_int8"] = acc(folder / "ax.onnx")
        row["auto_exclude_nodes"] = meta["auto_exclude"]["nodes_to_exclude"]
        row["sensitivity"] = [(r["node"], r["mean_cosine"]) for r in meta["sensitivity"]["layers"]]
    t0 = time.perf_counter()
    meta, _ = qat_kd_qdq(model, ck.teacher, ds, preset, folder / "qat.onnx", epochs=qat_epochs)
    row["qat_kd_int8"] = acc(folder / "qat.onnx")
    row["qat_seconds"] = round(time.perf_counter() - t0, 1)
    row["qat_learned_ranges"] = meta["qat_kd"]["learned_ranges"]
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="A finished default-recipe run folder (else one is run first).")
    ap.add_argument("--qat-epochs", type=int, default=3)
    ap.add_argument("--fragile-factor", type=float, default=200.0)
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "quantization.json")
    args = ap.parse_args(argv)
    from edgedistill.hostinfo import cpu, versions
    from edgedistill.models.fragile import make_fragile

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run = args.run
        if run is None:
            from edgedistill.pipeline import run as run_pipeline
            from edgedistill.progress import Reporter

            run = run_pipeline(None, out=tmp / "run", reporter=Reporter(quiet=True)).out
        ck = load_checkpoint(run)
        teacher_pred = _ref_pred(ck.teacher, ck.dataset.x_test["input"])
        rows = presets_table(ck, "student", ck.student, tmp / "out", tmp / "work", teacher_pred)
        rows += presets_table(ck, "teacher", ck.teacher, tmp / "out", tmp / "work", teacher_pred)
        files = {f"{r['role']}/{r['preset']}": Path(r["path"]) for r in rows if "accuracy" in r}
        lat = latency_side_by_side(files, ck.dataset.x_test["input"][:1])
        for r in rows:
            r["p50_ms"] = lat.get(f"{r['role']}/{r['preset']}")
        recovery = [int8_recovery(ck, ck.student, "student", tmp, args.qat_epochs),
                    int8_recovery(ck, make_fragile(ck.student, factor=args.fragile_factor),
                                  f"fragile-x{args.fragile_factor:g}", tmp, args.qat_epochs)]
    result = {"cpu": cpu(), "versions": versions("torch", "onnx", "onnxruntime", "coremltools"),
              "presets": [{k: v for k, v in r.items() if k != "path"} for r in rows], "int8_recovery": recovery}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    _print(rows, recovery)
    return 0


def _ref_pred(model, x):
    from edgedistill.distill.train import predict_logits

    return predict_logits(model, torch.from_numpy(x)).numpy().argmax(1)


def _print(rows, recovery) -> None:
    fp32 = {r["role"]: r for r in rows if r["preset"] == "onnx-fp32"}
    print("| model | preset | file | bytes | × fp32 | p50 µs (batch 1) | × fp32 | accuracy | agreement w/ teacher |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if "error" in r:
            print(f"| {r['role']} | {r['preset']} | FAILED: {r['error'][:80]} |||||||")
            continue
        base = fp32[r["role"]]
        lat = f"{1000 * r['p50_ms']:.1f} | {r['p50_ms'] / base['p50_ms']:.2f}" if r.get("p50_ms") else "— | —"
        acc = f"{r['accuracy']:.1f}% | {r['agreement']:.1f}%" if "accuracy" in r else "not measurable on Linux | —"
        print(f"| {r['role']} | {r['preset']} | {r['file']} | {r['bytes']:,} | {r['bytes'] / base['bytes']:.2f} | "
              f"{lat} | {acc} |")
    print("\n| model | fp32 student | PTQ int8 | PTQ + auto-exclude | QAT + KD int8 |")
    print("|---|---:|---:|---:|---:|")
    for r in recovery:
        ax = f"{r['auto_exclude_int8']:.1f}% ({', '.join(r['auto_exclude_nodes'])} float)" if "auto_exclude_int8" in r \
            else "not needed"
        print(f"| {r['model']} | {r['fp32_student']:.1f}% | {r['ptq_int8']:.1f}% | {ax} | {r['qat_kd_int8']:.1f}% |")


if __name__ == "__main__":
    sys.exit(main())
