"""Named model inputs as training reads them: rows taken by index, as torch tensors.

In-memory arrays become tensors once (views, no copy); memory-mapped shards (data/shards.py)
stay on disk and only the rows of each batch are read. Either way `take(idx)` gives
{input name: (b, ...) tensor} for the rows `idx`, in that order.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data.base import INPUT


class Rows:
    """N rows of named inputs: `take(idx)` → {name: tensor (b, ...)}; `len(rows)` = N."""

    def __init__(self, arrays):
        arrays = arrays if isinstance(arrays, dict) else {INPUT: arrays}
        self.arrays = {k: _tensor_or_lazy(v) for k, v in arrays.items()}

    def __len__(self) -> int:
        return len(next(iter(self.arrays.values())))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.arrays)

    def take(self, idx) -> dict[str, torch.Tensor]:
        """Rows `idx` (a tensor of indices, or a range/slice) of every input."""
        out = {}
        for k, v in self.arrays.items():
            if isinstance(v, torch.Tensor):
                out[k] = v[idx]
            else:  # shards: read these rows only
                rows = np.asarray(idx.numpy() if isinstance(idx, torch.Tensor) else np.arange(len(self))[idx])
                out[k] = torch.from_numpy(np.ascontiguousarray(v[rows]))
        return out

    def head(self, n: int) -> dict[str, torch.Tensor]:
        """The first n rows."""
        return self.take(slice(0, min(n, len(self))))

    def numpy(self) -> dict:
        """The arrays as numpy (in-memory tensors as views; shards as they are), for cache keys."""
        return {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in self.arrays.items()}


def _tensor_or_lazy(v):
    if isinstance(v, torch.Tensor):
        return v
    if isinstance(v, np.ndarray) and not isinstance(v, np.memmap):
        return torch.from_numpy(np.ascontiguousarray(v))
    return v  # ShardedArray or memmap: read per batch


def with_transfer(x: Rows, y: torch.Tensor, unlabeled: Rows) -> tuple[Rows, torch.Tensor]:
    """Append unlabelled rows (label UNLABELED) to a labelled set: (x ∥ x_u, y ∥ −1)."""
    from ..data.shards import concat_rows
    from ..tasks.base import UNLABELED

    merged = {}
    for k, a in x.arrays.items():
        b = unlabeled.arrays[k]
        if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
            merged[k] = torch.cat([a, b])
        else:
            merged[k] = concat_rows(np.asarray(a) if isinstance(a, torch.Tensor) else a,
                                    np.asarray(b) if isinstance(b, torch.Tensor) else b)
    y_u = torch.full((len(unlabeled), *y.shape[1:]), UNLABELED, dtype=y.dtype)
    return Rows(merged), torch.cat([y, y_u])
