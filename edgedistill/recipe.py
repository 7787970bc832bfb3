"""The recipe: one TOML file that says what to distil, how, and what to ship.

Validated into a frozen `Recipe`; names of datasets, architectures, presets and devices are
checked against their registries here, so a typo fails before any training starts.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from . import config
from .config import Frozen
from .errors import ConfigError
from .registry import suggest
from .resources import recipes_dir

DEFAULT_RECIPE = "mnist1d"

PosInt = Annotated[int, Field(gt=0)]
PosFloat = Annotated[float, Field(gt=0)]


class DataConfig(Frozen):
    name: str = "mnist1d"
    samples: PosInt = 5000  # labelled examples generated; mnist1d keeps 80% for train, 20% for test
    seed: int = 42  # mnist1d's own default seed
    transfer_samples: Annotated[int, Field(ge=0)] = 40000  # unlabelled set; 80% of it is kept
    transfer_seed: int = 1  # must differ from `seed`, or the transfer set repeats the train set

    @model_validator(mode="after")
    def _distinct_seeds(self):
        if self.transfer_samples and self.transfer_seed == self.seed:
            raise ValueError("transfer_seed must differ from seed (the transfer set would copy the train set)")
        return self


class TrainConfig(Frozen):
    epochs: PosInt
    lr: PosFloat
    batch_size: PosInt = 64
    weight_decay: Annotated[float, Field(ge=0)] = 1e-4


class ModelConfig(Frozen):
    arch: str = "cnn1d"
    channels: tuple[PosInt, ...]
    kernel: PosInt = 3


class TeacherConfig(ModelConfig):
    train: TrainConfig


class StudentConfig(ModelConfig):
    train: TrainConfig  # the two labelled-only runs (scratch, distilled)
    transfer_train: TrainConfig  # the labelled + transfer run


class DistillConfig(Frozen):
    temperature: PosFloat = 4.0
    alpha: Annotated[float, Field(ge=0, le=1)] = 0.9


class ExportConfig(Frozen):
    # shipped preset names, or preset TOML files (paths relative to the recipe file)
    presets: tuple[str, ...] = ("onnx-fp32", "onnx-int8-qdq", "coreml-fp16")
    auto_exclude: bool = False  # keep the layers that break an int8 file's tolerance in float
    author: str = "edgedistill"  # written into Core ML packages' metadata
    license: str = "unspecified"
    version: str = ""  # "" → edgedistill's version


class BenchConfig(Frozen):
    devices: tuple[str, ...] = ("host-cpu",)


class GateConfig(Frozen):
    budgets: str | None = None  # path relative to the recipe file


class Recipe(Frozen):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    seed: int = 0
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
    data = config.read_toml(path)
    if overrides:
        data = _merge(data, overrides)
    recipe = config.validate(Recipe, data, str(path))
    _check_names(recipe, str(path))
    return _resolve_preset_files(recipe, path), path


def _resolve_preset_files(recipe: Recipe, path: Path) -> Recipe:
    """Preset files named relative to the recipe become absolute, so later stages find them."""
    presets = tuple(str((path.parent / p).resolve()) if p.endswith(".toml") else p for p in recipe.export.presets)
    return recipe.model_copy(update={"export": recipe.export.model_copy(update={"presets": presets})})


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
    from .export.presets import list_presets, load_preset
    from .models import MODELS

    checks = [("data.name", recipe.data.name, DATASETS.names()),
              ("teacher.arch", recipe.teacher.arch, MODELS.names()),
              ("student.arch", recipe.student.arch, MODELS.names())]
    checks += [(f"export.presets[{i}]", p, list_presets()) for i, p in enumerate(recipe.export.presets)
               if not p.endswith(".toml")]
    for p in recipe.export.presets:  # a user's preset file: validated here, before any training
        if p.endswith(".toml"):
            load_preset(p, Path(source).parent)
    checks += [(f"bench.devices[{i}]", d, list_profiles()) for i, d in enumerate(recipe.bench.devices)]
    for key, value, known in checks:
        if value not in known:
            raise ConfigError(source, key, f"unknown name {value!r}", suggest(value, known))
