"""`edgedistill export CHECKPOINT --preset NAME`: one student, one preset (or `auto`), no pipeline.

CHECKPOINT is either a run folder written by `edgedistill run` (its report.json names the
recipe; the shipped student is `student-<run>.safetensors` (the task's shipped run, e.g.
`student-distilled_transfer.safetensors`), the teacher
`teacher.safetensors`) or a student `.safetensors` file plus `--recipe` for its architecture and
data. Weights are read with safetensors only: nothing is ever unpickled.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..artifacts import make_folder, raise_unusable
from ..errors import InputFileError, ParityError, StageError, UsageError


@dataclass(frozen=True)
class Checkpoint:
    """A trained student (and, from a run folder, its teacher) with the recipe that made it."""

    recipe: object
    task: object  # tasks.Task
    student: object  # torch.nn.Module, eval mode
    teacher: object | None
    dataset: object
    source: Path


def _load(cfg, path: Path, ds, model=None):
    """`cfg`'s model (or `model`, a loaded teacher to fine-tuned weights) with the weights at `path`."""
    from ..models import build_model, read_weights

    model = model if model is not None else build_model(cfg, ds.input_shape, ds.num_classes)
    state = read_weights(path, "restore the file, or rerun `edgedistill run` to write it again")
    try:
        model.load_state_dict(state)
    except Exception as exc:  # weights of another architecture
        raise InputFileError(str(path), f"not weights for the recipe's {cfg.arch} {list(cfg.channels)}: "
                                        f"{str(exc).splitlines()[0]}",
                             "pass the recipe the student was trained with") from None
    return model.eval()


def runs_code(recipe) -> list[str]:
    """The recipe keys that would import or run code (factories, TorchScript, an imported data set)."""
    keys = [f"{role}.factory" for role in ("student", "teacher") if getattr(recipe, role).factory]
    if recipe.teacher.source == "torchscript":
        keys.append("teacher.source = torchscript")
    if recipe.teacher.trusted:  # a pytorch_model.bin is a pickle
        keys.append("teacher.trusted = true")
    if recipe.data.factory or recipe.data.name == "import":
        keys.append("data.factory")
    return keys


def stored_recipe(run: Path, trust_run: bool):
    """The recipe a run folder's report.json records — data from whoever made the folder.

    Built-in families are rebuilt from it; a recipe that names code (a factory, TorchScript, an
    imported data set) is refused unless the user trusts the folder explicitly: a report.json
    can come from someone else's branch, and importing what it names would run their code."""
    from .. import config
    from ..recipe import Recipe
    from ..release.runfolder import read_report

    where = str(run / "report.json")
    rep = read_report(run)
    stored = rep.get("recipe", {}).get("config") if isinstance(rep.get("recipe"), dict) else None
    if not isinstance(stored, dict):
        raise InputFileError(where, "recipe.config: missing", "pass a run folder written by `edgedistill run`")
    recipe = config.validate(Recipe, stored, where)
    code = runs_code(recipe)
    if code and not trust_run:
        raise UsageError(f"{where} names code to run ({', '.join(code)}): a run folder is data, so edgedistill "
                         "never imports what its report.json names — pass your own recipe with --recipe, or "
                         "--trust-run if you made this folder yourself")
    return recipe


def load_checkpoint(checkpoint: Path, recipe_arg=None, cache_dir: Path | None = None,
                    trust_run: bool = False) -> Checkpoint:
    """A run folder (its stored recipe, or `recipe_arg` when given), or a student .safetensors with `recipe_arg`."""
    from ..data import load_dataset
    from ..distill.stage import fit_task
    from ..recipe import load_recipe
    from ..resources import default_cache_dir
    from ..tasks import get_task

    path = Path(checkpoint)
    if path.is_dir():
        recipe = load_recipe(recipe_arg)[0] if recipe_arg is not None else stored_recipe(path, trust_run)
        student_path, teacher_path = path / student_file(recipe), path / "teacher.safetensors"
    elif path.suffix == ".safetensors":
        if recipe_arg is None:
            raise UsageError(f"{path}: a .safetensors checkpoint needs --recipe (the recipe it was trained with)")
        recipe, _ = load_recipe(recipe_arg)
        student_path, teacher_path = path, None
    else:
        raise InputFileError(str(path), "not a run folder or a .safetensors file",
                             "pass a folder written by `edgedistill run`, or student weights with --recipe")
    if not student_path.is_file():
        raise InputFileError(str(student_path), "no such file", "pass a complete run folder")
    task = get_task(recipe.task)
    ds = fit_task(task, recipe, load_dataset(recipe.data, cache_dir or default_cache_dir()))
    if recipe.teacher.source != "train":  # a pretrained teacher: load it from where the recipe names it
        from ..models.teachers import load_pretrained

        teacher = load_pretrained(recipe.teacher, ds.input_shape, ds.num_classes, task.output)
        if recipe.teacher.finetune is not None and teacher_path and teacher_path.is_file():  # the run's fine-tune
            teacher = _load(recipe.teacher, teacher_path, ds, teacher)
    else:
        teacher = _load(recipe.teacher, teacher_path, ds) if teacher_path and teacher_path.is_file() else None
    return Checkpoint(recipe, task, _load(recipe.student, student_path, ds), teacher, ds, path)


