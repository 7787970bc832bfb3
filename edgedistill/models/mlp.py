"""A multilayer perceptron over flattened inputs of any shape; width and depth are the knobs."""

from __future__ import annotations

import math

import torch
from torch import nn


class MLP(nn.Module):
    """(B, *input_shape) → flatten → [Linear(width), ReLU] × depth → (B, classes) logits."""

    def __init__(self, input_shape, num_classes: int, width: int = 64, depth: int = 2):
        super().__init__()
        layers, d_in = [], math.prod(input_shape)
        for _ in range(depth):
            layers += [nn.Linear(d_in, width), nn.ReLU()]
            d_in = width
        self.features = nn.Sequential(*layers)  # empty when depth = 0: logistic regression
        self.classifier = nn.Linear(d_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x.flatten(1)))  # (B, D) → (B, width) → (B, classes)
