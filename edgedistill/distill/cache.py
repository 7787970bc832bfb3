"""Teacher outputs, computed once and read back by row: the teacher-output cache.

The teacher is frozen, so for fixed inputs its outputs never change: computing them once and
reading rows back is exact, and saves one teacher forward per student step and epoch. Entries
live on disk under

    <cache>/teacher-outputs/<key[:24]>/   out.npy (N, …) · feat-<layer>.npy (N, …) · meta.json

(out.npy is the task's primary output: logits (N, C), per-token logits (N, T, V), vectors (N, D).)

key = sha256(teacher content hash, inputs content hash, preprocessing, what is stored, format).
Any change to the teacher's weights, one input value, the preprocessing tag, the layers, the
dtype or top-k gives another key, so a stale entry can never be read. Arrays are memory-mapped
(`np.load(mmap_mode="r")`): a batch reads its rows only. meta.json is written last (atomically),
so a folder without it is an interrupted fill and is redone.

Options: float16 storage (half the bytes; the teacher's logits lose ~3 decimal digits) and
top-k logits for large vocabularies (out.npy holds the k largest values, idx.npy their classes;
the other classes come back at −1e4, i.e. the teacher's distribution renormalised over its top k).

Inputs augmented on the fly make every step's inputs new: a cache of fixed inputs would then
feed the student the wrong teacher outputs, so the recipe refuses the combination (recipe.py)
and such runs use `LiveOutputs`, the teacher in the loop.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..artifacts import atomic_write_text, raise_unusable
from ..cache import arrays_hash, content_key, entry_lock
from .features import FeatureTap

FORMAT = 1
BATCH = 1024  # rows per teacher forward while filling
TAIL = -1e4  # a top-k cache's missing logits: exp(−1e4 / T) is exactly 0 in float32


@dataclass(frozen=True)
class Stored:
    """What a cache entry holds: the outputs ("") and these named layers, in this dtype, top-k or all."""

    layers: tuple[str, ...] = ()
    dtype: str = "float32"  # or "float16"
    top_k: int = 0  # 0 = every logit


def teacher_hash(teacher: torch.nn.Module) -> str:
    """The teacher's content hash: `content_hash` when it has one (ONNX teachers), else its state dict."""
    if getattr(teacher, "content_hash", None):
        return teacher.content_hash
    h = hashlib.sha256(type(teacher).__qualname__.encode())
    for k, v in teacher.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


def inputs_hash(x) -> str:
    """sha256 over the inputs' names, dtypes, shapes and bytes (what the teacher actually sees); a single
    unnamed input hashes as it always did, so existing cache entries stay valid."""
    arrays = x.numpy() if hasattr(x, "numpy") else x
    if not isinstance(arrays, dict):
        return arrays_hash(arrays)
    if list(arrays) == ["input"]:
        return arrays_hash(arrays["input"])
    return arrays_hash(*(arrays[k] for k in sorted(arrays)), names=sorted(arrays))


def cache_key(teacher_id: str, data_id: str, preprocessing: str, stored: Stored) -> str:
    """The entry's content key; every ingredient is named, so a change to any of them is a new entry."""
    parts = {"teacher": teacher_id, "inputs": data_id, "preprocessing": preprocessing,
             "layers": list(stored.layers), "dtype": stored.dtype, "top_k": stored.top_k, "format": FORMAT}
    return content_key(parts)


