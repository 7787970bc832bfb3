"""The training loop: one screen, top to bottom. Used for the teacher and for every student.

The teacher's outputs come in through `outputs.take(idx, x)` (distill/cache.py): rows of the
teacher-output cache (computed once, in eval mode under no_grad, before any student trains — the
cheapest way to feed 36k transfer examples per epoch on a 2-core CPU), or the frozen teacher
run on the batch itself when inputs are augmented on the fly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..models import count_params
from ..progress import Reporter
from ..tasks import get_task
from . import augment
from .checkpoint import Checkpointer, Position
from .ddp import SINGLE, Dist
from .objective import Objective
from .rows import Rows

CLASSIFY = get_task("classify")


@dataclass(frozen=True)
class TrainResult:
    """What one training run achieved; figures are measured on this host."""

    label: str
    metrics: dict  # the task's metrics of the torch model on the test set, e.g. {"accuracy": 97.8} (%)
    params: int
    epochs: int
    steps: int
    examples: int  # per epoch, labelled + unlabelled
    seconds: float  # training wall time, summed over the processes that trained it (a resumed run adds up)
    final_loss: float

    @property
    def test_accuracy(self) -> float:
        """Top-1 test accuracy as a fraction (classify; NaN for tasks without one)."""
        return self.metrics.get("accuracy", float("nan")) / 100


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch and numpy; return the generator that orders batches."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    return torch.Generator().manual_seed(seed)


@torch.no_grad()
def predict(model: torch.nn.Module, x, task=CLASSIFY, batch: int = 1024) -> torch.Tensor:
    """Eval-mode primary outputs (N, ...) of `model` on rows `x`, in batches; restores train/eval mode."""
    rows = x if isinstance(x, Rows) else Rows(x)
    was_training = model.training
    model.eval()
    out = torch.cat([task.forward(model, rows.take(slice(i, i + batch))) for i in range(0, len(rows), batch)])
    model.train(was_training)
    return out


def predict_logits(model: torch.nn.Module, x, batch: int = 1024) -> torch.Tensor:
    """Eval-mode logits (N, C) of a classifier (single input)."""
    return predict(model, x, CLASSIFY, batch)


def evaluate(model, x, refs: dict, task=CLASSIFY) -> dict[str, float]:
    """The task's metrics (tasks/metrics.py) of the torch model on rows `x` against `refs`."""
    from ..tasks.metrics import evaluate as score

    out = predict(model, x, task).numpy()
    return {k: v for k, (v, _unit) in score(task.name, out, refs).items()}


def accuracy(model: torch.nn.Module, x, y: torch.Tensor) -> float:
    """Top-1 accuracy as a fraction."""
    return evaluate(model, x, {"y": y.numpy()})["accuracy"] / 100


class _Step(torch.nn.Module):
    """Student + objective as one module, so DDP averages the adapters' gradients with the student's."""

    def __init__(self, student, objective):
        super().__init__()
        self.student, self.objective = student, objective

    def forward(self, x, y, teacher_out):
        return self.objective(self.student, x, y, teacher_out)


def fit(model, x, y, *, cfg, loss: str, loss_params: dict, x_test, y_test, seed: int,
        label: str, reporter: Reporter, outputs=None, terms=(),
        checkpoints: Checkpointer | None = None, dist: Dist = SINGLE, task=CLASSIFY, refs=None) -> TrainResult:
    """Train `model` in place on (x, y); y == UNLABELED marks transfer rows (or positions).

    x: Rows (or one tensor / a dict of named tensors) of N rows; y: (N,) or (N, T) int64; `outputs`
    gives the teacher's outputs of rows (None: no teacher). AdamW + one-cycle LR; `cfg.augment`
    transforms each batch's float inputs on the fly. `terms` (objective.Term) add weighted
    feature/relation/embedding losses. `checkpoints` saves every few steps and, when resuming,
    restores the exact state first. With several ranks (`dist`), each trains on its slice of every
    global batch (distill/ddp.py). `refs`: the test references the task's metrics read (default
    {"y": y_test}); the progress line shows the task's headline metric. The result's `seconds` is
    the training wall time summed over the processes that trained it: a resumed run adds the seconds
    its checkpoint recorded (work a killed process did after its last checkpoint is redone, and counted once).
    """
    x, x_test = (v if isinstance(v, Rows) else Rows(v) for v in (x, x_test))
    refs = refs if refs is not None else {"y": y_test.numpy()}
    gen = seed_everything(seed)
    probe = torch.arange(min(64, len(x)))
    xp = x.take(probe)
    objective = Objective(loss, loss_params, terms, model, xp,  # adapters, if any, live here
                          outputs.take(probe, xp) if terms else None, task)
    n, bs = len(x), cfg.batch_size
    steps_per_epoch = (n + bs - 1) // bs
    params = list(model.parameters()) + list(objective.parameters())  # student + adapters
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch)
    # where the loop stands: a restored checkpoint resumes mid-epoch, with that epoch's batch order
    at = checkpoints.restore(model, objective, opt, sched, gen) if checkpoints else None
    step, first_epoch = (at.step, at.epoch) if at else (0, 0)
    saving = checkpoints is not None and dist.is_main  # other ranks only read checkpoints, to resume
    train_step = dist.wrap(_Step(model, objective))  # DDP (several ranks) syncs gradients in backward
    start, last = time.perf_counter(), float("nan")
    before = at.seconds if at else 0.0  # what the interrupted processes spent up to the checkpoint

    def spent() -> float:  # training wall time so far, across interruptions
        return before + time.perf_counter() - start

    with reporter.task(label, cfg.epochs, done=first_epoch) as advance:  # a resumed run starts where it stood
        for epoch in range(first_epoch, cfg.epochs):
            model.train()
            resumed = at is not None and epoch == at.epoch
            order = at.order if resumed else torch.randperm(n, generator=gen)
            total = at.total if resumed else 0.0
            for i in range(at.offset if resumed else 0, n, bs):
                idx = dist.shard(order[i:i + bs])  # this rank's rows of the global batch
                xb = augment.batch(x.take(idx), cfg.augment)  # {name: (b, …)}; the rows the teacher's outputs are of
                value = train_step(xb, y[idx], outputs.take(idx, xb) if outputs else {})
                opt.zero_grad(set_to_none=True)
                value.backward()
                opt.step()
                sched.step()
                total += value.item() * len(idx)
                step += 1
                if saving and checkpoints.due(step):
                    at_step = Position(step, epoch, i + bs, order, total, spent())
                    checkpoints.save(at_step, model, objective, opt, sched, gen)
            dist.broadcast_buffers(model)  # every rank evaluates (and rank 0 saves) the same BatchNorm statistics
            last = dist.sum(total)[0] / n  # every rank's rows (a resumed epoch counts rank 0's earlier ones)
            shown = evaluate(model, x_test, refs, task).get(task.headline, float("nan"))
            advance(epoch=epoch + 1, loss=last, **{f"test_{task.headline}": shown})
    if saving and not checkpoints.due(step) and (at is None or at.step != step):
        # the finished state too: resuming a later stage then skips this one instead of retraining it
        checkpoints.save(Position(step, cfg.epochs - 1, n, order, total, spent()), model, objective, opt, sched, gen)
    model.eval()
    return TrainResult(label, evaluate(model, x_test, refs, task), count_params(model),
                       cfg.epochs, cfg.epochs * steps_per_epoch, n, spent(), last)
