"""Core ML weight compression through `coremltools.optimize.coreml`: int8 linear quantization
(OpLinearQuantizerConfig) and n-bit palettization (OpPalettizerConfig), from the fp16 package.

Core ML cannot predict on Linux, so "it compressed" is proven from the saved package itself:
the compressed weights appear as constexpr ops (constexpr_affine_dequantize / constexpr_lut_to_dense)
and weight.bin shrinks against the fp16 package it came from — both are checked and recorded.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import StageError
from ..export.coreml import _quiet, replace_package, validate

CONSTEXPR = ("constexpr_affine_dequantize", "constexpr_lut_to_dense", "constexpr_blockwise_shift_scale")
# weight bytes compressed / fp16 at most: int8 halves, 4-bit quarters; the slack covers each
# blob's 64-byte header and alignment and the per-channel scales / look-up tables
MAX_RATIO = {8: 0.75, 4: 0.5, 2: 0.4, 1: 0.35}


def _config(q):
    from coremltools.optimize.coreml import OpLinearQuantizerConfig, OpPalettizerConfig, OptimizationConfig

    if q.mode == "linear":
        op = OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8",
                                     granularity="per_channel" if q.per_channel else "per_tensor",
                                     weight_threshold=q.weight_threshold)
    else:
        op = OpPalettizerConfig(mode=q.palettize_mode, nbits=q.nbits, weight_threshold=q.weight_threshold)
    return OptimizationConfig(global_config=op)


def compress(src: Path, dst: Path, q) -> dict:
    """Compress the fp16 package `src` into `dst` per `q` (a preset's Quantization); return the
    validated receipt meta with the byte comparison that proves the compression."""
    with _quiet():
        import coremltools as ct
        from coremltools.optimize.coreml import linear_quantize_weights, palettize_weights

        ml = ct.models.MLModel(str(src), skip_model_load=True)
        try:
            fn = linear_quantize_weights if q.mode == "linear" else palettize_weights
            out = fn(ml, _config(q))
        except Exception as exc:
            raise StageError(f"Core ML {q.mode} compression of {Path(src).name} failed: {exc}") from exc
        tmp = dst.with_name(f".tmp-{dst.name}")
        shutil.rmtree(tmp, ignore_errors=True)
        out.save(str(tmp))
        replace_package(tmp, dst)
    info, base = validate(dst), validate(src)
    bits = 8 if q.mode == "linear" else q.nbits
    ratio = info["weight_bytes"] / base["weight_bytes"]
    constexpr = {k: v for k, v in info["ops"].items() if k in CONSTEXPR}
    if not constexpr or ratio > MAX_RATIO[bits]:
        raise StageError(f"{dst.name}: compression did not happen: weight.bin {info['weight_bytes']:,} B vs "
                         f"{base['weight_bytes']:,} B in fp16 ({ratio:.2f}×), constexpr ops {constexpr or 'none'} — "
                         "lower quantization.weight_threshold so small tensors are compressed too")
    scheme = (f"int8 linear symmetric {'per-channel' if q.per_channel else 'per-tensor'}" if q.mode == "linear"
              else f"{q.nbits}-bit palettized ({q.palettize_mode})")
    return {**info, "compression": {"scheme": scheme, "fp16_weight_bytes": base["weight_bytes"],
                                    "weight_bytes": info["weight_bytes"], "ratio_vs_fp16": round(ratio, 4),
                                    "constexpr_ops": constexpr}}
