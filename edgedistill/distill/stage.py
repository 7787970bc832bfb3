"""Distillation stage: data → teacher (cached) → the task's students, all reported side by side.

The task (tasks/) names the students. classify:
    scratch              hard labels only (cross-entropy)              — the baseline
    distilled            the response loss (Hinton KD) on the labelled set
    distilled_transfer   the same on labelled + unlabelled transfer rows — the student we ship
lm: scratch, word (word-level KD), sequence (cross-entropy on text the teacher wrote);
embed: distilled, distilled_transfer. Every student starts from the same initial weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..artifacts import Artifact, atomic_write_text, receipt
from ..data import Dataset, load_dataset
from ..errors import ConfigError, InputFileError
from ..models import build_model, count_params, save_weights
from ..models.teachers import check_on_data
from ..tasks import Task, get_task, runs_for
from .cache import LiveOutputs, Stored, teacher_hash, teacher_outputs
from .ddp import SINGLE, Dist
from .features import check_layer
from .objective import Term
from .rows import Rows, with_transfer
from .teacher import chance_warning, teacher_probe, teacher_tensors, train_or_load_teacher
from .train import TrainResult, fit, predict


@dataclass(frozen=True)
class Trained:
    """Everything later stages need from training."""

    task: Task
    dataset: Dataset
    teacher: torch.nn.Module  # eval mode
    teacher_result: TrainResult
    teacher_cached: bool
    shipped: str  # the run whose student ships (export.ship, else the task's)
    student: torch.nn.Module  # that student, eval mode
    students: dict[str, TrainResult]  # every run, by name
    weights: dict[str, Artifact]  # safetensors receipts: "teacher", each student run's name, extra files
    test_outputs: dict[str, np.ndarray]  # "teacher" / "student" → primary outputs on the test rows: parity refs
    references: dict  # the eval set's reference arrays for the test rows (tasks/metrics.py)
    teacher_warning: str = ""  # e.g. a pretrained teacher near chance (teacher.chance_warning)
    labelling: dict = field(default_factory=dict)  # teacher.label_with = "onnx-int8": its spot check (labeller.py)


def distill_all(recipe, cache_dir: Path | None, out: Path | None, reporter, source: str | None = None,
                checkpoints=None, dist: Dist = SINGLE) -> Trained:
    """Run the distillation stage of a recipe; weights land in `out` as safetensors.

    `checkpoints(label, fingerprint) -> Checkpointer` makes every training run resumable.
    With several ranks (`dist`) the students train data-parallel and only rank 0 writes (`out`
    may be None elsewhere); rank 0 trains or loads the teacher first, the others then read it.
    """
    task = get_task(recipe.task)
    ds = _first_on_main(dist, lambda: load_dataset(recipe.data, cache_dir))  # one rank generates and caches
    ds = fit_task(task, recipe, ds)
    # freshly built models, checked before any training: layer names, and the user's own models on the data
    probe = {"student": build_model(recipe.student, ds.input_shape, ds.num_classes),
             "teacher": teacher_probe(recipe, ds)}
    terms = _terms(recipe, probe, source or f"recipe {recipe.name}")
    for role, cfg in (("teacher", recipe.teacher), ("student", recipe.student)):
        if cfg.factory and getattr(cfg, "source", "train") == "train":  # a loaded teacher is checked on load
            check_on_data(probe[role], ds, task, cfg.factory, role=role, code=True)
    reporter.info(f"data: {ds.name} train {len(ds.y_train)}, test {len(ds.y_test)}, unlabelled transfer "
                  f"{len(Rows(ds.x_unlabeled))} · task {task.name}: "
                  + ", ".join(s.describe() for s in task.inputs(ds)) + " → "
                  + ", ".join(s.describe() for s in task.outputs(ds)))
    x, y, x_test, y_test = tensors = teacher_tensors(ds)
    teacher, t_result, cached = _first_on_main(
        dist, lambda: train_or_load_teacher(recipe, ds, tensors, cache_dir, reporter, checkpoints, task))
    warning = chance_warning(recipe, task, t_result, ds.num_classes)
    if warning and dist.is_main:
        reporter.warn(warning)
    t_test = predict(teacher, x_test, task).numpy()
    refs = task.references(ds, t_test)
    # what a student checkpoint depends on: the recipe's training sections and the teacher's exact weights
    fingerprint = {**recipe.model_dump(mode="json", include={"seed", "data", "student", "distill"}),
                   "teacher_weights": teacher_hash(teacher)}
    runs = runs_for(task, recipe)
    transfer = any(r.rows == "labeled+transfer" for r in runs)
    x_all, y_all = with_transfer(x, y, Rows(ds.x_unlabeled)) if transfer else (x, y)
    out_all, labelling = None, {}
    if any(r.loss == "teacher" for r in runs):
        out_all, labelling = _teacher_outputs(recipe, task, teacher, x_all, terms, ds, cache_dir, reporter, dist)
    results, weights, models = {}, {}, {}
    for run in runs:
        xs, ys, outputs = _rows_of(run, recipe, task, teacher, x, y, x_all, y_all, out_all, weights, out, dist)
        kd = run.loss == "teacher"
        torch.manual_seed(recipe.seed + 1)  # the same initial student weights for every run
        model = build_model(recipe.student, ds.input_shape, ds.num_classes)
        if recipe.student.init != "random":
            from ..models.hf_init import init_from_teacher

            said = init_from_teacher(model, teacher, recipe.student.init, recipe.data.tokenizer)
            if run is runs[0] and dist.is_main:
                reporter.info(f"student init from the teacher: {said}")
        results[run.name] = fit(model, xs, ys, cfg=getattr(recipe.student, run.train),
                                loss=recipe.distill.loss if kd else "cross_entropy",
                                loss_params=recipe.distill.loss_params() if kd else {}, x_test=x_test, y_test=y_test,
                                seed=recipe.seed + 1, label=f"student: {run.name}", reporter=reporter,
                                outputs=outputs if kd else None, terms=terms if kd else (), dist=dist, task=task,
                                refs=refs, checkpoints=checkpoints(f"student-{run.name}", fingerprint)
                                if checkpoints else None)
        models[run.name] = model.eval()
        if dist.is_main:
            name = f"student-{run.name}.safetensors"
            weights[run.name] = _save(model, out / name, name)
    if dist.is_main:
        weights["teacher"] = _save(teacher, out / "teacher.safetensors", "teacher.safetensors")
    shipped = recipe.export.ship or task.shipped
    ratio = count_params(teacher) / count_params(models[shipped])
    reporter.info(f"teacher {task.summary(t_result.metrics)} ({count_params(teacher):,} params) · students: "
                  + ", ".join(f"{k} {task.summary(r.metrics)}" for k, r in results.items())
                  + f" ({count_params(models[shipped]):,} params, {ratio:.0f}× fewer)")
    test_outputs = {"teacher": t_test, "student": predict(models[shipped], x_test, task).numpy()}
    return Trained(task, ds, teacher, t_result, cached, shipped, models[shipped], results, weights, test_outputs,
                   refs, warning, labelling)


def fit_task(task: Task, recipe, ds: Dataset) -> Dataset:
    """Data the task can use: labels for classify, token ids for lm; embed learns the teacher's width."""
    where = recipe.data.path or recipe.data.name
    if task.name == "classify" and len(ds.y_train) and (ds.y_train < 0).all():
        raise InputFileError(where, "no labels: task 'classify' trains on class ids", "add labels, or set "
                             'task = "embed" to distil an embedding teacher without them')
    if task.name == "lm" and any(a.dtype.kind not in "iu" for a in ds.x_train.values()):
        raise ConfigError(recipe.name, "data.name", f"task 'lm' reads token ids; {recipe.data.name!r} gives "
                          f"{', '.join(str(a.dtype) for a in ds.x_train.values())} inputs", 'use name = "pydoc_topics"')
    if task.name == "embed":
        with torch.no_grad():
            probe = task.forward(teacher_probe(recipe, ds), Rows(ds.x_test).head(2))
        ds = replace(ds, num_classes=int(probe.shape[-1]))  # the students' output width
    return ds


