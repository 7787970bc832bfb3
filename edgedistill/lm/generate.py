"""Sequence-level distillation data: text the teacher writes, one character at a time.

Each sample starts with `prompt_chars` real characters cut from the training text at a random
(seeded) place; the teacher continues it to `context + 1` characters by sampling from
softmax(logits / temperature). The prompt positions are masked out of the targets (IGNORE), so
the student learns only from what the teacher wrote.
"""

from __future__ import annotations

import torch

IGNORE = -100  # F.cross_entropy's ignore_index: targets that carry no loss


@torch.no_grad()
def sample(model, prompts: torch.Tensor, total: int, temperature: float, gen: torch.Generator) -> torch.Tensor:
    """(B, P) prompts → (B, total) ids: the prompt, then total − P characters sampled from `model`."""
    model.eval()
    logits, past = model.step(prompts, None, 0)  # prefill: (B, P, V) and the cache of P positions
    out = [prompts]
    for pos in range(prompts.shape[1], total):
        probs = torch.softmax(logits[:, -1] / temperature, dim=-1)  # (B, V) next-character distribution
        nxt = torch.multinomial(probs, 1, generator=gen)  # (B, 1)
        out.append(nxt)
        if pos + 1 < total:
            logits, past = model.step(nxt, past, pos)
    return torch.cat(out, dim=1)


def teacher_samples(teacher, train_ids: torch.Tensor, sequences: int, context: int, prompt_chars: int,
                    temperature: float, seed: int, batch: int = 512) -> torch.Tensor:
    """(sequences, context + 1) ids: a real prompt, then what the teacher wrote (see masked_targets)."""
    gen = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(train_ids) - prompt_chars, (sequences,), generator=gen)  # (S,)
    prompts = torch.stack([train_ids[s:s + prompt_chars] for s in starts.tolist()])  # (S, P)
    parts = [sample(teacher, prompts[i:i + batch], context + 1, temperature, gen)
             for i in range(0, sequences, batch)]
    return torch.cat(parts)


def masked_targets(samples: torch.Tensor, prompt_chars: int) -> torch.Tensor:
    """(S, context + 1) samples → (S, context) next-character targets, IGNORE where the target is prompt text."""
    y = samples[:, 1:].clone()
    y[:, :prompt_chars - 1] = IGNORE  # targets 1 … P−1 are real prompt characters
    return y
