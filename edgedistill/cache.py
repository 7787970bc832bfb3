"""Content-hashed cache keys: a cached thing is reused only when everything that made it is equal."""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from pathlib import Path

from . import __version__

# The source files whose behaviour decides what a trained model looks like. Editing any of them
# changes the key, so a cache can never hand back a teacher trained by different code.
_TRAINING_CODE = ("models/__init__.py", "models/cnn1d.py", "models/cnn2d.py", "models/mlp.py",
                  "models/textcnn.py", "models/gpt.py", "models/hf.py", "models/hf_init.py", "distill/rows.py",
                  "distill/train.py", "distill/losses.py", "distill/feature_losses.py",
                  "distill/transformer_losses.py", "distill/loss_table.py", "distill/features.py",
                  "distill/objective.py", "distill/teacher.py", "distill/augment.py", "distill/ddp.py")


def code_version(files: tuple[str, ...] = _TRAINING_CODE) -> str:
    """Package version plus a hash of the training code (`files`, relative to the package)."""
    h = hashlib.sha256(__version__.encode())
    root = Path(__file__).resolve().parent
    for rel in files:
        h.update((root / rel).read_bytes())
    return h.hexdigest()


def arrays_hash(*arrays, names=()) -> str:
    """sha256 over arrays' dtypes, shapes and bytes, in order (and their names, when given): the data
    part of cache keys. Memory-mapped shards (data/shards.py) are read chunk by chunk, never whole."""
    import numpy as np

    h = hashlib.sha256()
    for name in names:
        h.update(f"{name}\0".encode())
    for a in arrays:
        h.update(str((a.dtype, tuple(a.shape))).encode())
        for chunk in (a.chunks() if hasattr(a, "chunks") else (a,)):
            h.update(np.ascontiguousarray(chunk).tobytes())
    return h.hexdigest()


def content_key(*parts) -> str:
    """sha256 of the JSON of `parts` (dicts, strings, numbers)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@contextmanager
def entry_lock(folder: Path, reporter=None, what: str = "teacher outputs", doing: str = "filling"):
    """Exclusive lock of one cache entry `<cache>/<store>/<key>`: `<cache>/locks/<store>-<key>.lock`, held
    with flock, which the kernel releases when the holder exits or is killed, so a crashed writer never
    blocks the next one. A second writer waits here, then finds the first one's finished entry."""
    import fcntl

    folder = Path(folder)
    path = folder.parent.parent / "locks" / f"{folder.parent.name}-{folder.name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if reporter:
                reporter.info(f"{what}: waiting for another process {doing} {folder}")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
