"""Staging folders (`.NAME.partial-XXXX/` beside NAME) that are locked while their writer lives.

A run or a baseline is written into a staging folder and renamed into place when complete. A
writer killed by SIGKILL (or a power cut) cannot clean up after itself, so each writer holds an
advisory lock (flock) on its staging folder for as long as it runs: the kernel drops the lock when
the process dies, however it dies. When a later writer of the same NAME completes, every
`.NAME.partial-*` folder nobody holds a lock on is a leftover and is removed; a folder another
live run is still writing stays untouched.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

_HELD: dict[str, int] = {}  # staging folder → the open descriptor whose lock marks it as in use


def claim_staging(out: Path) -> Path:
    """A fresh `.NAME.partial-XXXX/` folder beside `out`, locked by this process until it exits."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from .artifacts import make_folder

    staging = make_folder(f".{out.name}.partial-", out.parent)  # 0777 & ~umask, not mkdtemp's 0700
    fd = _lock(staging, block=True)
    if fd is not None:
        _HELD[str(staging)] = fd  # kept open (and locked) for the life of the process, even after the rename
    return staging


def sweep_stale(out: Path) -> list[Path]:
    """Remove the `.NAME.partial-*` folders beside `out` that no live process holds; return them."""
    out = Path(out)
    removed = []
    for folder in sorted(out.parent.glob(f".{out.name}.partial-*")):
        if str(folder) in _HELD or not folder.is_dir() or folder.is_symlink():
            continue
        fd = _lock(folder, block=False)
        if fd is None:
            continue  # held by a run still writing it (or locks unsupported here): leave it
        try:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        finally:
            os.close(fd)
    return removed


def _lock(folder: Path, block: bool) -> int | None:
    """An open descriptor of `folder` with an exclusive flock on it, or None when held elsewhere / unsupported."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; leftovers are kept rather than risk removing a live run's folder
        return None
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
    except OSError:
        os.close(fd)
        return None
    return fd
