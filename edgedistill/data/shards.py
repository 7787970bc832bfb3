"""Inputs that do not fit in memory: `.npy` shards on disk, memory-mapped, read in batches.

A shard folder holds, for each model input, files `<input>-00000.npy`, `<input>-00001.npy`, … of
(n_i, ...) rows each (the same n_i for every input of one shard index). `read_shards` presents each
input as one `ShardedArray` of Σ n_i rows; indexing it with a batch of row indices reads only those
rows from the page cache. `write_shards` streams batches of rows into such a folder (a tokenised
100k-line corpus, say) without holding them all.

The training loop, the teacher-output cache and the cache key read rows through these, so a
transfer set of any size costs memory for one batch at a time.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import InputFileError

_SHARD = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)-(?P<index>\d{5})\.npy$")


class ShardedArray:
    """Several (n_i, ...) arrays of one dtype and row shape, indexed as one (Σ n_i, ...) array."""

    def __init__(self, parts):
        parts = [p for p in parts if len(p)] or list(parts)[:1]
        self.parts, self.dtype = parts, parts[0].dtype
        if any(p.dtype != self.dtype or p.shape[1:] != parts[0].shape[1:] for p in parts):
            raise ValueError("shards differ in dtype or row shape")
        self.starts = np.cumsum([0] + [len(p) for p in parts])  # (P + 1,) first row of each part
        self.shape = (int(self.starts[-1]), *parts[0].shape[1:])

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, idx) -> np.ndarray:
        """Rows `idx` (int array, slice or int) as an in-memory array, in the order asked."""
        if isinstance(idx, slice):
            idx = np.arange(*idx.indices(len(self)))
        idx = np.asarray(idx)
        if idx.ndim == 0:
            return self[idx[None]][0]
        out = np.empty((len(idx), *self.shape[1:]), self.dtype)
        part = np.searchsorted(self.starts, idx, side="right") - 1  # (b,) which part holds each row
        for p in np.unique(part):
            mine = part == p
            out[mine] = self.parts[p][idx[mine] - self.starts[p]]
        return out

    def __array__(self, dtype=None, copy=None):
        whole = np.concatenate(self.parts)
        return whole if dtype is None else whole.astype(dtype)

    def chunks(self):
        """The parts in order (for hashing without concatenating)."""
        return iter(self.parts)


def _parts(a) -> list:
    return list(a.parts) if isinstance(a, ShardedArray) else [a]


def concat_rows(a, b):
    """Rows of a then b: one in-memory array when both are in memory, else a ShardedArray over the parts
    (memory-mapped shards are never copied into memory)."""
    if any(isinstance(v, ShardedArray | np.memmap) for v in (a, b)):
        return ShardedArray(_parts(a) + _parts(b))
    return np.concatenate([a, b])


def is_shard_folder(folder: Path) -> bool:
    """True when `folder` holds `<input>-NNNNN.npy` shard files."""
    return Path(folder).is_dir() and any(_SHARD.match(p.name) for p in Path(folder).iterdir())


def read_shards(folder: Path) -> dict[str, ShardedArray]:
    """{input name: ShardedArray} of a shard folder; every input must have the same shards and rows."""
    folder = Path(folder)
    found: dict[str, dict[int, Path]] = {}
    for p in sorted(folder.iterdir()):
        m = _SHARD.match(p.name)
        if m:
            found.setdefault(m["name"], {})[int(m["index"])] = p
    if not found:
        raise InputFileError(str(folder), "no shard files", "name them <input>-00000.npy, <input>-00001.npy, …")
    indices = {tuple(sorted(v)) for v in found.values()}
    if len(indices) != 1:
        raise InputFileError(str(folder), "the inputs have different shard files", "write every input's shards")
    out = {}
    for name, files in found.items():
        parts = []
        for i in sorted(files):
            try:
                parts.append(np.load(files[i], mmap_mode="r", allow_pickle=False))
            except (OSError, ValueError) as exc:
                raise InputFileError(str(files[i]), f"not a readable .npy shard ({type(exc).__name__})",
                                     "write shards with numpy.save / edgedistill.data.shards.write_shards") from None
        try:
            out[name] = ShardedArray(parts)
        except ValueError as exc:
            raise InputFileError(str(folder), f"{name}: {exc}", "give every shard of an input one dtype and row shape")
    lengths = {n: [len(p) for p in a.parts] for n, a in out.items()}
    if len({tuple(v) for v in lengths.values()}) != 1:
        raise InputFileError(str(folder), "shards of one index differ in rows between inputs",
                             "write the same rows of every input into each shard index")
    return out


def write_shards(folder: Path, batches, rows_per_shard: int = 65536) -> int:
    """Stream `batches` ({input name: (b, ...) array} each) into shard files; return the rows written."""
    from ..artifacts import atomic_write_bytes

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pending: dict[str, list] = {}
    index = total = 0

    def flush(final: bool) -> None:
        nonlocal index
        while pending and (final or len(next(iter(pending.values()))) >= rows_per_shard):
            size = min(rows_per_shard, len(next(iter(pending.values()))))
            if size == 0:
                return
            for name, rows in pending.items():
                import io

                buf = io.BytesIO()
                np.save(buf, np.stack(rows[:size]), allow_pickle=False)
                atomic_write_bytes(folder / f"{name}-{index:05d}.npy", buf.getvalue())
                del rows[:size]
            index += 1

    for batch in batches:
        for name, a in batch.items():
            pending.setdefault(name, []).extend(np.asarray(a))
        total += len(next(iter(batch.values())))
        flush(False)
    flush(True)
    return total
