"""Checks on data from someone else's files, made before anything large is allocated or trained.

Each failure is one InputFileError (exit 3) naming the file and the fix, or a ConfigError
(exit 2) naming the recipe key whose value implies the problem (`data.image_size`, `data.max_len`).
Sizes are compared with the memory this process may still use (psutil, the cgroup limit and
RLIMIT_AS), so a header that claims a 40 TB array is refused before numpy tries to allocate it.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import ConfigError, InputFileError

MAX_CLASSES = 1_000_000  # a label beyond this is a corrupt file, not a classifier (its logits alone: N × 4 MB)
WORKING_COPIES = 2  # arrays as read + their float32 conversion / the training copies made from them
NPZ_MAGIC, NPY_MAGIC = (b"PK\x03\x04", b"PK\x05\x06"), b"\x93NUMPY"


def gb(n: float) -> str:
    """Bytes for humans: '1.5 GB', '40,000 GB'."""
    return f"{n / 1e9:,.1f} GB" if n >= 1e9 else f"{n / 1e6:,.1f} MB"


def available_memory() -> int:
    """Bytes this process may still allocate: the least of free RAM, the cgroup's headroom and RLIMIT_AS."""
    import resource

    import psutil

    limits = [psutil.virtual_memory().available]
    try:  # cgroup v2 (containers, CI runners): memory.max − memory.current
        root = Path("/sys/fs/cgroup")
        top = root / "memory.max"
        if top.is_file() and top.read_text().strip() != "max":
            limits.append(int(top.read_text()) - int((root / "memory.current").read_text()))
    except (OSError, ValueError):
        pass
    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    if soft != resource.RLIM_INFINITY:
        limits.append(soft - psutil.Process().memory_info().vms)
    return max(0, min(limits))


def fits_in_memory(nbytes: int, what: str, error) -> None:
    """Raise `error(problem)` when `nbytes` (times the working copies) exceeds the available memory."""
    need, have = nbytes * WORKING_COPIES, available_memory()
    if need > have:
        raise error(f"{what} needs {gb(nbytes)} ({gb(need)} with working copies); {gb(have)} of memory available")


def recipe_size(key: str, fix: str):
    """An error factory for `fits_in_memory` blaming a recipe key (exit 2)."""
    return lambda problem: ConfigError("recipe", key, problem, fix)


def npz_arrays(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """{name: (shape, dtype)} of an .npz archive, read from the member headers only (nothing loaded).

    Refuses a file that is not a zip archive (a .npy renamed .npz), an object (pickled) array, a
    header whose shape does not match the bytes stored, and arrays that cannot fit in memory."""
    where = str(path)
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic.startswith(NPY_MAGIC):
        raise InputFileError(where, "is a single .npy array, not an .npz archive",
                             "save the arrays with numpy.savez(path, **arrays)")
    if magic[:4] not in NPZ_MAGIC:
        raise InputFileError(where, "not an .npz file (no zip header)", "write it with numpy.savez")
    found, total = {}, 0
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                name = info.filename.removesuffix(".npy")
                with z.open(info) as member:
                    shape, dtype = _npy_header(member, where, name)
                    stored = info.file_size - member.tell()
                nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if dtype.kind != "O" and nbytes != stored:
                    raise InputFileError(where, f"array {name!r} claims shape {shape} {dtype} ({nbytes:,} B) "
                                                f"but holds {stored:,} B", "the file is truncated or corrupt")
                found[name] = (shape, dtype)
                total += int(np.prod(shape, dtype=object)) * max(dtype.itemsize, 4)  # as float32 at least
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise InputFileError(where, f"not a readable .npz file ({exc.__class__.__name__})",
                             "write it with numpy.savez") from None
    fits_in_memory(total, "its arrays", lambda p: InputFileError(where, p, "use a smaller data set (edgedistill "
                                                                           "holds the data in memory)"))
    return found


def _npy_header(member, where: str, name: str) -> tuple[tuple[int, ...], np.dtype]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(member)
        read = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}.get(version)
        if read is None:
            raise ValueError(f"npy format version {version}")
        shape, _, dtype = read(member, max_header_size=10_000)
    except ValueError as exc:
        raise InputFileError(where, f"array {name!r} has an unreadable .npy header ({exc})",
                             "write the file with numpy.savez") from None
    if any(d < 0 for d in shape):
        raise InputFileError(where, f"array {name!r} has a negative dimension {shape}", "write it again")
    return tuple(shape), dtype


