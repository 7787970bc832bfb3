"""The recipe: one TOML file that says what to distil, how, and what to ship.

Validated into a frozen `Recipe`; names of datasets, architectures, presets and devices are
checked against their registries here, so a typo fails before any training starts.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from . import config
from .config import Frozen, Seed
from .data.checks import MAX_CLASSES
from .errors import ConfigError
from .registry import suggest
from .resources import recipes_dir

DEFAULT_RECIPE = "mnist1d"
TEXT_PRESETS = ("onnx-fp32", "onnx-int8-dynamic")  # export.presets unless a text recipe names its own

PosInt = Annotated[int, Field(gt=0)]
PosFloat = Annotated[float, Field(gt=0)]
Side = Annotated[int, Field(gt=0, le=8192)]  # an image side in pixels: one 8192² RGB image is 805 MB as float32


class Located(Frozen):
    """A file or folder: relative to the recipe, or inside an installed package (found, never imported)."""

    path: str
    package: str | None = None


class DataConfig(Frozen):
    name: str = "mnist1d"  # mnist1d | digits | npz | image_folder | text_lines | text | import
    samples: PosInt = 5000  # mnist1d: labelled examples generated; 80% train, 20% test
    seed: Seed = 42  # mnist1d's own default seed; for the other sources, the seed of the test split
    transfer_samples: Annotated[int, Field(ge=0)] = 40000  # mnist1d: unlabelled set; 80% of it is kept
    transfer_seed: Seed = 1  # must differ from `seed`, or the transfer set repeats the train set
    path: str | None = None  # npz file / image folder / text file, relative to the recipe file (or to `package`)
    package: str | None = None  # an installed package whose files `path` names (found, never imported)
    factory: str | None = None  # name = "import": "package.module:function" returning a torch Dataset
    # extra unlabelled inputs: .npz, image folder or text file (relative path); text: also .jsonl/.csv, a folder of
    # .txt files, or WordNet's folder ("/usr/share/wordnet", Debian wordnet-base: its glosses)
    unlabeled: str | None = None
    unlabeled_max: PosInt | None = None  # text: keep this many unlabelled examples, drawn evenly (seed `seed`)
    unlabeled_fraction: Annotated[float, Field(ge=0, lt=1)] = 0.0  # share of the train split whose labels are dropped
    test_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.2  # held out when the source has no test split
    # default: largest label + 1 (or the number of class folders / labels)
    num_classes: Annotated[int, Field(gt=0, le=MAX_CLASSES)] | None = None
    image_size: tuple[Side, Side] = (32, 32)  # image_folder / unlabelled images: resized to (H, W)
    grayscale: bool = False  # images: 1 channel instead of RGB's 3
    # text_lines: UTF-8 bytes per example; text: tokens per example (the one maximum length used in training,
    # export and the browser), cut or padded
    max_len: Annotated[int, Field(gt=0, le=1 << 20)] = 64
    tokenizer: str | None = None  # text: tokenizer.json (or its folder); default: the huggingface teacher's
    text_field: str = "text"  # text: .jsonl / .csv field holding the text …
    label_field: str = "label"  # … and the one holding the label (absent: unlabelled)
    context: Annotated[int, Field(ge=2, le=1 << 16)] = 64  # pydoc_topics: tokens per window (the lm's input length)
    block_chars: PosInt = 4096  # pydoc_topics: the text is cut into contiguous blocks of this many characters …
    val_every: Annotated[int, Field(ge=2)] = 10  # … and every val_every-th block is held out for validation
    max_train_chars: PosInt | None = None  # pydoc_topics: keep only the first N training characters (quick runs)
    # sentences (embed, data/sentences.py): how many distinct sentences to keep, how many to hold out, and
    # measurement-only probes: Lee et al.'s rated document pairs, a class-folder corpus read by first line
    max_texts: PosInt | None = None
    test_rows: PosInt | None = None
    rated_pairs: Located | None = None
    class_probe: Located | None = None

    @model_validator(mode="after")
    def _distinct_seeds(self):
        if self.name == "mnist1d" and self.transfer_samples and self.transfer_seed == self.seed:
            raise ValueError("transfer_seed must differ from seed (the transfer set would copy the train set)")
        return self


class TrainConfig(Frozen):
    epochs: PosInt
    lr: PosFloat
    batch_size: PosInt = 64
    weight_decay: Annotated[float, Field(ge=0)] = 1e-4
    augment: dict[str, PosFloat] = {}  # on-the-fly input augmentation: { shift = 3, noise = 0.05 }


class ModelConfig(Frozen):
    # built-in family: cnn1d, cnn2d (images), mlp (any shape), textcnn (byte ids), gpt (tokens), bert (token ids
    # + attention mask, the huggingface teacher's vocabulary)
    arch: str = "cnn1d"
    channels: tuple[PosInt, ...] = ()  # conv widths, one per block (depth = their count): cnn1d, cnn2d, textcnn
    kernel: PosInt = 3
    width: PosInt = 64  # mlp: hidden width; textcnn: embedding size; gpt, bert: model width (hidden size);
    # static: the token table's width (the vectors' before the map to the teacher's width)
    layers: PosInt = 2  # gpt, bert: transformer blocks
    heads: PosInt = 4  # gpt, bert: attention heads (width must be a multiple)
    intermediate: PosInt | None = None  # bert: feed-forward width (default 4 × width)
    vocab: PosInt | None = None  # bert, static: vocabulary size (default: data.tokenizer's)
    project: bool = True  # static: a linear map from `width` to the teacher's vector width (models/static.py)
    # bert: "random", or "teacher-layers" (DistilBERT: the teacher's embeddings — PCA-reduced when narrower — and,
    # when widths match, every k-th teacher layer); static: the teacher's token table on its top `width` principal
    # components, the map back to its width their basis; "teacher-outputs" (static): the teacher's vector of each
    # token alone, projected the same way (Model2Vec's starting point)
    init: Literal["random", "teacher-layers", "teacher-outputs"] = "random"
    depth: Annotated[int, Field(ge=0)] = 2  # mlp: hidden layers
    factory: str | None = None  # "package.module:function" building the model; replaces `arch` and its knobs
    params: dict[str, int | float | str | bool] = {}  # keyword arguments for `factory`


class FinetuneConfig(TrainConfig):
    """A huggingface teacher trained on the labelled data first (head, and the encoder unless frozen); cached."""

    encoder: bool = True  # false: only the classification head trains (the encoder stays as loaded)


class TeacherConfig(ModelConfig):
    source: str = "train"  # train (in the run, cached) | import | torchscript | onnx | safetensors | huggingface
    path: str | None = None  # model file (huggingface: the model folder), relative to the recipe file or `package`
    package: str | None = None  # huggingface: an installed package holding the folder (found, never imported)
    trusted: bool = False  # huggingface: allow pytorch_model.bin (a pickle: it can run code) when no safetensors
    pooling: Literal["mean", "cls"] = "mean"  # huggingface/bert: token states → one vector (mean over the mask)
    train: TrainConfig | None = None  # required for source = "train"; ignored otherwise
    finetune: FinetuneConfig | None = None  # huggingface: train a classification head (and the encoder) first
    # who fills the teacher-output cache: the teacher itself, or its int8 ONNX copy (faster; outputs only,
    # spot-checked against the teacher: distill/labeller.py)
    label_with: Literal["torch", "onnx-int8"] = "torch"


class StudentConfig(ModelConfig):
    pooling: Literal["mean", "cls"] = "mean"  # bert: token states → one vector
    train: TrainConfig  # the runs on the labelled set (classify: scratch, distilled; lm: every student)
    transfer_train: TrainConfig | None = None  # the labelled + transfer run (classify, embed)


class TermConfig(Frozen):
    """An extra weighted loss term: compares model outputs, or two named layers when both are given."""

    loss: str
    weight: PosFloat = 1.0
    student_layer: str | None = None  # module path, e.g. "features.5"
    teacher_layer: str | None = None
    params: dict[str, float] = {}
    # hidden_mse / attention_mse on transformers: (student layer, teacher layer) pairs, 0 = the embeddings,
    # or "uniform" (student layer i of M ↔ teacher layer i·N/M); one term per pair (distill/transformer_losses.py)
    map: Literal["uniform"] | tuple[tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]], ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _pairs_to_tuples(cls, data):
        if isinstance(data, dict) and isinstance(data.get("map"), list):
            data = {**data, "map": tuple(tuple(p) if isinstance(p, list) else p for p in data["map"])}
        return data

    @model_validator(mode="after")
    def _layers_in_pairs(self):
        if (self.student_layer is None) != (self.teacher_layer is None):
            raise ValueError("name both student_layer and teacher_layer, or neither (compare the outputs)")
        if self.map is not None and self.student_layer is not None:
            raise ValueError("give either map (transformer layer pairs) or student_layer/teacher_layer, not both")
        return self


class DistillConfig(Frozen):
    loss: str = "hinton_kd"  # the response loss of the distilled students (hinton_kd, dkd, …)
    temperature: PosFloat = 4.0
    alpha: Annotated[float, Field(ge=0, le=1)] = 0.9  # hinton_kd's soft/hard weight
    params: dict[str, float] = {}  # further parameters of `loss` (dkd: alpha, beta)
    terms: tuple[TermConfig, ...] = ()  # extra weighted terms: features, relations, embeddings
    # where the students read the teacher's outputs: "cache" (computed once, memory-mapped from disk),
    # "live" (the teacher runs on every batch), "auto" (cache unless inputs are augmented on the fly)
    teacher_outputs: Literal["auto", "cache", "live"] = "auto"
    cache_dtype: Literal["float32", "float16"] = "float32"
    cache_top_k: Annotated[int, Field(ge=0)] = 0  # > 0: keep only the k largest logits per row
    # lm, sequence-level distillation: the teacher writes `sequences` samples of data.context + 1 tokens,
    # each after `prompt_chars` real tokens, sampling at `sample_temperature` (0: no sequence-level student)
    sequences: Annotated[int, Field(ge=0)] = 0
    prompt_chars: PosInt = 16
    sample_temperature: PosFloat = 1.0

    def loss_params(self) -> dict[str, float]:
        """Parameters passed to the response loss: temperature (+ alpha for hinton_kd) + `params`."""
        from .distill.loss_table import compares_labels

        base = {"temperature": self.temperature} if compares_labels(self.loss) else {}  # softened class scores
        if self.loss == "hinton_kd":
            base["alpha"] = self.alpha
        return {**base, **self.params}


class ExportConfig(Frozen):
    # shipped preset names, or preset TOML files (paths relative to the recipe file)
    presets: tuple[str, ...] = ("onnx-fp32", "onnx-int8-qdq", "coreml-fp16")
    auto_exclude: bool = False  # keep the layers that break an int8 file's tolerance in float
    author: str = "edgedistill"  # written into Core ML packages' metadata
    license: str = "unspecified"
    version: str = ""  # "" → edgedistill's version
    ship: str | None = None  # the student run exported and shipped; default: the task's (classify: distilled_transfer)
    # embed on sentences: the exported file (e.g. "student-int8-dynamic.onnx") to ship as a browser bundle
    # (bundle/: embed.js, tokenizer.json, a semantic-search demo page; export/bundle.py)
    bundle: str | None = None


class BenchConfig(Frozen):
    devices: tuple[str, ...] = ("host-cpu",)  # shipped profile names, or profile TOML files (relative to the recipe)


class GateConfig(Frozen):
    budgets: str | None = None  # path relative to the recipe file


class Recipe(Frozen):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    task: str = "classify"  # classify (logits), embed (vectors), lm (per-token distributions): tasks/
    extends: str | None = None  # a built-in recipe name or a path relative to this file; its tables are the defaults
    seed: Seed = 0
    data: DataConfig = DataConfig()
    teacher: TeacherConfig
    student: StudentConfig
    distill: DistillConfig = DistillConfig()
    export: ExportConfig = ExportConfig()
    bench: BenchConfig = BenchConfig()
    gate: GateConfig = GateConfig()

    def section_hash(self, *sections: str) -> str:
        """Content hash of the named sections (or the whole recipe): the cache keys' ingredient."""
        dump = self.model_dump(mode="json")
        part = {s: dump[s] for s in sections} if sections else dump
        return hashlib.sha256(json.dumps(part, sort_keys=True).encode()).hexdigest()


