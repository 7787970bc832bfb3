"""The embed task on a Hugging Face sentence embedder, through the one pipeline: the tiny BERT folder
(tests/tinyhf.py) made a sentence-transformers folder (mean pooling, Normalize), unlabelled sentences with
held-out rows, Lee-style rated pairs and a class-folder probe; a `static` student (token table + masked mean +
map) started from the teacher's token-table PCA, exported fp32 / int8 (Gather → mean → MatMul), benched with
the embed metrics through onnxruntime, gated, and shipped as a browser bundle whose demo page is opened in
headless Chromium (marker `browser`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import cli, quick_profiles
from tinyhf import TOPICS, sentences, write_bert, write_class_folders

RECIPE = """
name = "tiny-embed"
task = "embed"
seed = 0

[data]
name = "sentences"
path = "pile.txt"
max_len = 16
test_rows = 60
rated_pairs = {{ path = "lee" }}
class_probe = {{ path = "probe" }}

[teacher]
source = "huggingface"
path = "tiny-st"

[student]
arch = "static"
width = 16
init = "teacher-layers"
[student.train]
epochs = 6
lr = 1e-2
batch_size = 64
weight_decay = 0.0

[distill]
loss = "embedding_cosine"
[[distill.terms]]
loss = "embedding_mse"

[export]
ship = "distilled"
presets = ["onnx-fp32", "onnx-int8-dynamic"]
bundle = "student-int8-dynamic.onnx"

[bench]
devices = {devices}
"""


def write_sentence_transformer(folder: Path) -> Path:
    """tinyhf's BERT encoder plus the sentence-transformers files all-MiniLM-L6-v2 ships: modules.json
    (Transformer → Pooling → Normalize) and 1_Pooling/config.json (mean tokens)."""
    write_bert(folder, layers=2, hidden=32, seed=3)
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 32, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
         "pooling_mode_max_tokens": False}))
    return folder


def write_lee(folder: Path, docs: list[str]) -> Path:
    """Lee et al.'s layout: one document a line (latin-1) and a square matrix of ratings (here: shared words)."""
    folder.mkdir()
    (folder / "lee.cor").write_bytes(("\n".join(docs) + "\n").encode("latin-1"))
    words = [set(d.lower().split()) for d in docs]
    sims = np.array([[len(a & b) / len(a | b) for b in words] for a in words])
    np.savetxt(folder / "similarities0-1.txt", sims, fmt="%.4f")
    return folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("embed-sentences")
    write_sentence_transformer(root / "tiny-st")
    pile = [t for _, t in sentences(700, seed=1)]
    (root / "pile.txt").write_text("\n".join(pile + pile[:50]) + "\n")  # repeats are dropped
    write_lee(root / "lee", [t for _, t in sentences(8, seed=2)])
    write_class_folders(root / "probe", [(lab, f"{t}\nbody text that the probe never reads")
                                         for lab, t in sentences(90, seed=3)])
    return root


@pytest.fixture(scope="module")
def run(folder, tmp_path_factory, cache_dir):
    from edgedistill.pipeline import run as run_pipeline
    from edgedistill.progress import Reporter

    devices = quick_profiles(folder / "devices", ["host-cpu"])
    (folder / "embed.toml").write_text(RECIPE.format(devices=json.dumps(devices)))
    out = tmp_path_factory.mktemp("runs") / "embed"
    return run_pipeline(folder / "embed.toml", out=out, reporter=Reporter(quiet=True), cache_dir=cache_dir)


def figure(report: dict, artifact: str, metric: str, device: str = "host-cpu") -> float:
    for m in report["measurements"]:
        if (m["artifact"], m["device"], m["metric"]) == (artifact, device, metric):
            return m["value"]
    raise KeyError((artifact, device, metric))


