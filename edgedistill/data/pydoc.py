"""`data.name = "pydoc_topics"`: Python's own help topics (`pydoc_data.topics`, stdlib, offline) as
character windows for the lm task: inputs (W, context) int64 ids, targets the next characters.

Deterministic: topics are joined in sorted-key order. The vocabulary is fixed (not read from the
text): newline, the 95 printable ASCII characters, and one unknown symbol for everything else
(curly quotes, dashes, …). The train/validation split is by contiguous blocks — every
`val_every`-th block of `block_chars` characters is validation — so no window of training text
overlaps a validation character, while both halves sample the whole alphabet of topics.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from .base import INPUT, Dataset

UNKNOWN = "\x00"  # stands for every character outside the vocabulary; shown as "?" when decoding
VOCAB = UNKNOWN + "\n" + "".join(chr(c) for c in range(32, 127))  # 97 symbols
_INDEX = {ch: i for i, ch in enumerate(VOCAB)}


@dataclass(frozen=True)
class Corpus:
    """Training and validation character ids (1-D int64) and where they came from."""

    train: torch.Tensor  # (N_train,)
    val: torch.Tensor  # (N_val,)
    sha256: str  # of the raw UTF-8 text, before mapping: identifies the Python version's docs
    chars: int  # raw characters
    unknown: int  # characters mapped to UNKNOWN

    def describe(self) -> dict:
        """The corpus section of report.json."""
        return {"source": "pydoc_data.topics", "sha256": self.sha256, "chars": self.chars,
                "train_chars": len(self.train), "val_chars": len(self.val), "vocab": len(VOCAB),
                "unknown_chars": self.unknown}


def pydoc_text() -> str:
    """Every help topic of this Python, in sorted-key order, separated by a blank line."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k].strip("\n") for k in sorted(topics)) + "\n"


def encode(text: str) -> torch.Tensor:
    """str → (len,) int64 ids; characters outside VOCAB become UNKNOWN."""
    return torch.tensor([_INDEX.get(ch, 0) for ch in text], dtype=torch.int64)


def decode(ids) -> str:
    """ids → str (UNKNOWN shown as "?")."""
    return "".join(VOCAB[int(i)] if int(i) else "?" for i in ids)


def load_corpus(block_chars: int, val_every: int, max_train_chars: int | None = None) -> Corpus:
    """The pydoc corpus split into train and validation by contiguous blocks (train cut to max_train_chars)."""
    text = pydoc_text()
    ids = encode(text)
    blocks = ids.split(block_chars)  # contiguous; the last one may be shorter
    val = [b for i, b in enumerate(blocks) if i % val_every == val_every - 1]
    train = [b for i, b in enumerate(blocks) if i % val_every != val_every - 1]
    sha = hashlib.sha256(text.encode()).hexdigest()
    return Corpus(torch.cat(train)[:max_train_chars], torch.cat(val), sha, len(text), int((ids == 0).sum()))


def load_pydoc(cfg, cache_dir) -> Dataset:
    """Training and validation windows of `data.context` characters: inputs (W, T), next characters (W, T)."""
    corpus = load_corpus(cfg.block_chars, cfg.val_every, cfg.max_train_chars)
    train, val = windows(corpus.train, cfg.context), windows(corpus.val, cfg.context)  # (W, T + 1) each
    source = (f"pydoc_data.topics sha256 {corpus.sha256[:12]} ({corpus.chars:,} characters, "
              f"{corpus.unknown:,} outside the vocabulary; {len(corpus.train):,} train / {len(corpus.val):,} "
              f"validation, split by blocks of {cfg.block_chars})")
    empty = np.zeros((0, cfg.context), np.int64)
    return Dataset("pydoc_topics", {INPUT: train[:, :-1].numpy().copy()}, train[:, 1:].numpy().copy(),
                   {INPUT: val[:, :-1].numpy().copy()}, val[:, 1:].numpy().copy(), {INPUT: empty}, len(VOCAB),
                   source)


def windows(ids: torch.Tensor, context: int, phase: int = 0) -> torch.Tensor:
    """(N,) ids → (W, context + 1) windows starting at phase, phase + context, …: input [:, :-1], target [:, 1:].

    Consecutive windows share one character (the last target of one is the first input of the
    next), so every character after `phase` is predicted exactly once; a short tail is dropped.
    """
    count = (len(ids) - phase - 1) // context
    return ids[phase:phase + count * context + 1].unfold(0, context + 1, context)  # (W, context + 1) view
