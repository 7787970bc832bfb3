"""Broken and hostile data files (issue 11, items 8 and 14): each is refused before anything large is
allocated or trained, with one line naming the file (exit 3) or the recipe key (exit 2) and the fix."""

from __future__ import annotations

import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib

import numpy as np
import pytest
from conftest import ROOT, cli
from PIL import Image
from test_data_sources import MODELS, load

from edgedistill.data.checks import available_memory, eval_set
from edgedistill.errors import ConfigError, InputFileError


def write_recipe(folder, data: str):
    path = folder / "recipe.toml"
    path.write_text(f'name = "bad"\n[data]\n{data}\n{MODELS}\n[export]\npresets = ["onnx-fp32"]\n'
                    '[bench]\ndevices = []\n')
    return path


def one_line_error(p: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    err = p.stderr.strip()
    assert p.returncode == code, p.stderr[-3000:]
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in err, err
    return err


def png_header(path, width: int, height: int):
    """A valid PNG header declaring width × height 8-bit grey pixels (the pixel data is not there)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) +
                     chunk(b"IEND", b""))


def test_nan_inputs_fail_before_training_with_exit_3(tmp_path):
    x = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    x[7, 2] = np.nan
    x[30, 0] = np.inf
    np.savez(tmp_path / "d.npz", x_train=x, y_train=np.arange(40) % 2)
    p = cli("run", write_recipe(tmp_path, 'name = "npz"\npath = "d.npz"'), "--out", tmp_path / "run",
            env={"EDGEDISTILL_CACHE": str(tmp_path / "cache")})
    one_line_error(p, 3, "d.npz", "NaN or Inf", "2 row(s), first row 7", "drop or repair")
    assert not (tmp_path / "run").exists() and not list(tmp_path.glob(".run.*"))


def test_float64_beyond_float32_is_inf_and_refused(tmp_path):
    np.savez(tmp_path / "d.npz", x_train=np.full((4, 2), 1e300), y_train=np.arange(4) % 2)
    with pytest.raises(InputFileError, match="NaN or Inf"):
        load(tmp_path, 'name = "npz"\npath = "d.npz"')


@pytest.mark.parametrize("arrays, problem", [
    ({"x_train": np.zeros((4, 2)), "y_train": np.array([0, 1, 2_000_000_000, 1])}, "beyond 1,000,000 classes"),
    ({"x_train": np.zeros((4, 2)), "y_train": np.array(["cat", "dog", "cat", "dog"])}, "integer class ids"),
    ({"x_train": np.zeros((4, 2)), "y_train": np.arange(4), "x_test": np.zeros((0, 2)),
      "y_test": np.zeros(0, int)}, "the test split is empty"),
    ({"x_train": np.zeros((0, 2)), "y_train": np.zeros(0, int), "x_test": np.zeros((2, 2)),
      "y_test": np.arange(2)}, "the training split is empty"),
])
def test_bad_labels_and_empty_splits_are_rejected_input_files(tmp_path, arrays, problem):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputFileError, match="bad.npz") as exc:
        load(tmp_path, 'name = "npz"\npath = "bad.npz"')
    assert problem in str(exc.value) and exc.value.exit_code == 3


def test_a_npy_named_npz_says_what_it_is(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 2)))
    (tmp_path / "x.npy").rename(tmp_path / "d.npz")
    with pytest.raises(InputFileError, match=r"d.npz: is a single .npy array, not an .npz archive.*numpy.savez"):
        load(tmp_path, 'name = "npz"\npath = "d.npz"')
    (tmp_path / "d.npz").write_bytes(b"plain text, not numpy at all")
    with pytest.raises(InputFileError, match="no zip header"):
        load(tmp_path, 'name = "npz"\npath = "d.npz"')


def npz_with_header(path, name: str, shape: tuple, payload: bytes = b"") -> None:
    """An .npz whose member `name` declares `shape` float32 in its .npy header but stores `payload` only."""
    header = {"descr": "<f4", "fortran_order": False, "shape": shape}
    with zipfile.ZipFile(path, "w") as z, z.open(f"{name}.npy", "w") as member:
        np.lib.format.write_array_header_1_0(member, header)
        member.write(payload)


def test_a_header_claiming_a_huge_array_is_refused_before_allocating(tmp_path):
    npz_with_header(tmp_path / "d.npz", "x_train", (10**7, 10**6), b"\0" * 64)  # claims 40 TB
    with pytest.raises(InputFileError, match=r"array .x_train. claims shape \(10000000, 1000000\).*but holds 64 B"):
        load(tmp_path, 'name = "npz"\npath = "d.npz"')


def test_arrays_beyond_the_memory_the_process_may_use_are_refused(tmp_path):
    """A truthful 64 MB file, read by a child whose address space (RLIMIT_AS) leaves it 100 MB."""
    np.savez(tmp_path / "big.npz", x_train=np.zeros((16_000, 1000), np.float32), y_train=np.zeros(16_000, int))
    code = textwrap.dedent(f"""
        import resource, psutil
        from pathlib import Path
        from edgedistill.data.arrays import read_npz
        vms = psutil.Process().memory_info().vms
        resource.setrlimit(resource.RLIMIT_AS, (vms + 100 * 2**20, resource.RLIM_INFINITY))
        read_npz(Path({str(tmp_path / "big.npz")!r}))
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode != 0 and "InputFileError" in p.stderr, p.stderr[-2000:]
    assert "its arrays needs 64.1 MB (128.3 MB with working copies)" in p.stderr and "of memory available" in p.stderr


def test_image_size_beyond_memory_blames_the_recipe_key(tmp_path):
    per_image = 3 * 8192 * 8192 * 4
    n = available_memory() // (2 * per_image) + 1  # just over what this host has free
    (tmp_path / "imgs" / "a").mkdir(parents=True)
    for i in range(n):
        png_header(tmp_path / "imgs" / "a" / f"{i}.png", 1, 1)
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, 'name = "image_folder"\npath = "imgs"\nimage_size = [8192, 8192]')
    assert exc.value.key == "data.image_size" and "of memory available" in str(exc.value)
    assert "lower data.image_size" in str(exc.value) and exc.value.exit_code == 2


