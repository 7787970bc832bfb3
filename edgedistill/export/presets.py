"""Export presets: `exporters/*.toml`, one file each, validated into frozen `Preset`s.

A preset says everything about one shipped file: format (onnx, ort, coreml), opset or Core ML
deployment target, precision, how it is quantized (scheme, calibration, per-channel, nodes kept
in float), and the per-precision parity tolerances it must meet against the
torch student. Users add their own preset by passing a path to a TOML file with the same schema.
This module imports no torch: `edgedistill presets` lists them instantly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from .. import config
from ..config import Frozen
from ..resources import data_dir

# Every number has a finite range (inf / nan refused): a preset is data from anyone's branch.
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
SUFFIX = {"onnx": ".onnx", "ort": ".ort", "coreml": ".mlpackage"}


class Quantization(Frozen):
    """How a float file becomes a smaller one.

    static: int8 QDQ with calibrated activations; dynamic: int8 weights, activations quantized
    at run time; linear: Core ML int8 weights; palettize: Core ML n-bit look-up-table weights.
    """

    mode: Literal["static", "dynamic", "linear", "palettize"] = "static"
    format: Literal["qdq"] = "qdq"
    per_channel: bool = True  # per-tensor lost ~3 pp of cosine on MiniLM here; per-channel is free
    calibration: Literal["minmax", "entropy", "percentile"] = "minmax"
    calibration_samples: Annotated[int, Field(gt=0, le=10_000_000)] = 512
    # "auto": S8S8 with full 8-bit weights where int8 dot products exist (VNNI, ARM), else 7-bit
    # weights (reduce_range) so u8×s8 GEMM cannot saturate. "s8s8"/"u8s8" force the choice.
    saturation: Literal["auto", "s8s8", "u8s8", "reduce_range"] = "auto"
    nodes_to_exclude: tuple[str, ...] = ()  # ONNX node names kept in float
    # dynamic: the op types whose weights become int8; Gather = token-embedding tables (a transformer's bulk)
    op_types: tuple[Literal["MatMul", "Gemm", "Gather"], ...] = ("MatMul", "Gemm")
    nbits: Annotated[int, Field(ge=1, le=8)] = 8  # palettize: bits per weight (2**nbits centroids)
    palettize_mode: Literal["kmeans", "uniform"] = "kmeans"
    weight_threshold: Annotated[int, Field(ge=0, le=2**40)] = 0  # Core ML: skip weights with fewer elements


class Parity(Frozen):
    """Tolerances of the exported file against the torch model on held-out data."""

    max_abs_diff: Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False)] | None = None
    min_cosine: Annotated[float, Field(ge=-1, le=1, allow_inf_nan=False)] | None = None
    min_top1_agreement: Fraction = 0.99
    max_accuracy_drop: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] | None = None  # pp vs the student


class Preset(Frozen):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    description: str = ""
    # onnx, ort, coreml, or a format an exporter plugin registers (entry point `edgedistill.exporters`);
    # checked against the exporters' registry before any work (export/stage.py check_format)
    format: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    suffix: Annotated[str, Field(pattern=r"^\.[A-Za-z0-9._-]+$")] | None = None  # a plugin format's file suffix
    precision: Literal["fp32", "fp16", "int8", "int4"]
    opset: Annotated[int, Field(ge=13, le=30)] | None = None  # ONNX / ORT only
    minimum_deployment_target: str | None = None  # Core ML only, e.g. "iOS16"
    keep_io_types: bool = True  # fp16 files keep float32 inputs/outputs
    # offline onnxruntime graph optimisation ("basic" is hardware-independent): kept only when
    # it measurably shortens session creation, and the receipt says which was kept
    optimization: Literal["none", "basic"] = "none"
    # onnxruntime.transformers fusion (Attention, SkipLayerNorm, BiasGelu; com.microsoft ops) of a transformer,
    # kept only when the fused file passes parity (export/fusion.py); None: on for onnx fp32, off otherwise
    fuse: bool | None = None
    quantization: Quantization | None = None
    parity: Parity = Parity()

    @model_validator(mode="after")
    def _consistent(self):
        if self.format in ("onnx", "ort") and self.opset is None:
            raise ValueError(f"an {self.format} preset needs `opset`")
        if self.precision in ("int8", "int4") and self.quantization is None:
            raise ValueError(f"an {self.precision} preset needs a [quantization] table")
        if self.quantization and self.format != "coreml" and self.quantization.mode in ("linear", "palettize"):
            raise ValueError(f"quantization.mode {self.quantization.mode!r} is Core ML only; use static or dynamic")
        if self.quantization and self.format == "coreml" and self.quantization.mode in ("static", "dynamic"):
            raise ValueError("a coreml preset quantizes weights: quantization.mode must be linear or palettize")
        if self.fuse and (self.format != "onnx" or self.precision != "fp32"):
            raise ValueError("fuse = true applies to onnx fp32 presets only (derived files use the unfused graph)")
        return self

    @property
    def fused(self) -> bool:
        """True when a transformer's file gets onnxruntime.transformers fusion (on by default for onnx fp32)."""
        return self.fuse if self.fuse is not None else (self.format == "onnx" and self.precision == "fp32")

    @property
    def derived(self) -> bool:
        """True when the file is made from another exported file (quantize stage), not from torch."""
        return self.quantization is not None or (self.format == "onnx" and self.precision != "fp32")

    def artifact_name(self, role: str) -> str:
        """File name in the run folder: `student` + `onnx-int8-qdq` → `student-int8-qdq.onnx`."""
        stem = self.name.removeprefix(f"{self.format}-")
        return f"{role}-{stem}{self.suffix or SUFFIX.get(self.format, '.' + self.format)}"


def list_presets() -> list[str]:
    """Names of the shipped presets."""
    return config.list_named(data_dir("exporters"))


def load_preset(name_or_path: str, base: Path | None = None) -> Preset:
    """A shipped preset by name, or a user's preset file by path (relative to `base` when given)."""
    if base is not None and name_or_path.endswith(".toml") and not Path(name_or_path).is_absolute():
        name_or_path = str(Path(base) / name_or_path)
    return config.load_named(Preset, data_dir("exporters"), name_or_path, "export preset")
