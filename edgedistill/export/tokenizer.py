"""The tokenizer ships beside the model files: one tokenizer.json, pinned to the recipe's maximum length.

A teacher folder's own tokenizer.json may truncate and pad at another length (all-MiniLM-L6-v2's says
128 while sentence-transformers cuts at 256). The shipped copy says `data.max_len` for both, the
length the training data was tokenised at (data/text.py), so the model files, the training data and
whatever tokenises in an app or page all use one length.
"""

from __future__ import annotations

from pathlib import Path

from ..artifacts import atomic_write_text

FILE = "tokenizer.json"


def ship_tokenizer(source: str | Path, out: Path, max_len: int) -> dict:
    """Write `out/tokenizer.json` (truncation and padding at `max_len`); return what the receipts record."""
    from ..data.text import load_tokenizer, tokenizer_info

    atomic_write_text(out / FILE, load_tokenizer(source, max_len).to_str(pretty=True))
    return {"file": FILE, **tokenizer_info(out / FILE)}
