"""Recipes for Hugging Face teachers and bert students: each misconfiguration is exit 2 naming the key and the
fix, before anything loads or trains; a run folder that says `trusted = true` is not rebuilt without --trust-run."""

from __future__ import annotations

import json

import pytest
from tinyhf import sentences, write_bert, write_jsonl

from edgedistill.errors import ConfigError, UsageError
from edgedistill.recipe import load_recipe

BASE = """
name = "r"
[data]
name = "text"
path = "train.jsonl"
max_len = 16
[teacher]
source = "huggingface"
path = "tiny-bert"
[student]
arch = "bert"
width = 16
heads = 2
layers = 1
[student.train]
epochs = 1
lr = 1e-3
[student.transfer_train]
epochs = 1
lr = 1e-3
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("hfrecipes")
    write_bert(root / "tiny-bert")
    write_jsonl(root / "train.jsonl", sentences(30))
    return root


def load(folder, text: str):
    path = folder / f"r{abs(hash(text))}.toml"
    path.write_text(BASE + text)
    return load_recipe(path)


def key_of(folder, text: str = "", old: str = "", new: str = "") -> str:
    path = folder / f"bad{abs(hash(text + old + new))}.toml"
    path.write_text(BASE.replace(old, new) + text if old else BASE + text)
    with pytest.raises(ConfigError) as info:
        load_recipe(path)
    assert info.value.exit_code == 2 and info.value.fix
    return info.value.key


def test_defaults_follow_the_teacher_folder(folder):
    recipe, _ = load(folder, "")
    assert recipe.export.presets == ("onnx-fp32", "onnx-int8-dynamic")  # Core ML is opt-in for token models
    recipe, _ = load(folder, '[export]\npresets = ["onnx-fp32", "coreml-fp16"]\n')
    assert recipe.export.presets == ("onnx-fp32", "coreml-fp16")  # flexible sequence (test_coreml_tokens.py)
    assert recipe.data.tokenizer == str(folder / "tiny-bert")  # the teacher's own tokenizer
    config = json.loads((folder / "tiny-bert" / "config.json").read_text())
    assert recipe.student.vocab == config["vocab_size"]  # the teacher's token table, not a guess


@pytest.mark.parametrize("text, old, new, key", [
    ("", 'path = "tiny-bert"', 'path = "nowhere"', "teacher.path"),
    ("", 'path = "tiny-bert"', "", "teacher.path"),
    ("", 'path = "tiny-bert"', 'package = "no_such_package_xyz"', "teacher.package"),
    ("", 'path = "tiny-bert"', 'package = "../etc"', "teacher.package"),
    ("", "width = 16", "width = 15", "student.width"),  # 15 channels over 2 heads
    ("", 'source = "huggingface"\npath = "tiny-bert"', 'arch = "mlp"\n[teacher.train]\nepochs = 1\nlr = 1e-3\n'
     '[teacher.finetune]\nepochs = 1\nlr = 1e-3', "teacher.finetune"),
    ("", 'source = "huggingface"\npath = "tiny-bert"', 'source = "safetensors"\npath = "train.jsonl"\ntrusted = true',
     "teacher.trusted"),
    ("[[distill.terms]]\nloss = \"hint_mse\"\nmap = \"uniform\"\n", "", "", "distill.terms[0].map"),
    ("[[distill.terms]]\nloss = \"hidden_mse\"\n", "", "", "distill.terms[0]"),
    ("", 'path = "train.jsonl"', 'path = "train.jsonl"\nunlabeled = "/usr/share/wordnet-not-here"',
     "data.unlabeled"),
    ("", "[student.transfer_train]\nepochs = 1\nlr = 1e-3\n", "", "student.transfer_train"),  # ships it by default
    ("[export]\nship = \"distilled_transfer\"\n", "[student.transfer_train]\nepochs = 1\nlr = 1e-3\n", "",
     "export.ship"),
    ("[[distill.terms]]\nloss = \"hidden_mse\"\nmap = \"uniform\"\n", 'path = "tiny-bert"',
     'path = "tiny-bert"\nlabel_with = "onnx-int8"', "teacher.label_with"),
    ("[distill]\nteacher_outputs = \"live\"\n", 'path = "tiny-bert"', 'path = "tiny-bert"\nlabel_with = "onnx-int8"',
     "teacher.label_with"),
])
def test_misconfigurations_name_the_key(folder, text, old, new, key):
    assert key_of(folder, text, old, new) == key


def test_without_a_transfer_table_no_transfer_student_is_trained(folder):
    from edgedistill.tasks import get_task, runs_for

    path = folder / "no-transfer.toml"
    path.write_text(BASE.replace("[student.transfer_train]\nepochs = 1\nlr = 1e-3\n", "")
                    + '[export]\nship = "distilled"\n')
    recipe, _ = load_recipe(path)
    assert [r.name for r in runs_for(get_task("classify"), recipe)] == ["scratch", "distilled"]
    path.write_text(path.read_text().replace('max_len = 16', 'max_len = 16\nunlabeled = "train.jsonl"'))
    with pytest.raises(ConfigError) as info:  # unlabelled text no student would read
        load_recipe(path)
    assert info.value.key == "data.unlabeled" and "transfer_train" in info.value.fix


def test_teacher_layers_need_a_transformer_teacher(folder):
    old = 'source = "huggingface"\npath = "tiny-bert"'
    new = 'arch = "mlp"\n[teacher.train]\nepochs = 1\nlr = 1e-3'
    body = BASE.replace(old, new).replace("max_len = 16", 'max_len = 16\ntokenizer = "tiny-bert"')
    path = folder / "init.toml"
    path.write_text(body.replace("layers = 1\n[student.train]", 'layers = 1\ninit = "teacher-layers"\n[student.train]'))
    with pytest.raises(ConfigError) as info:
        load_recipe(path)
    assert info.value.key == "student.init" and "huggingface" in info.value.problem


def test_a_run_folder_that_trusts_pickles_needs_trust_run(folder, tmp_path):
    from edgedistill.export.standalone import stored_recipe

    recipe, _ = load(folder, "")
    run = tmp_path / "run"
    run.mkdir()
    cfg = recipe.model_dump(mode="json")
    cfg["teacher"]["trusted"] = True
    (run / "report.json").write_text(json.dumps({"schema": "edgedistill.report/1", "recipe": {"config": cfg}}))
    with pytest.raises(UsageError, match="teacher.trusted"):
        stored_recipe(run, trust_run=False)
    assert stored_recipe(run, trust_run=True).teacher.trusted
