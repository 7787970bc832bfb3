"""A Hugging Face teacher through the whole pipeline: the tiny BERT folder (tests/tinyhf.py) fine-tuned on
tokenised text, a bert student started from its layers and distilled with hinton_kd + TinyBERT's hidden-state
and attention losses, exported with named inputs and dynamic batch/sequence (ONNX fp32 and int8, Core ML fp16),
benched and gated.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import cli, kill_run_at, quick_profiles
from tinyhf import sentences, write_bert, write_jsonl

RECIPE = """
name = "tinybert"
seed = 0

[data]
name = "text"
path = "train.jsonl"
unlabeled = "more.txt"
max_len = 24

[teacher]
source = "huggingface"
path = "tiny-bert"

[teacher.finetune]
epochs = 4
lr = 3e-3
batch_size = 32

[student]
arch = "bert"
width = 16
layers = 1
heads = 2
intermediate = 32
init = "teacher-layers"

[student.train]
epochs = 3
lr = 3e-3
batch_size = 32

[student.transfer_train]
epochs = 3
lr = 3e-3
batch_size = 32

[[distill.terms]]
loss = "hidden_mse"
map = [[0, 0], [1, 2]]
weight = 0.5

[[distill.terms]]
loss = "attention_mse"
map = "uniform"

[export]
presets = ["onnx-fp32", "onnx-int8-dynamic", "coreml-fp16"]

[bench]
devices = [{devices}]

[gate]
budgets = "tinybert.budgets.toml"
"""

BUDGETS = """
[[check]]
artifact = "student-int8-dynamic.onnx"
device = "host-cpu"
metric = "accuracy"
limit = "80 %"

[[check]]
artifact = "student-int8-dynamic.onnx"
metric = "size"
limit = "200 kB"
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("tinybert")
    write_bert(root / "tiny-bert")
    write_jsonl(root / "train.jsonl", sentences(300, seed=1))
    (root / "more.txt").write_text("\n".join(t for _, t in sentences(200, seed=2)) + "\n")
    devices = ", ".join(f'"{p}"' for p in quick_profiles(root / "devices", ["host-cpu"]))
    (root / "tinybert.toml").write_text(RECIPE.replace("{devices}", devices))
    (root / "tinybert.budgets.toml").write_text(BUDGETS)
    return root


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def result(folder, cache):
    from edgedistill.pipeline import run
    from edgedistill.progress import Reporter

    return run(folder / "tinybert.toml", out=folder / "run", reporter=Reporter(quiet=True), cache_dir=cache)


def test_students_learn_from_the_fine_tuned_teacher(result):
    training = result.report["training"]
    teacher = training["teacher"]["metrics"]["accuracy"]["value"]
    assert teacher >= 90, training["teacher"]  # topic words decide the class: fine-tuning must find them
    assert training["teacher"]["steps"] > 0  # fine-tuned in the run, not used as loaded
    shipped = training["students"]["distilled_transfer"]["metrics"]
    assert shipped["accuracy"]["value"] >= 80 and shipped["agreement"]["value"] >= 80, training["students"]


def test_files_take_named_token_inputs_of_any_length(result):
    import onnxruntime as ort

    from edgedistill.data.text import load_tokenizer

    out = result.out
    for name in ("teacher-fp32.onnx", "student-fp32.onnx", "student-int8-dynamic.onnx"):
        sess = ort.InferenceSession(str(out / name), providers=["CPUExecutionProvider"])
        assert [i.name for i in sess.get_inputs()] == ["input_ids", "attention_mask"]
        assert all(isinstance(d, str) for i in sess.get_inputs() for d in i.shape)  # batch and sequence dynamic
    art = result.report["artifacts"]["student-int8-dynamic.onnx"]
    assert art["meta"]["tokenizer"]["max_len"] == 24
    coreml = result.report["artifacts"]["student-fp16.mlpackage"]["meta"]  # int32 ids, flexible sequence
    assert coreml["graph_inputs"] == ["input_ids", "attention_mask"] and coreml["traced_flexible"], coreml
    assert coreml["tokenizer"]["max_len"] == 24
    assert result.report["data"]["classes"] == ["food", "sport", "tech"]  # the labels' names, by class id
    assert json.loads(coreml["metadata"]["classes"]) == ["food", "sport", "tech"], coreml  # named in the app too
    # the shipped tokenizer pads to the recipe's 24 tokens, not the 32 its source file says
    tok = load_tokenizer(out / "tokenizer.json", 24)
    assert len(tok.encode("goal match team").ids) == 24
    enc = tok.encode_batch(["goal match team score", "bread cheese soup"])
    feed = {"input_ids": np.array([e.ids for e in enc], np.int64)[:, :10],
            "attention_mask": np.array([e.attention_mask for e in enc], np.int64)[:, :10]}
    sess = ort.InferenceSession(str(out / "student-fp32.onnx"), providers=["CPUExecutionProvider"])
    assert sess.run(None, feed)[0].shape == (2, 3)


def test_fused_fp32_files_ship_and_int8_comes_from_the_unfused_graph(result):
    """Both fp32 files of the run are onnxruntime-fused (kept: parity held); the int8 file is made from the
    student re-exported unfused, so every MatMul is quantized; nothing temporary is left in the run folder."""
    arts = result.report["artifacts"]
    for name in ("teacher-fp32.onnx", "student-fp32.onnx"):
        fusion = arts[name]["meta"]["fusion"]
        assert fusion["kept"] and fusion["contrib_ops"].get("Attention", 0) >= 1, fusion
        assert result.report["parity"][name]["max_abs_diff"]["value"] < 1e-4
    int8 = arts["student-int8-dynamic.onnx"]
    assert "re-exported unfused" in int8["meta"]["source_graph"]
    import onnx

    ops = {(n.domain, n.op_type) for n in onnx.load(str(result.out / "student-int8-dynamic.onnx")).graph.node}
    assert ("", "MatMulInteger") in ops or ("com.microsoft", "DynamicQuantizeMatMul") in ops, ops
    assert not [op for d, op in ops if d == "com.microsoft" and op in ("Attention", "SkipLayerNormalization")]
    assert not [p.name for p in result.out.iterdir() if p.name.startswith(".")]


