"""The char-LM recipe (`kind = "charlm"`): validated, frozen, torch-free.

Selected by recipe.load_any_recipe when the TOML has a top-level `kind`; unknown keys and bad
values fail with the file, the key path and the fix, exactly like the classifier recipe.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .. import config
from ..config import Frozen, Seed
from ..errors import ConfigError
from ..recipe import Recipe
from ..registry import suggest

KINDS = ("charlm",)

PosInt = Annotated[int, Field(gt=0)]
PosFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]


class LMDataConfig(Frozen):
    corpus: Literal["pydoc_topics"] = "pydoc_topics"  # Python's own help texts, shipped with the stdlib
    block_chars: PosInt = 4096  # the corpus is cut into contiguous blocks of this many characters …
    val_every: Annotated[int, Field(ge=2)] = 10  # … and every val_every-th block is held out for validation
    context: Annotated[int, Field(ge=2)] = 64  # characters a model sees; the ONNX input's fixed length
    max_train_chars: PosInt | None = None  # keep only the first N training characters (quick runs, tests)


class LMTrainConfig(Frozen):
    epochs: PosInt
    lr: PosFloat = 3e-3
    batch_size: PosInt = 32
    weight_decay: Annotated[float, Field(ge=0)] = 0.01


class LMModelConfig(Frozen):
    arch: Literal["gpt"] = "gpt"  # decoder-only transformer, nanoGPT-style
    d_model: PosInt
    layers: PosInt
    heads: PosInt = 4
    train: LMTrainConfig

    @model_validator(mode="after")
    def _heads_divide_width(self):
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of heads ({self.heads})")
        return self


class LMDistillConfig(Frozen):
    # word-level: hinton_kd on the teacher's per-character distributions over the real training text
    temperature: PosFloat = 1.0
    alpha: Fraction = 1.0  # 1: pure distillation; below 1 mixes in cross-entropy on the real next char
    # sequence-level: cross-entropy on text the teacher writes, from prompts cut out of the training text
    sequences: PosInt = 6562  # samples of `context` + 1 characters each (prompt included)
    prompt_chars: PosInt = 16  # real characters that start each sample; they are never targets
    sample_temperature: PosFloat = 1.0


class LMExportConfig(Frozen):
    onnx: bool = True  # the shipped student as a single-file ONNX model with a fixed (1, context) input
    student: Literal["scratch", "word", "sequence"] = "word"  # which student ships
    opset: Annotated[int, Field(ge=17)] = 18


class LMBenchConfig(Frozen):
    devices: tuple[str, ...] = ("host-cpu",)  # onnxruntime profiles; needs export.onnx


class LMRecipe(Frozen):
    kind: Literal["charlm"]
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    extends: str | None = None
    seed: Seed = 0  # 0 ≤ seed < 2³² (config.Seed)
    data: LMDataConfig = LMDataConfig()
    teacher: LMModelConfig
    student: LMModelConfig
    distill: LMDistillConfig = LMDistillConfig()
    export: LMExportConfig = LMExportConfig()
    bench: LMBenchConfig = LMBenchConfig()

    @model_validator(mode="after")
    def _prompt_fits(self):
        if self.distill.prompt_chars >= self.data.context:
            raise ValueError(f"distill.prompt_chars ({self.distill.prompt_chars}) must be below data.context "
                             f"({self.data.context}): the teacher must write at least one character")
        return self

    section_hash = Recipe.section_hash  # content hash of the named sections (or the whole recipe)


def validate_kind(data: dict, source: str) -> LMRecipe:
    """A recipe dict with a top-level `kind` → its validated recipe; an unknown kind names the known ones."""
    kind = data.get("kind")
    if kind not in KINDS:
        raise ConfigError(source, "kind", f"unknown recipe kind {kind!r}", suggest(str(kind), KINDS))
    recipe = config.validate(LMRecipe, data, source)
    if recipe.bench.devices and not recipe.export.onnx:
        raise ConfigError(source, "bench.devices", "benchmarks need the ONNX file",
                          "set export.onnx = true, or bench.devices = []")
    _check_devices(recipe, source)
    return recipe


def _check_devices(recipe: LMRecipe, source: str) -> None:
    from ..devices import list_profiles, load_profile

    known = list_profiles()
    for i, d in enumerate(recipe.bench.devices):
        if d not in known:
            raise ConfigError(source, f"bench.devices[{i}]", f"unknown name {d!r}", suggest(d, known))
        if load_profile(d).runtime != "onnxruntime":
            raise ConfigError(source, f"bench.devices[{i}]", f"{d!r} is not an onnxruntime profile",
                              "the char-LM student is benched with native onnxruntime only, e.g. host-cpu")

