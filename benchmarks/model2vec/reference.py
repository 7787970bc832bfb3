"""Model2Vec's ``StaticModel.encode`` in plain numpy + ``tokenizers``, and an ONNX export of it.

Runs in the main .venv (numpy, safetensors, tokenizers; onnx + onnxruntime for the export), never
imports model2vec. It reads a folder written by model2vec 0.10.0's ``save_pretrained``
(benchmarks/model2vec/distil.py):

    model.safetensors  key "embeddings": (vocab, dims) table, float16 by default (distill's quantize_to);
                       optional "weights" (vocab,) and "mapping" (vocab,) int only after vocabulary quantization
    tokenizer.json     the teacher's BertNormalizer + BertPreTokenizer + WordPiece, with [unusedN], [CLS],
                       [SEP], [MASK] removed and ids renumbered ([PAD]=0, [UNK]=1); no post-processor
                       (so no [CLS]/[SEP]); truncation 512; padding disabled
    config.json        "normalize": true, "max_length": 512

What ``encode`` does (model2vec/model.py), reproduced by ``StaticEncoder.encode``:
  1. cut every sentence to max_length * median_token_length characters (median over the vocab strings,
     int(np.median(...)); 512 * 6 = 3072 here) — only bites on very long texts;
  2. tokenise with add_special_tokens=False, truncation at max_length (512) tokens, no padding;
  3. drop every [UNK] id (a word WordPiece cannot split becomes one [UNK]: it is removed, not embedded);
  4. mean of the table rows (no per-token weights unless the table was vocabulary-quantized); numpy
     accumulates float16 rows in float32 and rounds the mean back to float16;
  5. if config normalize: x / (||x||_2 + 1e-32) in float32, rounded back to the table dtype (float16).
     A sentence with no tokens left gives a zero vector.
``encode(..., exact=True)`` (the default) keeps those float16 roundings so the result equals model2vec's
bit for bit; ``exact=False`` computes in float32 throughout (what the ONNX graph does).

    .venv/bin/python benchmarks/model2vec/reference.py check M2V_FOLDER [--teacher TEACHER_FOLDER]

encodes 2,000 WordNet glosses with model2vec (subprocess in benchmarks/model2vec/.venv) and with this
file, exports both ONNX variants and prints one JSON report of the differences.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

HERE = Path(__file__).resolve().parent


class StaticEncoder:
    """A model2vec folder loaded without model2vec: ``.encode(list[str]) -> (N, D) float32``."""

    def __init__(self, folder: str | Path, max_length: int | None = None):
        folder = Path(folder)
        tensors = load_file(str(folder / "model.safetensors"))
        key = "embeddings" if "embeddings" in tensors else "embedding.weight"  # model2vec / sentence-transformers
        self.table: np.ndarray = tensors[key]
        self.weights: np.ndarray | None = tensors.get("weights")
        self.mapping: np.ndarray | None = tensors.get("mapping")
        cfg_path = folder / "config.json"
        self.config: dict = json.loads(cfg_path.read_text()) if cfg_path.is_file() else {}
        self.normalize = bool(self.config.get("normalize", False))
        self.max_length = max_length if max_length is not None else self.config.get("max_length", 512)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        if self.max_length is None:
            self.tokenizer.no_truncation()
        else:
            self.tokenizer.enable_truncation(self.max_length)
        vocab = self.tokenizer.get_vocab()
        unk = getattr(self.tokenizer.model, "unk_token", None)
        if unk is None and hasattr(self.tokenizer.model, "unk_id"):  # Unigram
            self.unk_id = json.loads(self.tokenizer.to_str())["model"].get("unk_id")
        else:
            self.unk_id = self.tokenizer.token_to_id(unk) if unk is not None else None
        self.median_token_length = int(np.median([len(t) for t in vocab]))
        if self.mapping is None and len(self.table) != len(vocab):
            raise ValueError(f"table has {len(self.table)} rows, tokenizer {len(vocab)} tokens")

    @property
    def dim(self) -> int:
        return int(self.table.shape[1])

    def tokenize(self, sentences: Sequence[str]) -> list[list[int]]:
        """Ids as model2vec uses them: char cut, no special tokens, truncation, [UNK] dropped."""
        if self.max_length is not None:
            m = self.max_length * self.median_token_length
            sentences = [s[:m] for s in sentences]
        enc = self.tokenizer.encode_batch(list(sentences), add_special_tokens=False)
        return [[i for i in e.ids if i != self.unk_id] for e in enc]

    def float32_table(self) -> np.ndarray:
        """(vocab, D) float32 rows indexed by tokenizer id, with mapping and weights folded in."""
        t = self.table.astype(np.float32)
        if self.mapping is not None:
            t = t[self.mapping]
        if self.weights is not None:
            t = t * self.weights.astype(np.float32)[:, None]
        return np.ascontiguousarray(t)

    def encode(self, sentences: Sequence[str], exact: bool = True) -> np.ndarray:
        ids = self.tokenize(sentences)
        if not exact:
            table = self.float32_table()
            out = np.zeros((len(ids), self.dim), np.float32)
            for i, row in enumerate(ids):
                if row:
                    out[i] = table[row].mean(axis=0, dtype=np.float32)
            if self.normalize:
                out /= np.linalg.norm(out, axis=1, keepdims=True) + np.float32(1e-32)
            return out
        # exact: the same numpy operations, in the same dtypes, as model2vec 0.10.0 StaticModel._encode_batch
        dtype = np.dtype(np.float32) if self.table.dtype == np.int8 else self.table.dtype
        out = np.zeros((len(ids), self.dim), dtype=dtype)
        if self.mapping is None and self.weights is None:
            buckets: dict[int, list[int]] = defaultdict(list)
            for i, row in enumerate(ids):
                if row:
                    buckets[len(row)].append(i)
            for idx in buckets.values():
                out[idx] = self.table[np.array([ids[i] for i in idx], dtype=np.int64)].mean(axis=1)
        else:
            for i, row in enumerate(ids):
                if row:
                    rows = self.mapping[row] if self.mapping is not None else row
                    emb = self.table[rows]
                    if self.weights is not None:
                        emb = emb * self.weights[row][:, None]
                    out[i] = emb.mean(axis=0)
        if self.normalize:
            out32 = out.astype(np.float32)
            out = (out32 / (np.linalg.norm(out32, axis=1, keepdims=True) + 1e-32)).astype(out.dtype)
        return out.astype(np.float32)


def load(folder: str | Path) -> StaticEncoder:
    return StaticEncoder(folder)


def _teacher_remap(enc: StaticEncoder, teacher_tokenizer: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Table and keep-vector indexed by the *teacher* tokenizer's ids (matched by token string)."""
    tvocab = Tokenizer.from_file(str(teacher_tokenizer)).get_vocab()
    mvocab = enc.tokenizer.get_vocab()
    src = enc.float32_table()
    table = np.zeros((max(tvocab.values()) + 1, enc.dim), np.float32)
    keep = np.zeros(len(table), np.float32)
    for tok, tid in tvocab.items():
        mid = mvocab.get(tok)
        if mid is not None and mid != enc.unk_id:
            table[tid] = src[mid]
            keep[tid] = 1.0
    return table, keep