def test_data_splits_and_probe_rows(folder, cache_dir):
    from edgedistill.data import load_dataset
    from edgedistill.recipe import load_recipe

    (folder / "data.toml").write_text(RECIPE.format(devices='["host-cpu"]'))
    recipe, _ = load_recipe(folder / "data.toml")
    ds = load_dataset(recipe.data, cache_dir)
    refs, n_test = ds.references, 60
    distinct = len(dict.fromkeys(t for _, t in sentences(700, seed=1)))
    assert len(ds.y_train) == distinct - n_test and (ds.y_train == -1).all()
    assert len(refs["text"]) == n_test + 8 + 90 == len(ds.x_test["input_ids"])
    assert refs["nn_row"].sum() == n_test and refs["nn_row"][:n_test].all()
    assert len(refs["pair_a"]) == 8 * 7 // 2 and refs["pair_a"].min() == n_test  # Lee rows follow the sentences
    assert (refs["probe_class"][:n_test + 8] == -1).all() and set(refs["probe_class"][n_test + 8:]) == {0, 1, 2}
    assert ds.classes == tuple(sorted(TOPICS))
    train = {tuple(r) for r in ds.x_train["input_ids"]}  # the held-out sentences are never trained on
    assert not any(tuple(r) in train for r in ds.x_test["input_ids"][:n_test])
    headline = refs["text"][n_test + 8]
    assert "body text" not in headline  # the probe reads each file's first line only