def student_file(recipe) -> str:
    """The shipped student's weights in a run folder: student-<run>.safetensors."""
    from ..tasks import get_task

    return f"student-{recipe.export.ship or get_task(recipe.task).shipped}.safetensors"


def _reference(model, x, task) -> np.ndarray:
    from ..distill.train import predict

    return predict(model, x, task).numpy()


def export_one(ck: Checkpoint, preset, out: Path, work: Path, auto_exclude: bool = False,
               qat_epochs: int = 0) -> dict:
    """Write `preset`'s file for the checkpoint's student into `out`; return its record.
    With `qat_epochs`, a static int8 file that fails parity is redone with QAT + KD."""
    from ..artifacts import receipt
    from ..quantize.stage import Sources, derive
    from . import parity
    from .presets import load_preset
    from .stage import EXPORTERS, package_metadata

    ds, model, task = ck.dataset, ck.student, ck.task
    sig, classes = task.signature(ds), task.name != "embed"
    ref = _reference(model, ds.x_test, task)
    meta_pkg = package_metadata(ck.recipe, ds)
    name = preset.artifact_name("student")
    if not preset.derived:
        meta = EXPORTERS.get(preset.format)(model, sig, out / name, preset, meta_pkg)
        checked = parity.check_file(preset, name, out / name, ref, ds.x_test, ds.y_test, classes)
    else:
        work.mkdir(parents=True, exist_ok=True)
        fp32 = work / "student-fp32.onnx"
        if not fp32.exists():
            EXPORTERS.get("onnx")(model, sig, fp32, load_preset("onnx-fp32"), meta_pkg)

        def coreml_fp16() -> Path:
            pkg = work / "student-fp16.mlpackage"
            if not pkg.exists():
                EXPORTERS.get("coreml")(model, sig, pkg, load_preset("coreml-fp16"), meta_pkg)
            return pkg

        s = Sources(fp32, coreml_fp16, ds.x_train, ds.x_test, ds.y_test, ref, classes)
        try:
            meta, checked = derive(preset, name, out, s, auto_exclude=auto_exclude)
        except StageError as exc:
            if not (qat_epochs and preset.format == "onnx" and preset.quantization.mode == "static"
                    and hasattr(exc, "parity") and task.name == "classify"):  # QAT + KD: classifiers
                raise
            meta, checked = _recover_with_qat(ck, preset, out / name, ref, qat_epochs, exc)
    art = receipt(name, out / name, preset.format, "export.standalone", [str(ck.source)], preset=preset.name, **meta)
    return {"preset": preset.name, "artifact": art.to_json(out), "parity": checked}


def _recover_with_qat(ck: Checkpoint, preset, dst: Path, ref, epochs: int, ptq_error) -> tuple[dict, dict]:
    """PTQ missed the tolerance: fine-tune with fake quant + the teacher's soft targets, re-export."""
    from ..quantize.qat import qat_kd_qdq
    from . import parity

    if ck.teacher is None:
        raise UsageError(f"{ptq_error} — QAT + KD needs the teacher: pass a run folder (with teacher.safetensors)")
    ds = ck.dataset
    meta, model = qat_kd_qdq(ck.student, ck.teacher, ds, preset, dst, epochs=epochs)
    # QAT changes the model on purpose: the file is held to the preset's tolerance against the
    # fine-tuned model it was exported from, and its accuracy drop against the original student
    got = parity.onnx_logits(dst, ds.x_test)
    result = parity.compare(_reference(model, ds.x_test, ck.task), got, ds.y_test)
    result = replace(result, reference_accuracy=float((ref.argmax(1) == ds.y_test).mean()))
    meta["ptq"] = {"parity": ptq_error.parity, "error": str(ptq_error)}
    meta["vs_original_student"] = parity.compare(ref, got, ds.y_test).to_json("onnxruntime CPU")
    parity.check(dst.name + " (QAT + KD)", result, preset.parity)
    return meta, result.to_json("onnxruntime CPU")


def auto_candidates() -> list:
    """Shipped presets whose accuracy this host can measure (Core ML predicts only on macOS)."""
    from .presets import list_presets, load_preset

    presets = [load_preset(n) for n in list_presets()]
    return [p for p in presets if p.format != "coreml" or sys.platform == "darwin"]


