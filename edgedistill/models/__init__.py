"""Teacher/student registry: `MODELS.get(arch)(cfg, input_shape, num_classes) -> nn.Module`.

Filled here, explicitly; factories import torch lazily so recipe validation and
`edgedistill --help` never pay for it.
"""

from __future__ import annotations

from ..registry import Registry

MODELS: Registry = Registry("model architecture")


def _cnn1d(cfg, input_shape, num_classes):
    from .cnn1d import CNN1d

    return CNN1d(input_shape[-1], num_classes, cfg.channels, cfg.kernel)


MODELS.register("cnn1d", _cnn1d)


def build_model(cfg, input_shape, num_classes):
    """Instantiate the architecture named by `cfg.arch` (a validated ModelConfig)."""
    return MODELS.get(cfg.arch)(cfg, input_shape, num_classes)


def save_weights(model, path) -> None:
    """state_dict → safetensors (no pickle), written beside and renamed into place."""
    import os

    from safetensors.torch import save_file

    tmp = f"{path}.tmp"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, tmp)
    os.replace(tmp, path)


def count_params(model) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["MODELS", "build_model", "count_params", "save_weights"]
