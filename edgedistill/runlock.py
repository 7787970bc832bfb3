"""One run per output folder at a time: `.<name>.lock` beside the run folder, held with flock.

The kernel drops a flock when its holder exits or is killed, so a crashed run never blocks the
next one, and a refused run can tell "another run is writing this folder right now" (the lock is
held; the file holds its pid) from "an interrupted run left checkpoints" (no lock held).
"""

from __future__ import annotations

import atexit
import os
from pathlib import Path

from .errors import UsageError

_HELD: dict[Path, int] = {}  # lock file → open descriptor, for the locks this process holds


def lock_path(out: Path) -> Path:
    """The lock file of run folder `out`."""
    out = Path(out).absolute()
    return out.parent / f".{out.name}.lock"


def acquire(out: Path) -> None:
    """Hold `out`'s lock until release(out) or exit; UsageError (exit 2) while another process holds it."""
    import fcntl

    path = lock_path(out)
    if path in _HELD:  # this process already holds it (a pipeline that claims twice)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise UsageError(f"{out} is being written by another edgedistill run right now (pid {holder}) — "
                             "wait for it to finish, or choose another --out") from None
        if _same_file(fd, path):
            break
        os.close(fd)  # the holder released and unlinked it between our open and flock: lock the new file
    _HELD[path] = fd
    try:  # the pid is for the refusal message only: a full disk must not stop the run here
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError:
        pass


def release(out: Path) -> None:
    """Give up `out`'s lock (unlinked first, so no run is left holding a file nobody can find)."""
    fd = _HELD.pop(lock_path(out), None)
    if fd is not None:
        lock_path(out).unlink(missing_ok=True)
        os.close(fd)  # closing the descriptor drops the flock


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    return (st.st_dev, st.st_ino) == (os.fstat(fd).st_dev, os.fstat(fd).st_ino)


@atexit.register
def _release_all() -> None:
    for path in list(_HELD):
        release(path.parent / path.name[1:].removesuffix(".lock"))
