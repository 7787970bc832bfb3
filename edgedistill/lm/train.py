"""Training and evaluating the char LMs: one loop, read top to bottom (nanoGPT's train.py in spirit).

Every model trains on windows (W, context + 1) of character ids: input [:, :-1], target [:, 1:].
What a student learns from is the only difference between the runs:

    scratch          cross-entropy on the real next character
    word-level       hinton_kd (distill/losses.py) on the teacher's per-position distributions over
                     the same real windows, computed once — (B, T, V) flattened to (B·T, V)
    sequence-level   cross-entropy on windows the teacher wrote (prompt targets ignored)

Validation perplexity = exp(mean per-character cross-entropy) over every predicted character of
the held-out text, measured in eval mode.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from ..distill.losses import hinton_kd
from ..progress import Reporter
from .corpus import windows
from .generate import IGNORE


@dataclass(frozen=True)
class LMResult:
    """What one training run achieved; figures measured on this host."""

    label: str
    val_loss: float  # mean cross-entropy per validation character, nats
    val_perplexity: float  # exp(val_loss)
    params: int
    epochs: int
    steps: int
    windows: int  # training windows per epoch
    seconds: float

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Soft:
    """Word-level targets: the teacher's logits (W, T, V) for each training window, and hinton_kd's parameters."""

    logits: torch.Tensor  # float16 to halve memory; cast back per batch
    temperature: float
    alpha: float


def count_params(model: torch.nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@torch.no_grad()
def val_loss(model, val: torch.Tensor, batch: int = 64) -> float:
    """Mean cross-entropy (nats) over every predicted character of `val` windows (W, context + 1); eval mode."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(val), batch):
        w = val[i:i + batch]  # (B, T + 1)
        logits = model(w[:, :-1])  # (B, T, V)
        total += F.cross_entropy(logits.flatten(0, 1), w[:, 1:].flatten(), reduction="sum").double().item()
        count += w[:, 1:].numel()
    model.train(was_training)
    return total / count


@torch.no_grad()
def teacher_logits(teacher, train: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """The frozen teacher's logits for every training window: (W, T, V) float16, eval mode, no grad."""
    teacher.eval()
    return torch.cat([teacher(train[i:i + batch, :-1]).half() for i in range(0, len(train), batch)])


def fit(model, train: torch.Tensor, *, cfg, val: torch.Tensor, seed: int, label: str, reporter: Reporter,
        targets: torch.Tensor | None = None, soft: Soft | None = None, text: torch.Tensor | None = None
        ) -> LMResult:
    """Train `model` in place on windows `train` (W, T + 1); AdamW + one-cycle LR; return its validation result.

    targets: (W, T) next characters with IGNORE where no loss applies (default: train[:, 1:]).
    soft: word-level distillation targets (hinton_kd) instead of cross-entropy.
    text: the raw id stream `train` was cut from; when given, each epoch re-cuts it at a random
          phase (0 … T−1), so a model sees every character in many contexts (used for the teacher).
    """
    gen = torch.Generator().manual_seed(seed)  # batch order and phases; the init was seeded by the caller
    T = train.shape[1] - 1  # noqa: N806 — context
    if text is not None:  # as many windows as the latest phase (T − 1) still yields
        train = train[:(len(text) - T) // T]
    n, bs = len(train), cfg.batch_size
    steps_per_epoch = math.ceil(n / bs)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch)
    start = time.perf_counter()
    with reporter.task(label, cfg.epochs) as advance:
        for epoch in range(cfg.epochs):
            model.train()
            if text is not None and epoch > 0:  # same number of windows, shifted by a random phase
                train = windows(text, T, int(torch.randint(0, T, (1,), generator=gen)))[:n]
            order = torch.randperm(n, generator=gen)
            total = 0.0
            for i in range(0, n, bs):
                idx = order[i:i + bs]
                x = train[idx, :-1]  # (B, T) input characters
                y = train[idx, 1:] if targets is None else targets[idx]  # (B, T) next characters
                logits = model(x)  # (B, T, V)
                if soft is None:
                    loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=IGNORE)
                else:  # per-position KD: every (window, position) is one row of hinton_kd's batch
                    loss = hinton_kd(logits.flatten(0, 1), soft.logits[idx].float().flatten(0, 1), y.flatten(),
                                     temperature=soft.temperature, alpha=soft.alpha)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += loss.item()
            advance(epoch=epoch + 1, loss=total / steps_per_epoch, val_ppl=math.exp(val_loss(model, val)))
    model.eval()
    vl = val_loss(model, val)
    return LMResult(label, vl, math.exp(vl), count_params(model), cfg.epochs, cfg.epochs * steps_per_epoch, n,
                    time.perf_counter() - start)
