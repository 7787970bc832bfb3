"""Export presets: `exporters/*.toml`, one file each, validated into frozen `Preset`s.

Users add their own preset by passing a path to a TOML file with the same schema.
This module imports no torch: `edgedistill presets` lists them instantly.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .. import config
from ..config import Frozen
from ..resources import data_dir

Fraction = Annotated[float, Field(ge=0, le=1)]


class Quantization(Frozen):
    mode: Literal["static"] = "static"
    format: Literal["qdq"] = "qdq"
    per_channel: bool = True
    calibration: Literal["minmax", "entropy", "percentile"] = "minmax"
    calibration_samples: Annotated[int, Field(gt=0)] = 512


class Parity(Frozen):
    """Tolerances of the exported file against the torch model on held-out data."""

    max_abs_diff: Annotated[float, Field(gt=0)] | None = None
    min_top1_agreement: Fraction = 0.99


class Preset(Frozen):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    description: str = ""
    format: Literal["onnx", "coreml"]
    precision: Literal["fp32", "fp16", "int8"]
    opset: Annotated[int, Field(ge=13)] | None = None  # ONNX only
    minimum_deployment_target: str | None = None  # Core ML only, e.g. "iOS16"
    quantization: Quantization | None = None
    parity: Parity = Parity()

    @model_validator(mode="after")
    def _consistent(self):
        if self.format == "onnx" and self.opset is None:
            raise ValueError("an onnx preset needs `opset`")
        if self.format == "onnx" and self.precision == "int8" and self.quantization is None:
            raise ValueError("an onnx int8 preset needs a [quantization] table")
        return self

    def artifact_name(self, role: str) -> str:
        """File name in the run folder: `student` + `onnx-int8-qdq` → `student-int8-qdq.onnx`."""
        stem = self.name.removeprefix(f"{self.format}-")
        return f"{role}-{stem}" + (".onnx" if self.format == "onnx" else ".mlpackage")


def list_presets() -> list[str]:
    """Names of the shipped presets."""
    return config.list_named(data_dir("exporters"))


def load_preset(name_or_path: str) -> Preset:
    """A shipped preset by name, or a user's preset file by path."""
    return config.load_named(Preset, data_dir("exporters"), name_or_path, "export preset")