def export_auto(ck: Checkpoint, out: Path, work: Path, max_drop: float, auto_exclude: bool = False,
                by: str | None = None) -> dict:
    """Make every candidate, then keep the best by `by` (size, brotli_size or p50_ms; default from the
    recipe's first device) among files whose accuracy drop vs the fp32 student is at most `max_drop` pp."""
    from .ranking import default_criterion, rank_value

    device = ck.recipe.bench.devices[0]
    by, why = (by, "asked with --by") if by else default_criterion(device)
    attempts = []
    for preset in auto_candidates():
        trial = work / f"auto-{preset.name}"
        trial.mkdir()
        try:
            rec = export_one(ck, preset, trial, work, auto_exclude)
        except StageError as exc:
            attempts.append({"preset": preset.name, "bytes": None, "accuracy_drop_pp": None, "kept": False,
                             "error": str(exc)})
            continue
        drop = rec["parity"]["accuracy_drop"]["value"]
        value = rank_value(by, trial / rec["artifact"]["name"], device)
        attempts.append({"preset": preset.name, "bytes": rec["artifact"]["bytes"], "accuracy_drop_pp": drop,
                         "within": drop <= max_drop, "kept": False, "record": rec, "dir": trial, by: value})
    ok = sorted((a for a in attempts if a.get("within") and a[by] is not None), key=lambda a: a[by])
    if not ok:
        raise ParityError(f"no preset keeps the accuracy drop within {max_drop} pp: "
                         + "; ".join(f"{a['preset']} {a.get('accuracy_drop_pp')}" for a in attempts))
    best = ok[0]
    best["kept"] = True
    name = best["record"]["artifact"]["name"]
    _move(best["dir"] / name, out / name)
    skipped = [] if sys.platform == "darwin" else ["coreml-* (Core ML predicts only on macOS: accuracy not "
                                                   "measurable on this host)"]
    ordered = sorted(attempts, key=lambda a: (a.get(by) is None, a.get(by) or 0))
    return {"preset": "auto", "max_drop_pp": max_drop, "by": by, "by_reason": why, "device": device,
            "chosen": best["preset"], "artifact": best["record"]["artifact"],
            "parity": best["record"]["parity"], "not_tried": skipped,
            "attempts": [{k: v for k, v in a.items() if k not in ("record", "dir")} for a in ordered]}


def _move(src: Path, dst: Path) -> None:
    if dst.exists():
        shutil.rmtree(dst) if dst.is_dir() else dst.unlink()
    shutil.move(str(src), str(dst))


def run_export(checkpoint: Path, preset_arg: str, out: Path | None, recipe_arg=None, force: bool = False,
               auto_exclude: bool = False, max_drop: float = 0.5, cache_dir: Path | None = None,
               qat_epochs: int = 0, trust_run: bool = False, by: str | None = None) -> dict:
    """The `export` command: load, export (one preset or auto), write export.json into `out`."""
    from ..artifacts import atomic_write_json
    from .presets import load_preset

    ck = load_checkpoint(checkpoint, recipe_arg, cache_dir, trust_run)
    preset = None if preset_arg == "auto" else load_preset(preset_arg)  # bad names fail before work
    if preset is not None:
        from .stage import check_format

        check_format(preset, preset_arg)
    out = Path(out) if out else _default_out(Path(checkpoint), preset_arg)
    if out.exists() and any(out.iterdir()) and not force:
        raise UsageError(f"{out} already exists and is not empty — pass --force, or choose another --out")
    staging = None
    try:  # files are made in a staging folder beside `out`, moved into it only once everything passed
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = make_folder(f".{out.name}.partial-", out.parent)
        with tempfile.TemporaryDirectory() as tmp:
            if preset is None:
                record = export_auto(ck, staging, Path(tmp), max_drop, auto_exclude, by)
            else:
                record = export_one(ck, preset, staging, Path(tmp), auto_exclude, qat_epochs)
        record = {"schema": "edgedistill.export/1", "checkpoint": str(checkpoint), **record}
        atomic_write_json(staging / "export.json", record)
        publish_into(staging, out)
    except BaseException as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise_unusable(exc, out.parent)  # a full or read-only disk: one line naming the path
        raise
    return record


def publish_into(staging: Path, out: Path) -> None:
    """Move a finished export into `out`: a rename when `out` is new; into an existing `out` (--force)
    file by file, export.json last, so `out` never holds a model file without its record."""
    if not out.exists():
        staging.rename(out)
        return
    for src in sorted(staging.iterdir(), key=lambda p: p.name == "export.json"):
        _move(src, out / src.name)
    staging.rmdir()


def _default_out(checkpoint: Path, preset: str) -> Path:
    base = checkpoint if checkpoint.is_dir() else checkpoint.parent / checkpoint.stem
    return base / f"export-{preset}" if checkpoint.is_dir() else Path(f"{base}-export-{preset}")
