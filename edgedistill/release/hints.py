"""What to try when a check fails: hints that follow what produced the file and what it already is.

A size FAIL on a file that is already int8 QDQ must not suggest the int8 preset, and a FAIL on a
model edgedistill did not train (magika, silero-vad) must not suggest "a smaller student". The
gate stays pure: `origins_of_report` / `origin_of_file` read the facts (I/O), `hint` only looks
them up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# The generic hint per metric: used when nothing is known about the file (a hand-made Check in a test,
# an artifact missing from the report's artifacts table).
HINTS = {
    "size": "a smaller student, or the onnx-int8-qdq preset",
    "gzip_size": "a smaller student, or the onnx-int8-qdq preset",
    "p50_ms": "the onnx-int8-qdq preset, or a smaller student",
    "p90_ms": "the onnx-int8-qdq preset, or a smaller student",
    "p99_ms": "the onnx-int8-qdq preset, or a smaller student; check the run's latency_cv for noise",
    "session_create_ms": "a smaller file, or saving the onnxruntime-optimised graph",
    "first_run_ms": "a smaller file, or saving the onnxruntime-optimised graph",
    "throughput": "the onnx-int8-qdq preset, or a smaller student",
    "peak_memory": "a smaller model, or fewer threads",
    "accuracy": "more distillation epochs, more transfer data, or a wider student",
    "accuracy_drop": "more distillation epochs, more transfer data, or fp32 instead of int8",
    "agreement": "a higher alpha or temperature, or more transfer data",
    "perplexity": "more distillation epochs or teacher samples, a wider student, or fp32 instead of int8",
    "cosine": "more transfer text, a wider student, or fp32 instead of int8",
    "nn_overlap": "more transfer text, a wider student, or fp32 instead of int8",
    "spearman": "more transfer text, or a contextual (transformer) student",
    "knn_accuracy": "more transfer text, a wider student, or a contextual (transformer) student",
    "fewshot_accuracy": "more transfer text, a wider student, or a contextual (transformer) student",
    "tokenizer_parity": "ship the tokenizer.json the model was trained with (export writes it beside the model)",
    "text_p50_ms": "a smaller student, or a lower data.max_len",
    "tokenize_ms": "a lower data.max_len (longer texts are cut sooner)",
    "tokenizer_load_ms": "a smaller vocabulary (tokenizer.json size)",
    "brotli_size": "a smaller student, or the onnx-int8-qdq preset",
    "parity_max_abs_diff": "a finer quantization (fp32 or per-channel int8), or check the export",
    "parity_cosine": "a finer quantization (fp32 or per-channel int8), or check the export",
    "parity_agreement": "a finer quantization (fp32 or per-channel int8), or check the export",
    "latency_ratio": "profile the new graph against the baseline's (op changes, quantization), or revert",
    "latency_ratio_p90": "profile the new graph against the baseline's (op changes, quantization), or revert",
    "latency_ratio_p99": "profile the new graph against the baseline's (op changes, quantization), or revert",
}
SIZES, SPEED = ("size", "gzip_size", "brotli_size"), ("p50_ms", "p90_ms", "p99_ms", "throughput")
QUALITY = ("accuracy", "accuracy_drop", "agreement", "perplexity", "cosine", "nn_overlap", "spearman", "knn_accuracy",
           "fewshot_accuracy")
PARITY = ("parity_max_abs_diff", "parity_cosine", "parity_agreement")
INT8 = ("int8-qdq", "int8-dynamic", "int8", "int4")


@dataclass(frozen=True)
class Origin:
    """What made a file and what it is: the facts a hint depends on."""

    made_by: str  # "student" (a student edgedistill trained) | "teacher" (a run's teacher) | "external"
    precision: str  # "fp32" | "fp16" | "int8-qdq" | "int8-dynamic" | "int8" | "int4" | "unknown"
    format: str = "onnx"  # "onnx" | "ort" | "coreml" | "other"


def hint(metric: str, origin: Origin | None) -> str:
    """The hint for a failed `metric` on a file of this origin (the generic one when unknown)."""
    if origin is None or metric not in (*SIZES, *SPEED, "peak_memory", *QUALITY, *PARITY):
        return HINTS.get(metric, "")
    smaller = {"student": "a smaller student (fewer channels or layers)",
               "teacher": "gating the distilled student instead (the teacher is the reference, not the shipped file)",
               "external": "a smaller model, or distilling this one into a student (a recipe with it as the "
                           "teacher)"}[origin.made_by]
    already = origin.precision in INT8
    if metric in SIZES or metric in SPEED:
        text = f"{smaller}; this file is already {origin.precision}" if already else \
            f"{_quantize(origin)}, or {smaller}"
        return text + ("; check latency_cv for noise" if metric == "p99_ms" else "")
    if metric == "peak_memory":
        return f"{smaller}, or fewer threads" + ("" if already else f", or {_quantize(origin)}")
    if metric in PARITY:
        return {"fp32": "check the export (opset, unsupported ops, dynamic axes)",
                "fp16": "fp32, or keeping the sensitive layers in fp32"}.get(
                    origin.precision, "a finer quantization (per-channel int8, --auto-exclude), or fp16")
    if origin.made_by == "external":
        return "check that --data matches the model's preprocessing and label order; else a better model"
    if metric == "agreement":
        return "a higher alpha or temperature, or more transfer data"
    if already:
        return "per-channel int8 or --auto-exclude (keep the layers int8 hurts in float), or fp16 instead of int8"
    return "more distillation epochs, more transfer data, or a wider student"


def _quantize(origin: Origin) -> str:
    """How to make this file smaller by precision, in the words of where it came from."""
    if origin.format == "coreml":
        return "the coreml-int8-weights or coreml-palettize-4bit preset"
    if origin.made_by == "external":
        return "int8 quantization (onnxruntime.quantization.quantize_static, or quantize_dynamic without data)"
    return "the onnx-int8-qdq preset"


def origin_of_file(path: Path, made_by: str = "external") -> Origin:
    """Read what an ONNX file is from its graph (quantization ops, weight types); other files by suffix."""
    path = Path(path)
    fmt = {".mlpackage": "coreml", ".ort": "ort", ".onnx": "onnx"}.get(path.suffix, "other")
    if fmt != "onnx":
        return Origin(made_by, "unknown", fmt)
    try:
        import onnx

        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # unreadable here: the bench reports that; the hint just knows less
        return Origin(made_by, "unknown", fmt)
    return Origin(made_by, _precision(model), fmt)


def _precision(model) -> str:
    """int8-qdq (Q/DQ pairs), int8-dynamic (integer matmuls fed by DynamicQuantizeLinear), int8 (QLinear ops),
    fp16 (most weight bytes float16), else fp32."""
    from onnx import TensorProto

    ops = {n.op_type for n in _nodes(model.graph)}
    if ops & {"DynamicQuantizeLinear", "MatMulInteger", "ConvInteger"}:
        return "int8-dynamic"
    if any(op.startswith("QLinear") for op in ops):
        return "int8"
    if "DequantizeLinear" in ops:
        return "int8-qdq"
    sizes = {}
    for t in model.graph.initializer:
        n = 1
        for d in t.dims:
            n *= d
        sizes[t.data_type] = sizes.get(t.data_type, 0) + n
    return "fp16" if sizes.get(TensorProto.FLOAT16, 0) > sizes.get(TensorProto.FLOAT, 0) else "fp32"


def _nodes(graph):
    """Every node, including those inside If/Loop/Scan bodies."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            for g in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                yield from _nodes(g)


