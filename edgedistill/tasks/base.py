"""What every task says about its models: tensors by name, how a model is called, which students train.

A task is the one seam between "a model" and the stages: data, the teacher-output cache, losses,
export, parity, calibration, both bench runners and the gate read these declarations and never
assume one float input called `input` or (N, C) logits. Importable without torch.
"""

from __future__ import annotations

from dataclasses import dataclass

TOKEN_INPUTS = frozenset({"input_ids", "attention_mask", "token_type_ids"})  # a transformer's (batch, sequence)
UNLABELED = -1  # a row (or position) with no hard label: it carries only the distillation term


@dataclass(frozen=True)
class TensorSpec:
    """One named graph input or output: dtype and axes, a str axis is dynamic (its name), an int is fixed."""

    name: str
    dtype: str  # numpy dtype name: "float32", "int64"
    axes: tuple  # e.g. ("batch", 40), ("batch", "sequence"), ("batch", "sequence", 97)
    example: tuple = ()  # one row's shape in the data, e.g. (64,): traced sizes, and a dynamic axis's maximum

    def describe(self) -> str:
        """`input_ids (batch, sequence) int64`."""
        return f"{self.name} ({', '.join(map(str, self.axes))}) {self.dtype}"


@dataclass(frozen=True)
class Signature:
    """A model's named inputs and outputs under a task: what export, parity, calibration and bench read."""

    task: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One row's shape of the first input (what single-input exporters such as Core ML take)."""
        return tuple(self.inputs[0].example)

    def example(self, batch: int = 2) -> dict:
        """Zero tensors of every input at `batch` rows (≥ 2, so no dynamic axis is specialised to 1)."""
        import torch

        return {s.name: torch.zeros(batch, *s.example, dtype=getattr(torch, s.dtype)) for s in self.inputs}


@dataclass(frozen=True)
class StudentRun:
    """One student a recipe trains: its name, what it learns from, and which train table it reads."""

    name: str  # "scratch", "distilled", … (its weights: student-<name>.safetensors)
    loss: str  # "hard" (cross-entropy on labels) or "teacher" (the recipe's response loss + terms)
    rows: str = "labeled"  # "labeled", "labeled+transfer" or "teacher_samples" (text the teacher wrote)
    train: str = "train"  # the student table it reads: "train" or "transfer_train"


class Task:
    """Base of the registered tasks; subclasses fill the class attributes and override what differs."""

    name: str = ""
    output: str = ""  # the primary output's name: what response losses, the cache and parity read
    headline: str = ""  # the metric that sums up one model (tasks/metrics.py METRICS)
    lower_is_better: bool = False
    runs: tuple[StudentRun, ...] = ()
    shipped: str = ""  # the run whose student is exported, unless the recipe's export.ship says otherwise

    def inputs(self, ds) -> tuple[TensorSpec, ...]:
        """The model's inputs for this data, by name, in the order a model takes them: batch dynamic, and
        the sequence of token inputs (Hugging Face names, (N, T) ints) too, up to the data's length T."""
        def axes(name, a):
            if name in TOKEN_INPUTS and a.ndim == 2 and a.dtype.kind in "iu":
                return ("batch", "sequence")
            return ("batch", *a.shape[1:])

        return tuple(TensorSpec(n, str(a.dtype), axes(n, a), tuple(a.shape[1:])) for n, a in ds.x_train.items())

    def signature(self, ds) -> Signature:
        """Inputs and outputs of this task's models on `ds`."""
        return Signature(self.name, self.inputs(ds), self.outputs(ds))

    def outputs(self, ds) -> tuple[TensorSpec, ...]:
        """The model's outputs: the primary one first."""
        raise NotImplementedError

    def call(self, model, batch: dict) -> dict:
        """Run `model` on a batch of named input tensors; outputs as a dict keyed by output name.

        A model of one input takes it positionally; a model of several takes them by keyword (as
        Hugging Face models do). A model returning a dict keeps its keys; a tensor becomes the primary."""
        if not isinstance(batch, dict):  # one tensor: a single-input model's input
            out = model(batch)
        else:
            out = model(*batch.values()) if len(batch) == 1 else model(**batch)
        return dict(out) if isinstance(out, dict) else {self.output: out}

    def forward(self, model, batch: dict):
        """The primary output tensor of `model` on `batch`."""
        return self.call(model, batch)[self.output]

    def references(self, ds, teacher_out) -> dict:
        """The eval set's reference arrays (tasks/metrics.py) for the test rows, given the teacher's outputs."""
        raise NotImplementedError

    def check(self, recipe, source: str) -> None:
        """Task-specific recipe checks (ConfigError naming the key); nothing by default."""

    def summary(self, metrics: dict) -> str:
        """A model's headline figure in words: "97.80%", "perplexity 4.87"."""
        value = metrics.get(self.headline)
        return "—" if value is None else f"{self.headline} {value:.4g}"


class OptionalTransfer:
    """Tasks whose transfer student (labelled + unlabelled rows) trains only under [student.transfer_train]:
    without that table the recipe must name another student to ship, and read no unlabelled data."""

    def runs_for(self, recipe):
        """The transfer student only when the recipe has a [student.transfer_train] table for it."""
        return tuple(r for r in self.runs if r.train != "transfer_train" or recipe.student.transfer_train)

    def check_transfer(self, recipe, source):
        """ConfigError when the shipped or the unlabelled data's student would not be trained."""
        from ..errors import ConfigError

        if recipe.student.transfer_train is None and recipe.export.ship in (None, "distilled_transfer"):
            raise ConfigError(source, "export.ship" if recipe.export.ship else "student.transfer_train",
                              "the default shipped student (distilled_transfer) trains on labelled + transfer rows "
                              "under [student.transfer_train], which the recipe does not have",
                              'add [student.transfer_train] with epochs and lr, or ship another student: '
                              '[export] ship = "distilled"')
        if recipe.student.transfer_train is None and recipe.data.unlabeled:
            raise ConfigError(source, "data.unlabeled", "read by no student: only the transfer student learns from "
                              "unlabelled data, and the recipe has no [student.transfer_train]",
                              "add [student.transfer_train] with epochs and lr, or remove data.unlabeled")