def recipe_path(name_or_path: str | Path | None) -> Path:
    """A built-in recipe name (`mnist1d`) or a path to a TOML file."""
    if name_or_path is None:
        name_or_path = DEFAULT_RECIPE
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        return p
    builtin = recipes_dir() / f"{name_or_path}.toml"
    if builtin.exists():
        return builtin
    known = ", ".join(sorted(f.stem for f in recipes_dir().glob("*.toml") if ".budgets" not in f.name))
    raise ConfigError(str(name_or_path), "", "no such recipe file or built-in recipe", f"built-in: {known}")


def load_recipe(name_or_path: str | Path | None = None, overrides: dict | None = None) -> tuple[Recipe, Path]:
    """Load and validate a recipe; `overrides` (nested dict) are merged over the file (tests, CLI)."""
    path = recipe_path(name_or_path)
    folders = [path.parent]  # the recipe's folder, then each base's it extends: where factory modules live
    data = _read_with_base(path, folders=folders)
    if overrides:
        data = _merge(data, overrides)
    recipe = _with_vocab(_resolve_user_files(config.validate(Recipe, data, str(path)), path, folders), str(path))
    from .data import TOKEN_DATA

    if recipe.data.name in TOKEN_DATA and "presets" not in recipe.export.model_fields_set:
        # token-id models: dynamic int8 (MatMul per channel) is what transformers take; Core ML is opt-in
        # ("coreml-fp16"): this Linux host converts and validates it but cannot run it
        recipe = recipe.model_copy(update={"export": recipe.export.model_copy(update={"presets": TEXT_PRESETS})})
    _check_names(recipe, str(path))
    return _resolve_preset_files(recipe, path), path