def float32(x: np.ndarray) -> np.ndarray:
    """Contiguous float32 copy (or view); values beyond float32 become ±Inf quietly, for `finite` to name."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.ascontiguousarray(x, dtype=np.float32)


def finite(x: np.ndarray, where: str, what: str = "inputs") -> np.ndarray:
    """`x` itself when every value is finite; else the file, the first bad row and the fix."""
    if x.dtype.kind == "f" and x.size and not np.isfinite(x).all():
        bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1)
        raise InputFileError(where, f"{what} hold NaN or Inf (or values beyond float32) in {int(bad.sum()):,} "
                                    f"row(s), first row {int(np.argmax(bad))}",
                             "drop or repair those rows before training")
    return x


def class_ids(y: np.ndarray, where: str) -> np.ndarray:
    """Integer labels below MAX_CLASSES (a label of 2e9 would size a 2e9-way output layer)."""
    if y.size and int(y.max()) >= MAX_CLASSES:
        raise InputFileError(where, f"label {int(y.max()):,} is beyond {MAX_CLASSES:,} classes",
                             "store class ids 0…C-1, one per example")
    return y


def not_empty(where: str, **splits: np.ndarray) -> None:
    """Every named split holds at least one example (an empty test split makes accuracy 0/0)."""
    for what, a in splits.items():
        if a is not None and len(a) == 0:
            raise InputFileError(where, f"the {what.replace('_', ' ')} split is empty",
                                 "store at least one example, or leave the test arrays out (test_fraction "
                                 "is then held out)")


def labels_kind(y: np.ndarray, where: str, what: str) -> None:
    """Class ids must be integers: string or float labels are refused, never silently compared."""
    if y.dtype.kind not in "iub":
        raise InputFileError(where, f"{what} are {y.dtype}, not integer class ids",
                             "store class ids 0…C-1 as integers (map names to ids first)")


def too_many_pixels(path: Path, pixels: int | str) -> InputFileError:
    """The error for an image above Pillow's decompression-bomb limit (decoding it could take GBs)."""
    from PIL import Image

    if isinstance(pixels, str):  # Pillow's own message: "Image size (400000000 pixels) exceeds limit of …"
        pixels = int(next(iter(re.findall(r"\d+", pixels)), 0))
    return InputFileError(str(path), f"{pixels:,} pixels, over the {Image.MAX_IMAGE_PIXELS:,}-pixel "
                                     "decompression-bomb limit (decoding could take gigabytes)",
                          "downscale the image (it is resized to data.image_size anyway)")


@contextmanager
def open_image(path: Path):
    """Image.open, refusing a file that declares more pixels than Pillow's limit (Pillow only warns up to 2×)."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(path)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise too_many_pixels(path, str(exc)) from None
    with im:
        yield im


EVAL_LABELS = ("y", "teacher_pred", "pair_a", "pair_b")  # integer arrays of an eval set (tasks/metrics.py)


def eval_set(path: Path) -> None:
    """An eval set (`bench --data`): headers checked first, then labels integer and inputs finite."""
    where = str(path)
    heads = npz_arrays(Path(path))
    for name, (shape, dtype) in heads.items():
        if name == "text" and dtype.kind == "U" and len(shape) == 1:
            continue  # each row's raw text, for tokenising in the browser page (bench/evalset.py TEXT)
        if dtype.kind not in "biuf":
            raise InputFileError(where, f"array {name!r} is {dtype}, not numeric",
                                 "store numbers (class ids as integers, inputs as floats)")
    with np.load(path, allow_pickle=False) as z:
        for name in heads:
            if name == "text":
                continue
            a = z[name]
            if name in EVAL_LABELS:
                labels_kind(a, where, f"array {name!r}")
            else:
                finite(a.astype(np.float32, copy=False) if a.dtype.kind == "f" else a, where, f"array {name!r}")


def utf8_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 file, one line at a time; a byte that is not UTF-8 names its line."""
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            try:
                yield n, raw.decode("utf-8-sig" if n == 1 else "utf-8")  # a BOM (Excel) is not text
            except UnicodeDecodeError as exc:
                raise InputFileError(f"{path}:{n}", f"not UTF-8 text (byte {exc.start} of the line)",
                                     "save the file as UTF-8") from None
