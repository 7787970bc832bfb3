"""Device profiles: `devices/*.toml` → frozen DeviceProfile. Listed by `edgedistill devices`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from . import config
from .config import Frozen
from .resources import data_dir

PosInt = Annotated[int, Field(gt=0)]
Source = Annotated[str, Field(min_length=10)]  # a citation: vendor page, datasheet, paper, or a derivation


class Latency(Frozen):
    batch: PosInt = 1
    warmup: Annotated[int, Field(ge=0)] = 10  # discarded
    runs: PosInt = 200  # at least this many timed runs …
    min_seconds: Annotated[float, Field(ge=0)] = 2.0  # … and at least this long


class Throughput(Frozen):
    batch: PosInt = 64
    runs: PosInt = 20


class BrowserSettings(Frozen):
    """[browser] table of an onnxruntime-web profile (see edgedistill/bench/browser.py)."""

    isolated: bool = False  # serve COOP same-origin + COEP require-corp: wasm threads, 5 µs timers
    cpu_throttle: Annotated[float, Field(ge=1)] = 1.0  # DevTools Emulation.setCPUThrottlingRate (4 = Lighthouse mobile)


# --- native constraints and published peaks (owned by the native runner; the browser sub-table is separate) ---
class Constraints(Frozen):
    """How the child process is constrained to look like a phone core cluster."""

    cpus: PosInt | None = None  # pin the child to this many CPUs (the first N it may use), os.sched_setaffinity
    memory_limit_mib: PosInt | None = None  # RLIMIT_DATA of the child, set before onnxruntime loads


class Peak(Frozen):
    """Published peak compute and memory bandwidth of the cores a profile stands for, each with its source."""

    gflops: Annotated[float, Field(gt=0)]  # fp32 FLOP/s × 1e-9 over the cores the profile uses
    gflops_source: Source
    bandwidth_gbs: Annotated[float, Field(gt=0)]  # DRAM bytes/s × 1e-9
    bandwidth_source: Source


class DeviceProfile(Frozen):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    description: str
    runtime: Literal["onnxruntime", "onnxruntime-web", "coreml"]
    how: Literal["measured", "browser", "estimated"]
    threads: Annotated[int, Field(ge=0)] = 0  # 0: onnxruntime's default (one per physical core)
    latency: Latency = Latency()
    throughput: Throughput = Throughput()
    browser: BrowserSettings | None = None  # onnxruntime-web only; None: BrowserSettings() defaults
    constraints: Constraints = Constraints()
    peak: Peak | None = None  # when set, an `estimated_ms` roofline figure is added beside the measured ones


def list_profiles() -> list[str]:
    """Names of the shipped device profiles."""
    return config.list_named(data_dir("devices"))


def load_profile(name_or_path: str) -> DeviceProfile:
    """A shipped profile by name, or a user's profile file by path."""
    return config.load_named(DeviceProfile, data_dir("devices"), name_or_path, "device profile")
