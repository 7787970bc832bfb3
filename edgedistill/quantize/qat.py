"""Quantization-aware distillation (QAT + KD): fine-tune the student with int8 fake quantization
in the loop and the teacher's soft targets as the loss (`hinton_kd`), then export to QDQ ONNX.

What is simulated during training (shapes: conv input (B, C, L), linear input (B, F)):
- weights: symmetric per-output-channel int8, scale = max|w_c| / 127 (64 with reduce_range) —
  onnxruntime's rule for symmetric int8 weights, recomputed each step from the current weights;
- the input activation of every Conv/Linear: per-tensor 8-bit over [lo, hi], lo fixed at the
  calibration minimum (0 after a ReLU), hi learned (log-parametrised; LSQ-style gradient through
  the rounding error, PACT-style through the clip). Rounding uses a straight-through estimator.
BatchNorm is folded into its conv first, because the ONNX file quantizes the folded weights.

How the result reaches the exported file — honestly: no scale is copied. The fine-tuned float
weights are exported to fp32 ONNX with each learned range written as a Clip(lo, hi) in front of
its layer; onnxruntime's static quantizer then re-derives every scale: weight scales by the same
max|w|/127 rule (so weight rounding matches training exactly), activation scales by MinMax
calibration, which on a clipped tensor measures the learned [lo, hi] (or less, if no calibration
row reaches the bound). The QDQ file is then checked against the original float student.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F


def _ste_round(z: torch.Tensor) -> torch.Tensor:
    return z + (torch.round(z) - z).detach()


def fake_quant_weight(w: torch.Tensor, qmax: int = 127) -> torch.Tensor:
    """Symmetric per-output-channel int8 (dim 0) in [-qmax, qmax], scale = max|w_c| / qmax —
    onnxruntime's rule for symmetric weights (qmax 64 with reduce_range) — straight-through."""
    amax = w.detach().abs().flatten(1).amax(1).clamp(min=1e-12)
    scale = (amax / qmax).view(-1, *([1] * (w.dim() - 1)))
    return torch.clamp(_ste_round(w / scale), -qmax, qmax) * scale


class QuantLayer(nn.Module):
    """A Conv/Linear whose input activation and weights are fake-quantized (training) or whose
    input is clipped to the learned range (export)."""

    def __init__(self, layer: nn.Module, lo: float, hi: float, qmax: int = 127):
        super().__init__()
        self.layer, self.lo, self.qmax = layer, float(lo), qmax
        self.log_hi = nn.Parameter(torch.tensor(float(max(hi, lo + 1e-3, 1e-3))).log())
        self.export_mode = False

    @property
    def hi(self) -> torch.Tensor:
        return self.log_hi.exp()

    def forward(self, x):
        hi = self.hi
        if self.export_mode:
            return self.layer(torch.clamp(x, self.lo, float(hi.detach())))
        scale = (hi - self.lo) / 255.0
        xc = torch.minimum(torch.clamp(x, min=self.lo), hi)
        xq = _ste_round((xc - self.lo) / scale) * scale + self.lo
        w = fake_quant_weight(self.layer.weight, self.qmax)
        if isinstance(self.layer, nn.Linear):
            return F.linear(xq, w, self.layer.bias)
        return self.layer._conv_forward(xq, w, self.layer.bias)


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A copy with every Conv followed by BatchNorm (inside a Sequential) fused into one Conv."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    model = copy.deepcopy(model).eval()
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(seq) - 1):
            if isinstance(seq[i], nn.Conv1d | nn.Conv2d) and isinstance(seq[i + 1], nn.BatchNorm1d | nn.BatchNorm2d):
                seq[i], seq[i + 1] = fuse_conv_bn_eval(seq[i], seq[i + 1]), nn.Identity()
    return model


@torch.no_grad()
def _input_ranges(model: nn.Module, layers: list[nn.Module], x: torch.Tensor) -> list[tuple[float, float]]:
    """(min, max) of each layer's input over calibration rows x: MinMax, as onnxruntime calibrates."""
    seen = {}
    hooks = [m.register_forward_pre_hook(lambda m, a, i=i: seen.setdefault(i, []).append(a[0]))
             for i, m in enumerate(layers)]
    model(x)
    for h in hooks:
        h.remove()
    return [(min(float(seen[i][0].min()), 0.0), float(seen[i][0].max())) for i in range(len(layers))]


