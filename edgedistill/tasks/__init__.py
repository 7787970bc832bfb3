"""Task registry: classify (logits), embed (vectors), lm (per-token distributions).

A task is the one place that knows what a model takes and gives (tasks/base.py): its tensors by
name, how a model is called, which students a recipe trains, its metrics (tasks/metrics.py, numpy
only) and the headline figure of a model. A recipe names it with `task = "classify"` (the default).
A new sort of model is a new task registered here, never a parallel pipeline.
"""

from __future__ import annotations

from ..registry import Registry
from .base import UNLABELED, Signature, StudentRun, Task, TensorSpec

TASKS: Registry = Registry("task")


def _register() -> None:
    from .classify import Classify
    from .embed import Embed
    from .lm import LanguageModel

    for task in (Classify(), Embed(), LanguageModel()):
        TASKS.register(task.name, task)


_register()


def get_task(name: str) -> Task:
    """The registered task `name` (KeyError with "did you mean" otherwise)."""
    return TASKS.get(name)


def runs_for(task: Task, recipe) -> tuple[StudentRun, ...]:
    """The students a recipe trains under `task`."""
    pick = getattr(task, "runs_for", None)
    return pick(recipe) if pick else task.runs


__all__ = ["TASKS", "UNLABELED", "Signature", "StudentRun", "Task", "TensorSpec", "get_task", "runs_for"]