def origins_of_report(report: dict, files: dict) -> dict[str, Origin]:
    """artifact name → Origin, for a run's report (files inspected where present) or files the user gave."""
    artifacts = report.get("artifacts") if isinstance(report.get("artifacts"), dict) else {}
    out = {}
    for name, path in files.items():
        entry = artifacts.get(name) if isinstance(artifacts.get(name), dict) else {}
        produced = str(entry.get("produced_by") or "")
        made_by = "external" if not produced else "teacher" if name.startswith("teacher") else "student"
        origin = origin_of_file(path, made_by) if Path(path).exists() else Origin(made_by, "unknown")
        if origin.precision == "unknown":  # .ort, .mlpackage: the shipped preset that wrote it says
            origin = Origin(made_by, _preset_precision(entry), origin.format)
        out[name] = origin
    return out


def _preset_precision(entry: dict) -> str:
    """The precision of the shipped preset named in an artifact's receipt (never a path from the report)."""
    from ..export.presets import list_presets, load_preset

    name = (entry.get("meta") or {}).get("preset") if isinstance(entry.get("meta"), dict) else None
    if not isinstance(name, str) or name not in list_presets():
        return "unknown"
    p = load_preset(name)
    return "int4" if p.precision == "int4" else "int8-qdq" if p.precision == "int8" and "qdq" in name else p.precision
