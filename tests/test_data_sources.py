"""Bring-your-own data: every source read for real from files the tests write, and every bad input
rejected with the file and the fix."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edgedistill.data import load_dataset
from edgedistill.errors import ConfigError, InputFileError
from edgedistill.recipe import load_recipe

MODELS = """
[teacher]
arch = "mlp"
train = { epochs = 1, lr = 1e-2 }
[student]
arch = "mlp"
train = { epochs = 1, lr = 1e-2 }
transfer_train = { epochs = 1, lr = 1e-2 }
"""


def data_recipe(folder, data: str):
    """A recipe file in `folder` with this [data] table (paths in it are relative to `folder`)."""
    path = folder / "recipe.toml"
    path.write_text(f'name = "byo"\n[data]\n{data}\n{MODELS}')
    return load_recipe(path)[0]


def load(folder, data: str):
    return load_dataset(data_recipe(folder, data).data, None)


def test_digits_is_scikit_learns_bundled_set_split_by_seed(tmp_path):
    ds = load(tmp_path, 'name = "digits"\ntest_fraction = 0.25')
    assert ds.input_shape == (1, 8, 8) and ds.num_classes == 10
    assert len(ds.x_train["input"]) + len(ds.x_test["input"]) == 1797 and len(ds.x_test["input"]) == round(0.25 * 1797)
    x = ds.x_train["input"]
    assert x.dtype == np.float32 and 0 <= x.min() and x.max() == 1.0
    again, other = load(tmp_path, 'name = "digits"\ntest_fraction = 0.25'), load(tmp_path, 'name = "digits"\nseed = 3')
    assert np.array_equal(again.y_test, ds.y_test) and not np.array_equal(other.y_test[:50], ds.y_test[:50])


def test_npz_round_trip_with_all_splits(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 9, (30, 2, 5)), "y_train": rng.integers(0, 3, 30),
              "x_test": rng.normal(size=(10, 2, 5)), "y_test": np.arange(10) % 3,
              "x_unlabeled": rng.normal(size=(7, 2, 5)).astype(np.float16)}
    np.savez(tmp_path / "mine.npz", **arrays)
    ds = load(tmp_path, 'name = "npz"\npath = "mine.npz"')
    for k, a in arrays.items():
        got = getattr(ds, k)
        got = got["input"] if isinstance(got, dict) else got  # inputs are named: a file source's one is "input"
        assert got.shape == a.shape
        assert np.array_equal(got, a.astype(got.dtype)), k
    assert ds.x_train["input"].dtype == np.float32 and ds.y_train.dtype == np.int64 and ds.num_classes == 3


def test_npz_without_test_split_holds_out_test_fraction_and_num_classes_overrides(tmp_path):
    np.savez(tmp_path / "d.npz", x_train=np.arange(40.0).reshape(20, 2), y_train=np.arange(20) % 2)
    ds = load(tmp_path, 'name = "npz"\npath = "d.npz"\ntest_fraction = 0.3\nnum_classes = 5')
    assert (len(ds.y_train), len(ds.y_test), len(ds.x_unlabeled["input"])) == (14, 6, 0) and ds.num_classes == 5
    rows = {tuple(r) for r in np.concatenate([ds.x_train["input"], ds.x_test["input"]])}
    assert rows == {(2.0 * i, 2.0 * i + 1) for i in range(20)}  # a partition, nothing lost or repeated
    assert all(y == x[0] / 2 % 2 for x, y in zip(ds.x_test["input"], ds.y_test))  # labels travel with their rows


@pytest.mark.parametrize("arrays, problem", [
    ({"X_train": np.zeros((4, 2)), "y_train": np.zeros(4, int)}, "did you mean 'x_train'?"),
    ({"x_train": np.zeros((4, 2)), "y_test": np.zeros(2, int)}, "y_test without y_train"),
    ({"x_train": np.zeros((4, 2)), "y_train": np.zeros(4)}, "integer class ids"),
    ({"x_train": np.zeros((4, 2)), "y_train": np.zeros(4, int), "x_test": np.zeros((2, 2))}, "come in pairs"),
    ({"x_train": np.zeros((4, 2)), "y_train": np.zeros(4, int), "x_unlabeled": np.zeros((3, 5))}, "shape (5,)"),
    ({"x_train": np.array([{"a": 1}] * 4, dtype=object), "y_train": np.zeros(4, int)}, "pickled objects"),
])
def test_bad_npz_is_a_rejected_input_file_naming_the_fix(tmp_path, arrays, problem):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputFileError, match="bad.npz") as exc:
        load(tmp_path, 'name = "npz"\npath = "bad.npz"')
    assert problem in str(exc.value) and exc.value.exit_code == 3


def write_images(root, colours: dict, sizes=((10, 12), (6, 6), (7, 9))):
    for name, rgb in colours.items():
        (root / name).mkdir(parents=True)
        for i, (w, h) in enumerate(sizes):
            Image.new("RGB", (w, h), rgb).save(root / name / f"{i}.png")


def test_image_folder_class_per_subfolder_resized_and_scaled(tmp_path):
    write_images(tmp_path / "imgs", {"red": (255, 0, 0), "blue": (0, 0, 255), "grey": (128, 128, 128)})
    (tmp_path / "imgs" / "red" / "notes.txt").write_text("not an image: skipped by its suffix")
    ds = load(tmp_path, 'name = "image_folder"\npath = "imgs"\nimage_size = [5, 4]\ntest_fraction = 0.34')
    assert ds.classes == ("blue", "grey", "red") and ds.num_classes == 3 and ds.input_shape == (3, 5, 4)
    assert len(ds.x_train["input"]) + len(ds.x_test["input"]) == 9
    for x, y in zip(np.concatenate([ds.x_train["input"], ds.x_test["input"]]), np.concatenate([ds.y_train, ds.y_test])):
        expected = {0: (0, 0, 1), 1: (128 / 255,) * 3, 2: (1, 0, 0)}[int(y)]
        assert np.allclose(x.mean((1, 2)), expected, atol=1e-6)
    grey = load(tmp_path, 'name = "image_folder"\npath = "imgs"\nimage_size = [4, 4]\ngrayscale = true')
    assert grey.input_shape == (1, 4, 4)


def test_image_folder_names_the_broken_file_and_the_empty_class(tmp_path):
    write_images(tmp_path / "imgs", {"a": (0, 0, 0), "b": (9, 9, 9)})
    (tmp_path / "imgs" / "b" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(InputFileError, match="broken.png: not a readable image"):
        load(tmp_path, 'name = "image_folder"\npath = "imgs"')
    (tmp_path / "imgs" / "b" / "broken.png").unlink()
    (tmp_path / "imgs" / "c").mkdir()
    with pytest.raises(InputFileError, match="no images in this class folder"):
        load(tmp_path, 'name = "image_folder"\npath = "imgs"')


def test_text_lines_are_utf8_byte_ids_with_sorted_labels(tmp_path):
    (tmp_path / "t.txt").write_text("spam\tWIN money now\nham\thi mum\n\nham\tsee you\nspam\tfree €€€\n",
                                    encoding="utf-8")
    (tmp_path / "more.txt").write_text("unlabelled line one\nline two\n")
    ds = load(tmp_path, 'name = "text_lines"\npath = "t.txt"\nmax_len = 6\nunlabeled = "more.txt"\ntest_fraction = 0.5')
    assert ds.classes == ("ham", "spam") and ds.input_shape == (6,) and len(ds.x_unlabeled["input"]) == 2
    rows = {bytes(r.astype(np.uint8)).rstrip(b"\0"): int(y) for r, y in
            zip(np.concatenate([ds.x_train["input"], ds.x_test["input"]]), np.concatenate([ds.y_train, ds.y_test]))}
    assert rows == {b"WIN mo": 1, b"hi mum": 0, b"see yo": 0, "free €".encode()[:6]: 1}
    assert bytes(ds.x_unlabeled["input"][1].astype(np.uint8)) == b"line t"
    (tmp_path / "t.txt").write_text("spam\tok\nno tab on this line\n")
    with pytest.raises(InputFileError, match=r"t.txt:2: no tab between label and text"):
        load(tmp_path, 'name = "text_lines"\npath = "t.txt"')


def test_unlabeled_inputs_are_first_class_from_any_source(tmp_path):
    np.savez(tmp_path / "lab.npz", x_train=np.ones((10, 3, 4, 4)), y_train=np.arange(10) % 2)
    write_images(tmp_path / "unl" / "any" / "depth", {"x": (255, 255, 255)}, sizes=((4, 4), (8, 8)))
    ds = load(tmp_path, 'name = "npz"\npath = "lab.npz"\nunlabeled = "unl"\nimage_size = [4, 4]')
    assert ds.x_unlabeled["input"].shape == (2, 3, 4, 4) and np.allclose(ds.x_unlabeled["input"], 1.0)
    np.savez(tmp_path / "u.npz", x_unlabeled=np.zeros((5, 3, 4, 4)))
    both = load(tmp_path, 'name = "npz"\npath = "lab.npz"\nunlabeled = "u.npz"\nunlabeled_fraction = 0.5')
    assert len(both.x_unlabeled["input"]) == 5 + 4 and len(both.y_train) == 4  # 8 train rows: half lose their labels
    with pytest.raises(InputFileError, match=r"unl: unlabelled inputs have shape \(3, 5, 5\)"):
        load(tmp_path, 'name = "npz"\npath = "lab.npz"\nunlabeled = "unl"\nimage_size = [5, 5]')


def test_import_path_dataset_train_test_unlabeled(tmp_path):
    ds = load(tmp_path, 'name = "import"\nfactory = "byo_user_code:digits_splits"')
    assert (len(ds.x_train["input"]), len(ds.x_test["input"]), len(ds.x_unlabeled["input"])) == (600, 300, 400)
    assert ds.input_shape == (64,) and ds.num_classes == 10 and ds.x_train["input"].dtype == np.float32
    with pytest.raises(InputFileError, match="not a map-style dataset"):
        load(tmp_path, 'name = "import"\nfactory = "byo_user_code:not_a_dataset"')


@pytest.mark.parametrize("data, key, problem", [
    ('name = "npz"', "data.path", "required for data name 'npz'"),
    ('name = "npz"\npath = "missing.npz"', "data.path", "no such file"),
    ('name = "image_folder"\npath = "recipe.toml"', "data.path", "is not a folder"),
    ('name = "digits"\npath = "x.npz"', "data.path", "not used for data name 'digits'"),
    ('name = "digts"', "data.name", "did you mean 'digits'?"),
    ('name = "import"\nfactory = "byo_user_code:digits_split"', "data.factory", "did you mean 'digits_splits'?"),
    ('name = "import"\nfactory = "no_such_module_xyz:f"', "data.factory", "cannot import"),
    ('name = "import"\nfactory = "byo_user_code.digits_splits"', "data.factory", "not an import path"),
    ('name = "digits"\nunlabeled = "nowhere"', "data.unlabeled", "no such file or folder"),
])
def test_recipe_errors_name_the_data_key_and_the_fix(tmp_path, data, key, problem):
    with pytest.raises(ConfigError) as exc:
        data_recipe(tmp_path, data)
    assert exc.value.key == key and problem in str(exc.value), str(exc.value)


E2E = {  # data → (files the test writes, [data] table, teacher and student tables)
    "text_lines": ('name = "text_lines"\npath = "reviews.txt"\nunlabeled = "more.txt"\nmax_len = 24',
                   'arch = "textcnn"\nchannels = [16]\nwidth = 8', 'arch = "textcnn"\nchannels = [4]\nwidth = 4'),
    "image_folder": ('name = "image_folder"\npath = "imgs"\nimage_size = [6, 6]\nunlabeled_fraction = 0.3',
                     'factory = "byo_user_code:make_teacher"', 'factory = "byo_user_code:tiny_student"'),
}


def write_e2e_files(folder):
    rng = np.random.default_rng(0)
    words = {"pos": ["good", "great", "fine", "love"], "neg": ["bad", "awful", "sad", "hate"]}
    lines = [(lab, " ".join(rng.choice(words[lab] + ["the", "film"], 4))) for lab in rng.choice(["pos", "neg"], 80)]
    (folder / "reviews.txt").write_text("".join(f"{lab}\t{text}\n" for lab, text in lines))
    (folder / "more.txt").write_text("".join(f"{text}\n" for _, text in lines[:30]))
    sizes = [(6 + i % 3, 6) for i in range(12)]
    write_images(folder / "imgs", {"red": (250, 10, 10), "green": (10, 250, 10)}, sizes=sizes)


@pytest.mark.parametrize("source", sorted(E2E))
def test_new_data_sources_run_end_to_end(tmp_path, source):
    """Through every stage with real torch/onnxruntime: ONNX export (byte ids → Cast → Gather for text), parity."""
    from edgedistill.pipeline import run
    from edgedistill.progress import Reporter

    write_e2e_files(tmp_path)
    data, teacher, student = E2E[source]
    train = "[{}]\nepochs = 3\nlr = 1e-2\n"
    (tmp_path / "r.toml").write_text(
        f'name = "e2e"\n[data]\n{data}\n[teacher]\n{teacher}\n{train.format("teacher.train")}[student]\n{student}\n'
        f'{train.format("student.train")}{train.format("student.transfer_train")}'
        '[export]\npresets = ["onnx-fp32"]\n[bench]\ndevices = []\n')
    rep = run(tmp_path / "r.toml", out=tmp_path / "run", reporter=Reporter(quiet=True)).report
    assert {"teacher-fp32.onnx", "student-fp32.onnx"} <= set(rep["artifacts"])
    for name in ("teacher-fp32.onnx", "student-fp32.onnx"):
        assert rep["parity"][name]["top1_agreement"]["value"] == 100.0, name
    students = rep["training"]["students"]  # the transfer run also sees the unlabelled rows
    assert students["distilled_transfer"]["examples_per_epoch"] > students["distilled"]["examples_per_epoch"]


USER_DATA = '''import numpy as np


def missing(seed: int = 0):
    raise FileNotFoundError(f"no such shard: /data/part-{seed}.bin\\nsecond line, never shown")


class BadItems:
    def __len__(self):
        return 3

    def __getitem__(self, i):
        return np.ones(4) * (1 / (i - 2)), 0


def bad_items():
    return BadItems()
'''


@pytest.mark.parametrize("factory, problem, line", [
    ("missing", "calling 'user_data_mod:missing' raised FileNotFoundError: no such shard: /data/part-42.bin", 5),
    ("bad_items", "item 2 of what 'user_data_mod:bad_items' returned raised ZeroDivisionError: division by zero", 13),
])
def test_a_data_factory_that_raises_is_one_line_exit_2(tmp_path, factory, problem, line):
    """The user's code failing is their error (exit 2), not ours (4): its first line and file:line, no traceback."""
    from conftest import cli

    (tmp_path / "user_data_mod.py").write_text(USER_DATA)
    (tmp_path / "r.toml").write_text(f'name = "byo"\n[data]\nname = "import"\nfactory = "user_data_mod:{factory}"\n'
                                     f'{MODELS}')
    got = cli("distill", tmp_path / "r.toml", "--out", tmp_path / "run", "--quiet")
    assert got.returncode == 2 and len(got.stderr.strip().splitlines()) == 1, got.stderr
    assert "data.factory: " + problem in got.stderr and "Traceback" not in got.stderr
    assert f"at {tmp_path / 'user_data_mod.py'}:{line} — fix" in got.stderr and "second line" not in got.stderr
    assert not (tmp_path / "run").exists()
