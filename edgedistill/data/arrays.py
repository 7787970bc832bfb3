"""Array sources: scikit-learn's bundled digits, and the user's own `.npz` file.

npz keys are the Dataset's field names: `x_train` (required), `y_train` (required for a classifier;
without it every row is unlabelled, which task "embed" needs and "classify" refuses), `x_test` +
`y_test` (optional; otherwise `data.test_fraction` is held out) and `x_unlabeled` (optional).
Loaded with allow_pickle=False: an object array is refused, never unpickled.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import InputFileError
from ..registry import suggest
from .base import Dataset, assemble
from .checks import npz_arrays

KEYS = ("x_train", "y_train", "x_test", "y_test", "x_unlabeled")


def load_digits(cfg, cache_dir) -> Dataset:
    """scikit-learn's 8×8 handwritten digits (1,797 images, shipped inside the package: no download).
    Inputs (N, 1, 8, 8) float32 in [0, 1]; `data.test_fraction` held out with `data.seed`."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]  # (N, 8, 8) grey levels 0…16 → (N, 1, 8, 8) in [0, 1]
    return assemble("digits", cfg, "scikit-learn load_digits", x, d.target)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz file (no pickle); unknown keys are an error naming the closest known one."""
    npz_arrays(path)  # headers first: a renamed .npy, a lying header or arrays beyond memory fail here
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as exc:  # "Object arrays cannot be loaded when allow_pickle=False"
        raise InputFileError(str(path), f"holds pickled objects ({exc})", "save plain numeric arrays") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise InputFileError(str(path), f"not a readable .npz file ({exc.__class__.__name__})",
                             "write it with numpy.savez") from None
    for k in arrays:
        if k not in KEYS:
            raise InputFileError(str(path), f"unknown array {k!r}", suggest(k.lower(), KEYS))
    return arrays


def load_npz(cfg, cache_dir) -> Dataset:
    """The recipe's `data.path` .npz file as a Dataset."""
    a = read_npz(Path(cfg.path))
    if "x_train" not in a:
        raise InputFileError(cfg.path, f"no 'x_train' array (has {sorted(a)})",
                             "store x_train (and y_train for a classifier); unlabelled extras go in data.unlabeled")
    if "y_train" not in a and "y_test" in a:
        raise InputFileError(cfg.path, "y_test without y_train", "store both label arrays, or neither")
    if "y_train" in a and ("x_test" in a) != ("y_test" in a):
        raise InputFileError(cfg.path, "x_test and y_test come in pairs", "store both, or neither")
    # no y_train: an unlabelled set (task "embed" learns the teacher's vectors; classify refuses it)
    return assemble("npz", cfg, cfg.path, a["x_train"], a.get("y_train"), a.get("x_test"), a.get("y_test"),
                    a.get("x_unlabeled"))


def unlabeled_npz(path: Path) -> np.ndarray:
    """Inputs of an unlabelled .npz: its `x_unlabeled` array, or else its `x_train`."""
    a = read_npz(path)
    key = "x_unlabeled" if "x_unlabeled" in a else "x_train"
    if key not in a:
        raise InputFileError(str(path), "no 'x_unlabeled' (or 'x_train') array", "store the inputs as x_unlabeled")
    return a[key]