def test_teacher_is_pooled_and_normalised_as_its_folder_says(folder):
    from edgedistill.models.hf import load_folder, sentence_head
    from edgedistill.recipe import TeacherConfig

    assert sentence_head(folder / "tiny-st", "cls") == ("mean", True)
    model = load_folder(TeacherConfig(source="huggingface", path=str(folder / "tiny-st")), 0, "embedding")
    ids = torch.tensor([[2, 10, 11, 3, 0, 0], [2, 12, 3, 0, 0, 0]])
    mask = (ids > 0).long()
    with torch.no_grad():
        got = model(input_ids=ids, attention_mask=mask)
        states = model.model(input_ids=ids, attention_mask=mask).last_hidden_state  # (2, 6, 32)
    mean = (states * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    assert torch.allclose(got, torch.nn.functional.normalize(mean, dim=-1), atol=1e-6)


def test_a_pooling_the_student_cannot_copy_is_refused(tmp_path):
    from edgedistill.errors import InputFileError
    from edgedistill.models.hf import sentence_head

    st = tmp_path / "st"
    (st / "1_Pooling").mkdir(parents=True)
    pooling = {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}
    (st / "modules.json").write_text(json.dumps([pooling]))
    (st / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_max_tokens": True}))
    with pytest.raises(InputFileError, match="max_tokens"):
        sentence_head(st, "mean")


def test_run_distils_exports_benches_and_bundles(run):
    report = run.report
    for name in ("student-fp32.onnx", "student-int8-dynamic.onnx", "teacher-fp32.onnx"):
        for metric in ("spearman", "knn_accuracy", "fewshot_accuracy"):
            assert np.isfinite(figure(report, name, metric))
    # the student learnt the teacher's geometry: neighbours shared far above chance (10 of 59 rows ≈ 17 %)
    assert figure(report, "student-fp32.onnx", "nn_overlap") > 40
    assert figure(report, "student-fp32.onnx", "cosine") > 0.8
    assert abs(figure(report, "student-int8-dynamic.onnx", "nn_overlap")
               - figure(report, "student-fp32.onnx", "nn_overlap")) < 15
    bundle = run.out / "bundle"
    assert report["bundle"]["model"] == "student-int8-dynamic.onnx" and report["bundle"]["sentences"] == 60
    assert (bundle / "model.onnx").read_bytes() == (run.out / "student-int8-dynamic.onnx").read_bytes()
    assert (bundle / "tokenizer.json").read_bytes() == (run.out / "tokenizer.json").read_bytes()
    assert json.loads((run.out / "tokenizer.json").read_text())["truncation"]["max_length"] == 16


def test_static_student_exports_as_gather_mean_and_a_linear_map(run):
    import onnx

    ops = {n.op_type for n in onnx.load(str(run.out / "student-fp32.onnx")).graph.node}
    assert "Gather" in ops and ops & {"MatMul", "Gemm"} and not ops & {"Attention", "Softmax", "LayerNormalization"}
    q = onnx.load(str(run.out / "student-int8-dynamic.onnx"))
    assert any(i.data_type == onnx.TensorProto.INT8 or i.data_type == onnx.TensorProto.UINT8
               for i in q.graph.initializer if len(i.dims) == 2 and i.dims[0] > 100)  # the token table in int8


def test_bundle_or_probes_on_the_wrong_recipe_are_config_errors(folder, tmp_path):
    text = RECIPE.format(devices='["host-cpu"]').replace('task = "embed"', 'task = "classify"')
    (folder / "wrong.toml").write_text(text)
    got = cli("run", folder / "wrong.toml", "--out", tmp_path / "x")
    assert got.returncode == 2 and "export.bundle" in got.stderr, got.stderr
    text = RECIPE.format(devices='["host-cpu"]').replace('name = "sentences"', 'name = "text"')
    (folder / "wrong2.toml").write_text(text)
    got = cli("run", folder / "wrong2.toml", "--out", tmp_path / "y")
    assert got.returncode == 2 and "data.rated_pairs" in got.stderr, got.stderr


def test_lee_ratings_of_the_wrong_shape_are_a_rejected_file(tmp_path):
    from edgedistill.data.sentences import lee
    from edgedistill.errors import InputFileError

    folder = write_lee(tmp_path / "lee", ["one doc", "two doc", "three"])
    np.savetxt(folder / "similarities0-1.txt", np.eye(2))
    with pytest.raises(InputFileError, match=r"\(2, 2\) matrix for 3 documents"):
        lee(folder)


@pytest.mark.browser
def test_the_runs_demo_page_finds_a_held_out_sentence(run):
    from playwright.sync_api import sync_playwright
    from test_bundle import demo_page, top_hits

    from edgedistill.bench.chromium import CHROMIUM_ARGS, chromium_path

    shown = json.loads((run.out / "bundle" / "sentences.json").read_text())["sentences"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium_path()), headless=True, args=CHROMIUM_ARGS)
        try:
            with demo_page(browser, (run.out / "bundle" / "index.html").as_uri()) as (page, errors):
                for query in shown[:3]:  # a sentence's own text is its nearest neighbour, whatever the model
                    assert top_hits(page, query)[0] == query
                assert errors == []
        finally:
            browser.close()


def test_teacher_outputs_init_starts_each_row_at_the_teachers_vector_of_that_token(folder):
    from edgedistill.models.hf import load_folder
    from edgedistill.models.hf_init import init_from_teacher, token_vectors
    from edgedistill.models.static import StaticEmbedding
    from edgedistill.recipe import TeacherConfig

    tok = folder / "tiny-st" / "tokenizer.json"
    teacher = load_folder(TeacherConfig(source="huggingface", path=str(folder / "tiny-st")), 0, "embedding")
    vocab = teacher.encoder.embeddings.word_embeddings.weight.shape[0]
    with torch.no_grad():
        vecs = token_vectors(teacher, vocab, tok)
        cls, sep = 2, 3  # tinyhf's [CLS], [SEP]
        alone = teacher(input_ids=torch.tensor([[cls, 17, sep]]), attention_mask=torch.ones(1, 3, dtype=torch.long))
    assert vecs.shape == (vocab, 32) and torch.allclose(vecs[17], alone[0], atol=1e-6)
    student = StaticEmbedding(vocab, 32, 32)  # full width: the PCA is a rotation, so the map gives the vectors back
    said = init_from_teacher(student, teacher, "teacher-outputs", tok)
    assert "each token alone" in said
    with torch.no_grad():
        back = student.proj(student.table.weight)  # (V, 32)
    assert torch.allclose(back, vecs, atol=1e-4)
