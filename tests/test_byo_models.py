"""Bring-your-own teacher and student: built-in families with size knobs, import paths, and pretrained
teachers from safetensors, TorchScript and ONNX files — each loaded, evaluated and distilled from for real."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import onnxruntime as ort
import pytest
import torch
from byo_user_code import make_teacher
from conftest import FIXTURES, ROOT, cli
from safetensors.torch import save_file

from edgedistill.data import load_dataset
from edgedistill.distill.stage import distill_all
from edgedistill.distill.teacher import teacher_tensors, train_or_load_teacher
from edgedistill.errors import ConfigError, InputFileError
from edgedistill.models import build_model, count_params
from edgedistill.models.teachers import OnnxTeacher, ScriptTeacher
from edgedistill.progress import Reporter
from edgedistill.recipe import DataConfig, ModelConfig, load_recipe

STUDENT = """
[student]
arch = "mlp"
width = 16
depth = 1
[student.train]
epochs = 5
lr = 1e-2
[student.transfer_train]
epochs = 8
lr = 1e-2
[export]
presets = ["onnx-fp32"]
[bench]
devices = ["HOST"]
""".replace("HOST", str(FIXTURES / "devices" / "host-cpu.toml"))  # the shipped profile, fewer timed runs


def write_recipe(folder, teacher: str, extra: str = "", data: str = 'name = "digits"\nunlabeled_fraction = 0.3'):
    path = folder / "recipe.toml"
    path.write_text(f'name = "byo"\nseed = 0\n[data]\n{data}\n[teacher]\n{teacher}\n{STUDENT}\n{extra}')
    return path


@pytest.fixture(scope="module")
def teacher_files(tmp_path_factory):
    """A digits teacher the 'user' trained elsewhere, saved as safetensors, TorchScript and ONNX."""
    folder = tmp_path_factory.mktemp("teacher")
    ds = load_dataset(DataConfig(name="digits", unlabeled_fraction=0.3), None)  # as in write_recipe's default
    torch.manual_seed(0)
    model = make_teacher(ds.input_shape, ds.num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=3e-2)
    x, y = torch.from_numpy(ds.x_train["input"]), torch.from_numpy(ds.y_train)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 64→32→10 MLP: thread hand-offs would cost more than the maths on a busy host
    for _ in range(40):  # full batch: the user's own training, ≈97% test accuracy
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    torch.set_num_threads(threads)
    model.eval()
    save_file(model.state_dict(), folder / "teacher.safetensors")
    torch.jit.save(torch.jit.script(model), folder / "teacher.pt")
    torch.onnx.export(model, (x[:2],), str(folder / "teacher.onnx"), dynamo=False, input_names=["pixels"],
                      output_names=["scores"], dynamic_axes={"pixels": {0: "n"}, "scores": {0: "n"}})
    with torch.no_grad():
        logits = model(torch.from_numpy(ds.x_test["input"])).numpy()
    return folder, model, ds, logits


def test_builtin_families_take_their_input_shapes_and_size_knobs():
    mlp = build_model(ModelConfig(arch="mlp", width=12, depth=2), (1, 8, 8), 10)
    assert count_params(mlp) == (64 * 12 + 12) + (12 * 12 + 12) + (12 * 10 + 10)
    cnn = build_model(ModelConfig(arch="cnn2d", channels=(4, 6)), (3, 9, 7), 5)
    assert cnn(torch.rand(2, 3, 9, 7)).shape == (2, 5)
    text = build_model(ModelConfig(arch="textcnn", channels=(6,), width=5), (12,), 4)
    ids = torch.tensor([[72.0, 105, 0, 0] * 3, [300.0, -4, 1, 2] * 3])  # out-of-range ids are clamped, not an error
    assert text(ids).shape == (2, 4) and text.embed.weight.shape == (256, 5)
    own = build_model(ModelConfig(factory="byo_user_code:tiny_student"), (1, 8, 8), 10)
    assert count_params(own) == 64 * 10 + 10
    with pytest.raises(ConfigError, match=r"student.arch: cnn1d takes inputs of shape \(L,\).*use one of: cnn2d, mlp"):
        build_model(ModelConfig(arch="cnn1d", channels=(4,)), (1, 8, 8), 10)


def test_onnx_teacher_runs_in_onnxruntime_without_gradients(teacher_files):
    folder, model, ds, logits = teacher_files
    teacher = OnnxTeacher(folder / "teacher.onnx")
    x = torch.from_numpy(ds.x_test["input"]).requires_grad_()
    out = teacher(x)
    assert np.allclose(out.numpy(), logits, atol=1e-5) and not out.requires_grad and out.grad_fn is None
    assert teacher.content_hash == hashlib.sha256((folder / "teacher.onnx").read_bytes()).hexdigest()
    assert count_params(teacher) == count_params(model) and list(teacher.parameters()) == []


def test_torchscript_teacher_matches_and_writes_its_own_onnx_file(teacher_files, tmp_path):
    folder, _, ds, logits = teacher_files
    teacher = ScriptTeacher(folder / "teacher.pt", ds.input_shape)
    assert np.allclose(teacher(torch.from_numpy(ds.x_test["input"])).detach().numpy(), logits, atol=1e-6)
    teacher.write_onnx(tmp_path / "t.onnx", 18)  # torch.export cannot trace a ScriptModule
    sess = ort.InferenceSession(str(tmp_path / "t.onnx"), providers=["CPUExecutionProvider"])
    assert np.allclose(sess.run(None, {"input": ds.x_test["input"]})[0], logits, atol=1e-5)


TEACHERS = {
    "onnx": 'source = "onnx"\npath = "teacher.onnx"',
    "torchscript": 'source = "torchscript"\npath = "teacher.pt"',
    "safetensors": 'source = "safetensors"\npath = "teacher.safetensors"\nfactory = "byo_user_code:make_teacher"',
    "import": 'source = "import"\nfactory = "byo_user_code:pretrained_teacher"\n'
              '[teacher.params]\nweights = "{folder}/teacher.safetensors"',
}


@pytest.mark.parametrize("source", sorted(TEACHERS))
def test_pretrained_teacher_is_loaded_and_evaluated_not_trained(teacher_files, source):
    folder, model, ds, logits = teacher_files
    recipe, _ = load_recipe(write_recipe(folder, TEACHERS[source].format(folder=folder)))
    teacher, r, cached = train_or_load_teacher(recipe, ds, teacher_tensors(ds), folder / "cache", Reporter(quiet=True))
    assert (r.epochs, r.steps, cached) == (0, 0, False) and not (folder / "cache").exists()  # loaded, never trained
    assert r.test_accuracy == pytest.approx((logits.argmax(1) == ds.y_test).mean()) and r.test_accuracy > 0.9
    assert not teacher.training and r.params == count_params(model)
    with torch.no_grad():
        assert np.allclose(teacher(torch.from_numpy(ds.x_test["input"])).numpy(), logits, atol=1e-5)


def test_teachers_that_do_not_fit_the_data_are_rejected_before_training(teacher_files, tmp_path):
    folder = teacher_files[0]
    np.savez(folder / "flat.npz", x_train=np.zeros((6, 8)), y_train=np.arange(6) % 2)
    digits, flat = 'name = "digits"', 'name = "npz"\npath = "flat.npz"'
    cases = [(digits, 'source = "safetensors"\npath = "teacher.safetensors"\nfactory = "byo_user_code:make_teacher"\n'
                      '[teacher.params]\nwidth = 7', r"teacher.safetensors: weights do not fit: .*size mismatch"),
             (digits, 'source = "safetensors"\npath = "teacher.safetensors"\narch = "cnn2d"\nchannels = [4]',
              r"weights do not fit teacher.arch 'cnn2d': missing \['classifier.bias'"),
             (flat, TEACHERS["onnx"], r"teacher.onnx: the teacher fails on a batch of shape \(\d, 8\) float32: "
                                      r".*Invalid rank"),
             (digits + "\nnum_classes = 12", TEACHERS["import"].format(folder=folder),
              r"returns \(2, 10\) for a batch of 2; logits \(2, 12\) expected")]
    for data, teacher, problem in cases:
        recipe, path = load_recipe(write_recipe(folder, teacher, data=data))
        with pytest.raises(InputFileError, match=problem):
            distill_all(recipe, None, tmp_path, Reporter(quiet=True), str(path))


FEATURE_TERM = '[[distill.terms]]\nloss = "hint_mse"\nstudent_layer = "features.0"\nteacher_layer = "1"\n'


@pytest.mark.parametrize("teacher, code, message", [
    (TEACHERS["onnx"], 2, "distill.terms[0].teacher_layer: ONNX teachers support response/embedding losses only"),
    (TEACHERS["torchscript"], 2, "distill.terms[0].teacher_layer: TorchScript teachers support response/embedding"),
    ('source = "onnx"\npath = "nowhere.onnx"', 2, "teacher.path: no such file"),
    ('source = "onxx"\npath = "teacher.onnx"', 2, "teacher.source: unknown teacher source 'onxx' — "
                                                 "did you mean 'onnx'?"),
    ('source = "onnx"\npath = "recipe.toml"', 3, "recipe.toml: not a loadable ONNX model"),
    ('source = "safetensors"\npath = "recipe.toml"\narch = "cnn2d"\nchannels = [4]', 3,
     "recipe.toml: not a readable safetensors file"),
    ('source = "train"', 2, "teacher.train: required for teacher source 'train'"),
    ('arch = "cnn2"\nchannels = [4]\n[teacher.train]\nepochs = 1\nlr = 1', 2, "teacher.arch: unknown name 'cnn2' — "
                                                                            "did you mean 'cnn2d'?"),
])
def test_cli_rejects_bad_teachers_in_one_line_with_the_exit_code(teacher_files, teacher, code, message):
    folder = teacher_files[0]
    path = write_recipe(folder, teacher, FEATURE_TERM if "teacher_layer" in message else "")
    r = cli("run", path, "--out", folder / "never", "--quiet")
    assert r.returncode == code, r.stderr
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (folder / "never").exists()


def readme_recipe() -> str:
    """The README's complete BYO recipe (ONNX teacher + npz data), exactly as documented."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("A complete recipe — your ONNX teacher, your arrays:")[1].split("```toml\n")[1].split("```")[0]


