"""MNIST-1D (Greydanus 2020), generated locally by the `mnist1d` package: no download.

The labelled set is `make_dataset(get_dataset_args())` (5,000 samples → 4,000 train /
1,000 test, length 40). The unlabelled transfer set is the same generator with another seed
and more samples; the package keeps its train split (80%) and we drop its labels.
Generation takes ~10 s for 40k samples, so results are cached as .npz by their arguments.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..artifacts import atomic_write_npz
from .base import INPUT, Dataset


def _generate(samples: int, seed: int) -> dict[str, np.ndarray]:
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.seed = samples, seed
    d = make_dataset(args)
    return {"x": d["x"].astype(np.float32), "y": d["y"].astype(np.int64),
            "x_test": d["x_test"].astype(np.float32), "y_test": d["y_test"].astype(np.int64)}


def _cached(samples: int, seed: int, cache_dir: Path | None) -> dict[str, np.ndarray]:
    """Generate, or load the arrays cached under a key of (package version, samples, seed)."""
    if cache_dir is None:
        return _generate(samples, seed)
    from importlib.metadata import version

    key = json.dumps({"mnist1d": version("mnist1d"), "samples": samples, "seed": seed}, sort_keys=True)
    path = Path(cache_dir) / "data" / f"mnist1d-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:  # our own arrays; never unpickle
            return {k: z[k] for k in z.files}
    arrays = _generate(samples, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_npz(path, arrays)
    return arrays


def load_mnist1d(cfg, cache_dir: Path | None) -> Dataset:
    """Build the labelled + transfer MNIST-1D dataset described by a DataConfig."""
    from .checks import fits_in_memory, recipe_size

    for key, n in (("data.samples", cfg.samples), ("data.transfer_samples", cfg.transfer_samples)):
        # the generator works in float64: 40 points a sample, before our float32 copy
        fits_in_memory(n * 40 * 8, f"{n:,} MNIST-1D samples", recipe_size(key, "generate fewer samples"))
    lab = _cached(cfg.samples, cfg.seed, cache_dir)
    if cfg.transfer_samples:
        unl = _cached(cfg.transfer_samples, cfg.transfer_seed, cache_dir)["x"]
    else:
        unl = np.zeros((0, lab["x"].shape[1]), np.float32)
    return Dataset("mnist1d", {INPUT: lab["x"]}, lab["y"], {INPUT: lab["x_test"]}, lab["y_test"], {INPUT: unl},
                   num_classes=10)