class CachedOutputs:
    """Rows of stored teacher outputs: take(idx, x) → {"": outputs (b, …) float32, layer: (b, …)}."""

    def __init__(self, arrays: dict[str, np.ndarray], stored: Stored, classes: int, start: int = 0,
                 stop: int | None = None, source: str = "memory"):
        self.arrays, self.stored, self.classes, self.source = arrays, stored, classes, source
        self.start, self.stop = start, len(arrays[""]) if stop is None else stop

    def __len__(self) -> int:
        return self.stop - self.start

    def head(self, n: int) -> "CachedOutputs":
        """The first n rows (the labelled part of a labelled + transfer set)."""
        return CachedOutputs(self.arrays, self.stored, self.classes, self.start, self.start + n, self.source)

    def take(self, idx: torch.Tensor, x: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Outputs of rows `idx` (positions in this view); `x` is ignored: these inputs are fixed."""
        rows = idx.numpy() + self.start
        out = {name: torch.from_numpy(np.asarray(a[rows], dtype=np.float32)) for name, a in self.arrays.items()
               if name != "idx"}
        if self.stored.top_k:  # (b, …, k) values at (b, …, k) classes → dense (b, …, C), the tail at TAIL
            dense = torch.full((*out[""].shape[:-1], self.classes), TAIL)
            idx_k = torch.from_numpy(np.asarray(self.arrays["idx"][rows], np.int64))
            out[""] = dense.scatter_(-1, idx_k, out[""])
        return out


class LiveOutputs:
    """The teacher in the loop: take(idx, x) runs it (eval, no_grad) on the batch `x` as given."""

    def __init__(self, teacher: torch.nn.Module, layers=(), task=None):
        from ..tasks import get_task

        self.teacher, self.layers, self.source = teacher, tuple(layers), "live"
        self.task = task or get_task("classify")

    def head(self, n: int) -> "LiveOutputs":
        """The same teacher for the first n rows (rows are inputs here, not stored outputs)."""
        return self

    def take(self, idx: torch.Tensor, x) -> dict[str, torch.Tensor]:
        """Outputs for the batch `x` ({name: tensor}, possibly augmented): {"": outputs, layer: features}."""
        self.teacher.eval()
        batch = x if isinstance(x, dict) else {"input": x}
        with torch.no_grad(), FeatureTap(self.teacher, self.layers) as tap:
            out = self.task.forward(self.teacher, batch)
        return {"": out, **tap.outputs}


def compute(teacher, x, stored: Stored, rows: range | None = None, batch: int = BATCH,
            advance=None, task=None) -> dict[str, np.ndarray]:
    """Teacher outputs for rows `rows` of x (Rows) as numpy arrays in the stored form (dtype, top-k)."""
    from .rows import Rows

    x = x if isinstance(x, Rows) else Rows(x)
    rows = rows if rows is not None else range(len(x))
    live, parts = LiveOutputs(teacher, stored.layers, task), {}
    for i in range(rows.start, rows.stop, batch):
        got = live.take(torch.empty(0), x.take(slice(i, min(i + batch, rows.stop))))
        if stored.top_k:  # the k largest over the last axis (classes, or the vocabulary per position)
            got[""], got["idx"] = got[""].topk(min(stored.top_k, got[""].shape[-1]), dim=-1)
        for name, t in got.items():
            parts.setdefault(name, []).append(t.numpy().astype(np.int32 if name == "idx" else stored.dtype))
        if advance:
            advance()
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


def _file(name: str) -> str:
    return {"": "out.npy", "idx": "idx.npy"}.get(name, f"feat-{name}.npy")


def load_entry(folder: Path, stored: Stored, classes: int) -> CachedOutputs | None:
    """The complete entry in `folder`, memory-mapped; None when absent, incomplete or damaged."""
    meta_path = folder / "meta.json"
    if not meta_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        arrays = {name: np.load(folder / _file(name), mmap_mode="r", allow_pickle=False) for name in meta["arrays"]}
        if any(list(a.shape) != meta["arrays"][n] for n, a in arrays.items()):
            return None
    except (OSError, ValueError, KeyError):
        return None  # truncated or foreign files: the caller refills the entry
    return CachedOutputs(arrays, stored, classes, source=str(folder))


def fill_entry(folder: Path, teacher, x, stored: Stored, classes: int, reporter=None,
               rank: int = 0, world: int = 1, barrier=lambda: None, task=None) -> CachedOutputs:
    """Compute and store an entry; with world > 1 each rank fills its contiguous share of the rows.

    One writer per entry at a time: rank 0 holds an exclusive lock (`entry_lock`) from sizing the
    files in `<folder>.partial/` to renaming it into place, so a second run on a cold cache waits and
    then reads the finished entry instead of deleting the first run's files. Every rank writes its rows
    into the memory-mapped files; rank 0 then writes meta.json and renames the folder into place.
    """
    partial = folder.with_name(folder.name + ".partial")
    from .rows import Rows

    x = x if isinstance(x, Rows) else Rows(x)
    probe = compute(teacher, x, stored, range(min(1, len(x))), task=task)  # shapes and dtypes of one row
    shapes = {name: [len(x), *a.shape[1:]] for name, a in probe.items()}
    with entry_lock(folder, reporter) if rank == 0 else nullcontext():
        try:
            if rank == 0 and load_entry(folder, stored, classes) is None:
                _allocate(folder, partial, probe, shapes)
            barrier()
            if not (folder / "meta.json").exists():  # (else another run filled it while we waited)
                _fill_rows(partial, teacher, x, stored, rank, world, reporter, probe, task)
                barrier()
                if rank == 0:
                    atomic_write_text(partial / "meta.json", json.dumps(
                        {"arrays": shapes, "stored": stored.__dict__, "format": FORMAT}, default=list))
                    os.replace(partial, folder)
        except BaseException as exc:
            if rank == 0:
                shutil.rmtree(partial, ignore_errors=True)
            raise_unusable(exc, folder.parent)  # a full or read-only disk: one line naming the path
            raise
    barrier()
    return load_entry(folder, stored, classes)


def _allocate(folder: Path, partial: Path, probe: dict, shapes: dict) -> None:
    """Empty, full-size files in `partial` (blocks reserved now: a full disk fails here with ENOSPC,
    not later as SIGBUS while writing through the memory map); a damaged entry under `folder` goes."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for name, a in probe.items():
        m = np.lib.format.open_memmap(partial / _file(name), "w+", a.dtype, tuple(shapes[name]))
        m.flush()
        del m
        with open(partial / _file(name), "r+b") as fh:
            os.posix_fallocate(fh.fileno(), 0, os.fstat(fh.fileno()).st_size)


def _fill_rows(partial: Path, teacher, x, stored: Stored, rank: int, world: int, reporter, probe: dict,
               task=None) -> None:
    """This rank's contiguous share of the rows, computed and written into the memory-mapped files."""
    share = (len(x) + world - 1) // world
    mine = range(min(rank * share, len(x)), min((rank + 1) * share, len(x)))
    files = {name: np.load(partial / _file(name), mmap_mode="r+") for name in probe}
    batches = (len(mine) + BATCH - 1) // BATCH
    progress = reporter.task("teacher outputs → cache", batches) if reporter and rank == 0 else nullcontext()
    with progress as advance:
        for name, a in compute(teacher, x, stored, mine, advance=advance, task=task).items():
            files[name][mine.start:mine.stop] = a
    for f in files.values():
        f.flush()


def teacher_outputs(teacher, x, stored: Stored, classes: int, cache_dir: Path | None,
                    preprocessing: str = "none", reporter=None, rank: int = 0, world: int = 1,
                    barrier=lambda: None, task=None, data: str = "the data") -> CachedOutputs:
    """The teacher's outputs on `x`, from the cache when an entry exists, else computed (and stored).

    Without a cache directory (`--no-cache`) the outputs are computed once and kept in memory, after
    checking they fit (`data` names the rows in the error).
    """
    if cache_dir is None:
        _fits_in_memory(teacher, x, stored, task, data)
        return CachedOutputs(compute(teacher, x, stored, task=task), stored, classes)
    key = cache_key(teacher_hash(teacher), inputs_hash(x), preprocessing, stored)
    folder = Path(cache_dir) / "teacher-outputs" / key[:24]
    found = load_entry(folder, stored, classes)
    if found is not None:
        if reporter:
            reporter.info(f"teacher outputs: reused from cache {folder} ({len(x):,} rows, key {key[:12]})")
        return found
    return fill_entry(folder, teacher, x, stored, classes, reporter, rank, world, barrier, task)


def _fits_in_memory(teacher, x, stored: Stored, task, data: str) -> None:
    """InputFileError (exit 3) when N rows × one row's stored outputs (probed on row 0) cannot be held in
    memory; the cache would memory-map them from disk instead."""
    from ..data.checks import fits_in_memory
    from ..errors import InputFileError
    from .rows import Rows

    x = x if isinstance(x, Rows) else Rows(x)
    probe = compute(teacher, x, stored, range(min(1, len(x))), task=task)  # one row: (1, …) per array
    row = sum(a[0].nbytes for a in probe.values()) if len(x) else 0
    fits_in_memory(len(x) * row, f"holding the teacher's outputs for {len(x):,} rows ({row:,} B a row) in memory",
                   lambda problem: InputFileError(data, problem, "drop --no-cache: the teacher-output cache "
                                                                  "memory-maps them from disk"))
