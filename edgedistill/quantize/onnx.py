"""ONNX quantizers through onnxruntime (the maintained successor of the abandoned
`onnxruntime-tools` package): static int8 QDQ, dynamic int8, and float16.

Calibration reads real training rows through a CalibrationDataReader. On x86 CPUs without
VNNI, u8×s8 int8 GEMM can saturate; there we quantize weights to 7 bits (`reduce_range`) and
say so in the receipt. S8S8 QDQ is onnxruntime's recommended first choice on CPU.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from ..errors import StageError
from ..hostinfo import cpu
from ..progress import silenced

X86 = ("x86_64", "AMD64", "i686", "i386")
VNNI = ("avx512_vnni", "avx_vnni", "amx_int8")


@dataclass(frozen=True)
class Saturation:
    """The int8 types and weight range chosen for a CPU, and why (stated in the receipt)."""

    activation: str  # "int8" | "uint8"
    weight: str  # "int8"
    reduce_range: bool  # 7-bit weights
    reason: str

    def to_json(self) -> dict:
        return {"activation_type": self.activation, "weight_type": self.weight,
                "reduce_range": self.reduce_range, "reason": self.reason}


def choose_saturation(setting: str, flags, machine: str) -> Saturation:
    """Pick S8S8 / U8S8 / reduce_range for a CPU described by its flags and machine name.

    x86 without VNNI multiplies u8×s8 with `vpmaddubsw`, whose int16 accumulator saturates when
    two 8-bit products add past 32,767; 7-bit weights make that impossible. VNNI (and ARM's
    sdot/udot) accumulate in int32 and need nothing.
    """
    dot = machine not in X86 or any(f in flags for f in VNNI)
    if setting == "s8s8":
        return Saturation("int8", "int8", False, "preset forces S8S8 with full 8-bit weights")
    if setting == "u8s8":
        return Saturation("uint8", "int8", False, "preset forces U8S8 with full 8-bit weights")
    if setting == "reduce_range":
        return Saturation("int8", "int8", True, "preset forces 7-bit weights (reduce_range)")
    if dot:
        why = "VNNI" if machine in X86 else f"{machine} int8 dot product"
        return Saturation("int8", "int8", False, f"S8S8, full 8-bit weights: the CPU has {why}")
    return Saturation("int8", "int8", True, "S8S8 with 7-bit weights (reduce_range): x86 without VNNI "
                                            "saturates u8×s8 int16 accumulation")


def host_saturation(setting: str) -> Saturation:
    """choose_saturation for this machine."""
    info = cpu()
    return choose_saturation(setting, info["flags"], info["machine"])


def _reader(feeds: dict, batch: int = 32):
    """A CalibrationDataReader feeding every graph input: `feeds` {graph input name: (N, ...)} in
    batches of `batch` rows."""
    from onnxruntime.quantization import CalibrationDataReader

    n = len(next(iter(feeds.values())))

    class ArrayReader(CalibrationDataReader):
        """Feeds each batch of rows of every input to the calibrator."""

        def __init__(self):
            self._batches = iter([{k: np.asarray(v[i:i + batch]) for k, v in feeds.items()}
                                  for i in range(0, n, batch)])

        def get_next(self):
            return next(self._batches, None)

    return ArrayReader()


def calibration_feeds(src: Path, calibration, samples: int) -> dict:
    """The first `samples` rows of the calibration inputs, keyed by the graph's input names."""
    from ..export.parity import feed_names

    calibration = calibration if isinstance(calibration, dict) else {"input": calibration}
    graph = onnx.load(str(src), load_external_data=False).graph
    inits = {i.name for i in graph.initializer}
    names = feed_names([i.name for i in graph.input if i.name not in inits], calibration)
    return {g: calibration[k][:samples] for g, k in names.items()}


