"""The in-memory dataset handed to training, export calibration and benchmarking."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputFileError
from ..tasks.base import UNLABELED
from .checks import class_ids, finite, float32, not_empty

INPUT = "input"  # the input name of a single-input model (what every file source produces)

Inputs = dict  # input name → (N, ...) array; every array of one split has the same N rows


@dataclass(frozen=True)
class Dataset:
    """Named input arrays and targets for one task.

    x_*: {input name: (N, ...) array} — float32 signals/images, int64 token ids, …; the arrays of one
    split share N. y_*: (N,) int64 class ids (classify), (N, T) next-token ids (lm), UNLABELED (−1)
    where a row or position has no label (embed data has none). The transfer set has inputs only.
    """

    name: str
    x_train: Inputs
    y_train: np.ndarray
    x_test: Inputs
    y_test: np.ndarray
    x_unlabeled: Inputs  # (M, ...) per input; M may be 0
    num_classes: int  # classes (classify), vocabulary size (lm), vector width (embed; 0 until the teacher says)
    source: str = ""  # where the arrays came from, for humans: "npz /data/x.npz"
    classes: tuple[str, ...] = ()  # class names by id, when the source has them (folders, text labels)
    references: dict = field(default_factory=dict)  # extra eval arrays for the test rows (embed: pair_a, pair_b, gold)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example of the first input, without the batch dimension."""
        return tuple(next(iter(self.x_train.values())).shape[1:])

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(self.x_train)

    def content_hash(self, labeled_only: bool = False) -> str:
        """sha256 over the arrays' names, dtypes, shapes and bytes: the data part of every cache key.
        `labeled_only` leaves out the transfer set (the teacher never sees it in training)."""
        from ..cache import arrays_hash

        parts = [self.x_train, {"y": self.y_train}, self.x_test, {"y": self.y_test}]
        if not labeled_only:
            parts.append(self.x_unlabeled)
        if len(self.x_train) == 1 and INPUT in self.x_train:  # one unnamed input: the key it always had
            return arrays_hash(*(a for d in parts for a in d.values()))
        names = [n for d in parts for n in sorted(d)]
        return arrays_hash(*(a for d in parts for _, a in sorted(d.items())), names=names)


def rows(x: Inputs) -> int:
    """Number of rows of a split's inputs."""
    return len(next(iter(x.values()))) if x else 0


def take(x: Inputs, idx) -> Inputs:
    """The rows `idx` (an index array or slice) of every input."""
    return {k: v[idx] for k, v in x.items()}


def concat(a: Inputs, b: Inputs) -> Inputs:
    """Rows of `a` then rows of `b`, input by input (memory-mapped shards stay on disk: data/shards.py)."""
    from .shards import concat_rows

    return {k: concat_rows(a[k], b[k]) for k in a}


def single(x, name: str = INPUT) -> Inputs:
    """An array as the inputs of a single-input model; named inputs pass through."""
    return x if isinstance(x, dict) else {name: x}


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
    """Integer class ids (N,) ≥ 0 → int64; None (an unlabelled source) → UNLABELED everywhere."""
    if y is None:
        return np.full(n, UNLABELED, np.int64)
    y = np.asarray(y)
    if y.dtype.kind not in "iub" or y.shape != (n,):
        raise InputFileError(where, f"labels must be {n} integer class ids (shape ({n},)), got {y.dtype} {y.shape}",
                             "store class ids 0…C-1, one per example")
    if n and y.min() < 0:
        raise InputFileError(where, f"negative label {int(y.min())}", "class ids start at 0")
    return class_ids(y, where).astype(np.int64)


def assemble(name: str, cfg, where: str, x, y, x_test=None, y_test=None, x_unlabeled=None,
             classes: tuple[str, ...] = ()) -> Dataset:
    """Checked arrays of a single-input source → Dataset; without a test split, `cfg.test_fraction` of
    (x, y) is held out (seed `cfg.seed`). y None: an unlabelled source (embedding data)."""
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
    found = int(max(y.max(initial=-1), y_test.max(initial=-1))) + 1  # 0 for unlabelled data
    num_classes = cfg.num_classes or max(found, len(classes))
    if found > num_classes:
        raise InputFileError(where, f"label {found - 1} ≥ data.num_classes = {num_classes}",
                             "raise data.num_classes or fix the labels")
    return Dataset(name, {INPUT: x}, y, {INPUT: x_test}, y_test, {INPUT: unl}, num_classes, f"{name} {where}",
                   tuple(classes))