def _rows_of(run, recipe, task, teacher, x, y, x_all, y_all, out_all, weights, out, dist):
    """(inputs, targets, teacher outputs) a student run trains on."""
    if run.rows == "labeled":
        return x, y, out_all.head(len(x)) if out_all is not None else None  # the labelled rows come first
    if run.rows == "labeled+transfer":
        return x_all, y_all, out_all
    from ..tasks.lm import teacher_samples

    d = recipe.distill
    (name, ids), = x.arrays.items()
    xs, ys = teacher_samples(teacher, ids, y, d.sequences, d.prompt_chars, d.sample_temperature, recipe.seed)
    if dist.is_main and out is not None and recipe.data.name == "pydoc_topics":  # characters: readable as text
        weights["samples"] = _write_samples(xs, ys, d.prompt_chars, out / "teacher-samples.txt")
    return Rows({name: xs}), ys, None


def _terms(recipe, probe: dict, source: str) -> tuple[Term, ...]:
    """The recipe's extra loss terms, with layer names checked against `probe` (role → a fresh model)."""
    out = []
    for i, t in enumerate(recipe.distill.terms):
        pairs = [(t.student_layer, t.teacher_layer)] if t.map is None else _map_pairs(t, probe, source, i)
        for s_layer, t_layer in pairs:
            for role, layer in (("student", s_layer), ("teacher", t_layer)):
                try:
                    if layer:
                        check_layer(probe[role], layer)
                except KeyError as exc:
                    key = f"distill.terms[{i}].{role}_layer" if t.map is None else f"distill.terms[{i}].map"
                    raise ConfigError(source, key, str(exc.args[0]).split(";")[0],
                                      str(exc.args[0]).split("; ", 1)[-1]) from None
            out.append(Term(t.loss, t.weight, s_layer, t_layer, dict(t.params)))
    return tuple(out)