def to_onnx(
    folder: str | Path,
    path: str | Path,
    teacher_tokenizer: str | Path | None = None,
    table_dtype: str = "float32",
    opset: int = 17,
) -> Path:
    """Single-file ONNX: Gather -> masked mean -> L2 normalise (if config normalize).

    Inputs ``input_ids`` (batch, sequence) int64 and ``attention_mask`` (batch, sequence) int64; output
    ``embedding`` (batch, D) float32. The token weight is attention_mask * keep[input_ids]; keep is 0 for
    [UNK] (model2vec drops it) and 1 otherwise, so a caller passes a tokenizer's padded output unchanged.

    teacher_tokenizer=None: ids from the folder's own tokenizer.json, encoded with add_special_tokens=False
      (the ids model2vec uses, [UNK] may stay in: the graph drops it).
    teacher_tokenizer=<teacher tokenizer.json>: ids from the teacher's tokenizer as it ships, [CLS]/[SEP]
      included: the table is re-indexed to teacher ids by token string and keep is 0 for [CLS], [SEP],
      [MASK], [UNK] and the [unusedN] rows (absent from model2vec's vocab; those rows are zero).
    The graph computes in float32 (no float16 rounding of the mean): expect ~1e-3 against model2vec's
    float16 output, ~1e-7 against ``encode(exact=False)``. table_dtype="float16" stores the table as
    float16 (half the file, exact same values for a float16 model) with a Cast after the Gather.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    enc = StaticEncoder(folder)
    if teacher_tokenizer is None:
        table = enc.float32_table()
        keep = np.ones(len(table), np.float32)
        if enc.unk_id is not None:
            keep[enc.unk_id] = 0.0
    else:
        table, keep = _teacher_remap(enc, teacher_tokenizer)
    if table_dtype == "float16":
        table = table.astype(np.float16)
    elif table_dtype != "float32":
        raise ValueError("table_dtype: float32 or float16")

    inits = [
        numpy_helper.from_array(table, "table"),
        numpy_helper.from_array(keep, "keep"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
        numpy_helper.from_array(np.array(1e-32, np.float32), "eps"),
    ]
    mk = helper.make_node
    gathered = "rows16" if table_dtype == "float16" else "rows"
    nodes = [mk("Gather", ["table", "input_ids"], [gathered], axis=0)]  # (B, S, D)
    if table_dtype == "float16":
        nodes.append(mk("Cast", ["rows16"], ["rows"], to=TensorProto.FLOAT))
    nodes += [
        mk("Gather", ["keep", "input_ids"], ["k"], axis=0),  # (B, S)
        mk("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        mk("Mul", ["maskf", "k"], ["w"]),  # (B, S)
        mk("ReduceSum", ["w", "axis1"], ["count"], keepdims=1),  # (B, 1)
        mk("Max", ["count", "one"], ["count1"]),  # empty sentence -> zero vector, not NaN
        mk("Unsqueeze", ["w", "axis1"], ["w3"]),  # (B, 1, S)
        mk("MatMul", ["w3", "rows"], ["sum3"]),  # (B, 1, D)
        mk("Squeeze", ["sum3", "axis1"], ["sum"]),  # (B, D)
        mk("Div", ["sum", "count1"], ["mean" if enc.normalize else "embedding"]),
    ]
    if enc.normalize:
        nodes += [
            mk("Mul", ["mean", "mean"], ["sq"]),
            mk("ReduceSum", ["sq", "axis1"], ["sumsq"], keepdims=1),
            mk("Sqrt", ["sumsq"], ["norm"]),
            mk("Add", ["norm", "eps"], ["norm_eps"]),  # model2vec: x / (||x|| + 1e-32)
            mk("Div", ["mean", "norm_eps"], ["embedding"]),
        ]
    graph = helper.make_graph(
        nodes,
        "model2vec_static",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", enc.dim])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="edgedistill")
    model.ir_version = 8
    model.doc_string = (
        "Model2Vec static model: mean of table[input_ids] weighted by attention_mask*keep[input_ids]"
        + (", L2-normalised" if enc.normalize else "")
        + (" (teacher-tokenizer ids)" if teacher_tokenizer is not None else " (model2vec tokenizer ids)")
    )
    onnx.checker.check_model(model, full_check=True)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(path), save_as_external_data=False)
    return path


# --- check: model2vec's encode vs this file, and onnxruntime vs both ---------------------------------------------

_M2V_ENCODE = """
import json, sys, numpy as np
from model2vec import StaticModel
folder, sents, out = sys.argv[1:4]
m = StaticModel.from_pretrained(folder)
e = m.encode(json.load(open(sents)))
print(json.dumps({"dtype": str(e.dtype), "shape": list(e.shape)}))
np.save(out, e)
"""


def wordnet_glosses(n: int = 2000, path: str = "/usr/share/wordnet/data.noun") -> list[str]:
    """n glosses (text after ' | ') spread evenly over WordNet's data.noun (apt-get install wordnet-base)."""
    lines = [ln for ln in Path(path).read_text(encoding="utf-8", errors="replace").splitlines() if " | " in ln]
    lines = [ln for ln in lines if not ln.startswith("  ")]  # licence header
    step = max(1, len(lines) // n)
    return [ln.split(" | ", 1)[1].strip() for ln in lines[::step][:n]]


EDGE_CASES = [
    "",
    "🙂🙂🙂",  # only [UNK] -> dropped -> zero vector
    "naïve café résumé Ünïcödé",
    "literal [CLS] and [SEP] and [MASK] and [PAD] and [UNK] text",
    "hello 🙂 world",
    " ".join(["antidisestablishmentarianism"] * 700),  # > 512 tokens and > 512*5 chars: both cuts bite
]


def _cmp(a: np.ndarray, b: np.ndarray) -> dict:
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    ok = (na > 0) & (nb > 0)
    cos = (a[ok] * b[ok]).sum(1) / (na[ok] * nb[ok])
    return {
        "max_abs_diff": float(np.abs(a - b).max()),
        "mean_cosine": float(cos.mean()) if ok.any() else None,
        "min_cosine": float(cos.min()) if ok.any() else None,
        "bitwise_equal_rows": int((a == b).all(1).sum()),
        "rows": len(a),
        "zero_rows_a": int((na == 0).sum()),
        "zero_rows_b": int((nb == 0).sum()),
    }


def _pad(rows: list[list[int]], pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    width = max(1, max(len(r) for r in rows))
    ids = np.full((len(rows), width), pad_id, np.int64)
    mask = np.zeros((len(rows), width), np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
        mask[i, : len(r)] = 1
    return ids, mask


def check(folder: Path, teacher: Path | None, m2v_python: Path, workdir: Path, n: int = 2000) -> dict:
    import subprocess

    import onnxruntime as ort

    workdir.mkdir(parents=True, exist_ok=True)
    enc = load(folder)
    report: dict = {
        "table": {
            "key": "embeddings",
            "shape": list(enc.table.shape),
            "dtype": str(enc.table.dtype),
            "bytes": int(enc.table.nbytes),
            "bytes_fp32": int(enc.table.size * 4),
        },
        "normalize": enc.normalize,
        "max_length": enc.max_length,
        "median_token_length": enc.median_token_length,
        "unk_id": enc.unk_id,
    }
    sets = {"wordnet": wordnet_glosses(n), "edge_cases": EDGE_CASES}
    onnx_m = to_onnx(folder, workdir / "model2vec_static.onnx")
    if teacher is not None:
        ttok_path = teacher / "tokenizer.json"
        onnx_t = to_onnx(folder, workdir / "model2vec_static_teacher_ids.onnx", teacher_tokenizer=ttok_path)
    for name, sents in sets.items():
        sp = workdir / f"{name}.json"
        sp.write_text(json.dumps(sents))
        npy = workdir / f"{name}.model2vec.npy"
        res = subprocess.run(
            [str(m2v_python), "-c", _M2V_ENCODE, str(folder), str(sp), str(npy)],
            capture_output=True,
            text=True,
            env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "TOKENIZERS_PARALLELISM": "false"},
        )
        if res.returncode:
            raise RuntimeError(res.stderr)
        m2v = np.load(npy)
        ref = enc.encode(sents)
        ref32 = enc.encode(sents, exact=False)
        entry = {
            "sentences": len(sents),
            "model2vec_output": json.loads(res.stdout.strip().splitlines()[-1]),
            "reference_exact_vs_model2vec": _cmp(ref, m2v),
            "reference_fp32_vs_model2vec": _cmp(ref32, m2v),
        }
        # ONNX, model2vec-tokenizer ids (add_special_tokens=False, [UNK] left in: the graph drops it)
        sess = ort.InferenceSession(str(onnx_m), providers=["CPUExecutionProvider"])
        cut = [s[: enc.max_length * enc.median_token_length] for s in sents]
        raw = [e.ids for e in enc.tokenizer.encode_batch(cut, add_special_tokens=False)]
        ids, mask = _pad(raw)
        got = sess.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]
        entry["onnx_m2v_ids_vs_reference_fp32"] = _cmp(got, ref32)
        entry["onnx_m2v_ids_vs_model2vec"] = _cmp(got, m2v)
        entry["onnx_m2v_ids_file_bytes"] = onnx_m.stat().st_size
        if teacher is not None:
            ttok = Tokenizer.from_file(str(ttok_path))
            ttok.no_padding()
            ttok.enable_truncation(enc.max_length + 2)  # model2vec: 512 tokens before [CLS]/[SEP]
            tenc = ttok.encode_batch(cut, add_special_tokens=True)
            ids, mask = _pad([e.ids for e in tenc])
            sess = ort.InferenceSession(str(onnx_t), providers=["CPUExecutionProvider"])
            got_t = sess.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]
            entry["onnx_teacher_ids_vs_reference_fp32"] = _cmp(got_t, ref32)
            entry["onnx_teacher_ids_vs_model2vec"] = _cmp(got_t, m2v)
            entry["onnx_teacher_ids_file_bytes"] = onnx_t.stat().st_size
            # same tokens? teacher ids (no specials, no [UNK]) mapped to strings vs model2vec's token strings
            tvocab_inv = {v: k for k, v in ttok.get_vocab().items()}
            mvocab_inv = {v: k for k, v in enc.tokenizer.get_vocab().items()}
            ttok.enable_truncation(enc.max_length)
            tplain = ttok.encode_batch(cut, add_special_tokens=False)
            same = [
                [tvocab_inv[i] for i in e.ids if tvocab_inv[i] != "[UNK]"] == [mvocab_inv[i] for i in r]
                for e, r in zip(tplain, enc.tokenize(sents))
            ]
            entry["teacher_tokens_equal_model2vec_tokens"] = f"{sum(same)}/{len(same)}"
            entry["teacher_tokens_differ_at"] = [i for i, s in enumerate(same) if not s][:10]
            off = np.abs(got_t - ref32).max(1) > 1e-5
            entry["onnx_teacher_ids_rows_off"] = np.flatnonzero(off)[:10].tolist()
        report[name] = entry
    return report


