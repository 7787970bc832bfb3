"""Frozen receipts passed between stages, and the atomic file writes behind them."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Artifact:
    """A file a stage wrote: where it is, what it is, what made it and from what."""

    name: str  # stable key in report.json, e.g. "student-int8.onnx"
    path: Path
    kind: str  # "onnx" | "coreml" | "safetensors" | "npz" | ...
    sha256: str
    bytes: int
    produced_by: str  # stage name, e.g. "export.onnx"
    inputs: tuple[str, ...] = ()  # names of the artifacts it was made from
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self, root: Path | None = None) -> dict[str, Any]:
        """JSON form; the path is relative to `root` (the run folder) when given."""
        d = asdict(self)
        d["path"] = str(self.path.relative_to(root) if root else self.path)
        d["inputs"] = list(self.inputs)
        return d


def sha256_path(path: Path) -> str:
    """sha256 of a file, or of every file under a directory (sorted, path-salted)."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def safe_name(name: str, where: str, what: str = "artifact name") -> str:
    """An artifact name read from someone's report.json: a plain file name, or InputFileError (exit 3).

    Names become file names when a run or baseline is copied or benched, so a name with a path
    separator, `..`, a leading dot-dot, or a control byte could write or read outside its folder."""
    from .errors import InputFileError

    text = str(name)
    if (not isinstance(name, str) or not text or text in (".", "..") or "/" in text or "\\" in text
            or any(ord(c) < 32 or ord(c) == 127 for c in text)):
        raise InputFileError(where, f"{what} {printable(text)!r} is not a plain file name",
                             "artifact names and paths in a report are file names inside its folder")
    return text


def confined(folder: Path, name: str, where: str) -> Path:
    """`folder/name` for a name read from a report, refusing anything that leads outside `folder`
    (separators, `..`, absolute paths, or a symlink whose target is elsewhere): InputFileError (exit 3)."""
    from .errors import InputFileError

    path = Path(folder) / safe_name(name, where, "artifact path")
    if path.is_symlink() or path.exists():
        real, root = path.resolve(), Path(folder).resolve()
        if not real.is_relative_to(root):
            raise InputFileError(where, f"{name!r} is a link to {printable(str(real))}, outside {root}",
                                 "replace the link by the file itself")
    return path


def printable(text: str) -> str:
    """`text` with control bytes escaped: names from other people's files never reach a terminal raw."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text))


def size_path(path: Path) -> int:
    """Bytes of a file, or of all files under a directory (an .mlpackage)."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def receipt(name: str, path: Path, kind: str, produced_by: str, inputs=(), **meta) -> Artifact:
    """Make the frozen receipt for a file that has just been written."""
    return Artifact(name, Path(path), kind, sha256_path(Path(path)), size_path(Path(path)),
                    produced_by, tuple(inputs), dict(meta))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder, fsync, then rename: readers never see half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; run folders are shared and uploaded
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# errno → (problem, fix) of a write the output path refused; messages of libraries that report only text
# (safetensors, protobuf) are matched by the C library's wording, os.strerror(errno)
_UNUSABLE = {errno.ENOSPC: ("no space left on the device", "free space there, or choose another --out"),
             errno.EDQUOT: ("disk quota exceeded", "free space there, or choose another --out"),
             errno.EFBIG: ("file too large for the file system or RLIMIT_FSIZE", "choose another --out"),
             errno.EROFS: ("read-only file system", "choose a writable --out"),
             errno.EACCES: ("permission denied", "make it writable, or choose another --out"),
             errno.EPERM: ("operation not permitted", "make it writable, or choose another --out")}


def unusable_output(exc: BaseException, *folders: Path):
    """An OutputPathError for a write that failed because of where it went (full, read-only, no permission),
    else None. The path is the one the error names, or else the likeliest of `folders` (the fullest
    file system for "no space", a read-only one for EROFS). A permission error on a file outside
    `folders` is an input we cannot read: InputFileError."""
    from .errors import EdgeDistillError, InputFileError, OutputPathError

    if isinstance(exc, EdgeDistillError):
        return None
    code = getattr(exc, "errno", None)
    if code not in _UNUSABLE:
        code = next((c for c in _UNUSABLE if os.strerror(c) in str(exc)), None)
        if code is None:
            return None
    roots = [Path(f).resolve() for f in folders if f is not None]
    named = getattr(exc, "filename", None)
    if named and code in (errno.EACCES, errno.EPERM) and not any(Path(named).resolve().is_relative_to(r)
                                                                  for r in roots):
        return InputFileError(printable(str(named)), _UNUSABLE[code][0], "make it readable")
    return OutputPathError(printable(str(named or _likeliest(code, roots))), *_UNUSABLE[code])


def raise_unusable(exc: BaseException, *folders: Path) -> None:
    """Raise unusable_output's one-line error (from None) when a full or read-only disk caused `exc`."""
    err = unusable_output(exc, *folders)
    if err is not None:
        raise err from None


def _likeliest(code: int, folders: list[Path]) -> Path | str:
    """Which of `folders` a path-less error most likely came from."""
    def existing(p: Path) -> Path:
        while not p.exists() and p != p.parent:
            p = p.parent
        return p

    if not folders:
        return "output folder"
    if code in (errno.ENOSPC, errno.EDQUOT):
        return min(folders, key=lambda f: shutil.disk_usage(existing(f)).free)
    if code == errno.EROFS:
        return next((f for f in folders if os.statvfs(existing(f)).f_flag & os.ST_RDONLY), folders[0])
    return folders[0]


def make_folder(prefix: str, dir: Path) -> Path:
    """A new uniquely named folder in `dir`, with the mode a plain mkdir gives (0777 & ~umask): run and
    baseline folders are renamed from these, and tempfile.mkdtemp's 0700 would lock out the team."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=dir))
    os.chmod(path, 0o777 & ~current_umask())
    return path


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Text version of atomic_write_bytes (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_npz(path: Path, arrays: dict) -> None:
    """Plain arrays as .npz (readable with allow_pickle=False), written atomically."""
    import io

    import numpy as np

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def atomic_write_json(path: Path, obj: Any) -> None:
    """Pretty, key-sorted JSON, written atomically."""
    # allow_nan=False: NaN is not JSON; a figure that cannot be computed is written as null
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str, allow_nan=False) + "\n")
