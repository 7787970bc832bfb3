"""A deliberately fragile student for int8: the same function, one outlier channel.

`make_fragile` multiplies one channel of a conv block's BatchNorm output (γ and β) by `factor`
and divides the next conv's weights on that input channel by `factor`. ReLU is positively
homogeneous, so the float model computes the same logits (up to float rounding). But the
activation feeding the next conv now spans `factor`× the range in that one channel, and int8
activations are per-tensor: with MinMax calibration the step becomes ~factor/255 of the normal
range, so every other channel rounds to a handful of levels (or to 0) — the classic
outlier-channel failure of post-training quantization. Per-channel *weights* cannot help: the
damage is in the activation.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


@torch.no_grad()
def make_fragile(model: nn.Module, block: int = 0, channel: int = 0, factor: float = 200.0) -> nn.Module:
    """A copy of a CNN1d-like model (features = [Conv, BN, ReLU] × n) with one outlier channel."""
    model = copy.deepcopy(model).eval()
    convs = [m for m in model.features if isinstance(m, nn.Conv1d | nn.Conv2d)]
    bns = [m for m in model.features if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d)]
    if block + 1 >= len(convs):
        raise ValueError(f"block {block}: the model needs a conv after it (it has {len(convs)} convs)")
    bns[block].weight[channel] *= factor
    bns[block].bias[channel] *= factor
    convs[block + 1].weight[:, channel] /= factor
    return model
