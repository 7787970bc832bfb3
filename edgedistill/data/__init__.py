"""Dataset registry. Each entry builds a `Dataset` from the recipe's [data] section.

Filled explicitly here (no registration by import side effect); factories import their heavy
dependencies lazily so that recipe validation stays fast.
"""

from __future__ import annotations

from ..registry import Registry
from .base import Dataset

DATASETS: Registry = Registry("dataset")


def _mnist1d(cfg, cache_dir):
    from .mnist1d import load_mnist1d

    return load_mnist1d(cfg, cache_dir)


DATASETS.register("mnist1d", _mnist1d)


def load_dataset(cfg, cache_dir) -> Dataset:
    """Build the dataset named by `cfg.name` (a validated DataConfig)."""
    return DATASETS.get(cfg.name)(cfg, cache_dir)


__all__ = ["DATASETS", "Dataset", "load_dataset"]
