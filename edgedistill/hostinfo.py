"""What machine produced a number: CPU model and the flags that change int8 kernels, versions."""

from __future__ import annotations

import os
import platform
from functools import lru_cache

# Flags that decide which int8/fp16 kernels onnxruntime can use on x86.
INTERESTING_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16", "f16c", "fma")


@lru_cache(maxsize=1)
def cpu() -> dict:
    """{"model", "flags", "logical_cores", "machine"} read from /proc/cpuinfo (Linux) or platform."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model in ("", platform.machine(), platform.processor()):
                    model = value.strip()
                elif key.strip() in ("flags", "Features"):
                    flags.update(value.split())
    except OSError:
        pass
    return {"model": model, "machine": platform.machine(), "logical_cores": os.cpu_count(),
            "flags": sorted(f for f in INTERESTING_FLAGS if f in flags)}


def has_int8_dot_product() -> bool:
    """True where u8×s8 int8 GEMM cannot saturate: x86 with VNNI, or any non-x86 CPU."""
    info = cpu()
    if info["machine"] not in ("x86_64", "AMD64", "i686"):
        return True
    return any(f in info["flags"] for f in ("avx512_vnni", "avx_vnni"))


def versions(*packages: str) -> dict:
    """Installed versions of `packages` (None when missing), read without importing them."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for p in packages:
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = None
    return out
