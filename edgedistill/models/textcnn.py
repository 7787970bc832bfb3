"""A byte-level text CNN: the input is (B, L) byte ids stored as float32 (0 = padding).

Ids travel as float32 so every stage downstream (ONNX export, calibration, benchmarks) sees the
same input type as for signals and images; the model casts them to integers itself (an ONNX Cast
before the embedding's Gather).
"""

from __future__ import annotations

import torch
from torch import nn

VOCAB = 256  # one id per byte value of the UTF-8 text


class TextCNN(nn.Module):
    """(B, L) byte ids → embedding (B, E, L) → conv blocks → max over positions → (B, classes) logits."""

    def __init__(self, num_classes: int, channels, kernel: int = 3, embed: int = 32):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, embed, padding_idx=0)
        layers, c_in = [], embed
        for c_out in channels:
            layers += [nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2), nn.ReLU()]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids = x.long().clamp(0, VOCAB - 1)  # float ids → int64; out-of-range values cannot index past the table
        h = self.features(self.embed(ids).transpose(1, 2))  # (B, L, E) → (B, E, L) → (B, C, L)
        return self.classifier(h.amax(2))  # max over positions: (B, C) → (B, classes)
