"""Registered losses: pure functions of (student_logits, teacher_logits, labels, **params).

Response-based KD follows Hinton et al. (2015) exactly (DESIGN.md):

    p_T = softmax(teacher / T);  log q_T = log_softmax(student / T)
    distill = KL(p_T || q_T) · T²      (sum over classes, mean over the batch = "batchmean")
    loss    = alpha · distill + (1 − alpha) · CE(student, hard label)

Labels equal to UNLABELED (−1) mark transfer examples: they carry only the distillation term,
alpha · KL·T² (the hard-label term is absent, not re-weighted), so every row weighs the teacher
the same and alpha = 1 is pure distillation.
Teacher logits are detached, so no gradient can ever reach the teacher.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..registry import Registry

UNLABELED = -1
LOSSES: Registry = Registry("loss", plugin_group="edgedistill.losses")


def softened_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Per-example KL(p_T ‖ q_T) · T², shape (B,). The T² keeps gradient scale independent of T."""
    t = float(temperature)
    log_p = F.log_softmax(teacher_logits.detach() / t, dim=1)  # (B, C) teacher, frozen
    log_q = F.log_softmax(student_logits / t, dim=1)  # (B, C) student
    return (log_p.exp() * (log_p - log_q)).sum(dim=1) * (t * t)


@LOSSES.register("hinton_kd")
def hinton_kd(student_logits, teacher_logits, labels, temperature: float = 4.0, alpha: float = 0.9):
    """alpha · KL·T² + (1 − alpha) · CE on labelled rows; alpha · KL·T² alone on unlabelled rows; batch mean."""
    kd = softened_kl(student_logits, teacher_logits, temperature)  # (B,)
    labeled = labels != UNLABELED
    ce = F.cross_entropy(student_logits, labels.clamp(min=0), reduction="none")  # (B,), masked below
    per_example = alpha * kd + (1.0 - alpha) * torch.where(labeled, ce, torch.zeros_like(ce))
    return per_example.mean()


@LOSSES.register("cross_entropy")
def cross_entropy(student_logits, teacher_logits, labels, **_):
    """Hard-label cross-entropy (the from-scratch baseline); ignores the teacher and unlabelled rows."""
    return F.cross_entropy(student_logits, labels, ignore_index=UNLABELED)