def test_parity_bench_and_gate(result):
    from edgedistill.bench.cost import graph_cost

    report = result.report
    for name in ("student-fp32.onnx", "student-int8-dynamic.onnx"):  # costed at the eval rows' 24 tokens, as fed
        at_24 = graph_cost(result.out / name, 1, {"input_ids": [1, 24], "attention_mask": [1, 24]}).macs
        assert report["bench"]["cost"][name]["macs"] == at_24 > graph_cost(result.out / name, 1).macs, name
    assert result.verdict.passed, [c for c in result.verdict.checks if not c.passed]
    parity = report["parity"]["student-int8-dynamic.onnx"]
    assert parity["top1_agreement"]["value"] >= 97 and parity["mean_cosine"]["value"] >= 0.99, parity
    p50 = [m for m in report["measurements"]
           if m["artifact"] == "student-int8-dynamic.onnx" and m["metric"] == "p50_ms"]
    assert p50 and p50[0]["how"] == "measured" and p50[0]["value"] > 0
    stored = json.loads((result.out / "report.json").read_text())["recipe"]["config"]
    assert stored["teacher"]["source"] == "huggingface" and stored["data"]["max_len"] == 24


def test_killed_while_a_student_learns_from_layers_resumes_bit_for_bit(folder, result, cache, tmp_path):
    """SIGKILL during the distilled student (hinton_kd + hidden and attention terms with their projection),
    then `run --resume`: every student's weights equal the uninterrupted run's."""
    from safetensors.numpy import load_file

    out = tmp_path / "run"
    recipe = folder / "tinybert-unbenched.toml"  # the same training; no bench or gate (not what this tests)
    text = (folder / "tinybert.toml").read_text()
    recipe.write_text(text[:text.index("[bench]")] + "[bench]\ndevices = []\n")
    kill_run_at(recipe, out, tmp_path / ".run.checkpoints" / "student-distilled" / "step-00000003", cache)
    assert not out.exists()
    done = cli("run", recipe, "--out", out, "--quiet", "--resume", "--checkpoint-every", "1",
               env={"EDGEDISTILL_CACHE": str(cache)})
    assert done.returncode == 0, done.stderr
    for name in ("teacher", "student-scratch", "student-distilled", "student-distilled_transfer"):
        a, b = load_file(str(result.out / f"{name}.safetensors")), load_file(str(out / f"{name}.safetensors"))
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a), name


def test_two_processes_distil_the_transformer(folder, cache, tmp_path):
    p = cli("distill", folder / "tinybert.toml", "--nproc", "2", "--out", tmp_path / "run", "--json",
            env={"EDGEDISTILL_CACHE": str(tmp_path / "cache")})
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["processes"] == 2 and doc["teacher"]["steps"] > 0  # fine-tuned once, on rank 0
    assert doc["students"]["distilled_transfer"]["metrics"]["accuracy"] >= 80, doc["students"]
    assert len(list((tmp_path / "cache" / "teacher-outputs").iterdir())) == 1  # filled once, shared by the ranks


def test_an_int8_onnx_copy_of_the_teacher_labels_the_cache(folder, tmp_path):
    """label_with = "onnx-int8": outputs from the int8 copy, spot-checked against fp32 and recorded; a rerun
    reads the cache and builds no copy. The recipe has no transfer table: two students, the distilled one shipped."""
    from edgedistill.pipeline import distill_only
    from edgedistill.progress import Reporter

    text = (folder / "tinybert.toml").read_text()
    text = text[:text.index("[[distill.terms]]")] + text[text.index("[export]"):]  # outputs only: no layer terms
    text = text.replace('path = "tiny-bert"\n', 'path = "tiny-bert"\nlabel_with = "onnx-int8"\n', 1)
    # and no transfer student: a recipe without [student.transfer_train] ships the distilled one
    text = text.replace(text[text.index("[student.transfer_train]"):text.index("[export]")], "")
    text = text.replace('unlabeled = "more.txt"\n', "")  # read by no student: refused (test_hf_recipes)
    text = text.replace("[export]\n", '[export]\nship = "distilled"\n')
    recipe = folder / "tinybert-int8.toml"
    recipe.write_text(text)
    cache = tmp_path / "cache"
    first = distill_only(recipe, out=tmp_path / "a", reporter=Reporter(quiet=True), cache_dir=cache)
    spot = first["teacher"]["labelling"]
    assert spot["label_with"] == "onnx-int8" and spot["agreement"] >= 90, spot
    assert spot["rows"] == 240  # every labelled row (the spot check takes at most 256)
    assert set(first["students"]) == {"scratch", "distilled"}
    assert first["students"]["distilled"]["metrics"]["accuracy"] >= 80, first["students"]
    again = distill_only(recipe, out=tmp_path / "b", reporter=Reporter(quiet=True), cache_dir=cache)
    assert again["teacher"]["labelling"] == {"label_with": "onnx-int8",
                                             "spot_check": "none: the outputs came from the cache"}
    metrics = [{k: r["metrics"] for k, r in doc["students"].items()} for doc in (first, again)]
    assert metrics[0] == metrics[1]  # the same labels, read back
