"""Static int8 QDQ quantization through onnxruntime.quantization (the maintained successor of
the abandoned `onnxruntime-tools` package).

Calibration reads real training rows through a CalibrationDataReader. On x86 CPUs without
VNNI, u8×s8 int8 GEMM can saturate; there we quantize weights to 7 bits (`reduce_range`) and
say so in the receipt. S8S8 QDQ is onnxruntime's recommended first choice on CPU.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx

from ..errors import StageError
from ..hostinfo import cpu, has_int8_dot_product


def _reader(input_name: str, x: np.ndarray, batch: int = 32):
    from onnxruntime.quantization import CalibrationDataReader

    class ArrayReader(CalibrationDataReader):
        """Feeds x (N, ...) to the calibrator in batches of `batch` rows."""

        def __init__(self):
            self._batches = iter([{input_name: x[i:i + batch]} for i in range(0, len(x), batch)])

        def get_next(self):
            return next(self._batches, None)

    return ArrayReader()


def quantize_static_qdq(src: Path, dst: Path, calibration: np.ndarray, q) -> dict:
    """Quantize `src` to `dst` (int8 QDQ) with `q` (a preset's Quantization); return the receipt meta."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    method = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
              "percentile": CalibrationMethod.Percentile}[q.calibration]
    rows = calibration[: q.calibration_samples]
    reduce_range = not has_int8_dot_product()
    input_name = onnx.load(str(src), load_external_data=False).graph.input[0].name
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)  # shape inference + fusions
        try:
            quantize_static(str(pre), str(dst), _reader(input_name, rows), quant_format=QuantFormat.QDQ,
                            per_channel=q.per_channel, reduce_range=reduce_range,
                            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                            calibrate_method=method)
        except Exception as exc:
            raise StageError(f"static quantization of {Path(src).name} failed: {exc}") from exc
    onnx.checker.check_model(str(dst), full_check=True)
    return {"scheme": "static QDQ S8S8", "per_channel": q.per_channel, "calibration": q.calibration,
            "calibration_samples": int(len(rows)), "reduce_range": reduce_range,
            "reduce_range_reason": ("CPU has int8 dot-product (VNNI or non-x86): full 8-bit range"
                                    if not reduce_range else "x86 without VNNI: 7-bit weights avoid u8×s8 saturation"),
            "cpu_flags": cpu()["flags"]}
