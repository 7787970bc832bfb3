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
from ..errors import ConfigError
from ..models import build_model, count_params, save_weights
from .cache import LiveOutputs, Stored, teacher_hash, teacher_outputs
from .ddp import SINGLE, Dist
from .features import check_layer
from .objective import Term
from .teacher import teacher_probe, teacher_tensors, train_or_load_teacher
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


def distill_all(recipe, cache_dir: Path | None, out: Path | None, reporter, source: str | None = None,
                checkpoints=None, dist: Dist = SINGLE) -> Trained:
    """Run the distillation stage of a recipe; weights land in `out` as safetensors.

    `checkpoints(label, fingerprint) -> Checkpointer` makes every training run resumable.
    With several ranks (`dist`) the students train data-parallel and only rank 0 writes (`out`
    may be None elsewhere); rank 0 trains or loads the teacher first, the others then read it.
    """
    ds = _first_on_main(dist, lambda: load_dataset(recipe.data, cache_dir))  # one rank generates and caches
    terms = _terms(recipe, ds, source or f"recipe {recipe.name}")  # bad layer names fail before training
    reporter.info(f"data: {ds.name} train {len(ds.x_train)}, test {len(ds.x_test)}, "
                  f"unlabelled transfer {len(ds.x_unlabeled)}")
    x, y, x_test, y_test = tensors = teacher_tensors(ds)
    teacher, t_result, cached = _first_on_main(
        dist, lambda: train_or_load_teacher(recipe, ds, tensors, cache_dir, reporter, checkpoints))
    # what a student checkpoint depends on: the recipe's training sections and the teacher's exact weights
    fingerprint = {**recipe.model_dump(mode="json", include={"seed", "data", "student", "distill"}),
                   "teacher_weights": teacher_hash(teacher)}
    x_all, y_all = with_transfer(x, y, torch.from_numpy(ds.x_unlabeled))
    out_all = _teacher_outputs(recipe, teacher, x_all, terms, ds.num_classes, cache_dir, reporter, dist)
    kd, kd_params = recipe.distill.loss, recipe.distill.loss_params()
    runs = {  # name → (inputs, labels, teacher outputs, loss, params, extra terms, train config)
        "scratch": (x, y, None, "cross_entropy", {}, (), recipe.student.train),
        "distilled": (x, y, out_all.head(len(x)),  # the labelled rows come first
                       kd, kd_params, terms, recipe.student.train),
        SHIPPED: (x_all, y_all, out_all, kd, kd_params, terms, recipe.student.transfer_train),
    }
    results, weights, models = {}, {}, {}
    for name, (xs, ys, outputs, loss, params, extra, cfg) in runs.items():
        torch.manual_seed(recipe.seed + 1)  # the same initial student weights for all three runs
        model = build_model(recipe.student, ds.input_shape, ds.num_classes)
        results[name] = fit(model, xs, ys, cfg=cfg, loss=loss, loss_params=params, x_test=x_test, y_test=y_test,
                            seed=recipe.seed + 1, label=f"student: {name}", reporter=reporter, outputs=outputs,
                            terms=extra, dist=dist,
                            checkpoints=checkpoints(f"student-{name}", fingerprint) if checkpoints else None)
        models[name] = model.eval()
        if dist.is_main:
            weights[name] = _save(model, out / f"student-{name}.safetensors", f"student-{name}.safetensors")
    if dist.is_main:
        weights["teacher"] = _save(teacher, out / "teacher.safetensors", "teacher.safetensors")
    ratio = count_params(teacher) / count_params(models[SHIPPED])
    reporter.info(f"teacher {t_result.test_accuracy:.2%} ({count_params(teacher):,} params) · students: "
                  + ", ".join(f"{k} {r.test_accuracy:.2%}" for k, r in results.items())
                  + f" ({count_params(models[SHIPPED]):,} params, {ratio:.0f}× fewer)")
    x_test_logits = {"teacher": predict_logits(teacher, x_test).numpy(),
                     "student": predict_logits(models[SHIPPED], x_test).numpy()}
    return Trained(ds, teacher, t_result, cached, models[SHIPPED], results, weights, x_test_logits)


def _terms(recipe, ds, source: str) -> tuple[Term, ...]:
    """The recipe's extra loss terms, with layer names checked against freshly built models."""
    probe = {"student": build_model(recipe.student, ds.input_shape, ds.num_classes),
             "teacher": teacher_probe(recipe, ds)}
    out = []
    for i, t in enumerate(recipe.distill.terms):
        for role in ("student", "teacher"):
            layer = getattr(t, f"{role}_layer")
            try:
                if layer:
                    check_layer(probe[role], layer)
            except KeyError as exc:
                raise ConfigError(source, f"distill.terms[{i}].{role}_layer", str(exc.args[0]).split(";")[0],
                                  str(exc.args[0]).split("; ", 1)[-1]) from None
        out.append(Term(t.loss, t.weight, t.student_layer, t.teacher_layer, dict(t.params)))
    return tuple(out)


def _first_on_main(dist: Dist, make):
    """make() on rank 0, then on the other ranks (which then find rank 0's cached result)."""
    if dist.is_main:
        result = make()
    dist.barrier()
    return result if dist.is_main else make()


def _teacher_outputs(recipe, teacher, x_all, terms, classes: int, cache_dir, reporter, dist: Dist = SINGLE):
    """Where the students read the teacher's outputs: the cache, or the teacher run on every batch."""
    d = recipe.distill
    stored = Stored(tuple(dict.fromkeys(t.teacher_layer for t in terms if t.teacher_layer)), d.cache_dtype,
                    d.cache_top_k)
    augmented = [k for k, c in (("student.train", recipe.student.train),
                                ("student.transfer_train", recipe.student.transfer_train)) if c.augment]
    if d.teacher_outputs == "live" or augmented:  # recipe.py refuses "cache" with augmentation
        reason = f"inputs augmented on the fly ({', '.join(augmented)})" if augmented else "teacher_outputs = live"
        reporter.info(f"teacher outputs: computed live on every batch ({reason})")
        return LiveOutputs(teacher, stored.layers)
    return teacher_outputs(teacher, x_all, stored, classes, cache_dir, reporter=reporter, rank=dist.rank,
                           world=dist.world, barrier=dist.barrier)  # each rank fills its share of the rows


def _save(model: torch.nn.Module, path: Path, name: str) -> Artifact:
    save_weights(model, path)
    return receipt(name, path, "safetensors", "distill", params=count_params(model))
