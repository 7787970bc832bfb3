"""The in-memory dataset handed to training, export calibration and benchmarking."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np


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

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def content_hash(self, labeled_only: bool = False) -> str:
        """sha256 over the arrays' dtypes, shapes and bytes: the data part of every cache key.
        `labeled_only` leaves out the transfer set (the teacher never sees it in training)."""
        h = hashlib.sha256()
        arrays = (self.x_train, self.y_train, self.x_test, self.y_test)
        for a in arrays if labeled_only else (*arrays, self.x_unlabeled):
            h.update(str((a.dtype, a.shape)).encode())
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()