def _resolve_user_files(recipe: Recipe, path: Path, folders: list[Path]) -> Recipe:
    """Data and teacher files named relative to the recipe become absolute; modules beside it (and beside
    the recipes it extends, after it) importable."""
    from .models.imports import add_search_path

    if any((recipe.data.factory, recipe.teacher.factory, recipe.student.factory)):
        for folder in folders:
            add_search_path(folder)

    def absolute(p: str | None) -> str | None:
        return None if p is None else str((path.parent / Path(p).expanduser()).resolve())

    from .packages import model_folder, package_path

    d, t, src = recipe.data, recipe.teacher, str(path)
    data_path = str(package_path(d.package, d.path, src, "data.package")) if d.package else absolute(d.path)
    teacher_path = (str(model_folder(t.package, t.path, src, "teacher.package")) if t.package
                    else absolute(t.path))
    from .data import TOKEN_DATA

    tokenizer = absolute(d.tokenizer)
    if tokenizer is None and d.name in TOKEN_DATA and t.source == "huggingface":
        tokenizer = teacher_path  # the teacher's own tokenizer: students share its vocabulary
    def located(key: str, loc: Located | None) -> Located | None:
        if loc is None:
            return None
        found = package_path(loc.package, loc.path, src, f"data.{key}.package") if loc.package else absolute(loc.path)
        return loc.model_copy(update={"path": str(found)})

    data = d.model_copy(update={"path": data_path, "unlabeled": absolute(d.unlabeled), "tokenizer": tokenizer,
                                "rated_pairs": located("rated_pairs", d.rated_pairs),
                                "class_probe": located("class_probe", d.class_probe)})
    teacher = t.model_copy(update={"path": teacher_path})
    return recipe.model_copy(update={"data": data, "teacher": teacher})