def test_max_len_beyond_memory_blames_the_recipe_key(tmp_path):
    n = available_memory() // (2 * 4 * (1 << 20)) + 1
    (tmp_path / "t.txt").write_text("".join(f"c{i % 2}\tline {i}\n" for i in range(n)))
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, f'name = "text_lines"\npath = "t.txt"\nmax_len = {1 << 20}')
    assert exc.value.key == "data.max_len" and "of memory available" in str(exc.value)


@pytest.mark.parametrize("data, key", [
    ('name = "image_folder"\npath = "."\nimage_size = [100000, 10]', "data.image_size.0"),
    ('name = "text_lines"\npath = "recipe.toml"\nmax_len = 100000000000', "data.max_len"),
    ('name = "digits"\nnum_classes = 2000000000', "data.num_classes"),
])
def test_absurd_sizes_fail_at_recipe_load(tmp_path, data, key):
    from test_data_sources import data_recipe

    with pytest.raises(ConfigError) as exc:
        data_recipe(tmp_path, data)
    assert exc.value.key == key and "less than or equal" in str(exc.value)


@pytest.mark.parametrize("width, height", [(20000, 20000), (10000, 10000)])  # Pillow's error; Pillow's warning
def test_a_decompression_bomb_png_is_refused_with_exit_3(tmp_path, width, height):
    for cls in ("a", "b"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        Image.new("RGB", (3, 3), (9, 9, 9)).save(tmp_path / "imgs" / cls / "ok.png")
    png_header(tmp_path / "imgs" / "b" / "bomb.png", width, height)
    p = cli("run", write_recipe(tmp_path, 'name = "image_folder"\npath = "imgs"'), "--out", tmp_path / "run",
            env={"EDGEDISTILL_CACHE": str(tmp_path / "cache")})
    one_line_error(p, 3, "bomb.png", f"{width * height:,} pixels", "decompression-bomb", "downscale")


def test_eval_set_with_string_labels_or_nan_is_refused(tmp_path):
    np.savez(tmp_path / "e.npz", x=np.zeros((4, 3), np.float32), y=np.array(["a", "b", "a", "b"]))
    with pytest.raises(InputFileError, match="array 'y' is <U1, not numeric"):
        eval_set(tmp_path / "e.npz")
    np.savez(tmp_path / "e.npz", x=np.zeros((4, 3), np.float32), y=np.array([0.0, 1.0, 0.5, 1.0]))
    with pytest.raises(InputFileError, match="array 'y' are float64"):
        eval_set(tmp_path / "e.npz")
    np.savez(tmp_path / "e.npz", x=np.full((4, 3), np.nan, np.float32), y=np.arange(4))
    with pytest.raises(InputFileError, match="array 'x' hold NaN"):
        eval_set(tmp_path / "e.npz")
    np.savez(tmp_path / "e.npz", x=np.zeros((4, 3), np.float32), y=np.arange(4), teacher_pred=np.arange(4))
    eval_set(tmp_path / "e.npz")  # a good one passes


def test_bench_data_with_string_labels_exits_3(tmp_path):
    from gate_models import matmul_chain

    model = matmul_chain(tmp_path / "m.onnx", width=8)
    np.savez(tmp_path / "e.npz", x=np.zeros((4, 8), np.float32), y=np.array(["cat", "dog", "cat", "dog"]))
    p = cli("bench", model, "--data", tmp_path / "e.npz", "--quiet")
    one_line_error(p, 3, "e.npz", "array 'y'", "not numeric")
