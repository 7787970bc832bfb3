"""Named intermediate features: forward hooks that capture them, adapters that match their widths.

A recipe names layers by module path (`features.5` = `model.features[5]`, as in
`model.named_modules()`). `FeatureTap` records those modules' outputs on every forward pass;
`adapter_for` builds the learned projection FitNets uses when student and teacher widths differ
(1×1 conv for feature maps, linear for vectors). Adapters train with the student and are never
exported: they exist only to compare features.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..registry import suggest


def check_layer(model: nn.Module, name: str) -> None:
    """Raise KeyError (with the closest module path) when `model` has no submodule `name`."""
    names = [n for n, _ in model.named_modules() if n]
    if name not in names:
        raise KeyError(f"no layer {name!r} in {type(model).__name__}; {suggest(name, names)}")


def first_tensor(out) -> torch.Tensor:
    """A layer's output as one tensor: transformer layers return tuples (hidden states first) or
    dict-like outputs; the first tensor is the feature a hint compares."""
    if isinstance(out, torch.Tensor):
        return out
    values = out.values() if hasattr(out, "values") else out
    for v in values:
        if isinstance(v, torch.Tensor):
            return v
    raise TypeError(f"layer output {type(out).__name__} holds no tensor")


class FeatureTap:
    """Context manager: `with FeatureTap(model, ["features.5"]) as tap: model(x); tap["features.5"]`."""

    def __init__(self, model: nn.Module, names):
        self.model, self.names = model, list(dict.fromkeys(names))
        self.outputs: dict[str, torch.Tensor] = {}
        self._handles = []

    def __enter__(self) -> "FeatureTap":
        for name in self.names:
            check_layer(self.model, name)
            module = self.model.get_submodule(name)
            # clone: a following in-place op (ReLU(inplace=True)) would otherwise overwrite what we captured
            self._handles.append(module.register_forward_hook(
                lambda _m, _in, out, name=name: self.outputs.__setitem__(name, first_tensor(out).clone())))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.outputs[name]


class _MapAdapter(nn.Module):
    """(B, C_s, *S_s) → (B, C_t, *S_t): 1×1 conv over channels, then average-pool to the teacher's size."""

    def __init__(self, c_in: int, c_out: int, size: tuple[int, ...]):
        super().__init__()
        conv = nn.Conv1d if len(size) == 1 else nn.Conv2d
        self.proj, self.size = conv(c_in, c_out, 1, bias=False), size
        self.pool = F.adaptive_avg_pool1d if len(size) == 1 else F.adaptive_avg_pool2d

    def forward(self, x):
        x = self.proj(x)
        return x if tuple(x.shape[2:]) == self.size else self.pool(x, self.size)


def adapter_for(student_shape: torch.Size, teacher_shape: torch.Size) -> nn.Module:
    """The learned map from a student feature to the teacher's shape; Identity when they already match.

    Shapes include the batch dimension: (B, C, L), (B, C, H, W) or (B, D).
    """
    s, t = tuple(student_shape[1:]), tuple(teacher_shape[1:])
    if s == t:
        return nn.Identity()
    if len(s) != len(t) or len(s) not in (1, 2, 3):
        raise ValueError(f"cannot adapt a student feature of shape {s} to a teacher feature of shape {t}")
    if len(s) == 1:
        return nn.Linear(s[0], t[0], bias=False)
    if any(a < b for a, b in zip(s[1:], t[1:])):
        raise ValueError(f"student feature {s} is spatially smaller than the teacher's {t}; "
                         "pick an earlier student layer or a later teacher layer")
    return _MapAdapter(s[0], t[0], t[1:])
