"""`arch = "gpt"`: a small decoder-only transformer over tokens (nanoGPT's shape, minus dropout).

`forward(ids)` is the plain, exportable path: (B, T) ids → (B, T, V) next-character logits.
`step(ids, past, start)` is the generation path with a key/value cache, so writing N characters
costs N single-position forwards instead of N forwards over the whole context.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

Past = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys, values (B, heads, S, d_head)


class SelfAttention(nn.Module):
    """Causal multi-head self-attention; with `past`, the new positions also attend to the cached ones."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x, past=None):
        B, T, C = x.shape  # noqa: N806 — the usual names
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2)  # (B, h, T, C/h) each
                   for t in self.qkv(x).split(C, dim=2))
        if past is not None:  # generation: one new position attends to every cached one, so no mask
            assert T == 1, "cached attention takes one position at a time"
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)  # (B, h, S+1, C/h)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=past is None)  # (B, h, T, C/h)
        return self.proj(y.transpose(1, 2).reshape(B, T, C)), (k, v)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = SelfAttention(d, heads)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x, past=None):
        a, kv = self.attn(self.ln1(x), past)
        x = x + a
        return x + self.mlp(self.ln2(x)), kv


class CharGPT(nn.Module):
    """Token + learned position embeddings → `layers` blocks → LayerNorm → linear head over VOCAB."""

    def __init__(self, d_model: int, layers: int, heads: int, context: int, vocab: int):
        super().__init__()
        self.context = context
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList(Block(d_model, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T ≤ context) int64 → (B, T, V) logits."""
        return self.step(ids, None, 0)[0]

    def step(self, ids: torch.Tensor, past: Past | None, start: int) -> tuple[torch.Tensor, Past]:
        """Logits for `ids` placed at positions start … start+T−1, after the cached `past`; the new cache."""
        positions = torch.arange(start, start + ids.shape[1])  # (T,)
        x = self.tok(ids) + self.pos(positions)  # (B, T, d)
        cache = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, None if past is None else past[i])
            cache.append(kv)
        return self.head(self.ln(x)), cache
