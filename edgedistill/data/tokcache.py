"""Tokenised text cached by content: `<cache>/data/tokens-<key>.npz`, so a rerun (another student, another
seed, the benchmark's variants) reads arrays instead of tokenising the corpus again.

The key is what decides the ids: the texts themselves (labelled data, already in memory) or the bytes of the
unlabelled source with the sampling settings (a stream of 100k+ lines is never held to be hashed), plus the
tokenizer file's sha256 and the tokenizers library's version, max_len and the tokenising code. Stored
compactly — ids int32, mask uint8, written straight to the file — and widened back to the int64 the models
take. A damaged or foreign entry is rebuilt, never trusted; a cache that cannot be written (full,
read-only) only costs the next run the tokenising.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from ..cache import code_version, content_key

CODE = ("data/text.py", "data/wordnet.py", "data/checks.py", "data/tokcache.py")  # what turns files into ids
STORED = {"input_ids": np.int32, "attention_mask": np.uint8}


def texts_hash(texts: Iterable[str]) -> str:
    """sha256 over texts, each length-prefixed (so ["ab", "c"] and ["a", "bc"] differ)."""
    h = hashlib.sha256()
    for t in texts:
        b = t.encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def cached_tokens(cache_dir, parts: list, build: Callable[[], dict], max_len: int) -> dict:
    """`build()` ({input_ids, attention_mask} (N, max_len) int64), or the arrays stored under `parts`."""
    if cache_dir is None:
        return build()
    from tokenizers import __version__ as library

    path = Path(cache_dir) / "data" / f"tokens-{content_key(*parts, max_len, library, code_version(CODE))[:32]}.npz"
    found = _read(path, max_len)
    if found is not None:
        return found
    out = build()
    if all(int(out[n].max(initial=0)) <= np.iinfo(t).max for n, t in STORED.items()):  # else: not cached
        _write(path, out)
    return out


def _write(path: Path, out: dict) -> None:
    """The arrays, narrowed, into a temporary file beside `path`, then renamed over it (atomic)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            np.savez(fh, **{n: out[n].astype(t) for n, t in STORED.items()})
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError:  # a full or read-only cache: the ids are in memory and the run goes on
        tmp.unlink(missing_ok=True)


def _read(path: Path, max_len: int) -> dict | None:
    """The stored arrays widened to int64, or None when absent, unreadable or not of the expected form."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:  # our own arrays; never unpickle
            arrays = {n: z[n] for n in STORED}
    except Exception:  # truncated, foreign or missing a key: tokenise again
        return None
    shapes = {a.shape for a in arrays.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2 or next(iter(shapes))[1] != max_len or \
            any(arrays[n].dtype != t for n, t in STORED.items()):
        return None
    return {n: a.astype(np.int64) for n, a in arrays.items()}
