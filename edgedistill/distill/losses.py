"""Registered losses, each a pure function, grouped by what they compare (`Loss.compares`):

  "outputs"   response-based and embedding losses: the models' outputs (logits or embeddings);
              response losses also take the labels: fn(student_out, teacher_out, labels, **params)
  "features"  feature- and relation-based losses on named intermediate layers: fn(student, teacher, **params)

Families: response (hinton_kd, dkd), feature (hint_mse, attention_transfer), relation (rkd,
similarity_preserving), embedding (embedding_cosine, embedding_mse), and the hard-label baseline
(cross_entropy). All are registered below, in one table.

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

from dataclasses import dataclass
from typing import Callable, Literal

import torch
import torch.nn.functional as F

from ..registry import Registry
from . import feature_losses as fl
from . import transformer_losses as tl
from .loss_table import PLUGIN_GROUP, TRAITS

UNLABELED = -1


@dataclass(frozen=True)
class Loss:
    """A registered loss: the function, what it compares, and whether it reads the labels.

    Calling a Loss calls its function, so `LOSSES.get("hinton_kd")(s, t, y)` works. A plugin
    registered under the `edgedistill.losses` entry-point group may be a Loss or a plain function
    of (student_logits, teacher_logits, labels, **params), taken as an outputs loss with labels.
    """

    fn: Callable
    compares: Literal["outputs", "features"] = "outputs"
    uses_labels: bool = True

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


LOSSES: Registry = Registry("loss", plugin_group=PLUGIN_GROUP)


def softened_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Per-example KL(p_T ‖ q_T) · T², shape (B,). The T² keeps gradient scale independent of T."""
    t = float(temperature)
    log_p = F.log_softmax(teacher_logits.detach() / t, dim=1)  # (B, C) teacher, frozen
    log_q = F.log_softmax(student_logits / t, dim=1)  # (B, C) student
    return (log_p.exp() * (log_p - log_q)).sum(dim=1) * (t * t)


def hinton_kd(student_logits, teacher_logits, labels, temperature: float = 4.0, alpha: float = 0.9):
    """alpha · KL·T² + (1 − alpha) · CE on labelled rows; alpha · KL·T² alone on unlabelled rows; batch mean."""
    kd = softened_kl(student_logits, teacher_logits, temperature)  # (B,)
    labeled = labels != UNLABELED
    ce = F.cross_entropy(student_logits, labels.clamp(min=0), reduction="none")  # (B,), masked below
    per_example = alpha * kd + (1.0 - alpha) * torch.where(labeled, ce, torch.zeros_like(ce))
    return per_example.mean()


def cross_entropy(student_logits, teacher_logits, labels, **_):
    """Hard-label cross-entropy (the from-scratch baseline); ignores the teacher and unlabelled rows."""
    return F.cross_entropy(student_logits, labels, ignore_index=UNLABELED)


def dkd(student_logits, teacher_logits, labels, temperature: float = 4.0, alpha: float = 1.0, beta: float = 8.0):
    """Decoupled KD (Zhao et al. 2022): alpha · TCKD + beta · NCKD, each a KL · T², batch mean.

    TCKD compares the binary (target, rest) split of the softened distributions; NCKD compares the
    distributions over the non-target classes only. Defaults are the paper's (T 4, alpha 1, beta 8).
    Unlabelled rows (label −1) take the teacher's top-1 class as their target. The hard-label term
    is not included: add a `cross_entropy` term in the recipe, as the paper does.
    """
    t = float(temperature)
    teacher_logits = teacher_logits.detach()
    target = torch.where(labels == UNLABELED, teacher_logits.argmax(1), labels)  # (B,)
    gt = F.one_hot(target, student_logits.shape[1]).bool()  # (B, C)
    p_s, p_t = F.softmax(student_logits / t, dim=1), F.softmax(teacher_logits / t, dim=1)
    b_s = torch.stack([(p_s * gt).sum(1), (p_s * ~gt).sum(1)], dim=1)  # (B, 2): target, rest
    b_t = torch.stack([(p_t * gt).sum(1), (p_t * ~gt).sum(1)], dim=1)
    tckd = (b_t * (b_t.clamp_min(1e-12).log() - b_s.clamp_min(1e-12).log())).sum(1)
    # the paper's trick: −1000 on the target logit makes its softened probability exactly 0
    log_q = F.log_softmax(student_logits / t - 1000.0 * gt, dim=1)
    log_p = F.log_softmax(teacher_logits / t - 1000.0 * gt, dim=1)
    nckd = (log_p.exp() * (log_p - log_q)).sum(1)
    return ((alpha * tckd + beta * nckd) * t * t).mean()


# The one place losses are registered; what each compares comes from loss_table.TRAITS (torch-free).
for _name, _fn in {
    "hinton_kd": hinton_kd, "dkd": dkd, "cross_entropy": cross_entropy,
    "hint_mse": fl.hint_mse, "attention_transfer": fl.attention_transfer,
    "rkd": fl.rkd, "similarity_preserving": fl.similarity_preserving,
    "embedding_cosine": fl.embedding_cosine, "embedding_mse": fl.embedding_mse,
    "hidden_mse": fl.hint_mse, "attention_mse": tl.attention_mse,  # hidden_mse: with a token-wise projection
}.items():
    LOSSES.register(_name, Loss(_fn, *TRAITS[_name]))


def as_loss(item) -> Loss:
    """A registry entry as a Loss (plugins may register plain functions)."""
    return item if isinstance(item, Loss) else Loss(item)
