"""The char-LM training stage: corpus → teacher (cached) → teacher data → three students from one init.

    scratch      cross-entropy on the real training text                       — the baseline
    word         hinton_kd on the teacher's per-character distributions over the same text
    sequence     cross-entropy on `distill.sequences` windows the teacher wrote (temperature
                 `distill.sample_temperature`, prompts cut from the training text)

The teacher is frozen (eval mode, no_grad) before any student trains: its logits and samples are
computed once, so no gradient can reach it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..artifacts import Artifact, atomic_write_text, receipt
from ..cache import code_version, content_key
from ..models import save_weights
from .corpus import Corpus, decode, load_corpus, windows
from .generate import masked_targets, teacher_samples
from .model import CharGPT, build_lm
from .train import LMResult, Soft, fit, teacher_logits, val_loss

STUDENTS = ("scratch", "word", "sequence")
_CODE = ("lm/corpus.py", "lm/model.py", "lm/train.py")  # what decides a trained teacher's weights


@dataclass(frozen=True)
class LMTrained:
    """Everything the export, bench and report steps need from training."""

    corpus: Corpus
    val: torch.Tensor  # (W, context + 1) validation windows
    teacher_result: LMResult
    teacher_cached: bool
    students: dict[str, CharGPT]  # eval mode
    results: dict[str, LMResult]
    generated: dict  # sequences, characters written, seconds
    weights: dict[str, Artifact]


def train_all(recipe, cache_dir: Path | None, out: Path, reporter) -> LMTrained:
    """Train the teacher and the three students; weights land in `out` as safetensors."""
    ctx, d = recipe.data.context, recipe.distill
    corpus = load_corpus(recipe.data.block_chars, recipe.data.val_every, recipe.data.max_train_chars)
    train, val = windows(corpus.train, ctx), windows(corpus.val, ctx)  # (W, ctx + 1) each
    reporter.info(f"corpus: pydoc_data topics, {len(corpus.train):,} train / {len(corpus.val):,} validation "
                  f"characters ({len(train)} / {len(val)} windows of {ctx})")
    teacher, t_result, cached = _teacher(recipe, corpus, train, val, cache_dir, reporter)
    soft = Soft(teacher_logits(teacher, train), d.temperature, d.alpha)  # (W, ctx, V), once
    start = time.perf_counter()
    samples = teacher_samples(teacher, corpus.train, d.sequences, ctx, d.prompt_chars, d.sample_temperature,
                              recipe.seed)  # (S, ctx + 1)
    generated = {"sequences": d.sequences, "chars": d.sequences * (ctx + 1 - d.prompt_chars),
                 "prompt_chars": d.prompt_chars, "temperature": d.sample_temperature,
                 "seconds": time.perf_counter() - start}
    reporter.info(f"teacher wrote {generated['chars']:,} characters in {d.sequences} samples "
                  f"({generated['seconds']:.1f} s)")
    runs = {"scratch": {"train": train}, "word": {"train": train, "soft": soft},
            "sequence": {"train": samples, "targets": masked_targets(samples, d.prompt_chars)}}
    torch.manual_seed(recipe.seed + 1)  # one init, shared by every student
    init = build_lm(recipe.student, ctx).state_dict()
    students, results, weights = {}, {}, {"teacher": _save(teacher, out / "teacher.safetensors", "teacher")}
    for name, data in runs.items():
        model = build_lm(recipe.student, ctx)
        model.load_state_dict(init)
        results[name] = fit(model, cfg=recipe.student.train, val=val, seed=recipe.seed, label=f"student: {name}",
                            reporter=reporter, **data)
        students[name] = model
        weights[name] = _save(model, out / f"student-{name}.safetensors", f"student: {name}")
    weights["samples"] = _write_samples(samples, d.prompt_chars, out / "teacher-samples.txt")
    return LMTrained(corpus, val, t_result, cached, students, results, generated, weights)


def _teacher(recipe, corpus: Corpus, train, val, cache_dir: Path | None, reporter) -> tuple[CharGPT, LMResult, bool]:
    """Train the teacher, or reuse the one cached under (teacher, data, seed, corpus, code)."""
    from safetensors.torch import load_file

    torch.manual_seed(recipe.seed)
    model = build_lm(recipe.teacher, recipe.data.context)
    key = content_key(recipe.teacher.model_dump(mode="json"), recipe.data.model_dump(mode="json"), recipe.seed,
                      corpus.sha256, code_version(_CODE), torch.__version__)
    folder = Path(cache_dir) / "lm-teachers" / key[:24] if cache_dir else None
    if folder and (folder / "result.json").exists():
        model.load_state_dict(load_file(folder / "teacher.safetensors"))
        stored = json.loads((folder / "result.json").read_text())
        loss = val_loss(model, val)  # measured again now, on this host
        result = LMResult(**{**stored, "val_loss": loss, "val_perplexity": float(torch.tensor(loss).exp())})
        reporter.info(f"teacher: reused from cache {folder} (validation perplexity {result.val_perplexity:.3f})")
        return model.eval(), result, True
    result = fit(model, train, cfg=recipe.teacher.train, val=val, seed=recipe.seed, label="teacher",
                 reporter=reporter, text=corpus.train)
    if folder:
        folder.mkdir(parents=True, exist_ok=True)
        save_weights(model, folder / "teacher.safetensors")
        atomic_write_text(folder / "result.json", json.dumps(result.to_json(), indent=2))  # last: marks complete
    return model.eval(), result, False


def _save(model: torch.nn.Module, path: Path, label: str) -> Artifact:
    save_weights(model, path)
    params = sum(p.numel() for p in model.parameters())
    return receipt(path.name, path, "safetensors", "lm.train", params=params, model=label)


def _write_samples(samples: torch.Tensor, prompt_chars: int, path: Path, shown: int = 20) -> Artifact:
    """The first `shown` teacher samples as text: prompt in [brackets], then what the teacher wrote."""
    parts = [f"--- sample {i} ---\n[{decode(s[:prompt_chars])}]{decode(s[prompt_chars:])}"
             for i, s in enumerate(samples[:shown])]
    atomic_write_text(path, "\n".join(parts) + "\n")
    return receipt(path.name, path, "text", "lm.generate", samples=len(samples), shown=min(shown, len(samples)))
