"""The training objective: one response loss plus the recipe's weighted extra terms.

    loss = main(student_logits, teacher_logits, labels)              # hinton_kd, dkd, cross_entropy …
         + Σ weight_i · term_i(adapter_i(student_i), teacher_i)      # features, relations, embeddings

A term compares either the models' outputs or two named layers (`student_layer`,
`teacher_layer`), captured with forward hooks. Teacher features, like its outputs, are given:
they come from the teacher-output cache, or from the teacher run in eval mode under no_grad on
the same batch (distill/cache.py). Adapters (FitNets) are created from one
probe batch and trained with the student; they are part of this module, so the optimizer sees them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .features import FeatureTap, adapter_for
from .losses import LOSSES, as_loss
from .transformer_losses import token_adapter

ADAPTED = frozenset({"hint_mse", "embedding_cosine", "embedding_mse"})  # losses that need equal widths


@dataclass(frozen=True)
class Term:
    """One extra weighted loss term of a recipe (validated copy of `distill.terms[i]`)."""

    loss: str
    weight: float = 1.0
    student_layer: str | None = None
    teacher_layer: str | None = None
    params: dict = field(default_factory=dict)


class Objective(nn.Module):
    """Callable as objective(student, x, y, teacher_out) → scalar loss; holds the adapters.

    teacher_out: {"": teacher outputs (b, C), layer: teacher features} for the same rows as x —
    read from the teacher-output cache or computed live (distill/cache.py); {} when no teacher.
    """

    def __init__(self, main: str, main_params: dict, terms=(), student: nn.Module | None = None,
                 probe: dict | None = None, probe_teacher: dict | None = None, task=None):
        super().__init__()
        from ..tasks import get_task

        self.task = task or get_task("classify")  # how the student is called, which output it compares
        self.main, self.main_params = as_loss(LOSSES.get(main)), dict(main_params)
        self.terms = [(t, as_loss(LOSSES.get(t.loss))) for t in terms]
        self.s_layers = [t.student_layer for t, _ in self.terms if t.student_layer]
        self.adapters = nn.ModuleList()
        if self.terms:
            if student is None or probe is None or probe_teacher is None:
                raise ValueError("extra loss terms need the student, a probe batch and the teacher's outputs on it")
            was = student.training
            with torch.no_grad():
                s_feats = self._student(student, probe)
            student.train(was)
            for t, _ in self.terms:
                # hints and embeddings compare coordinates, so widths must match (a learned adapter);
                # relations (RKD, SP) and attention maps compare within-model geometry at any width.
                s, te = s_feats[t.student_layer or ""], probe_teacher[t.teacher_layer or ""]
                self.adapters.append(token_adapter(s.shape, te.shape) if t.loss == "hidden_mse" else
                                     adapter_for(s.shape, te.shape) if t.loss in ADAPTED else nn.Identity())

    def _student(self, student, x):
        """Student outputs and taps (with grad), keyed by layer ("" = the task's primary output)."""
        with FeatureTap(student, self.s_layers) as s_tap:
            s_out = self.task.forward(student, x)
        return {"": s_out, **s_tap.outputs}

    def _response(self, s, t, y):
        """The main loss on outputs. Per-position outputs (b, T, V) compare position by position: rows
        (b·T, V) with labels (b·T,), so hinton_kd on a language model is word-level KD."""
        if s.dim() > 2:
            s, y = s.flatten(0, -2), y.flatten()
            t = t.flatten(0, -2) if t.numel() else t.new_zeros(len(s), 0)
        if self.main.uses_labels:
            return self.main(s, t, y, **self.main_params)
        return self.main(s, t, **self.main_params)

    def forward(self, student, x, y, teacher_out: dict):
        """Total loss on one batch: x {name: (b, …)}, y (b,) or (b, T), teacher_out as in the class docstring."""
        t_out = teacher_out.get("")
        if t_out is None:  # (b, 0): losses that ignore the teacher
            t_out = torch.zeros(len(y), 0)
        if not self.terms:
            return self._response(self.task.forward(student, x), t_out, y)
        s_feats = self._student(student, x)
        value = self._response(s_feats[""], t_out, y)
        for (t, loss), adapter in zip(self.terms, self.adapters):
            s, te = adapter(s_feats[t.student_layer or ""]), teacher_out[t.teacher_layer or ""]
            value = value + t.weight * (loss(s, te, y, **t.params) if loss.uses_labels else loss(s, te, **t.params))
        return value
