"""A plain 2-D CNN for images (B, C, H, W); width (`channels`) and depth (their count) are the knobs."""

from __future__ import annotations

import torch
from torch import nn


class CNN2d(nn.Module):
    """(B, C, H, W) image → (B, classes) logits.

    conv(k, stride 1), then conv(k, stride 2) per further channel entry, each with BatchNorm and
    ReLU (the same layout as CNN1d, so layer names like `features.5` mean the same thing); global
    average pooling makes the classifier independent of the image size.
    """

    def __init__(self, in_channels: int, num_classes: int, channels, kernel: int = 3):
        super().__init__()
        layers, c_in = [], in_channels
        for i, c_out in enumerate(channels):
            layers += [nn.Conv2d(c_in, c_out, kernel, stride=1 if i == 0 else 2, padding=kernel // 2),
                       nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)  # (B, C', H', W')
        return self.classifier(h.mean((2, 3)))  # (B, C') → (B, classes)
