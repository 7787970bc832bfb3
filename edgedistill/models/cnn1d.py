"""A plain 1-D CNN family used for both teacher and student; width and depth are the knobs."""

from __future__ import annotations

import torch
from torch import nn


class CNN1d(nn.Module):
    """(B, L) signal → (B, classes) logits.

    conv(k, stride 1) then conv(k, stride 2) per further channel entry, each followed by
    BatchNorm and ReLU; the feature map is flattened (not pooled) so the classifier keeps the
    position information MNIST-1D needs. BatchNorm folds into the convs at ONNX export.
    """

    def __init__(self, length: int, num_classes: int, channels, kernel: int = 3):
        super().__init__()
        layers, c_in, out_len = [], 1, length
        for i, c_out in enumerate(channels):
            stride = 1 if i == 0 else 2
            layers += [nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=kernel // 2),
                       nn.BatchNorm1d(c_out), nn.ReLU(inplace=True)]
            out_len = (out_len + 2 * (kernel // 2) - kernel) // stride + 1
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c_in * out_len, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x.unsqueeze(1))  # (B, 1, L) → (B, C, L')
        return self.classifier(h.flatten(1))  # (B, C·L') → (B, classes)
