"""classify: one input → logits (batch, classes), judged by top-1 accuracy and agreement with the teacher.

Students: scratch (hard labels), distilled (the response loss on the labelled set) and
distilled_transfer (the same on labelled + unlabelled transfer rows) — the one shipped.
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

    def check(self, recipe, source):
        from ..errors import ConfigError

        if recipe.student.transfer_train is None:
            raise ConfigError(source, "student.transfer_train", "required for task 'classify' (the shipped student "
                              "trains on labelled + transfer rows)", "add [student.transfer_train] with epochs and lr")

    def summary(self, metrics):
        value = metrics.get("accuracy")
        return "—" if value is None else f"{value:.2f}%"