def main(argv: list[str] | None = None) -> int:
    import argparse
    import tempfile

    ap = argparse.ArgumentParser(description="reference encode / ONNX export for a model2vec folder")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="compare with model2vec's own encode (needs benchmarks/model2vec/.venv)")
    c.add_argument("folder", type=Path)
    c.add_argument("--teacher", type=Path, help="teacher folder: also check the teacher-ids ONNX")
    c.add_argument("--m2v-python", type=Path, default=HERE / ".venv" / "bin" / "python")
    c.add_argument("--workdir", type=Path, help="where .npy/.onnx go (default: a temp dir)")
    c.add_argument("-n", type=int, default=2000)
    e = sub.add_parser("onnx", help="export to a single-file ONNX")
    e.add_argument("folder", type=Path)
    e.add_argument("out", type=Path)
    e.add_argument("--teacher-tokenizer", type=Path, help="teacher tokenizer.json: take teacher ids instead")
    e.add_argument("--table-dtype", default="float32", choices=["float32", "float16"])
    args = ap.parse_args(argv)
    if args.cmd == "onnx":
        p = to_onnx(args.folder, args.out, args.teacher_tokenizer, args.table_dtype)
        print(json.dumps({"onnx": str(p), "bytes": p.stat().st_size}))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        report = check(args.folder, args.teacher, args.m2v_python, args.workdir or Path(tmp), args.n)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
