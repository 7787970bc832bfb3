"""The teacher-output cache: computed once, reused, invalidated by any ingredient, never used with augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TINY
from safetensors.torch import load_file

from edgedistill.distill import cache as tc
from edgedistill.distill.augment import apply, shift
from edgedistill.errors import ConfigError
from edgedistill.models.cnn1d import CNN1d
from edgedistill.progress import Reporter
from edgedistill.recipe import load_recipe


@pytest.fixture
def teacher():
    torch.manual_seed(0)
    return CNN1d(40, 10, [8, 16]).eval()


@pytest.fixture
def x():
    return torch.randn(300, 40, generator=torch.Generator().manual_seed(1))


def entries(root):
    return sorted(p.name for p in (root / "teacher-outputs").iterdir())


def test_outputs_are_the_teachers_and_a_second_call_reuses_the_entry(teacher, x, tmp_path, capsys):
    first = tc.teacher_outputs(teacher, x, tc.Stored(), 10, tmp_path)
    with torch.no_grad():
        expected = teacher(x)
    idx = torch.tensor([5, 0, 299, 17])
    assert torch.allclose(first.take(idx)[""], expected[idx], atol=1e-5)
    files = {p: p.stat().st_mtime_ns for p in (tmp_path / "teacher-outputs").rglob("*")}
    again = tc.teacher_outputs(teacher, x, tc.Stored(), 10, tmp_path, reporter=Reporter())
    assert "reused from cache" in capsys.readouterr().err
    assert isinstance(again.arrays[""], np.memmap)  # read from disk by row, not loaded whole
    assert torch.equal(again.take(idx)[""], first.take(idx)[""])
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "teacher-outputs").rglob("*")} == files  # nothing rewritten


def test_any_changed_ingredient_is_a_new_entry(teacher, x, tmp_path):
    tc.teacher_outputs(teacher, x, tc.Stored(), 10, tmp_path)
    x2 = x.clone()
    x2[123, 7] += 1e-3  # one input value
    tc.teacher_outputs(teacher, x2, tc.Stored(), 10, tmp_path)
    with torch.no_grad():
        next(teacher.parameters()).view(-1)[0] += 1e-3
    tc.teacher_outputs(teacher, x, tc.Stored(), 10, tmp_path)  # one teacher weight
    tc.teacher_outputs(teacher, x, tc.Stored(dtype="float16"), 10, tmp_path)
    tc.teacher_outputs(teacher, x, tc.Stored(top_k=3), 10, tmp_path)
    tc.teacher_outputs(teacher, x, tc.Stored(), 10, tmp_path, preprocessing="standardise")
    assert len(entries(tmp_path)) == 6


def test_float16_and_top_k_store_less_and_stay_close(teacher, x, tmp_path):
    full = tc.teacher_outputs(teacher, x, tc.Stored(), 10, tmp_path)
    half = tc.teacher_outputs(teacher, x, tc.Stored(dtype="float16"), 10, tmp_path)
    top = tc.teacher_outputs(teacher, x, tc.Stored(top_k=3), 10, tmp_path)
    assert half.arrays[""].dtype == np.float16 and half.arrays[""].nbytes == full.arrays[""].nbytes // 2
    idx = torch.arange(300)
    f, h, t = full.take(idx)[""], half.take(idx)[""], top.take(idx)[""]
    assert torch.allclose(h, f, rtol=2e-3, atol=2e-3)
    assert top.arrays[""].shape == (300, 3)
    # the teacher's distribution renormalised over its top 3 classes; exactly zero elsewhere
    k_vals, k_idx = f.topk(3, dim=1)
    renorm = torch.zeros_like(f).scatter_(1, k_idx, torch.softmax(k_vals / 4, dim=1))
    assert torch.allclose(torch.softmax(t / 4, dim=1), renorm, atol=1e-6)
    assert (torch.softmax(t / 4, dim=1) == 0).sum(1).eq(7).all()


def test_named_features_are_stored_and_match_the_live_teacher(teacher, x, tmp_path):
    stored = tc.Stored(layers=("features.2",))
    cached = tc.teacher_outputs(teacher, x, stored, 10, tmp_path)
    idx = torch.tensor([3, 1, 4, 1, 5])
    live = tc.LiveOutputs(teacher, stored.layers).take(idx, x[idx])
    got = cached.take(idx)
    assert got.keys() == live.keys() == {"", "features.2"}
    assert torch.allclose(got["features.2"], live["features.2"], atol=1e-5)
    assert torch.equal(cached.head(10).take(idx)[""], got[""])  # head() is a view of the first rows


def test_an_interrupted_or_damaged_entry_is_refilled(teacher, x, tmp_path):
    good = tc.teacher_outputs(teacher, x, tc.Stored(), 10, tmp_path)
    folder = tmp_path / "teacher-outputs" / entries(tmp_path)[0]
    expected = np.array(good.arrays[""])
    del good
    with open(folder / "out.npy", "r+b") as f:  # truncated: a crash or a full disk
        f.truncate(1000)
    assert tc.load_entry(folder, tc.Stored(), 10) is None
    again = tc.teacher_outputs(teacher, x, tc.Stored(), 10, tmp_path)
    assert np.array_equal(np.asarray(again.arrays[""]), expected)
    (folder / "meta.json").unlink()  # written last: without it the fill never finished
    assert tc.load_entry(folder, tc.Stored(), 10) is None
    assert np.array_equal(np.asarray(tc.teacher_outputs(teacher, x, tc.Stored(), 10, tmp_path).arrays[""]), expected)


def test_without_a_cache_dir_outputs_are_computed_once_in_memory(teacher, x):
    out = tc.teacher_outputs(teacher, x, tc.Stored(), 10, None)
    assert out.source == "memory" and out.take(torch.arange(3))[""].shape == (3, 10)


def test_an_onnx_style_teacher_is_keyed_by_its_content_hash(teacher):
    teacher.content_hash = "f" * 64
    assert tc.teacher_hash(teacher) == "f" * 64


def test_augmentations_change_each_row_and_follow_the_seed():
    x = torch.arange(20, dtype=torch.float32).repeat(4, 1)  # (4, 20)
    torch.manual_seed(0)
    a = shift(x, 3)
    assert all(sorted(r.tolist()) == list(range(20)) for r in a)  # a roll: same values, moved
    assert not torch.equal(a, x)
    torch.manual_seed(0)
    assert torch.equal(apply(x, {"shift": 3}), a)  # the same seed, the same shifts
    assert not torch.equal(apply(x, {"shift": 3, "noise": 0.1}), apply(x, {"shift": 3, "noise": 0.1}))
    assert torch.equal(apply(x, {}), x)


def test_a_cache_with_augmented_inputs_is_refused_naming_both_keys():
    over = {"distill": {"teacher_outputs": "cache"}, "student": {"transfer_train": {"augment": {"shift": 2}}}}
    with pytest.raises(ConfigError) as e:
        load_recipe(TINY, over)
    msg = str(e.value)
    assert "distill.teacher_outputs" in msg and "student.transfer_train.augment" in msg and '"live"' in msg


def test_an_unknown_augmentation_says_what_it_meant():
    with pytest.raises(ConfigError, match=r"student.train.augment.shfit.*did you mean 'shift'"):
        load_recipe(TINY, {"student": {"train": {"augment": {"shfit": 2}}}})


def test_auto_runs_the_teacher_live_when_inputs_are_augmented(teacher, x, capsys):
    from types import SimpleNamespace

    from edgedistill.distill.stage import _teacher_outputs
    from edgedistill.tasks import get_task

    recipe, _ = load_recipe(TINY, {"student": {"transfer_train": {"augment": {"noise": 0.1}}}})
    classify, ds = get_task("classify"), SimpleNamespace(num_classes=10)  # what the cache path reads of the data
    got, labelling = _teacher_outputs(recipe, classify, teacher, x, (), ds, None, Reporter())
    assert isinstance(got, tc.LiveOutputs) and labelling == {}
    assert "live on every batch (inputs augmented on the fly (student.transfer_train))" in capsys.readouterr().err
    recipe, _ = load_recipe(TINY)
    assert isinstance(_teacher_outputs(recipe, classify, teacher, x, (), ds, None, Reporter(quiet=True))[0],
                      tc.CachedOutputs)


def test_the_pipeline_filled_the_cache_it_now_reuses(tiny_run, cache_dir, tmp_path, capsys):
    """tiny_run filled its entry; distilling the same recipe again reads it instead of running the teacher."""
    from edgedistill.distill.stage import distill_all

    before = entries(cache_dir)
    recipe, path = load_recipe(TINY)
    trained = distill_all(recipe, cache_dir, tmp_path, Reporter(), str(path))
    assert "teacher outputs: reused from cache" in capsys.readouterr().err
    assert entries(cache_dir) == before
    # the same stored outputs → the same student, bit for bit
    name = "student-distilled_transfer.safetensors"
    a, b = load_file(str(tiny_run.out / name)), load_file(str(trained.weights["distilled_transfer"].path))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


NO_CACHE_TEACHER = '''import torch


def wide():
    torch.manual_seed(0)
    return torch.nn.Linear(8, 100)  # 100 classes: 400 B of float32 logits a row
'''

NO_CACHE_RUN = '''import resource, sys
import psutil, torch  # noqa: F401  (imported before the limit: what a run has mapped anyway)
from edgedistill.cli import main
vms = psutil.Process().memory_info().vms
resource.setrlimit(resource.RLIMIT_AS, (vms + 600 * 2**20, resource.RLIM_INFINITY))
sys.argv = ["edgedistill", "distill", sys.argv[1], "--out", sys.argv[2], "--quiet", "--no-cache"]
main()
'''


def test_no_cache_teacher_outputs_beyond_memory_exit_3_before_computing(tmp_path):
    """--no-cache holds the outputs in memory: 2,000,300 rows × 400 B (800 MB, 1.6 GB with working copies) in a
    run whose address space (RLIMIT_AS) leaves it 600 MB is refused, naming the data and the fix."""
    import subprocess
    import sys

    from conftest import ROOT

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.normal(size=(300, 8)).astype(np.float32), y_train=np.arange(300) % 100,
             x_test=rng.normal(size=(100, 8)).astype(np.float32), y_test=np.arange(100) % 100,
             x_unlabeled=np.zeros((2_000_000, 8), np.float32))
    (tmp_path / "wide_teacher.py").write_text(NO_CACHE_TEACHER)
    (tmp_path / "r.toml").write_text('name = "wide"\n[data]\nname = "npz"\npath = "d.npz"\n[teacher]\n'
                                     'source = "import"\nfactory = "wide_teacher:wide"\n[student]\narch = "mlp"\n'
                                     'train = { epochs = 1, lr = 1e-2 }\ntransfer_train = { epochs = 1, lr = 1e-2 }\n')
    got = subprocess.run([sys.executable, "-c", NO_CACHE_RUN, str(tmp_path / "r.toml"), str(tmp_path / "run")],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    errors = [line for line in got.stderr.splitlines() if not line.startswith("warning: teacher")]  # it is random
    assert got.returncode == 3 and len(errors) == 1, got.stderr[-3000:]
    assert (f"{tmp_path / 'd.npz'}: holding the teacher's outputs for 2,000,300 rows (400 B a row) in memory needs "
            "800.1 MB (1.6 GB with working copies)") in got.stderr, got.stderr
    assert got.stderr.strip().endswith("— drop --no-cache: the teacher-output cache memory-maps them from disk")
    assert not (tmp_path / "run").exists()
