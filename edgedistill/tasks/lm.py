"""lm: token ids (batch, sequence) → next-token logits (batch, sequence, vocab), judged by perplexity.

Students, all from one initialisation (Kim & Rush 2016 name the two distillations):
    scratch    cross-entropy on the real next token
    word       word-level KD: the response loss (hinton_kd) on the teacher's per-position
               distributions over the same real text — response losses flatten (B, T, V) to (B·T, V)
    sequence   sequence-level KD: cross-entropy on text the teacher wrote (`distill.sequences`
               samples, each after a real prompt whose positions carry no loss); only when asked for
"""

from __future__ import annotations

from .base import UNLABELED, StudentRun, Task, TensorSpec


class LanguageModel(Task):
    name = "lm"
    output = "logits"
    headline = "perplexity"
    lower_is_better = True
    runs = (StudentRun("scratch", "hard"),
            StudentRun("word", "teacher"),
            StudentRun("sequence", "hard", "teacher_samples"))
    shipped = "word"

    def inputs(self, ds):
        (name, a), = ds.x_train.items()
        return (TensorSpec(name, "int64", ("batch", "sequence"), tuple(a.shape[1:])),)

    def outputs(self, ds):
        return (TensorSpec(self.output, "float32", ("batch", "sequence", ds.num_classes)),)

    def references(self, ds, teacher_out):
        """Next-token ids (UNLABELED where no loss applies) and the teacher's top-1 token per position."""
        return {"y": ds.y_test, "teacher_pred": teacher_out.argmax(-1)}

    def runs_for(self, recipe):
        """The sequence-level student only when the recipe asks the teacher to write samples."""
        return tuple(r for r in self.runs if r.rows != "teacher_samples" or recipe.distill.sequences)

    def check(self, recipe, source):
        from ..errors import ConfigError
        from ..export.presets import load_preset

        for i, p in enumerate(recipe.export.presets):
            if load_preset(p).format == "coreml":
                raise ConfigError(source, f"export.presets[{i}]", f"{p}: Core ML export is not built for the lm "
                                  "task (its per-position logits are not converted or checked)",
                                  "ship onnx/ort presets for a language model")
        d = recipe.distill
        if d.sequences and d.prompt_chars >= recipe.data.context:
            raise ConfigError(source, "distill.prompt_chars", f"{d.prompt_chars} must be below data.context "
                              f"({recipe.data.context}): the teacher must write at least one token",
                              "lower distill.prompt_chars")

    def summary(self, metrics):
        value = metrics.get("perplexity")
        return "—" if value is None else f"perplexity {value:.3f}"


def sample(model, prompts, total: int, temperature: float, gen):
    """(B, P) prompts → (B, total) ids: the prompt, then tokens drawn from softmax(logits / T) one at a time.

    A model with `step(ids, past, start)` (models/gpt.py) reuses its key/value cache: N tokens cost N
    one-position forwards; any other model runs on the whole prefix each time."""
    import torch

    model.eval()
    stepped = hasattr(model, "step")
    with torch.no_grad():
        logits, past = model.step(prompts, None, 0) if stepped else (model(prompts), None)  # (B, P, V)
        out = [prompts]
        for pos in range(prompts.shape[1], total):
            probs = torch.softmax(logits[:, -1] / temperature, dim=-1)  # (B, V) next-token distribution
            nxt = torch.multinomial(probs, 1, generator=gen)  # (B, 1)
            out.append(nxt)
            if pos + 1 < total:
                logits, past = model.step(nxt, past, pos) if stepped else (model(torch.cat(out, 1)), None)
    return torch.cat(out, dim=1)


def teacher_samples(teacher, windows, targets, sequences: int, prompt: int, temperature: float, seed: int,
                    batch: int = 512):
    """Sequence-level data: (inputs (S, T), targets (S, T)) the teacher wrote after real prompts.

    Each sample starts with `prompt` real tokens cut from a random training window (inputs `windows`
    (W, T) with next tokens `targets` (W, T)); the teacher continues to T + 1 tokens. Targets at
    prompt positions are UNLABELED: the student learns only from what the teacher wrote."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    text = torch.cat([windows, targets[:, -1:]], dim=1)  # (W, T + 1): a window and its last next token
    t = windows.shape[1]
    rows = torch.randint(0, len(text), (sequences,), generator=gen)
    starts = torch.randint(0, t + 1 - prompt, (sequences,), generator=gen)
    prompts = torch.stack([text[r, s:s + prompt] for r, s in zip(rows.tolist(), starts.tolist())])  # (S, P)
    written = torch.cat([sample(teacher, prompts[i:i + batch], t + 1, temperature, gen)
                         for i in range(0, sequences, batch)])  # (S, T + 1)
    y = written[:, 1:].clone()
    y[:, :prompt - 1] = UNLABELED  # targets 1 … P−1 are real prompt tokens
    return written[:, :-1], y
