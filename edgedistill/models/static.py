"""The `static` student: a sentence embedder with no context — one learned vector per token, averaged.

    input_ids (B, T) int64, attention_mask (B, T) int64
      → table[input_ids] (B, T, W) → mean over the mask (B, W) → linear map (B, D) → L2-normalised (B, D)

It exports to ONNX as Gather → masked mean → MatMul, which onnxruntime (native and web) runs in
microseconds: the cost is one row read per token, so a 128-token text costs what 128 table lookups
cost, whatever the teacher's depth. W (`student.width`, 256 in minilm-embed) sets the table's size;
the map to the teacher's width D (`student.project`, on by default) lets the student be trained on the
teacher's own vectors and be compared with them coordinate by coordinate. Model2Vec builds the same
sort of model without training (each token's teacher vector, PCA-reduced); here the table is trained on
the teacher's sentence vectors (distilled), starting from a PCA of the teacher's token embeddings
(`init = "teacher-layers"`, models/hf_init.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class StaticEmbedding(nn.Module):
    """Token table + masked mean + optional linear map, L2-normalised like a sentence-transformers model."""

    def __init__(self, vocab: int, width: int, out_dim: int, project: bool = True):
        super().__init__()
        self.table = nn.Embedding(vocab, width)
        nn.init.normal_(self.table.weight, std=width ** -0.5)
        self.proj = nn.Linear(width, out_dim, bias=False) if project else None

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        m = attention_mask.unsqueeze(-1).to(self.table.weight.dtype)  # (B, T, 1)
        mean = (self.table(input_ids) * m).sum(1) / m.sum(1).clamp(min=1.0)  # (B, W)
        if self.proj is not None:
            mean = self.proj(mean)  # (B, D)
        return F.normalize(mean, dim=-1)


def build_static(cfg, input_shape: tuple, num_classes: int) -> StaticEmbedding:
    """The `static` family over the tokenizer's vocabulary; `num_classes` is the output width (embed: the
    teacher's D, known once the teacher has been probed; 0 before, when only the parameter count matters)."""
    from ..errors import ConfigError

    if not cfg.vocab:
        raise ConfigError("recipe", "student.vocab", "the static family needs the tokenizer's vocabulary size",
                          "set data.tokenizer (or a huggingface teacher), or student.vocab")
    out = num_classes or cfg.width
    if not cfg.project and out != cfg.width:
        raise ConfigError("recipe", "student.project", f"false, but the width {cfg.width} differs from the "
                          f"teacher's {out}: the student's vectors could not be compared with the teacher's",
                          f"set project = true, or width = {out}")
    return StaticEmbedding(cfg.vocab, cfg.width, out, cfg.project)
