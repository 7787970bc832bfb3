"""The teacher: trained in the run (cached by content), or a pretrained one the recipe names.

Trained (`source = "train"`, the default): key = (recipe [teacher] section, recipe seed,
labelled-data content hash, training-code version[, the factory module's source hash]).
A reused teacher reports the training time of the run that trained it, marked as cached.
Weights are stored as safetensors (no pickle), with a small JSON receipt beside them, written last:
its presence marks a complete entry. One writer per entry (a lock in `<cache>/locks`): a second run
on a cold cache waits for the first one's teacher instead of training its own.

Pretrained (`import`, `torchscript`, `onnx`, `safetensors`; models/teachers.py): loaded, checked
on two rows, evaluated on the test set and used as it is — never trained.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from ..artifacts import atomic_write_text, raise_unusable, sha256_path
from ..cache import code_version, content_key, entry_lock
from ..models import build_model, count_params, save_weights
from ..models.teachers import check_on_data, load_pretrained
from ..tasks import get_task
from ..tasks.metrics import evaluate as score
from .rows import Rows
from .train import TrainResult, evaluate, fit, predict


def teacher_key(recipe, data_hash: str) -> str:
    """The cache key of the teacher this recipe and data would train."""
    parts = [recipe.teacher.model_dump(mode="json"), recipe.seed, data_hash, code_version()]
    if recipe.teacher.source == "huggingface":  # fine-tuned from this folder's exact weights
        parts.append(sha256_path(Path(recipe.teacher.path)))
    if recipe.teacher.factory:  # the user's module is training code too
        from ..models.imports import module_file_hash

        parts.append(module_file_hash(recipe.teacher.factory))
    return content_key(*parts)


def teacher_probe(recipe, ds) -> torch.nn.Module:
    """A module with the teacher's layer names, for checking `teacher_layer` before any training."""
    if recipe.teacher.source == "train":
        return build_model(recipe.teacher, ds.input_shape, ds.num_classes)
    return load_pretrained(recipe.teacher, ds.input_shape, ds.num_classes, get_task(recipe.task).output)


def _fresh(recipe, ds) -> torch.nn.Module:
    """The teacher before training: built from its family, or a pretrained one to fine-tune (its encoder
    frozen when `finetune.encoder = false`: only the head then trains)."""
    if recipe.teacher.source == "train":
        return build_model(recipe.teacher, ds.input_shape, ds.num_classes)
    model = load_pretrained(recipe.teacher, ds.input_shape, ds.num_classes, get_task(recipe.task).output)
    if not recipe.teacher.finetune.encoder:
        model.encoder.requires_grad_(False)
    return model


def trains(recipe) -> bool:
    """Whether the run trains its teacher: from scratch (source "train") or by fine-tuning a pretrained one."""
    return recipe.teacher.source == "train" or recipe.teacher.finetune is not None


def train_or_load_teacher(recipe, ds, tensors, cache_dir: Path | None, reporter, checkpoints=None, task=None):
    """Return (teacher in eval mode, TrainResult, cached: bool)."""
    task = task or get_task(recipe.task)
    if not trains(recipe):
        return _pretrained(recipe, ds, tensors, reporter, task)
    key = teacher_key(recipe, ds.content_hash(labeled_only=True))
    if not cache_dir:
        return _train(recipe, ds, tensors, key, None, reporter, checkpoints, task)
    folder = Path(cache_dir) / "teachers" / key[:24]
    found = _cached(recipe, ds, tensors, key, folder, reporter, task)
    if found:
        return found
    try:  # one writer per entry: a second cold run waits here, then reuses the teacher the first one trained
        with entry_lock(folder, reporter, "teacher", "training"):
            return (_cached(recipe, ds, tensors, key, folder, reporter, task)
                    or _train(recipe, ds, tensors, key, folder, reporter, checkpoints, task))
    except OSError as exc:
        raise_unusable(exc, folder.parent)  # a full or read-only cache: one line naming the path
        raise


