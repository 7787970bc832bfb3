"""`bench --data FILE`: check an eval set against the models before any child loads it.

Only the .npz's directory and each array's .npy header are read here (shape and dtype, never the
data, never a pickle); the arrays themselves are loaded by the children under their memory ceiling.
Every error names the data file and the array, and says what the file should hold (the contract of
tasks/metrics.py): each model input under its graph input name (`x` feeds a single-input model),
then the task's reference arrays (y, teacher_pred, teacher_embedding, pair_a/pair_b/gold, probe_class,
nn_row) and, for text models, `text`: each row's raw text (a unicode array, the one non-numeric array allowed).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..artifacts import printable
from ..errors import InputFileError
from .feeds import source_of
from .sandbox import MIB, host_ceiling

FIX = "save each model input under its graph input name (x for a single-input model) and the task's references"
NUMERIC = "biuf"  # bool, int, uint, float


def read_headers(data: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """array name → (shape, dtype) from the .npy headers inside the .npz."""
    data = Path(data)
    try:
        with zipfile.ZipFile(data) as z:
            return {info.filename[:-4]: _header(z, info) for info in z.infolist() if info.filename.endswith(".npy")}
    except FileNotFoundError:
        raise InputFileError(str(data), "no such file", FIX) from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputFileError(str(data), f"not an .npz archive ({type(exc).__name__}: {exc})",
                             "write it with numpy.savez(path, x=inputs, y=labels); a single .npy is not an eval set") \
            from None


def _header(z: zipfile.ZipFile, info) -> tuple[tuple[int, ...], np.dtype]:
    from numpy.lib import format as npy

    name = info.filename[:-4]
    try:
        with z.open(info) as fh:
            version = npy.read_magic(fh)
            reader = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, _, dtype = reader(fh)
    except Exception as exc:  # a corrupt or hand-made header
        raise InputFileError(z.filename, f"array {printable(name)!r} has an unreadable .npy header "
                             f"({type(exc).__name__})", FIX) from None
    if dtype.hasobject:
        raise InputFileError(z.filename, f"array {printable(name)!r} holds Python objects (it would need a pickle)",
                             "save numbers only; pickles are never loaded")
    return tuple(int(d) for d in shape), dtype


def check_eval_set(data: Path, infos: dict, limit_bytes: int | None = None) -> None:
    """Every model's inputs are in the file (or synthesisable), arrays agree on rows, dtypes are numbers."""
    arrays = read_headers(data)
    where = str(data)
    have = ", ".join(map(printable, arrays)) or "no arrays"
    total = sum(int(np.prod(s)) * d.itemsize for s, d in arrays.values())
    limit = limit_bytes or host_ceiling() // 2
    if total > limit:
        raise InputFileError(where, f"its arrays hold {total / MIB:,.0f} MiB, over the {limit / MIB:,.0f} MiB the "
                             "bench loads", "use fewer rows")
    for name, (shape, dtype) in arrays.items():
        if name == TEXT and dtype.kind == "U" and len(shape) == 1:
            continue  # the eval rows' raw text (unicode, no pickle): what the browser tokenises in the page
        if dtype.kind not in NUMERIC:
            raise InputFileError(where, f"array {printable(name)!r} holds {dtype} values, not numbers",
                                 "labels are class ids (integers); map strings to ids before saving")
        if not shape:
            raise InputFileError(where, f"array {printable(name)!r} is a scalar; eval arrays have one row per sample",
                                 FIX)
    for artifact, info in infos.items():
        inputs = [{"name": i.name, "dtype": i.dtype, "dims": list(i.dims)} for i in info.inputs]
        feeds = {i["name"]: source_of(i, inputs, arrays) for i in inputs}
        if not any(feeds.values()):
            names = ", ".join(printable(i["name"]) for i in inputs)
            raise InputFileError(where, f"no array for the inputs of {printable(artifact)} ({names}); it holds {have}",
                                 FIX)
        rows = {arrays[src][0][0] for src in feeds.values() if src}
        for inp, src in ((i, feeds[i["name"]]) for i in inputs):
            if src and inp["dims"] and len(arrays[src][0]) != len(inp["dims"]):
                raise InputFileError(where, f"array {printable(src)!r} has shape {arrays[src][0]}; input "
                                     f"{printable(inp['name'])} of {printable(artifact)} takes {len(inp['dims'])} "
                                     "dims, the first one rows", FIX)
        refs = {k: s for k, (s, _) in arrays.items() if k not in feeds.values() and k in REFERENCE_ROWS}
        rows |= {s[0] for k, s in refs.items() if REFERENCE_ROWS[k]}
        if len(rows) > 1:
            raise InputFileError(where, f"its arrays disagree on the number of rows ({sorted(rows)})",
                                 "every input and reference array has one row per sample")


# reference arrays (tasks/metrics.py) → whether they have one row per eval sample
REFERENCE_ROWS = {"y": True, "teacher_pred": True, "teacher_embedding": True,
                  "pair_a": False, "pair_b": False, "gold": False, "probe_class": True, "nn_row": True, "text": True}
TEXT = "text"  # (N,) unicode: each eval row's text, for tokenising in the page (bench/browser.py)
