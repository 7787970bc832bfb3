"""Device profiles: `devices/*.toml` → frozen DeviceProfile. Listed by `edgedistill devices`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from . import config
from .config import Frozen
from .resources import data_dir

Source = Annotated[str, Field(min_length=10)]  # a citation: vendor page, datasheet, paper, or a derivation


# Every number has a finite range: a profile from someone else's branch with `min_seconds = inf`
# or `runs = 10**18` is a config error (exit 2) naming the key, never a bench that never ends.
def Int(ge: int, le: int):  # noqa: N802 (a type factory)
    """An int in [ge, le]."""
    return Annotated[int, Field(ge=ge, le=le)]


def Real(le: float, ge: float | None = None, gt: float | None = None):  # noqa: N802
    """A finite float in its range (inf and nan refused)."""
    return Annotated[float, Field(ge=ge, gt=gt, le=le, allow_inf_nan=False)]


MAX_BATCH = 65_536


class Latency(Frozen):
    batch: Int(1, MAX_BATCH) = 1
    warmup: Int(0, 100_000) = 10  # discarded
    runs: Int(1, 10_000_000) = 200  # at least this many timed runs …
    min_seconds: Real(3600, ge=0) = 2.0  # … and at least this long


class Throughput(Frozen):
    batch: Int(1, MAX_BATCH) = 64
    runs: Int(1, 1_000_000) = 20


class BrowserSettings(Frozen):
    """[browser] table of an onnxruntime-web profile (see edgedistill/bench/browser.py)."""

    isolated: bool = False  # serve COOP same-origin + COEP require-corp: wasm threads, 5 µs timers
    cpu_throttle: Real(100, ge=1) = 1.0  # DevTools Emulation.setCPUThrottlingRate (4 = Lighthouse mobile)


# --- native constraints and published peaks (owned by the native runner; the browser sub-table is separate) ---
class Constraints(Frozen):
    """How the child process is constrained to look like a phone core cluster."""

    cpus: Int(1, 4096) | None = None  # pin the child to this many CPUs (the first N it may use), os.sched_setaffinity
    memory_limit_mib: Int(1, 2**24) | None = None  # RLIMIT_DATA of the child, set before onnxruntime loads
    # wall clock of one child (native) or page (browser), session creation included; past it the
    # child's process group is killed and the pair gets status `failed` with this limit as the reason
    time_limit_s: Real(86_400, gt=0) = 600.0


class Peak(Frozen):
    """Published peak compute and memory bandwidth of the cores a profile stands for, each with its source."""

    gflops: Real(1e7, gt=0)  # fp32 FLOP/s × 1e-9 over the cores the profile uses
    gflops_source: Source
    bandwidth_gbs: Real(1e6, gt=0)  # DRAM bytes/s × 1e-9
    bandwidth_source: Source


class DeviceProfile(Frozen):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    description: str
    # onnxruntime, onnxruntime-web, coreml, or a runner a plugin registers (entry point `edgedistill.runners`);
    # checked against the runners' registry before any work (bench/stage.py check_runtime)
    runtime: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
    how: Literal["measured", "browser", "estimated"]
    threads: Int(0, 4096) = 0  # 0: onnxruntime's default (one per physical core)
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
