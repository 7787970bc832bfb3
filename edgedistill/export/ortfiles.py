"""onnxruntime's own file work: offline graph optimisation, ORT mobile format, mobile usability.

Offline optimisation is kept only when it measurably shortens session creation (median of
several loads of each file, same process, measured on this host); the receipt says which won.
The `.ort` file is written the way `python -m onnxruntime.tools.convert_onnx_models_to_ort
--optimization_style Runtime` writes it: basic (hardware-independent) optimisations applied,
the CPU EP's QDQ fusions saved as runtime optimisations, so NNAPI and the Core ML EP still see
the QDQ nodes they take as int8.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import onnx

from ..artifacts import atomic_write_bytes
from ..errors import StageError


def session_create_ms(path: Path, runs: int = 7) -> float:
    """Median wall time (ms) to create a CPU InferenceSession for `path`, default options."""
    import onnxruntime as ort

    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)


def optimize_offline(path: Path) -> dict:
    """Write ORT's basic-level optimised graph over `path` when it loads faster; return what happened."""
    import onnxruntime as ort

    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        opt = Path(tmp) / "opt.onnx"
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        so.optimized_model_filepath = str(opt)
        ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        model = onnx.load(str(opt))
        onnx.checker.check_model(model, full_check=True)
        before, after = session_create_ms(path), session_create_ms(opt)
        kept = after < before
        if kept:
            atomic_write_bytes(path, model.SerializeToString())
    return {"level": "basic", "kept": kept, "how": "measured",
            "session_create_ms": {"original": round(before, 3), "optimized": round(after, 3)},
            "reason": "optimised graph loads faster" if kept else "no load-time gain: original kept"}


def convert_to_ort(src: Path, dst: Path) -> dict:
    """ONNX → ORT format (flatbuffer) for onnxruntime-mobile, Runtime optimisation style."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model.ort"
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        so.optimized_model_filepath = str(out)
        so.add_session_config_entry("session.save_model_format", "ORT")
        so.add_session_config_entry("optimization.minimal_build_optimizations", "save")
        try:
            ort.InferenceSession(str(src), so, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise StageError(f"ORT format conversion of {Path(src).name} failed: {exc}") from exc
        atomic_write_bytes(Path(dst), out.read_bytes())
    return {"ort_format": "Runtime optimisation style (basic level + saved runtime optimisations)"}


def mobile_usability(onnx_path: Path) -> dict:
    """onnxruntime's mobile usability checker: per EP, how much of the graph it takes, and which
    op types fall outside it (with dynamic input sizes assumed fixed, as a mobile app does)."""
    import logging

    from onnxruntime.tools.mobile_helpers import usability_checker as uc
    from onnxruntime.tools.onnx_model_utils import ModelProtoWithShapeInfo

    model = ModelProtoWithShapeInfo(Path(onnx_path)).model_with_shape_info
    checks = {"NNAPI": lambda m: uc.check_nnapi_partitions(m, False),
              "CoreML MLProgram": lambda m: uc.check_coreml_partitions(m, False, "coreml_supported_mlprogram_ops.md"),
              "CoreML NeuralNetwork": lambda m: uc.check_coreml_partitions(
                  m, False, "coreml_supported_neuralnetwork_ops.md")}
    out = {}
    logging.disable(logging.WARNING)
    try:
        for ep, fn in checks.items():
            info = fn(model)
            out[ep] = {"suitability": info.suitability().name, "nodes": info.num_nodes,
                       "supported_nodes": info.num_supported_nodes, "partitions": info.num_partitions,
                       "unsupported_ops": sorted(info.unsupported_ops)}
    finally:
        logging.disable(logging.NOTSET)
    return out
