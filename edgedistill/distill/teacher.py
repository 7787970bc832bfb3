"""Train the teacher, or reuse the one cached under the same content key.

Key = (recipe [teacher] section, recipe seed, labelled-data content hash, training-code version).
A reused teacher reports the training time of the run that trained it, marked as cached.
Weights are stored as safetensors (no pickle), with a small JSON receipt beside them.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from ..artifacts import atomic_write_text
from ..cache import code_version, content_key
from ..models import build_model, save_weights
from .train import TrainResult, accuracy, fit


def teacher_key(recipe, data_hash: str) -> str:
    """The cache key of the teacher this recipe and data would train."""
    return content_key(recipe.teacher.model_dump(mode="json"), recipe.seed, data_hash, code_version())


def train_or_load_teacher(recipe, ds, tensors, cache_dir: Path | None, reporter, checkpoints=None):
    """Return (teacher in eval mode, TrainResult, cached: bool)."""
    x, y, x_test, y_test = tensors
    torch.manual_seed(recipe.seed)  # initial weights depend on the recipe's seed only
    model = build_model(recipe.teacher, ds.input_shape, ds.num_classes)
    key = teacher_key(recipe, ds.content_hash(labeled_only=True))
    folder = Path(cache_dir) / "teachers" / key[:24] if cache_dir else None
    if folder and (folder / "result.json").exists():
        model.load_state_dict(load_file(folder / "teacher.safetensors"))
        model.eval()
        stored = json.loads((folder / "result.json").read_text())
        result = TrainResult(**{**stored, "test_accuracy": accuracy(model, x_test, y_test)})
        reporter.info(f"teacher: reused from cache {folder} (key {key[:12]}, "
                      f"test accuracy {result.test_accuracy:.2%})")
        return model, result, True
    ckpt = checkpoints("teacher", {"key": key, "teacher": recipe.teacher.model_dump(mode="json"),
                                   "seed": recipe.seed}) if checkpoints else None
    result = fit(model, x, y, cfg=recipe.teacher.train, loss="cross_entropy", loss_params={},
                 x_test=x_test, y_test=y_test, seed=recipe.seed, label="teacher", reporter=reporter,
                 checkpoints=ckpt)
    if folder:
        folder.mkdir(parents=True, exist_ok=True)
        save_weights(model, folder / "teacher.safetensors")
        # result.json is written last and atomically: its presence marks a complete entry.
        atomic_write_text(folder / "result.json", json.dumps(result.__dict__, indent=2))
    return model.eval(), result, False


def teacher_tensors(ds):
    """Torch views of the labelled arrays: (x_train, y_train, x_test, y_test)."""
    return (torch.from_numpy(ds.x_train), torch.from_numpy(ds.y_train),
            torch.from_numpy(ds.x_test), torch.from_numpy(ds.y_test))
