"""classify: one input → logits (batch, classes), judged by top-1 accuracy and agreement with the teacher.

Students: scratch (hard labels), distilled (the response loss on the labelled set) and
distilled_transfer (the same on labelled + unlabelled transfer rows) — the one shipped by default. A recipe
without [student.transfer_train] trains no transfer student (and must name the one it ships): unlabelled text
far from the task (WordNet glosses for news) can cost accuracy and minutes, so it is a choice, not a rule.
"""

from __future__ import annotations

from .base import StudentRun, Task, TensorSpec


class Classify(Task):
    name = "classify"
    output = "logits"
    headline = "accuracy"
    runs = (StudentRun("scratch", "hard"),
            StudentRun("distilled", "teacher"),
            StudentRun("distilled_transfer", "teacher", "labeled+transfer", "transfer_train"))
    shipped = "distilled_transfer"

    def outputs(self, ds):
        return (TensorSpec(self.output, "float32", ("batch", ds.num_classes)),)

    def references(self, ds, teacher_out):
        """Labels and the teacher's top-1 class per test row."""
        return {"y": ds.y_test, "teacher_pred": teacher_out.argmax(1)}

    def runs_for(self, recipe):
        """The transfer student only when the recipe has a [student.transfer_train] table for it."""
        return tuple(r for r in self.runs if r.train != "transfer_train" or recipe.student.transfer_train)

    def check(self, recipe, source):
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

    def summary(self, metrics):
        value = metrics.get("accuracy")
        return "—" if value is None else f"{value:.2f}%"
