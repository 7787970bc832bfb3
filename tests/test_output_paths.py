"""Output folders that cannot take our files (issue 11, items 10, 12 and 14): a full disk, a read-only
file system, a failed export — one line naming the path, exit 3, nothing half-written or temporary left.

A full and a read-only file system are real: a 1 MB tmpfs mounted for the test where we may mount
(root), otherwise RLIMIT_FSIZE in the child (a full disk) and chmod (read-only); skipped with the
reason where neither applies."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, TINY, cli

from edgedistill.artifacts import make_folder
from edgedistill.errors import OutputPathError
from edgedistill.pipeline import claim_out, publish

FAST = (TINY.read_text().replace('budgets = "tiny.budgets.toml"', "")
        .replace('presets = ["onnx-fp32", "onnx-int8-qdq", "coreml-fp16"]', 'presets = ["onnx-fp32"]')
        .replace('devices = ["devices/host-cpu.toml", "devices/browser-wasm.toml", "coreml"]', "devices = []"))


def _mount(folder: Path, options: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True).returncode == 0


@pytest.fixture
def full_disk(tmp_path):
    """A folder on a file system with no space left: (folder, None), or (folder, preexec) for RLIMIT_FSIZE."""
    mnt = tmp_path / "full"
    if _mount(mnt, "size=1m"):
        with open(mnt / "filler", "wb") as fh:  # fill it to the last block
            try:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            except OSError:
                pass
        yield mnt, None
        subprocess.run(["umount", "-l", str(mnt)], check=False)
    else:
        yield mnt, lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


@pytest.fixture
def read_only(tmp_path):
    """A folder nobody may write into: a read-only tmpfs (root), or chmod 0555 (others)."""
    mnt = tmp_path / "ro"
    if _mount(mnt, "size=1m,ro"):
        yield mnt
        subprocess.run(["umount", "-l", str(mnt)], check=False)
    elif os.geteuid() != 0:
        mnt.chmod(0o555)
        yield mnt
        mnt.chmod(0o755)
    else:
        pytest.skip("root without mount rights: chmod does not stop root, and no read-only tmpfs can be mounted")


def run_cli(args, tmp_path, preexec=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "EDGEDISTILL_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "edgedistill", *map(str, args), "--quiet"], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=600, preexec_fn=preexec)


def one_line(p, code: int) -> str:
    err = p.stderr.strip()
    assert p.returncode == code, p.stderr[-3000:]
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def leftovers(folder: Path) -> list[str]:
    """Everything under `folder` except the filler that made the disk full."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name != "filler")


def test_disk_full_while_checkpointing_names_the_path_and_leaves_no_temp_folder(tmp_path, full_disk):
    folder, preexec = full_disk
    (tmp_path / "r.toml").write_text(FAST)
    p = run_cli(["run", tmp_path / "r.toml", "--out", folder / "run", "--checkpoint-every", "1"], tmp_path, preexec)
    err = one_line(p, 3)
    assert "cannot write" in err and ("no space left" in err or "too large" in err), err
    if preexec is None:  # the tmpfs: the full folder is the one named, and nothing is left in it
        assert str(folder) in err
        assert leftovers(folder) == [], leftovers(folder)  # no .tmp-*, no staging, no empty checkpoint folders


def test_disk_full_when_the_models_are_written_names_the_output_folder(tmp_path, full_disk):
    folder, preexec = full_disk
    if preexec is not None:
        pytest.skip("needs a full tmpfs: RLIMIT_FSIZE fails the cache's writes first")
    (tmp_path / "r.toml").write_text(FAST)
    p = run_cli(["run", tmp_path / "r.toml", "--out", folder / "run", "--checkpoint-every", "0"], tmp_path)
    err = one_line(p, 3)
    assert str(folder) in err and "no space left on the device" in err and "choose another --out" in err
    assert leftovers(folder) == []


def test_a_read_only_output_folder_is_exit_3_naming_it(tmp_path, read_only):
    (tmp_path / "r.toml").write_text(FAST)
    p = run_cli(["distill", tmp_path / "r.toml", "--out", read_only / "run"], tmp_path)
    err = one_line(p, 3)
    assert str(read_only) in err and ("read-only file system" in err or "permission denied" in err), err


