"""Distil a Model2Vec static model from a local sentence-transformers folder, offline.

Run with benchmarks/model2vec/.venv/bin/python (model2vec==0.10.0 needs transformers<5.4, which the main
.venv does not have):

    benchmarks/model2vec/.venv/bin/python benchmarks/model2vec/distil.py TEACHER_FOLDER OUT_FOLDER [--pca-dims 256]

The exact call is model2vec.distill.distill(model_name=TEACHER_FOLDER, pca_dims=PCA_DIMS); every other
argument keeps model2vec 0.10.0's default: vocabulary=None (the teacher's own WordPiece vocabulary),
device=None (auto: cpu here), sif_coefficient=1e-4, token_remove_pattern=r"\\[unused\\d+\\]",
trust_remote_code=False, quantize_to="float16", vocabulary_quantization=None, pooling="mean".
The model is written with StaticModel.save_pretrained(OUT_FOLDER); one JSON line goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# offline before anything imports huggingface_hub / transformers
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _pca_dims(value: str) -> int | float | str | None:
    """--pca-dims: an int (components), a float in (0, 1) (explained variance), 'auto', or 'none'."""
    if value.lower() == "none":
        return None
    if value.lower() == "auto":
        return "auto"
    return float(value) if "." in value else int(value)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("teacher", type=Path, help="local sentence-transformers / transformers folder")
    ap.add_argument("out", type=Path, help="folder the StaticModel is saved into (save_pretrained)")
    ap.add_argument("--pca-dims", type=_pca_dims, default=256, help="int, float variance, 'auto' or 'none' (256)")
    args = ap.parse_args(argv)

    teacher = args.teacher.resolve()
    if not (teacher / "config.json").is_file():
        ap.error(f"{teacher}: no config.json; pass a local model folder (distillation here is offline only)")

    t_import = time.perf_counter()
    import model2vec
    import numpy as np
    import torch
    import transformers
    from model2vec.distill import distill

    import_s = time.perf_counter() - t_import

    t0 = time.perf_counter()
    model = distill(model_name=str(teacher), pca_dims=args.pca_dims)
    distill_s = time.perf_counter() - t0

    t1 = time.perf_counter()
    model.save_pretrained(args.out)
    save_s = time.perf_counter() - t1

    emb = np.asarray(model.embedding)
    table = args.out / "model.safetensors"
    print(
        json.dumps(
            {
                "teacher": str(teacher),
                "out": str(args.out.resolve()),
                "call": f"model2vec.distill.distill(model_name={str(teacher)!r}, pca_dims={args.pca_dims!r})",
                "seconds": {"import": round(import_s, 2), "distill": round(distill_s, 2), "save": round(save_s, 2)},
                "vocab_size": int(emb.shape[0]),
                "tokenizer_vocab_size": len(model.tokens),
                "dims": int(emb.shape[1]),
                "dtype": str(emb.dtype),
                "table_bytes": int(emb.nbytes),
                "table_bytes_fp32": int(emb.shape[0] * emb.shape[1] * 4),
                "safetensors_file_bytes": table.stat().st_size,
                "normalize": bool(model.normalize),
                "max_length": model.max_length,
                "versions": {
                    "model2vec": model2vec.__version__,
                    "torch": torch.__version__,
                    "transformers": transformers.__version__,
                    "torch_threads": torch.get_num_threads(),
                },
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
