"""TOML → validated, frozen config objects, with errors that name the file, key path and fix.

Every config in edgedistill (recipes, budgets, export presets, device profiles) is data:
parsed with tomllib (which cannot run code) and validated by a pydantic model that forbids
unknown keys, so a typo is an error naming the key, not a silently ignored setting.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ConfigError, InputFileError
from .registry import suggest


class Frozen(BaseModel):
    """Base for config models: immutable, unknown keys rejected, types strict (`epochs = "2"` is an error,
    not 2; an integer may stand for a float). TOML arrays become the tuples the fields declare."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _arrays_to_tuples(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {k: tuple(v) if isinstance(v, list) and _is_tuple(cls.model_fields.get(k)) else v
                for k, v in data.items()}


def _is_tuple(field) -> bool:
    """Whether a field is declared as a tuple (or an optional tuple)."""
    ann = getattr(field, "annotation", None)
    return any(get_origin(a) is tuple or a is tuple for a in (ann, *get_args(ann)))


# 0 ≤ seed < 2³²: numpy's legacy seeding (mnist1d's generator) takes no more, and every RNG takes that
Seed = Annotated[int, Field(ge=0, lt=2**32)]
MAX_DEPTH = 32  # tables and arrays nested deeper than this are not a config (and would exhaust the stack)


M = TypeVar("M", bound=Frozen)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a missing file is exit 3, a syntax error exit 2 with the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError(str(path), "file not found", "check the path") from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise InputFileError(str(path), f"not a readable TOML file ({exc.__class__.__name__})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "", f"invalid TOML: {exc}", "fix the syntax at that line") from None
    except RecursionError:  # arrays or inline tables nested thousands deep
        data = None
    if data is None or _depth(data) > MAX_DEPTH:
        raise ConfigError(str(path), "", f"tables or arrays nested more than {MAX_DEPTH} deep",
                          "a config is a few levels of tables: flatten it")
    return data


def _depth(data) -> int:
    """How deeply tables and arrays nest (iterative: a hostile file cannot exhaust the stack here)."""
    deepest, todo = 0, [(data, 1)]
    while todo and deepest <= MAX_DEPTH:
        obj, d = todo.pop()
        deepest = max(deepest, d)
        children = obj.values() if isinstance(obj, dict) else obj
        todo += [(c, d + 1) for c in children if isinstance(c, dict | list)]
    return deepest


def validate(model: type[M], data: dict[str, Any], source: str) -> M:
    """Validate `data` into `model`; the first error becomes one ConfigError line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise config_error(model, exc, source) from None


def load(model: type[M], path: Path) -> M:
    """read_toml + validate."""
    return validate(model, read_toml(path), str(path))


def list_named(folder: Path) -> list[str]:
    """Names (file stems) of the TOML files in a shipped data folder."""
    return sorted(p.stem for p in Path(folder).glob("*.toml"))


def load_named(model: type[M], folder: Path, name_or_path: str, what: str) -> M:
    """A shipped file by name (`folder/NAME.toml`) or a user's file by path; its `name` must match."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = Path(folder) / f"{name_or_path}.toml"
        if not path.exists():
            raise ConfigError(str(name_or_path), "", f"unknown {what}", suggest(name_or_path, list_named(folder)))
    obj = load(model, path)
    if obj.name != path.stem:
        raise ConfigError(str(path), "name", f"{obj.name!r} differs from the file name", f"rename to {path.stem!r}")
    return obj


def config_error(model: type[BaseModel], exc: ValidationError, source: str) -> ConfigError:
    """Turn pydantic's first error into file + dotted key path + problem + fix."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        known = _known_keys(model, err["loc"][:-1])
        return ConfigError(source, loc, "unknown key", suggest(err["loc"][-1], known))
    if err["type"] == "missing":
        return ConfigError(source, loc, "required key is missing", _misspelt(exc, err["loc"]) or "add it")
    value = err.get("input")
    shown = f" (got {value!r})" if not isinstance(value, dict | list) else ""
    return ConfigError(source, loc, err["msg"] + shown, "see the documented schema in the README")


def _misspelt(exc: ValidationError, loc: tuple) -> str:
    """"did you mean 'metric' (you wrote 'metirc')?" when an unknown key beside the missing one is close to it."""
    import difflib

    extras = [e["loc"][-1] for e in exc.errors() if e["type"] == "extra_forbidden" and e["loc"][:-1] == loc[:-1]]
    close = difflib.get_close_matches(str(loc[-1]), [str(x) for x in extras], n=1)
    return f"did you mean {loc[-1]!r} (you wrote {close[0]!r})?" if close else ""


def _known_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the (nested) model at `loc`, for "did you mean" suggestions."""
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        ann = getattr(field, "annotation", None)
        args = getattr(ann, "__args__", ()) or (ann,)
        nested = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if not nested:
            return []
        model = nested[0]
    return sorted(model.model_fields)