def test_readme_onnx_teacher_recipe_runs_end_to_end_and_the_student_learns_from_it(teacher_files, tmp_path):
    from edgedistill.pipeline import run

    folder, _, ds, logits = teacher_files
    (tmp_path / "data").mkdir()
    (tmp_path / "models").mkdir()
    np.savez(tmp_path / "data" / "train.npz", x_train=ds.x_train["input"], y_train=ds.y_train,
             x_test=ds.x_test["input"], y_test=ds.y_test)
    np.savez(tmp_path / "data" / "more.npz", x_unlabeled=ds.x_unlabeled["input"])
    shutil.copy(folder / "teacher.onnx", tmp_path / "models" / "teacher.onnx")
    (tmp_path / "recipe.toml").write_text(readme_recipe())
    fast = {"student": {"train": {"epochs": 6}, "transfer_train": {"epochs": 8}}, "export": {"presets": ["onnx-fp32"]}}
    rep = run(tmp_path / "recipe.toml", out=tmp_path / "run", reporter=Reporter(quiet=True), overrides=fast).report
    teacher_acc = 100 * (logits.argmax(1) == ds.y_test).mean()
    assert rep["training"]["teacher"]["epochs"] == 0
    assert rep["training"]["teacher"]["test_accuracy"]["value"] == pytest.approx(teacher_acc)
    assert rep["parity"]["teacher-fp32.onnx"]["max_abs_diff"]["value"] < 1e-4  # the user's own file, benchmarked
    got = {(m["artifact"], m["metric"]): m["value"] for m in rep["measurements"] if m["device"] == "host-cpu"}
    assert got["teacher-fp32.onnx", "accuracy"] == pytest.approx(teacher_acc)
    # distilled from the ONNX teacher in a few epochs: the shipped student agrees with it on most held-out
    # digits (chance: 10%; this seed gives ≈81%)
    assert got["student-fp32.onnx", "agreement"] > 70 and got["student-fp32.onnx", "accuracy"] > 70
