"""Text models in the browser runner: the page tokenises each eval text with @huggingface/tokenizers and
must produce Python's ids (tokenizer_parity), and times tokenise and tokenise + infer per text.

A tiny BERT WordPiece tokenizer.json (tests/tinyhf.py) shipped by export/tokenizer.py at max_len 12 beside a
tiny embedding model (nn.Embedding + masked mean, single-file ONNX); eval ids made by data/text.py's
load_tokenizer, as the pipeline makes them. Tests marked `browser` skip where Chromium is missing.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_browser import quick_profile

MAX_LEN = 12
ODD = ["Café naïve résumé über", "goal 😀 emoji 🚀 team", "中文 字 テスト 한국어", "Ünïcödé ÀÉÎÕÜ ß ﬁ ½ ①",
       "tab\tnew\nline  spaces", "", "!!!??? ... ---", "supercalifragilisticexpialidocious " * 3,
       "the match was won by the new team with a goal in the cup final at the field"]


def tiny_embedder(path, vocab: int):
    """input_ids, attention_mask (batch, sequence) int64 → embedding (batch, 8): masked mean of token vectors."""
    import torch

    class Embedder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.emb = torch.nn.Embedding(vocab, 8)

        def forward(self, input_ids, attention_mask):
            m = attention_mask.unsqueeze(-1).float()  # (B, T, 1)
            return (self.emb(input_ids) * m).sum(1) / m.sum(1).clamp(min=1.0)  # (B, 8)

    ids = torch.ones((2, 5), dtype=torch.int64)
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
            "embedding": {0: "batch"}}
    torch.onnx.export(Embedder().eval(), (ids, ids), str(path), input_names=["input_ids", "attention_mask"],
                      output_names=["embedding"], dynamic_axes=axes, opset_version=17, dynamo=False)
    return path


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    """(model, eval arrays, folder): tokenizer.json beside the model; eval ids, masks, texts, teacher vectors."""
    import onnxruntime as ort
    import tinyhf

    from edgedistill.data.text import load_tokenizer
    from edgedistill.export.tokenizer import ship_tokenizer

    d = tmp_path_factory.mktemp("browser-text")
    tinyhf.write_tokenizer(d / "teacher", max_len=32)  # the teacher's file says 32; the shipped one says 12
    (d / "export").mkdir()
    ship_tokenizer(d / "teacher", d / "export", MAX_LEN)
    model = tiny_embedder(d / "export" / "student.onnx", len(tinyhf.vocabulary()))
    texts = ODD + [t for _, t in tinyhf.sentences(60, seed=3)]
    enc = load_tokenizer(d / "export" / "tokenizer.json", MAX_LEN).encode_batch(texts)
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
    vecs = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(
        None, {"input_ids": ids, "attention_mask": mask})[0]
    arrays = {"input_ids": ids, "attention_mask": mask, "text": np.array(texts), "teacher_embedding": vecs}
    assert arrays["text"].dtype.kind == "U" and (mask.sum(1) == MAX_LEN).sum() >= 3  # long texts were truncated
    return model, arrays, d


def save(folder, name, arrays):
    np.savez(folder / name, **arrays)
    return folder / name


@pytest.mark.browser
def test_page_tokenises_like_python_and_times_it(text_model, tmp_path):
    from edgedistill.bench.browser import bench_detailed

    model, arrays, d = text_model
    data = save(d, "eval.npz", arrays)
    ms, details = bench_detailed("student.onnx", model, quick_profile(tmp_path, "browser-wasm"), data)
    got = {m.metric: m.figure for m in ms}
    assert {f.how for f in got.values()} == {"browser"}
    assert got["tokenizer_parity"].value == 100.0 and got["tokenizer_parity"].unit == "%"
    assert got["tokenizer_texts"].value == len(arrays["text"])
    for name in ("tokenize_ms", "text_p50_ms", "tokenizer_load_ms"):
        assert got[name].unit == "ms" and got[name].value > 0, name
    assert got["cosine"].value == pytest.approx(1.0, abs=1e-5)  # the padded eval batches still ran
    tok = details["tokenizer"]
    assert tok["max_len"] == MAX_LEN and "mismatch" not in tok and "note" not in tok  # the shipped length
    assert tok["text_samples"] >= 20 and tok["tokenize_samples"] >= 20  # the quick profile's runs


@pytest.mark.browser
def test_a_mismatch_is_a_figure_with_the_row_and_both_ids(text_model, tmp_path):
    from edgedistill.bench import browser

    model, arrays, d = text_model
    bad = dict(arrays, input_ids=arrays["input_ids"].copy())
    bad["input_ids"][3, 1] += 1  # as if Python's ids came from another tokenizer for this row
    profile = quick_profile(tmp_path, "browser-wasm")
    raw = browser.run_page(model, profile, save(d, "bad.npz", bad))
    n = len(arrays["text"])
    assert raw["tokenizer_parity"] == pytest.approx(100 * (n - 1) / n) and raw["tokenizer_matches"] == n - 1
    mm = raw["tokenizer_mismatch"]
    assert mm["row"] == 3 and mm["position"] == 1 and mm["page_ids"][1] + 1 == mm["python_ids"][1]
    assert mm["page_len"] == mm["python_len"] == int(arrays["attention_mask"][3].sum())
    assert "row 3" in raw["tokenizer_note"] and "from token 1" in raw["tokenizer_note"]
    got = {m.metric: m.figure.value for m in browser.measurements("student.onnx", profile, raw)}
    assert got["tokenizer_parity"] < 100 and got["text_p50_ms"] > 0  # still timed: a mismatch is not a crash


def test_text_path_only_with_texts_and_a_tokenizer_beside_the_model(text_model, tmp_path):  # no Chromium
    from edgedistill.bench.browser import page_spec
    from edgedistill.errors import InputFileError

    model, arrays, d = text_model
    inputs = [{"name": n, "dtype": "int64", "dims": [None, None]} for n in ("input_ids", "attention_mask")]
    profile = quick_profile(tmp_path, "browser-wasm")
    spec, blobs, refs = page_spec(model, profile, save(d, "with.npz", arrays), None, inputs)
    assert spec["text"]["ids"]["dims"] == [len(arrays["text"]), MAX_LEN] and spec["text"]["pad_to"] is None
    assert "/text/texts.json" in blobs and "text" not in refs
    no_text = {k: v for k, v in arrays.items() if k != "text"}
    spec, blobs, _ = page_spec(model, profile, save(d, "without.npz", no_text), None, inputs)
    assert spec["text"] is None and not any(k.startswith("/text/") for k in blobs)
    (tmp_path / "m.onnx").write_bytes(model.read_bytes())  # no tokenizer.json beside this copy
    spec, _, _ = page_spec(tmp_path / "m.onnx", profile, save(d, "with.npz", arrays), None, inputs)
    assert spec["text"] is None
    fixed = [dict(i, dims=[1, MAX_LEN]) for i in inputs]  # a fixed sequence: one text is padded to it
    assert page_spec(model, profile, save(d, "with.npz", arrays), None, fixed)[0]["text"]["pad_to"] == MAX_LEN
    short = dict(arrays, text=arrays["text"][:-1])
    with pytest.raises(InputFileError, match="row-aligned"):
        page_spec(model, profile, save(d, "short.npz", short), None, inputs)


@pytest.mark.browser
def test_a_tokenizer_the_page_cannot_load_is_parity_zero_with_the_reason(text_model, tmp_path):
    import json

    from edgedistill.bench import browser

    model, arrays, d = text_model
    (tmp_path / "m").mkdir()
    copy = tmp_path / "m" / "student.onnx"
    copy.write_bytes(model.read_bytes())
    tj = json.loads((model.parent / "tokenizer.json").read_text())
    tj["post_processor"] = {"type": "MadeUpProcessing"}  # tokenizers.js cannot build it
    (tmp_path / "m" / "tokenizer.json").write_text(json.dumps(tj))
    profile = quick_profile(tmp_path, "browser-wasm")
    raw = browser.run_page(copy, profile, save(d, "eval.npz", arrays))
    assert raw["tokenizer_parity"] == 0 and raw["tokenizer_texts"] == len(arrays["text"])
    assert "MadeUpProcessing" in raw["tokenizer_error"] and raw["tokenizer_note"].startswith("the page could not load")
    got = {m.metric for m in browser.measurements("student.onnx", profile, raw)}
    assert {"tokenizer_parity", "tokenizer_texts"} <= got and not {"tokenize_ms", "text_p50_ms"} & got
    assert raw["latency_ms"] and raw["session_create_ms"] > 0  # the model itself was still measured