def _cached(recipe, ds, tensors, key: str, folder: Path, reporter, task):
    """The complete cached teacher in `folder` (result.json present) as train_or_load_teacher returns it, or None."""
    if not (folder / "result.json").exists():
        return None
    model = _fresh(recipe, ds)
    model.load_state_dict(load_file(folder / "teacher.safetensors"))
    model.eval()
    stored = json.loads((folder / "result.json").read_text())
    result = TrainResult(**{**stored, "metrics": evaluate(model, tensors[2], {"y": ds.y_test}, task)})  # measured here
    reporter.info(f"teacher: reused from cache {folder} (key {key[:12]}, test {task.summary(result.metrics)})")
    return model, result, True


def _train(recipe, ds, tensors, key: str, folder: Path | None, reporter, checkpoints, task):
    """Train the teacher (resumable through `checkpoints`) and store it in `folder` when given."""
    x, y, x_test, y_test = tensors
    torch.manual_seed(recipe.seed)  # initial weights depend on the recipe's seed only
    model = _fresh(recipe, ds)
    ckpt = checkpoints("teacher", {"key": key, "teacher": recipe.teacher.model_dump(mode="json"),
                                   "seed": recipe.seed}) if checkpoints else None
    result = fit(model, x, y, cfg=recipe.teacher.train or recipe.teacher.finetune, loss="cross_entropy", loss_params={},
                 x_test=x_test, y_test=y_test, seed=recipe.seed, label="teacher", reporter=reporter,
                 checkpoints=ckpt, task=task, refs={"y": ds.y_test})
    if folder:
        folder.mkdir(parents=True, exist_ok=True)
        save_weights(model, folder / "teacher.safetensors")
        # result.json is written last and atomically: its presence marks a complete entry.
        atomic_write_text(folder / "result.json", json.dumps(result.__dict__, indent=2))
    return model.eval(), result, False


def _pretrained(recipe, ds, tensors, reporter, task):
    """Load the recipe's pretrained teacher, check it on the data and measure it on the test set."""
    cfg = recipe.teacher
    start = time.perf_counter()
    model = load_pretrained(cfg, ds.input_shape, ds.num_classes, task.output)
    check_on_data(model, ds, task, cfg.path or cfg.factory)
    _, _, x_test, _ = tensors
    out = predict(model, x_test, task).numpy()
    # the teacher against itself (agreement, cosine, neighbour overlap) says nothing: only labels and ratings
    metrics = {k: v for k, (v, _) in score(task.name, out, task.references(ds, out)).items()
               if k not in ("agreement", "cosine", "nn_overlap")}
    # not trained here: no epochs or steps; `seconds` is what loading and evaluating took
    result = TrainResult("teacher", metrics, count_params(model), 0, 0, 0, time.perf_counter() - start,
                         float("nan"))
    reporter.info(f"teacher: {cfg.source} {cfg.path or cfg.factory} (loaded, not trained; "
                  f"test {task.summary(metrics)})")
    return model, result, False


def chance_warning(recipe, task, result: TrainResult, classes: int) -> str:
    """A warning ("" if none) when a pretrained classifier scores near chance on the test set.

    Near chance: accuracy ≤ min(1.5 × chance, chance + 10 points). 1.5 × chance is a teacher that gets
    only half again as many rows right as guessing (15% on 10 classes, 50% on 3); the 10-point cap keeps
    few-class problems from flagging usable teachers (binary: 60%, not 75%).
    """
    acc = result.metrics.get("accuracy")
    if task.name != "classify" or recipe.teacher.source == "train" or acc is None or classes < 2:
        return ""
    chance = 100 / classes
    if acc > min(1.5 * chance, chance + 10):
        return ""
    return (f"teacher {recipe.teacher.path or recipe.teacher.factory} scores {acc:.1f}% test accuracy, near chance "
            f"({chance:.1f}% on {classes} classes): its students will learn little — check that its class order "
            "and input preprocessing match the data's")


def teacher_tensors(ds):
    """The labelled splits as training reads them: (Rows x_train, y_train, Rows x_test, y_test)."""
    return (Rows(ds.x_train), torch.from_numpy(ds.y_train), Rows(ds.x_test), torch.from_numpy(ds.y_test))