def _with_vocab(recipe: Recipe, source: str) -> Recipe:
    """A `bert` or `static` student without `vocab` takes the size of its huggingface teacher's token table (config.json
    vocab_size, which may exceed the tokenizer's count: padded tables), else of data.tokenizer's vocabulary."""
    s, tok, t = recipe.student, recipe.data.tokenizer, recipe.teacher
    if s.arch not in ("bert", "static") or s.factory or s.vocab:
        return recipe
    if t.source == "huggingface" and t.path and (Path(t.path) / "config.json").is_file():
        try:
            size = json.loads((Path(t.path) / "config.json").read_text(encoding="utf-8")).get("vocab_size")
        except (ValueError, UnicodeDecodeError, AttributeError):
            size = None  # the teacher's loader names the broken file
        if isinstance(size, int) and size > 0:
            return recipe.model_copy(update={"student": s.model_copy(update={"vocab": size})})
    from .data.text import tokenizer_file
    from .errors import InputFileError

    try:
        file = tokenizer_file(tok)
    except (ConfigError, InputFileError):
        return recipe  # the source checks name the missing teacher folder or tokenizer
    try:
        from tokenizers import Tokenizer

        size = Tokenizer.from_file(str(file)).get_vocab_size()
    except Exception as exc:  # missing or not a tokenizer: the data check names it first when it can
        raise ConfigError(source, "data.tokenizer", f"{file}: not a readable tokenizer.json ({exc})"[:300],
                          "name the tokenizer.json a Hugging Face model folder holds") from None
    return recipe.model_copy(update={"student": s.model_copy(update={"vocab": size})})


