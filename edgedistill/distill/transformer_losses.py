"""TinyBERT's intermediate-layer losses (Jiao et al. 2020, "TinyBERT: Distilling BERT for Natural Language
Understanding"), on the tap modules of models/hf.py, and the layer map that pairs student and teacher layers.

    hidden_mse      MSE(H_s W, H_t) on token states (B, T, H_s) → (B, T, H_t): W is the learned projection
                    (distill/objective.py builds it when widths differ); on `hidden.0` it is the embedding loss
    attention_mse   MSE(A_s, A_t) on attention probabilities (B, heads, T, T); when head counts differ both
                    sides are averaged over heads first (B, T, T)

A term with `map` stands for one term per mapped pair (student layer i, teacher layer j), each at the
term's weight, as TinyBERT sums its layer losses: `map = [[1, 2], [2, 4]]`, or "uniform" — student
layer i of M takes teacher layer i·N/M of N (TinyBERT's g(m) = m·N/M).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .feature_losses import hint_mse

TAP = {"hidden_mse": "hidden", "attention_mse": "attention"}  # the tap each mapped loss reads


# Token states (B, T, H) after the student's projection: FitNets' hint MSE, the same function — what differs
# is the projection (token_adapter, over the last axis) the objective builds for it
hidden_mse = hint_mse


def attention_mse(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Attention probabilities (B, heads, T, T): MSE per head, or of the head means when head counts differ."""
    teacher = teacher.detach()
    if student.dim() != 4 or teacher.dim() != 4 or student.shape[-2:] != teacher.shape[-2:]:
        raise ValueError(f"attention maps must be (B, heads, T, T) of one length: student {tuple(student.shape)}, "
                         f"teacher {tuple(teacher.shape)}")
    if student.shape[1] != teacher.shape[1]:
        student, teacher = student.mean(1), teacher.mean(1)  # (B, T, T)
    return F.mse_loss(student, teacher)


def mapped_layers(layer_map, student_layers: int, teacher_layers: int) -> list[tuple[int, int]]:
    """(student layer, teacher layer) pairs, 1-based (0 = the embedding output), for `map` of a term."""
    if layer_map == "uniform":
        return [(i, round(i * teacher_layers / student_layers)) for i in range(1, student_layers + 1)]
    return [tuple(p) for p in layer_map]


def token_adapter(student_shape: torch.Size, teacher_shape: torch.Size) -> torch.nn.Module:
    """TinyBERT's W_h: a linear map over the last axis (B, T, H_s) → (B, T, H_t); Identity at equal widths."""
    if tuple(student_shape[:-1]) != tuple(teacher_shape[:-1]):
        raise ValueError(f"token states (B, T, H) must share B and T: student {tuple(student_shape)}, "
                         f"teacher {tuple(teacher_shape)}")
    if student_shape[-1] == teacher_shape[-1]:
        return torch.nn.Identity()
    return torch.nn.Linear(student_shape[-1], teacher_shape[-1], bias=False)
