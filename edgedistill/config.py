"""TOML → validated, frozen config objects, with errors that name the file, key path and fix.

Every config in edgedistill (recipes, budgets, export presets, device profiles) is data:
parsed with tomllib (which cannot run code) and validated by a pydantic model that forbids
unknown keys, so a typo is an error naming the key, not a silently ignored setting.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ConfigError, InputFileError
from .registry import suggest


class Frozen(BaseModel):
    """Base for config models: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


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
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "", f"invalid TOML: {exc}", "fix the syntax at that line") from None


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


def load_named(model: type[M], folder: Path, name_or_path: str, kind: str) -> M:
    """A shipped file by name (`folder/NAME.toml`) or a user's file by path; its `name` must match."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = Path(folder) / f"{name_or_path}.toml"
        if not path.exists():
            raise ConfigError(str(name_or_path), "", f"unknown {kind}", suggest(name_or_path, list_named(folder)))
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
