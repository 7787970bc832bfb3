"""classify: one input → logits (batch, classes), judged by top-1 accuracy and agreement with the teacher.

Students: scratch (hard labels), distilled (the response loss on the labelled set) and
distilled_transfer (the same on labelled + unlabelled transfer rows) — the one shipped by default. A recipe
without [student.transfer_train] trains no transfer student (and must name the one it ships): unlabelled text
far from the task (WordNet glosses for news) can cost accuracy and minutes, so it is a choice, not a rule.
"""

from __future__ import annotations

from .base import OptionalTransfer, StudentRun, Task, TensorSpec


class Classify(OptionalTransfer, Task):
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

    def check(self, recipe, source):
        self.check_transfer(recipe, source)

    def summary(self, metrics):
        value = metrics.get("accuracy")
        return "—" if value is None else f"{value:.2f}%"
