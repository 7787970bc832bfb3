"""embed: inputs → one vector per example (batch, dim), judged against the teacher's vectors.

Metrics: mean cosine to the teacher's vector of the same input, neighbour overlap @10 with the
teacher on held-out inputs, and Spearman ρ against human similarity ratings when the data has them
(tasks/metrics.py). No labels are needed: the students learn the teacher's vectors with an
outputs loss (embedding_mse / embedding_cosine, weighted terms add more).

Students: distilled (the train split) and, under [student.transfer_train], distilled_transfer (train +
unlabelled transfer rows), the one shipped by default; without that table the recipe ships "distilled"
(minilm-embed: its train split is already 100k+ unlabelled sentences). There is no scratch student:
without labels there is nothing to learn from. Probe metrics (kNN, few-shot: tasks/probes.py) read the
probe rows' classes, never used in training.
"""

from __future__ import annotations

from .base import OptionalTransfer, StudentRun, Task, TensorSpec


class Embed(OptionalTransfer, Task):
    name = "embed"
    output = "embedding"
    headline = "nn_overlap"
    runs = (StudentRun("distilled", "teacher"),
            StudentRun("distilled_transfer", "teacher", "labeled+transfer", "transfer_train"))
    shipped = "distilled_transfer"

    def outputs(self, ds):
        return (TensorSpec(self.output, "float32", ("batch", ds.num_classes)),)

    def references(self, ds, teacher_out):
        """The teacher's vectors for the test rows, plus any rated pairs the data carries."""
        return {"teacher_embedding": teacher_out, **ds.references}

    def check(self, recipe, source):
        from ..distill.loss_table import compares_labels
        from ..errors import ConfigError

        if recipe.teacher.source == "train":
            raise ConfigError(source, "teacher.source", "an embedding task distils a pretrained teacher: there "
                              "are no labels to train one on", 'set teacher.source = "safetensors", "onnx", …')
        if compares_labels(recipe.distill.loss):
            raise ConfigError(source, "distill.loss", f"{recipe.distill.loss!r} reads class labels; task "
                              "'embed' compares vectors", 'use loss = "embedding_mse" or "embedding_cosine"')
        self.check_transfer(recipe, source)

    def summary(self, metrics):
        value = metrics.get("nn_overlap")
        if value is None:  # the teacher against itself: only the probes and ratings say anything
            parts = [f"{k} {metrics[k]:.{p}f}{u}" for k, p, u in (("spearman", 3, ""), ("knn_accuracy", 1, "%"),
                                                                 ("fewshot_accuracy", 1, "%")) if k in metrics]
            return ", ".join(parts) or "—"
        return f"NN@10 {value:.1f}%" + "".join(f", {k.split('_')[0]} {metrics[k]:.1f}%" for k in
                                              ("knn_accuracy", "fewshot_accuracy") if k in metrics)
