"""Dataset registry. Each entry builds a `Dataset` from the recipe's [data] section.

Filled explicitly here (no registration by import side effect); factories import their heavy
dependencies lazily so that recipe validation stays fast. Whatever the source, `load_dataset`
then adds the recipe's extra unlabelled inputs (`data.unlabeled`: .npz, image folder or text
file) and, with `data.unlabeled_fraction`, moves part of the training split into the transfer set.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import InputFileError
from ..registry import Registry
from .base import Dataset, concat, rows, single, take
from .shards import is_shard_folder, read_shards

DATASETS: Registry = Registry("dataset")
NEEDS_PATH = {"npz": "file", "image_folder": "folder", "text_lines": "file",
              "text": "file or folder", "sentences": "file or folder"}  # name → what data.path names
TOKEN_DATA = ("text", "sentences")  # sources tokenised with a tokenizer.json (data/text.py, data/sentences.py)


def _lazy(module: str, function: str):
    """A dataset factory that imports `.module` only when called: validating a recipe never pays for it."""

    def factory(cfg, cache_dir):
        from importlib import import_module

        return getattr(import_module(f".{module}", __name__), function)(cfg, cache_dir)

    return factory


DATASETS.register("mnist1d", _lazy("mnist1d", "load_mnist1d"))
DATASETS.register("digits", _lazy("arrays", "load_digits"))
DATASETS.register("npz", _lazy("arrays", "load_npz"))
DATASETS.register("image_folder", _lazy("files", "load_image_folder"))
DATASETS.register("text_lines", _lazy("files", "load_text_lines"))
DATASETS.register("text", _lazy("text", "load_text"))  # tokenised with a huggingface tokenizer.json
DATASETS.register("sentences", _lazy("sentences", "load_sentences"))  # unlabelled sentences + probes (embed)
DATASETS.register("import", _lazy("imported", "load_imported"))
DATASETS.register("pydoc_topics", _lazy("pydoc", "load_pydoc"))  # token windows for the lm task


def load_dataset(cfg, cache_dir) -> Dataset:
    """Build the dataset named by `cfg.name` (a validated DataConfig), plus its extra unlabelled inputs."""
    ds = DATASETS.get(cfg.name)(cfg, cache_dir)
    if cfg.unlabeled:
        extra = read_unlabeled(Path(cfg.unlabeled), cfg, cache_dir)
        for name, a in ds.x_unlabeled.items():
            got = extra.get(name)
            if got is None or got.shape[1:] != a.shape[1:]:
                have = tuple(got.shape[1:]) if got is not None else {n: tuple(v.shape[1:]) for n, v in extra.items()}
                raise InputFileError(cfg.unlabeled, f"unlabelled inputs have shape {have}, the {cfg.name} data's "
                                                    f"{a.shape[1:]}" + ("" if name == "input" else f" ({name})"),
                                     "give unlabelled inputs shaped like the labelled ones")
        ds = replace(ds, x_unlabeled=concat(ds.x_unlabeled, extra))
    if cfg.unlabeled_fraction:
        ds = drop_labels(ds, cfg.unlabeled_fraction, cfg.seed)
    return ds


def read_unlabeled(path: Path, cfg, cache_dir=None) -> dict:
    """Unlabelled inputs {name: (N, ...)} from a shard folder (data/shards.py), a .npz file, a folder of
    images or a text file (one example per line; tokenised by data/text.py for data name "text")."""
    from .base import inputs

    if is_shard_folder(path):
        return read_shards(path)
    if cfg.name == "text":  # input_ids + attention_mask from the recipe's tokenizer, like the labelled text
        from .text import unlabeled_text as tokenised

        return tokenised(path, cfg, cache_dir)
    if path.is_dir():
        from .files import unlabeled_images

        return single(unlabeled_images(path, cfg))
    if path.suffix == ".npz":
        from .arrays import unlabeled_npz

        return single(inputs(unlabeled_npz(path), str(path), "unlabelled inputs"))
    from .files import unlabeled_text

    return single(unlabeled_text(path, cfg))


def drop_labels(ds: Dataset, fraction: float, seed: int) -> Dataset:
    """Move `fraction` of the training split (seeded choice) to the unlabelled transfer set."""
    n_train = rows(ds.x_train)
    order = np.random.default_rng(seed + 1).permutation(n_train)
    n = min(round(fraction * len(order)), len(order) - 1)  # keep ≥ 1 labelled row
    moved, kept = np.sort(order[:n]), np.sort(order[n:])
    return replace(ds, x_train=take(ds.x_train, kept), y_train=ds.y_train[kept],
                   x_unlabeled=concat(ds.x_unlabeled, take(ds.x_train, moved)))


__all__ = ["DATASETS", "NEEDS_PATH", "TOKEN_DATA", "Dataset", "load_dataset"]
