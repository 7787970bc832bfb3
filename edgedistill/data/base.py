"""The in-memory dataset handed to training, export calibration and benchmarking."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputFileError
from .checks import class_ids, finite, float32, not_empty


@dataclass(frozen=True)
class Dataset:
    """Arrays for one task. x_*: (N, *input_shape) float32; y_*: (N,) int64 class ids."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_unlabeled: np.ndarray  # (M, *input_shape); M may be 0
    num_classes: int
    source: str = ""  # where the arrays came from, for humans: "npz /data/x.npz"
    classes: tuple[str, ...] = ()  # class names by id, when the source has them (folders, text labels)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def content_hash(self, labeled_only: bool = False) -> str:
        """sha256 over the arrays' dtypes, shapes and bytes: the data part of every cache key.
        `labeled_only` leaves out the transfer set (the teacher never sees it in training)."""
        from ..cache import arrays_hash

        arrays = (self.x_train, self.y_train, self.x_test, self.y_test)
        return arrays_hash(*(arrays if labeled_only else (*arrays, self.x_unlabeled)))


def split(x: np.ndarray, y: np.ndarray, fraction: float, seed: int):
    """Random (seeded) held-out split: (x_train, y_train, x_test, y_test), at least one row each side."""
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = min(max(1, round(fraction * len(x))), len(x) - 1)
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def inputs(x, where: str, what: str = "inputs") -> np.ndarray:
    """Numeric array → float32 (N, ...); anything else is a rejected input file."""
    x = np.asarray(x)
    if x.dtype.kind not in "biuf" or x.ndim < 2:
        raise InputFileError(where, f"{what} must be a numeric array (N, ...) with N examples, got "
                                    f"{x.dtype} of shape {x.shape}", "store one row per example")
    return finite(float32(x), where, what)  # NaN/Inf (and values beyond float32) fail before training


def labels(y, n: int, where: str) -> np.ndarray:
    """Integer class ids (N,) ≥ 0 → int64."""
    y = np.asarray(y)
    if y.dtype.kind not in "iub" or y.shape != (n,):
        raise InputFileError(where, f"labels must be {n} integer class ids (shape ({n},)), got {y.dtype} {y.shape}",
                             "store class ids 0…C-1, one per example")
    if n and y.min() < 0:
        raise InputFileError(where, f"negative label {int(y.min())}", "class ids start at 0")
    return class_ids(y, where).astype(np.int64)


def assemble(name: str, cfg, where: str, x, y, x_test=None, y_test=None, x_unlabeled=None,
             classes: tuple[str, ...] = ()) -> Dataset:
    """Checked arrays → Dataset; without a test split, `cfg.test_fraction` of (x, y) is held out (seed `cfg.seed`)."""
    x = inputs(x, where)
    y = labels(y, len(x), where)
    if x_test is None:
        if len(x) < 2:
            raise InputFileError(where, f"{len(x)} labelled example(s); a train and a test split need ≥ 2")
        x, y, x_test, y_test = split(x, y, cfg.test_fraction, cfg.seed)
    else:
        x_test = inputs(x_test, where, "test inputs")
        y_test = labels(y_test, len(x_test), where)
    unl = np.zeros((0, *x.shape[1:]), np.float32) if x_unlabeled is None else inputs(x_unlabeled, where,
                                                                                    "unlabelled inputs")
    for what, a in (("test inputs", x_test), ("unlabelled inputs", unl)):
        if a.shape[1:] != x.shape[1:]:
            raise InputFileError(where, f"{what} have shape {a.shape[1:]}, training inputs {x.shape[1:]}",
                                 "give every split the same example shape")
    not_empty(where, training=x, test=x_test)
    found = int(max(y.max(initial=0), y_test.max(initial=0))) + 1
    num_classes = cfg.num_classes or max(found, len(classes))
    if found > num_classes:
        raise InputFileError(where, f"label {found - 1} ≥ data.num_classes = {num_classes}",
                             "raise data.num_classes or fix the labels")
    return Dataset(name, x, y, x_test, y_test, unl, num_classes, f"{name} {where}", tuple(classes))