def prepare(model: nn.Module, x_cal: torch.Tensor, qmax: int = 127) -> nn.Module:
    """Fold BatchNorm, then wrap every Conv/Linear in a QuantLayer calibrated on x_cal."""
    model = fold_batchnorm(model)
    targets = [(parent, name, child) for parent in model.modules() for name, child in parent.named_children()
               if isinstance(child, nn.Conv1d | nn.Conv2d | nn.Linear)]
    ranges = _input_ranges(model, [c for _, _, c in targets], x_cal)
    for (parent, name, child), (lo, hi) in zip(targets, ranges):
        setattr(parent, name, QuantLayer(child, lo, hi, qmax))
    return model


def finetune(model: nn.Module, x: torch.Tensor, teacher_logits: torch.Tensor, y: torch.Tensor, *,
             epochs: int = 3, lr: float = 1e-3, range_lr: float = 0.05, batch_size: int = 256,
             temperature: float = 4.0, alpha: float = 0.9, seed: int = 0) -> nn.Module:
    """QAT + KD in place: y == -1 marks transfer rows (KD term only). Returns the model in export mode."""
    from ..distill.losses import hinton_kd

    gen = torch.Generator().manual_seed(seed)
    ranges = [p for n, p in model.named_parameters() if n.endswith("log_hi")]
    weights = [p for n, p in model.named_parameters() if not n.endswith("log_hi")]
    opt = torch.optim.Adam([{"params": weights, "lr": lr}, {"params": ranges, "lr": range_lr}])
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            loss = hinton_kd(model(x[idx]), teacher_logits[idx], y[idx], temperature=temperature, alpha=alpha)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    model.eval()
    for m in model.modules():
        if isinstance(m, QuantLayer):
            m.export_mode = True
    return model


def learned_ranges(model: nn.Module) -> list[dict]:
    """The clip range each quantized layer's input ended with (recorded in the receipt)."""
    return [{"layer": n, "lo": round(m.lo, 6), "hi": round(float(m.hi.detach()), 6)}
            for n, m in model.named_modules() if isinstance(m, QuantLayer)]


def qat_kd_qdq(student: nn.Module, teacher: nn.Module, ds, preset, dst, *, epochs: int = 3,
               transfer_rows: int = 8000, seed: int = 0) -> tuple[dict, nn.Module]:
    """QAT + KD on the training rows plus up to `transfer_rows` unlabelled rows the teacher labels,
    then the static QDQ file `dst` per `preset` (see the module docstring).
    Returns (receipt meta, the fine-tuned model in export mode: the file's float reference)."""
    import tempfile
    from pathlib import Path

    import numpy as np

    from ..distill.train import predict_logits
    from ..export.onnx import export_onnx
    from ..tasks import get_task
    from .onnx import host_saturation, quantize_static_qdq

    q = preset.quantization
    qmax = 64 if host_saturation(q.saturation).reduce_range else 127  # what ORT will use for weights
    (x_train,), (x_unlabeled,) = ds.x_train.values(), ds.x_unlabeled.values()  # classifiers: one float input
    x_lab, y_lab = torch.from_numpy(x_train), torch.from_numpy(ds.y_train)
    x_unl = torch.from_numpy(np.asarray(x_unlabeled[:transfer_rows]))
    x = torch.cat([x_lab, x_unl])
    y = torch.cat([y_lab, torch.full((len(x_unl),), -1, dtype=y_lab.dtype)])
    soft = predict_logits(teacher, x)  # (N, C) frozen teacher, computed once
    torch.manual_seed(seed)
    model = prepare(student, x_lab[: q.calibration_samples], qmax)
    finetune(model, x, soft, y, epochs=epochs, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "qat-fp32.onnx"
        export_onnx(model, get_task("classify").signature(ds), fp32, preset.opset or 18)
        meta = quantize_static_qdq(fp32, Path(dst), ds.x_train, q)
    return {**meta, "qat_kd": {"epochs": epochs, "rows": len(x), "labelled_rows": len(x_lab),
                               "transfer_rows": len(x_unl), "loss": "hinton_kd (T=4, alpha=0.9)",
                               "learned_ranges": learned_ranges(model),
                               "how_scales_reach_the_file": "fine-tuned float weights + Clip(lo, hi) per learned "
                               "range; onnxruntime re-derives weight scales (same max|w|/127 rule) and "
                               "MinMax-calibrates activations on the clipped tensors"}}, model
