"""Distillation stage: data → teacher (cached) → three students, all reported side by side.

    scratch              hard labels only (cross-entropy)              — the baseline
    distilled            Hinton KD on the labelled set
    distilled_transfer   Hinton KD on labelled + unlabelled transfer set — the student we ship
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..artifacts import Artifact, receipt
from ..data import Dataset, load_dataset
from ..models import build_model, count_params, save_weights
from .teacher import teacher_tensors, train_or_load_teacher
from .train import TrainResult, fit, predict_logits, with_transfer

SHIPPED = "distilled_transfer"


@dataclass(frozen=True)
class Trained:
    """Everything later stages need from training."""

    dataset: Dataset
    teacher: torch.nn.Module  # eval mode
    teacher_result: TrainResult
    teacher_cached: bool
    student: torch.nn.Module  # the shipped student (distilled + transfer), eval mode
    students: dict[str, TrainResult]  # scratch / distilled / distilled_transfer
    weights: dict[str, Artifact]  # safetensors receipts: "teacher" and each student run's name
    test_logits: dict[str, np.ndarray]  # "teacher" / "student" → (N_test, C): every later parity reference


def distill_all(recipe, cache_dir: Path | None, out: Path, reporter) -> Trained:
    """Run the distillation stage of a recipe; weights land in `out` as safetensors."""
    ds = load_dataset(recipe.data, cache_dir)
    reporter.info(f"data: {ds.name} train {len(ds.x_train)}, test {len(ds.x_test)}, "
                  f"unlabelled transfer {len(ds.x_unlabeled)}")
    x, y, x_test, y_test = tensors = teacher_tensors(ds)
    teacher, t_result, cached = train_or_load_teacher(recipe, ds, tensors, cache_dir, reporter)
    x_unl = torch.from_numpy(ds.x_unlabeled)
    # Soft targets, once: the teacher is frozen (eval, no_grad), so its logits never change.
    logits_lab, logits_unl = predict_logits(teacher, x), predict_logits(teacher, x_unl)
    x_all, y_all = with_transfer(x, y, x_unl)
    kd = {"temperature": recipe.distill.temperature, "alpha": recipe.distill.alpha}
    runs = {  # name → (inputs, labels, teacher logits, loss, params, train config)
        "scratch": (x, y, None, "cross_entropy", {}, recipe.student.train),
        "distilled": (x, y, logits_lab, "hinton_kd", kd, recipe.student.train),
        SHIPPED: (x_all, y_all, torch.cat([logits_lab, logits_unl]), "hinton_kd", kd, recipe.student.transfer_train),
    }
    results, weights, models = {}, {}, {}
    for name, (xs, ys, tl, loss, params, cfg) in runs.items():
        torch.manual_seed(recipe.seed + 1)  # the same initial student weights for all three runs
        model = build_model(recipe.student, ds.input_shape, ds.num_classes)
        results[name] = fit(model, xs, ys, cfg=cfg, loss=loss, loss_params=params, x_test=x_test, y_test=y_test,
                            seed=recipe.seed + 1, label=f"student: {name}", reporter=reporter, teacher_logits=tl)
        models[name] = model.eval()
        weights[name] = _save(model, out / f"student-{name}.safetensors", f"student-{name}.safetensors")
    weights["teacher"] = _save(teacher, out / "teacher.safetensors", "teacher.safetensors")
    ratio = count_params(teacher) / count_params(models[SHIPPED])
    reporter.info(f"teacher {t_result.test_accuracy:.2%} ({count_params(teacher):,} params) · students: "
                  + ", ".join(f"{k} {r.test_accuracy:.2%}" for k, r in results.items())
                  + f" ({count_params(models[SHIPPED]):,} params, {ratio:.0f}× fewer)")
    x_test_logits = {"teacher": predict_logits(teacher, x_test).numpy(),
                     "student": predict_logits(models[SHIPPED], x_test).numpy()}
    return Trained(ds, teacher, t_result, cached, models[SHIPPED], results, weights, x_test_logits)


def _save(model: torch.nn.Module, path: Path, name: str) -> Artifact:
    save_weights(model, path)
    return receipt(name, path, "safetensors", "distill", params=count_params(model))
