"""Device profiles: `devices/*.toml` → frozen DeviceProfile. Listed by `edgedistill devices`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from . import config
from .config import Frozen
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


class BrowserSettings(Frozen):
    """[browser] table of an onnxruntime-web profile (see edgedistill/bench/browser.py)."""

    isolated: bool = False  # serve COOP same-origin + COEP require-corp: wasm threads, 5 µs timers
    cpu_throttle: Annotated[float, Field(ge=1)] = 1.0  # DevTools Emulation.setCPUThrottlingRate (4 = Lighthouse mobile)


class DeviceProfile(Frozen):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    description: str
    runtime: Literal["onnxruntime", "onnxruntime-web"]
    how: Literal["measured", "browser", "estimated"]
    threads: Annotated[int, Field(ge=0)] = 0  # 0: onnxruntime's default (one per physical core)
    latency: Latency = Latency()
    throughput: Throughput = Throughput()
    browser: BrowserSettings | None = None  # onnxruntime-web only; None: BrowserSettings() defaults


def list_profiles() -> list[str]:
    """Names of the shipped device profiles."""
    return config.list_named(data_dir("devices"))


def load_profile(name_or_path: str) -> DeviceProfile:
    """A shipped profile by name, or a user's profile file by path."""
    return config.load_named(DeviceProfile, data_dir("devices"), name_or_path, "device profile")