def test_checkpoint_save_on_a_full_disk_removes_its_temporary_folder(full_disk):
    import torch

    from edgedistill.distill.checkpoint import Checkpointer, Position

    folder, preexec = full_disk
    if preexec is not None:
        pytest.skip("needs a full tmpfs (RLIMIT_FSIZE would stop this test process itself)")
    model = torch.nn.Linear(64, 64)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    ck = Checkpointer(folder / "ck", {"recipe": 1}, every=1)
    with pytest.raises(OutputPathError, match="cannot write") as exc:
        ck.save(Position(1, 0, 0, torch.arange(4), 0.0), model, torch.nn.Module(), opt, sched, torch.Generator())
    assert exc.value.exit_code == 3 and str(folder) in str(exc.value)
    assert not list((folder / "ck").glob(".tmp-*")) and ck.checkpoints() == []


# ---- export: stage, then move into --out -------------------------------------------------------------

@pytest.fixture(scope="module")
def student(tmp_path_factory):
    """Untrained student weights of the tiny recipe (export needs weights, not a good model) + the recipe."""
    from edgedistill.data import load_dataset
    from edgedistill.models import build_model, save_weights
    from edgedistill.recipe import load_recipe

    folder = tmp_path_factory.mktemp("student")
    (folder / "r.toml").write_text(FAST)
    recipe, _ = load_recipe(folder / "r.toml")
    ds = load_dataset(recipe.data, folder / "cache")
    save_weights(build_model(recipe.student, ds.input_shape, ds.num_classes), folder / "student.safetensors")
    return folder


def strict_preset(folder: Path) -> Path:
    """A user preset the int8 file cannot meet (|Δ| ≤ 1e-9): the export fails after writing its file."""
    text = (ROOT / "exporters" / "onnx-int8-qdq.toml").read_text().replace('name = "onnx-int8-qdq"',
                                                                            'name = "too-strict"')
    lines = [ln for ln in text.splitlines() if not ln.startswith("max_abs_diff")]
    lines.insert(lines.index("[parity]") + 1, "max_abs_diff = 1e-9")
    (folder / "too-strict.toml").write_text("\n".join(lines) + "\n")
    return folder / "too-strict.toml"


def test_a_failed_export_leaves_nothing_in_out(student, tmp_path):
    env = {"EDGEDISTILL_CACHE": str(student / "cache")}
    p = cli("export", student / "student.safetensors", "--recipe", student / "r.toml", "--preset",
            strict_preset(tmp_path), "--out", tmp_path / "out", env=env)
    assert p.returncode != 0 and "fails parity" in p.stderr and "Traceback" not in p.stderr, p.stderr[-2000:]
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))  # no student-*.onnx, no staging
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("kept")
    p = cli("export", student / "student.safetensors", "--recipe", student / "r.toml", "--preset", "onnx-fp32",
            "--out", tmp_path / "out", "--force", env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    assert sorted(f.name for f in (tmp_path / "out").iterdir()) == ["export.json", "mine.txt", "student-fp32.onnx"]
    assert not list(tmp_path.glob(".out.*"))


def test_export_into_a_read_only_folder_is_exit_3(student, read_only):
    p = cli("export", student / "student.safetensors", "--recipe", student / "r.toml", "--preset", "onnx-fp32",
            "--out", read_only / "out", env={"EDGEDISTILL_CACHE": str(student / "cache")})
    err = one_line(p, 3)
    assert str(read_only) in err and "cannot write" in err


# ---- folder modes (#11.14): run and baseline folders honour the umask, like mkdir ----------------------

@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_run_and_staging_folders_get_the_umask_mode_not_0700(tmp_path, umask):
    old = os.umask(umask)
    try:
        out = tmp_path / f"run-{umask:o}"
        staging = claim_out(out, force=False)
        publish(staging, out, force=False)
        folder = make_folder(".baseline.partial-", tmp_path)
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask
    assert folder.stat().st_mode & 0o777 == 0o777 & ~umask