def _resolve_preset_files(recipe: Recipe, path: Path) -> Recipe:
    """Preset and device profile files named relative to the recipe become absolute, so later stages find them."""
    def absolute(names):
        return tuple(str((path.parent / p).resolve()) if p.endswith(".toml") else p for p in names)

    return recipe.model_copy(update={
        "export": recipe.export.model_copy(update={"presets": absolute(recipe.export.presets)}),
        "bench": recipe.bench.model_copy(update={"devices": absolute(recipe.bench.devices)})})


def _read_with_base(path: Path, seen: tuple = (), folders: list | None = None) -> dict:
    """The recipe file's tables merged over those of the recipe it `extends` (recursively, no cycles)."""
    data = config.read_toml(path)
    base = data.get("extends")
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(str(path), "extends", "must be a recipe name or a path", 'e.g. extends = "mnist1d"')
    base_path = _base_path(path, base)
    if base_path.resolve() in seen or base_path.resolve() == path.resolve():
        raise ConfigError(str(path), "extends", f"{base!r} extends itself (a cycle)", "break the cycle")
    if folders is not None:
        folders.append(base_path.parent)
    merged = _merge(_anchor(_read_with_base(base_path, (*seen, path.resolve()), folders), base_path.parent), data)
    merged.pop("extends", None)
    return merged


_FILE_KEYS = (("data", "path"), ("data", "unlabeled"), ("data", "tokenizer"), ("teacher", "path"), ("gate", "budgets"))
_FILE_LISTS = (("export", "presets"), ("bench", "devices"))  # entries ending in .toml are files, others names


def _anchor(data: dict, folder: Path) -> dict:
    """A base recipe's relative file paths made absolute from the base's own folder: a recipe that extends
    a built-in recipe or `../team/base.toml` inherits the files its base meant, not namesakes beside itself."""
    def here(p):
        # absolute: the child's own folder is joined in front later, and a recipe named relative to the
        # cwd (tests/fixtures/child.toml) would otherwise find tests/fixtures/tests/fixtures/base.budgets.toml
        return str((folder / Path(p).expanduser()).resolve()) if isinstance(p, str) else p

    out = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for table, key in _FILE_KEYS:
        # a path inside an installed package (`package` beside it) stays relative to that package
        if isinstance(out.get(table), dict) and key in out[table] and not (key == "path" and "package" in out[table]):
            out[table][key] = here(out[table][key])
    for table, key in _FILE_LISTS:
        if isinstance(out.get(table), dict) and isinstance(out[table].get(key), list):
            out[table][key] = [here(p) if isinstance(p, str) and p.endswith(".toml") else p for p in out[table][key]]
    return out


def _base_path(path: Path, base: str) -> Path:
    """The file `extends = base` names: a path relative to the recipe, or a built-in recipe name."""
    if base.endswith(".toml"):
        found = path.parent / base
        if not found.is_file():
            raise ConfigError(str(path), "extends", f"no such recipe file {found}",
                              "paths are relative to this recipe's folder")
        return found
    try:
        return recipe_path(base)
    except ConfigError:
        raise ConfigError(str(path), "extends", f"{base!r} is neither a recipe file nor a built-in recipe",
                          f"{suggest(base, _builtin_names())} (a file needs its .toml suffix)") from None


def _builtin_names() -> list[str]:
    return sorted(f.stem for f in recipes_dir().glob("*.toml") if ".budgets" not in f.name)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        # a table overriding a plain value replaces it; validation then names the key
        out[k] = _merge(out[k] if isinstance(out.get(k), dict) else {}, v) if isinstance(v, dict) else v
    return out


