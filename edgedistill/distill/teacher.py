"""The teacher: trained in the run (cached by content), or a pretrained one the recipe names.

Trained (`source = "train"`, the default): key = (recipe [teacher] section, recipe seed,
labelled-data content hash, training-code version[, the factory module's source hash]).
A reused teacher reports the training time of the run that trained it, marked as cached.
Weights are stored as safetensors (no pickle), with a small JSON receipt beside them.

Pretrained (`import`, `torchscript`, `onnx`, `safetensors`; models/teachers.py): loaded, checked
on two rows, evaluated on the test set and used as it is — never trained.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from ..artifacts import atomic_write_text
from ..cache import code_version, content_key
from ..models import build_model, count_params, save_weights
from ..models.teachers import check_on_data, load_pretrained
from .train import TrainResult, accuracy, fit


def teacher_key(recipe, data_hash: str) -> str:
    """The cache key of the teacher this recipe and data would train."""
    parts = [recipe.teacher.model_dump(mode="json"), recipe.seed, data_hash, code_version()]
    if recipe.teacher.factory:  # the user's module is training code too
        from ..models.imports import module_file_hash

        parts.append(module_file_hash(recipe.teacher.factory))
    return content_key(*parts)


def teacher_probe(recipe, ds) -> torch.nn.Module:
    """A module with the teacher's layer names, for checking `teacher_layer` before any training."""
    if recipe.teacher.source == "train":
        return build_model(recipe.teacher, ds.input_shape, ds.num_classes)
    return load_pretrained(recipe.teacher, ds.input_shape, ds.num_classes)


def train_or_load_teacher(recipe, ds, tensors, cache_dir: Path | None, reporter, checkpoints=None):
    """Return (teacher in eval mode, TrainResult, cached: bool)."""
    if recipe.teacher.source != "train":
        return _pretrained(recipe, ds, tensors, reporter)
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


def _pretrained(recipe, ds, tensors, reporter):
    """Load the recipe's pretrained teacher, check it on the data and measure its test accuracy."""
    cfg = recipe.teacher
    start = time.perf_counter()
    model = load_pretrained(cfg, ds.input_shape, ds.num_classes)
    check_on_data(model, ds.x_test, ds.num_classes, cfg.path or cfg.factory)
    _, _, x_test, y_test = tensors
    acc = accuracy(model, x_test, y_test)
    # not trained here: no epochs or steps; `seconds` is what loading and evaluating took
    result = TrainResult("teacher", acc, count_params(model), 0, 0, 0, time.perf_counter() - start, float("nan"))
    reporter.info(f"teacher: {cfg.source} {cfg.path or cfg.factory} (loaded, not trained; "
                  f"test accuracy {acc:.2%})")
    return model, result, False


def teacher_tensors(ds):
    """Torch views of the labelled arrays: (x_train, y_train, x_test, y_test)."""
    return (torch.from_numpy(ds.x_train), torch.from_numpy(ds.y_train),
            torch.from_numpy(ds.x_test), torch.from_numpy(ds.y_test))
