"""Device profiles: `devices/*.toml` → frozen DeviceProfile. Listed by `edgedistill devices`."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from . import config
from .config import Frozen
from .errors import ConfigError
from .resources import data_dir

PosInt = Annotated[int, Field(gt=0)]


class Latency(Frozen):
    batch: PosInt = 1
    warmup: Annotated[int, Field(ge=0)] = 10  # discarded
    runs: PosInt = 200  # at least this many timed runs …
    min_seconds: Annotated[float, Field(ge=0)] = 0.5  # … and at least this long


class Throughput(Frozen):
    batch: PosInt = 64
    runs: PosInt = 20


class DeviceProfile(Frozen):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    description: str
    runtime: Literal["onnxruntime"]
    how: Literal["measured", "browser", "estimated"]
    threads: Annotated[int, Field(ge=0)] = 0  # 0: onnxruntime's default (one per physical core)
    latency: Latency = Latency()
    throughput: Throughput = Throughput()


def list_profiles() -> list[str]:
    """Names of the shipped device profiles."""
    return sorted(p.stem for p in data_dir("devices").glob("*.toml"))


def load_profile(name_or_path: str) -> DeviceProfile:
    """A shipped profile by name, or a user's profile file by path."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = data_dir("devices") / f"{name_or_path}.toml"
        if not path.exists():
            close = difflib.get_close_matches(name_or_path, list_profiles(), n=1)
            fix = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(list_profiles())}"
            raise ConfigError(str(name_or_path), "", "unknown device profile", fix)
    profile = config.load(DeviceProfile, path)
    if profile.name != path.stem:
        raise ConfigError(str(path), "name", f"{profile.name!r} differs from the file name", f"rename to {path.stem!r}")
    return profile