def _map_pairs(t, probe: dict, source: str, i: int) -> list[tuple[str, str]]:
    """A term's layer map as tap names: hidden_mse [(1, 2)] → [("hidden.1", "hidden.2")] (models/hf.py)."""
    from .transformer_losses import TAP, mapped_layers

    depth = {role: len(getattr(m, "attention", ())) for role, m in probe.items()}
    if not all(depth.values()):
        raise ConfigError(source, f"distill.terms[{i}].map", "a layer map pairs transformer layers; "
                          f"{', '.join(r for r, d in depth.items() if not d)} is not a huggingface/bert model",
                          "name student_layer and teacher_layer instead")
    tap = TAP[t.loss]
    return [(f"{tap}.{a}", f"{tap}.{b}") for a, b in mapped_layers(t.map, depth["student"], depth["teacher"])]


def _first_on_main(dist: Dist, make):
    """make() on rank 0, then on the other ranks (which then find rank 0's cached result)."""
    if dist.is_main:
        result = make()
    dist.barrier()
    return result if dist.is_main else make()


def _teacher_outputs(recipe, task, teacher, x_all, terms, ds, cache_dir, reporter, dist: Dist = SINGLE):
    """(where the students read the teacher's outputs: the cache, or the teacher run on every batch;
    the int8 labeller's spot check against the fp32 teacher, {} when none ran)."""
    d = recipe.distill
    stored = Stored(tuple(dict.fromkeys(t.teacher_layer for t in terms if t.teacher_layer)), d.cache_dtype,
                    d.cache_top_k)
    augmented = [k for k, c in (("student.train", recipe.student.train),
                                ("student.transfer_train", recipe.student.transfer_train)) if c and c.augment]
    if d.teacher_outputs == "live" or augmented:  # recipe.py refuses "cache" with augmentation
        reason = f"inputs augmented on the fly ({', '.join(augmented)})" if augmented else "teacher_outputs = live"
        reporter.info(f"teacher outputs: computed live on every batch ({reason})")
        return LiveOutputs(teacher, stored.layers, task), {}
    preprocessing = "none" if task.name == "classify" else f"task={task.name}"  # how the teacher was called
    if recipe.teacher.label_with == "onnx-int8":  # an int8 ONNX copy labels; built only if the cache is empty
        from .labeller import SPOT, OnnxLabeller

        teacher = OnnxLabeller(teacher, task, task.signature(ds), x_all.take(slice(0, min(SPOT, len(x_all)))))
    out = teacher_outputs(teacher, x_all, stored, ds.num_classes, cache_dir, preprocessing, reporter=reporter,
                          rank=dist.rank, world=dist.world, barrier=dist.barrier,  # each rank fills its share
                          task=task, data=str(recipe.data.path or recipe.data.name))
    spot = getattr(teacher, "spot", None)
    if recipe.teacher.label_with == "onnx-int8":
        spot = {"label_with": "onnx-int8", **(spot or {"spot_check": "none: the outputs came from the cache"})}
        if dist.is_main:
            figure = (f"top-1 agreement {spot['agreement']:.2f}%" if "agreement" in spot else
                      f"mean cosine {spot['cosine']:.5f}" if "cosine" in spot else spot["spot_check"])
            reporter.info(f"teacher outputs: labelled by the teacher's int8 ONNX copy; vs fp32 on its first "
                          f"{spot.get('rows', 0)} rows: {figure}")
    return out, spot or {}


def _save(model: torch.nn.Module, path: Path, name: str) -> Artifact:
    save_weights(model, path)
    return receipt(name, path, "safetensors", "distill", params=count_params(model))


def _write_samples(xs: torch.Tensor, ys: torch.Tensor, prompt: int, path: Path, shown: int = 20) -> Artifact:
    """The first `shown` teacher samples as text: prompt in [brackets], then what the teacher wrote."""
    from ..data.pydoc import decode

    rows = torch.cat([xs[:shown], ys[:shown, -1:]], dim=1)  # (s, T + 1)
    parts = [f"--- sample {i} ---\n[{decode(r[:prompt])}]{decode(r[prompt:])}" for i, r in enumerate(rows)]
    atomic_write_text(path, "\n".join(parts) + "\n")
    return receipt(path.name, path, "text", "distill.teacher_samples", samples=len(xs), shown=min(shown, len(xs)))