def _check_names(recipe: Recipe, source: str) -> None:
    """Registry look-ups that pydantic cannot do: each miss names the key and the closest name."""
    from .data import DATASETS
    from .devices import list_profiles
    from .distill.loss_table import loss_names
    from .export.presets import list_presets
    from .models import MODELS
    from .recipe_sources import built_from_family, check_sources
    from .tasks import TASKS

    losses = loss_names()
    if recipe.task not in TASKS:
        raise ConfigError(source, "task", f"unknown task {recipe.task!r}", suggest(recipe.task, TASKS.names()))
    checks = [("data.name", recipe.data.name, DATASETS.names()),
              ("distill.loss", recipe.distill.loss, losses)]
    checks += [(f"{role}.arch", cfg.arch, MODELS.names()) for role, cfg in built_from_family(recipe)]
    checks += [(f"distill.terms[{i}].loss", t.loss, losses) for i, t in enumerate(recipe.distill.terms)]
    checks += [(f"export.presets[{i}]", p, list_presets()) for i, p in enumerate(recipe.export.presets)
               if not p.endswith(".toml")]
    checks += [(f"bench.devices[{i}]", d, list_profiles()) for i, d in enumerate(recipe.bench.devices)
               if not d.endswith(".toml")]
    for key, value, known in checks:
        if value not in known:
            raise ConfigError(source, key, f"unknown name {value!r}", suggest(value, known))
    _check_plugins(recipe, source)
    _check_terms(recipe, source)
    check_sources(recipe, source)
    _check_augment(recipe, source)
    _check_task(recipe, source)


def _check_plugins(recipe: Recipe, source: str) -> None:
    """Every preset's format has an exporter and every device's runtime a runner (built-in or a plugin's);
    a user's preset or profile file (path relative to the recipe) is validated here, before any training."""
    from .bench.stage import check_runtime
    from .devices import load_profile
    from .export.presets import load_preset
    from .export.stage import check_format

    base = Path(source).parent
    for i, p in enumerate(recipe.export.presets):
        check_format(load_preset(p, base), f"{source}: export.presets[{i}]")
    for i, d in enumerate(recipe.bench.devices):
        path = str(base / d) if d.endswith(".toml") and not Path(d).is_absolute() else d
        check_runtime(load_profile(path), f"{source}: bench.devices[{i}]")


def _check_task(recipe: Recipe, source: str) -> None:
    """The task's own checks, plus the shipped run it trains."""
    from .tasks import get_task, runs_for

    task = get_task(recipe.task)
    task.check(recipe, source)
    runs = [r.name for r in runs_for(task, recipe)]
    if recipe.export.ship is not None and recipe.export.ship not in runs:
        raise ConfigError(source, "export.ship", f"task {recipe.task!r} trains no student {recipe.export.ship!r}",
                          suggest(recipe.export.ship, runs))


def _check_augment(recipe: Recipe, source: str) -> None:
    """Augmentation names exist, and a teacher-output cache is never combined with augmented inputs."""
    from .distill.augment import NAMES

    tables = {"teacher.train": recipe.teacher.train, "teacher.finetune": recipe.teacher.finetune,
              "student.train": recipe.student.train,
              "student.transfer_train": recipe.student.transfer_train}
    for key, train in tables.items():
        if train is None:  # a pretrained teacher (teacher.source != "train") has no training table
            continue
        for name in train.augment:
            if name not in NAMES:
                raise ConfigError(source, f"{key}.augment.{name}", "unknown augmentation", suggest(name, NAMES))
        if train.augment and not key.startswith("teacher.") and recipe.distill.teacher_outputs == "cache":
            raise ConfigError(source, "distill.teacher_outputs",
                              f"a cache holds the teacher's outputs for fixed inputs, but {key}.augment "
                              "changes the inputs every step", 'set teacher_outputs = "live" (or "auto"), '
                              f"or remove {key}.augment")


def _check_terms(recipe: Recipe, source: str) -> None:
    """The response loss compares outputs; hints and attention need two layers, output losses none."""
    from .distill.loss_table import NEEDS_LAYERS, traits

    if traits(recipe.distill.loss)[0] != "outputs":
        raise ConfigError(source, "distill.loss", f"{recipe.distill.loss!r} compares layers, not outputs",
                          "use hinton_kd, dkd or an embedding loss here and put it under [[distill.terms]]")
    for i, t in enumerate(recipe.distill.terms):
        if traits(t.loss)[1] and t.student_layer:
            raise ConfigError(source, f"distill.terms[{i}].student_layer", f"{t.loss!r} compares logits, not layers",
                              "remove student_layer and teacher_layer")
        if t.map is not None and t.loss not in ("hidden_mse", "attention_mse"):
            raise ConfigError(source, f"distill.terms[{i}].map", f"{t.loss!r} takes named layers, not a layer map",
                              'map pairs transformer layers for loss = "hidden_mse" or "attention_mse"')
        if t.loss in NEEDS_LAYERS and not t.student_layer and t.map is None:
            raise ConfigError(source, f"distill.terms[{i}]", f"{t.loss!r} needs student_layer and teacher_layer",
                              'name module paths, e.g. student_layer = "features.5"')