def preprocess(src: Path, dst: Path) -> Path:
    """Shape inference + ORT's pre-quantization fusions; node names in `dst` are what
    `nodes_to_exclude` and the sensitivity pass refer to."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with silenced():
        quant_pre_process(str(src), str(dst), skip_symbolic_shape=True)
    return Path(dst)


def quantize_static_qdq(src: Path, dst: Path, calibration, q, exclude=()) -> dict:
    """Quantize `src` to `dst` (int8 QDQ) with `q` (a preset's Quantization), calibrated on rows of
    `calibration` ({input name: (N, ...)} or one array); return the receipt meta.
    `exclude` adds node names (of the pre-processed graph) to the preset's nodes_to_exclude."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    method = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
              "percentile": CalibrationMethod.Percentile}[q.calibration]
    feeds = calibration_feeds(src, calibration, q.calibration_samples)
    sat = host_saturation(q.saturation)
    qtype = {"int8": QuantType.QInt8, "uint8": QuantType.QUInt8}
    excluded = sorted({*q.nodes_to_exclude, *exclude})
    with tempfile.TemporaryDirectory() as tmp:
        pre = preprocess(src, Path(tmp) / "pre.onnx")
        try:
            with silenced():
                quantize_static(str(pre), str(dst), _reader(feeds), quant_format=QuantFormat.QDQ,
                                per_channel=q.per_channel, reduce_range=sat.reduce_range,
                                activation_type=qtype[sat.activation], weight_type=qtype[sat.weight],
                                calibrate_method=method, nodes_to_exclude=excluded)
        except Exception as exc:
            raise StageError(f"static quantization of {Path(src).name} failed: {exc}") from exc
    onnx.checker.check_model(str(dst), full_check=True)
    return {"scheme": f"static QDQ {'S8S8' if sat.activation == 'int8' else 'U8S8'}", "per_channel": q.per_channel,
            "calibration": q.calibration, "calibration_samples": int(len(next(iter(feeds.values())))),
            "nodes_to_exclude": excluded,
            "reduce_range": sat.reduce_range, "reduce_range_reason": sat.reason, "saturation": sat.to_json(),
            "cpu_flags": cpu()["flags"]}


def quantize_dynamic_int8(src: Path, dst: Path, q) -> dict:
    """Weights to int8 ahead of time, activations quantized per batch at run time (no calibration).

    onnxruntime's CPU ConvInteger takes only uint8 weights, so dynamic quantization covers
    MatMul/Gemm (where transformer and classifier weights live) and, when the preset lists Gather,
    embedding tables (a Gather from an initializer: 30522 × 128 of a MiniLM student's 4.7M weights),
    and leaves Conv in float."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    sat = host_saturation(q.saturation)
    with tempfile.TemporaryDirectory() as tmp:
        pre = preprocess(src, Path(tmp) / "pre.onnx")
        try:
            with silenced():
                quantize_dynamic(str(pre), str(dst), per_channel=q.per_channel, reduce_range=sat.reduce_range,
                                 weight_type=QuantType.QInt8, op_types_to_quantize=list(q.op_types),
                                 nodes_to_exclude=list(q.nodes_to_exclude))
        except Exception as exc:
            raise StageError(f"dynamic quantization of {Path(src).name} failed: {exc}") from exc
    onnx.checker.check_model(str(dst), full_check=True)
    return {"scheme": f"dynamic int8 ({'/'.join(q.op_types)} weights; activations at run time)",
            "per_channel": q.per_channel,
            "reduce_range": sat.reduce_range, "reduce_range_reason": sat.reason, "saturation": sat.to_json(),
            "cpu_flags": cpu()["flags"]}


def convert_fp16(src: Path, dst: Path, keep_io_types: bool) -> dict:
    """float32 → float16 weights and compute with onnxruntime's converter; inputs/outputs stay
    float32 (a Cast at each edge) unless the preset says otherwise."""
    from onnxruntime.transformers.float16 import convert_float_to_float16
    from onnxruntime.transformers.onnx_model import OnnxModel

    from ..artifacts import atomic_write_bytes

    with silenced():
        m = OnnxModel(convert_float_to_float16(onnx.load(str(src)), keep_io_types=keep_io_types))
        m.topological_sort()  # the converter appends its edge Casts last; onnx.checker wants them first
        m = m.model
    onnx.checker.check_model(m, full_check=True)
    atomic_write_bytes(Path(dst), m.SerializeToString())
    return {"scheme": "float16 (onnxruntime.transformers.float16)", "keep_io_types": keep_io_types}
