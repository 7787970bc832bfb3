"""Hostile and broken recipes (issue 11, item 9): each is exit 2 with one line naming the file, the key
and the fix — never a silent coercion, a traceback or exit 4."""

from __future__ import annotations

import uuid

import pytest
from conftest import cli, tiny_text

from edgedistill.errors import ConfigError
from edgedistill.recipe import load_recipe

BODY = tiny_text().replace('budgets = "tiny.budgets.toml"', "")  # the tiny recipe, standalone


def recipe(folder, text: str = "", body: str = BODY, name: str = "r.toml"):
    path = folder / name
    path.write_text(text + "\n" + body)
    return path


def error(path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_recipe(path)
    assert info.value.exit_code == 2 and info.value.fix
    return info.value


def one_line(p, code: int = 2) -> str:
    err = p.stderr.strip()
    assert p.returncode == code, p.stderr[-3000:]
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("seed, key", [(2**70, "seed"), (-1, "seed"), (2**32, "seed")])
def test_seeds_outside_what_every_rng_takes_are_refused(tmp_path, seed, key):
    e = error(recipe(tmp_path, body=BODY.replace("seed = 0", f"seed = {seed}")))
    assert e.key == key
    assert load_recipe(recipe(tmp_path, body=BODY.replace("seed = 0", f"seed = {2**32 - 1}")))[0].seed == 2**32 - 1


def test_a_seed_beyond_64_bits_exits_2_on_the_command_line(tmp_path):
    p = cli("run", recipe(tmp_path, body=BODY.replace("seed = 0", f"seed = {2**70}")), "--out", tmp_path / "run")
    err = one_line(p)
    assert "r.toml: seed:" in err and "less than 4294967296" in err


@pytest.mark.parametrize("source, needles", [
    ("import math\n\ndef make(:\n    pass\n", ["has a syntax error at", ".py:3", "fix that line"]),
    ("import os\n\nraise RuntimeError('needs a GPU')\n", ["raised RuntimeError: needs a GPU at", ".py:3"]),
    ("import sys\nsys.exit(3)\n", ["raised SystemExit: 3 at", ".py:2"]),
])
def test_a_factory_module_that_fails_at_import_names_the_module_and_the_line(tmp_path, source, needles):
    module = f"broken_{uuid.uuid4().hex[:8]}"  # a fresh name: Python caches nothing for a failed import
    (tmp_path / f"{module}.py").write_text(source)
    path = recipe(tmp_path, body=BODY.replace('[student]\n', f'[student]\nfactory = "{module}:make"\n'))
    e = error(path)
    assert e.key == "student.factory" and module in str(e)
    for n in needles:
        assert n in str(e), str(e)


def test_a_factory_syntax_error_exits_2_with_one_line(tmp_path):
    (tmp_path / "badsyntax_cli.py").write_text("def make(:\n    pass\n")
    path = recipe(tmp_path, body=BODY.replace('[student]\n', '[student]\nfactory = "badsyntax_cli:make"\n'))
    err = one_line(cli("run", path, "--out", tmp_path / "run"))
    assert "student.factory" in err and "badsyntax_cli.py:1" in err


def test_a_factory_that_raises_when_called_exits_2_naming_it_and_the_line(tmp_path):
    """The module imports, then the function raises on the recipe's params: the user's code, so exit 2 (was 4)."""
    (tmp_path / "odd_width.py").write_text("def make(width=3, **_):\n    raise ValueError('width must be even')\n")
    path = recipe(tmp_path, body=BODY.replace('[student]\n', '[student]\nfactory = "odd_width:make"\n'))
    err = one_line(cli("run", path, "--out", tmp_path / "run"))
    assert "student.factory: odd_width:make raised ValueError: width must be even at" in err
    assert "odd_width.py:2" in err and not (tmp_path / "run").exists()


_RAISES = ("class M(torch.nn.Module):\n    def forward(self, x):\n        raise RuntimeError('forward is broken')\n"
           "def make(**_):\n    return M()\n")


@pytest.mark.parametrize("role, body, needle", [
    ("student", _RAISES,
     "odd_model:make's model on a batch of shape (2, 40) float32 raised RuntimeError: forward is broken at"),
    ("teacher", _RAISES,
     "odd_model:make's model on a batch of shape (2, 40) float32 raised RuntimeError: forward is broken at"),
    ("student", "def make(**_):\n    return 42\n", "odd_model:make returned int, not a torch nn.Module"),
    ("student", "def make(**_):\n    return torch.nn.Linear(40, 7)\n",
     "the student returns (2, 7) for a batch of 2; logits (2, 10) expected (the data has 10 classes)"),
], ids=["student-forward-raises", "teacher-forward-raises", "not-a-module", "wrong-width"])
def test_a_factory_model_that_cannot_run_on_the_data_exits_2_before_training(tmp_path, role, body, needle):
    """A student factory, or a teacher factory the run trains: checked on two test rows first (was exit 4)."""
    (tmp_path / "odd_model.py").write_text("import torch\n\n" + body)
    path = recipe(tmp_path, body=BODY.replace(f'[{role}]\n', f'[{role}]\nfactory = "odd_model:make"\n'))
    err = one_line(cli("run", path, "--out", tmp_path / "run", "--quiet",
                       env={"EDGEDISTILL_CACHE": str(tmp_path / "cache")}))
    assert f"{role}.factory: {needle}" in err, err
    assert not (tmp_path / "cache" / "teachers").exists()  # refused before the teacher trained


@pytest.mark.parametrize("old, new, key, needle", [
    ("[student]\nchannels = [4, 8]", "[student]\nchannels = [100000, 100000]", "student.channels",
     "a cnn1d of 30,020,900,010 parameters (weights, gradients, optimizer state) needs 480.3 GB"),
    ("[teacher]\nchannels = [8, 16]", "[teacher]\nchannels = [1000000000, 1000000000]", "teacher.channels",
     "a cnn1d this size cannot exist"),  # past 2⁶³ bytes: even the meta-device count overflows
    ("samples = 600", "samples = 1000000000000", "data.samples", "1,000,000,000,000 MNIST-1D samples needs"),
], ids=["student-480-gb", "teacher-overflow", "samples-320-tb"])
def test_sizes_that_cannot_fit_in_memory_exit_2_before_allocating(tmp_path, old, new, key, needle):
    """Counted before anything is allocated (was: SIGKILL by the kernel, or minutes of generation then 4)."""
    assert old in BODY
    err = one_line(cli("run", recipe(tmp_path, body=BODY.replace(old, new)), "--out", tmp_path / "run",
                       env={"EDGEDISTILL_CACHE": str(tmp_path / "cache")}))
    assert f"{key}: {needle}" in err and ("of memory available" in err or "cannot exist" in err), err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("text", [
    "deep = " + "[" * 3000 + "]" * 3000,  # arrays: tomllib recurses (RecursionError)
    "deep = " + "{a = " * 3000 + "1" + "}" * 3000,  # inline tables: the same
    "[" + ".".join(["a"] * 3000) + "]\nx = 1",  # a dotted table: parses, then nested 3,000 deep
])
def test_toml_nested_thousands_deep_exits_2(tmp_path, text):
    path = recipe(tmp_path, body=text)
    e = error(path)
    assert "nested more than 32 deep" in str(e) and "r.toml" in str(e)
    if text.startswith("deep = ["):
        assert "nested more than 32 deep" in one_line(cli("run", path, "--out", tmp_path / "run"))


@pytest.mark.parametrize("old, new, key", [
    ("epochs = 2\nlr = 1e-2\n\n[student]", 'epochs = "2"\nlr = 1e-2\n\n[student]', "teacher.train.epochs"),
    ("lr = 1e-2\nbatch_size = 128", 'lr = "0.01"\nbatch_size = 128', "student.transfer_train.lr"),
    ("samples = 600", "samples = 600.0", "data.samples"),
    ("[export]", "[export]\nauto_exclude = 1", "export.auto_exclude"),
    ("channels = [4, 8]", 'channels = ["4", 8]', "student.channels.0"),
])
def test_types_are_strict_nothing_is_coerced(tmp_path, old, new, key):
    assert BODY.count(old) == 1, old
    e = error(recipe(tmp_path, body=BODY.replace(old, new)))
    assert e.key == key, str(e)


def test_toml_arrays_still_become_tuple_fields_and_integers_stand_for_floats(tmp_path):
    r, _ = load_recipe(recipe(tmp_path, body=BODY.replace("lr = 1e-2\nbatch_size", "lr = 1\nbatch_size")))
    assert r.student.channels == (4, 8) and r.export.presets == ("onnx-fp32", "onnx-int8-qdq", "coreml-fp16")
    assert r.student.transfer_train.lr == 1.0 and isinstance(r.student.transfer_train.lr, float)


def test_extends_names_the_file_and_the_key(tmp_path):
    e = error(recipe(tmp_path, 'extends = "mnist1e"'))
    assert e.key == "extends" and e.source.endswith("r.toml") and "did you mean 'mnist1d'?" in str(e)
    e = error(recipe(tmp_path, 'extends = "nope"'))
    assert e.key == "extends" and "'nope' is neither a recipe file nor a built-in recipe" in str(e)
    e = error(recipe(tmp_path, 'extends = "base/missing.toml"'))
    assert e.key == "extends" and "no such recipe file" in str(e) and "base/missing.toml" in str(e)
    err = one_line(cli("run", recipe(tmp_path, 'extends = "nope"'), "--out", tmp_path / "run"))
    assert "r.toml: extends:" in err and "'nope'" in err
