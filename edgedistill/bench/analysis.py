"""What a model file is, read without trusting it: header sniff here, everything else in a child.

The parent reads at most the first 64 KiB of a file (is it an ONNX protobuf or an ORT flatbuffer at
all? a 2.5 GB file of garbage is refused from its first bytes, never read whole); the checker,
shape inference and graph cost run in `bench/_analyse.py` under a memory ceiling and a time limit
(bench/sandbox.py). A file over either is a rejected input (exit 3) whose message names the limit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..artifacts import printable
from ..errors import InputFileError, UsageError
from .cost import GraphCost
from .sandbox import MIB, Limits, analysis_ceiling, run

HEAD_BYTES = 64 * 1024
DEFAULT_SECONDS = 600.0
MIN_SECONDS = 60.0  # importing onnx, onnxruntime and sympy alone takes seconds on a loaded machine
# ModelProto fields (onnx.proto): number → protobuf wire type (0 varint, 2 length-delimited)
_MODEL_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}
FIX = "re-export it, or check the download is complete"


@dataclass(frozen=True)
class IOSpec:
    name: str
    dtype: str | None  # numpy dtype name; None: not a tensor numpy can hold
    dims: tuple[int | None, ...]  # None = dynamic


@dataclass(frozen=True)
class ModelInfo:
    """A file's format, inputs, outputs and graph cost per batch (read in the analysis child)."""

    path: Path
    format: str  # "onnx" | "ort"
    inputs: tuple[IOSpec, ...]
    outputs: tuple[str, ...]
    external_data: bool = False
    costs: dict = field(default_factory=dict)  # batch → GraphCost
    cost_notes: dict = field(default_factory=dict)  # batch → why no cost

    def cost(self, batch: int) -> GraphCost | None:
        """The graph cost at `batch`, None where it could not be computed (see cost_note)."""
        return self.costs.get(batch)

    def cost_note(self, batch: int) -> str:
        """Why there is no cost at `batch` ("" when there is one)."""
        if self.format == "ort":
            return "no graph cost for ORT-format files (no ONNX graph to infer shapes on)"
        return self.cost_notes.get(batch, "")

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.inputs]


def sniff(path: Path) -> str:
    """"onnx" or "ort" from the first bytes; anything else, or a missing file, is an InputFileError."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(HEAD_BYTES)
    except FileNotFoundError:
        raise InputFileError(str(path), "no such file", "check the path") from None
    except IsADirectoryError:
        raise InputFileError(str(path), "is a folder, not a model file", "pass an .onnx or .ort file") from None
    except OSError as exc:
        raise InputFileError(str(path), f"cannot be read ({exc.strerror})") from None
    if len(head) >= 8 and head[4:8] == b"ORTM":  # flatbuffer file identifier of ORT-format models
        return "ort"
    if not _looks_like_model_proto(head, size):
        raise InputFileError(str(path), "not a valid ONNX model (its first bytes are not an ONNX protobuf, "
                             "or it is cut short)", FIX)
    return "onnx"


def _looks_like_model_proto(head: bytes, size: int) -> bool:
    """The leading protobuf fields are ModelProto fields of the right wire type and fit in the file."""
    pos, fields = 0, 0
    while pos < len(head) and fields < 16:
        key, pos = _varint(head, pos)
        if key is None:
            return fields > 0 and pos >= len(head)  # a field cut by the 64 KiB window is fine
        number, wire = key >> 3, key & 7
        if _MODEL_FIELDS.get(number) != wire:
            return False
        value, pos = _varint(head, pos)
        if value is None:
            return pos >= len(head) and fields > 0
        if wire == 2:
            if value > size - pos:
                return False
            pos += value
        fields += 1
    return fields > 0


def _varint(buf: bytes, pos: int) -> tuple[int | None, int]:
    value = shift = 0
    while pos < len(buf) and shift < 64:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
    return None, pos


def limits_for(path: Path, profiles=()) -> Limits:
    """The analysis child's limits: 1 GiB + 8 × the file's size, and the longest time limit of `profiles`
    (at least MIN_SECONDS; DEFAULT_SECONDS without profiles)."""
    size = Path(path).stat().st_size
    seconds = max((p.constraints.time_limit_s for p in profiles if p.runtime != "coreml"), default=DEFAULT_SECONDS)
    return Limits(analysis_ceiling(size), max(seconds, MIN_SECONDS), "analysis")


def analyse(path: Path, batches=(1,), shapes: dict | None = None, limits: Limits | None = None,
            rows: dict | None = None) -> ModelInfo:
    """Sniff the header, then check, describe and cost the file in a child under `limits` (dynamic dims at
    --shape, else at the eval set's `rows` dims, as the runners feed them)."""
    path = Path(path)
    fmt = sniff(path)
    limits = limits or limits_for(path)
    child = run("edgedistill.bench._analyse", {"model": str(path.resolve()), "format": fmt,
                                               "batches": sorted(set(batches)), "shapes": shapes or {},
                                               "rows": rows or {}}, limits)
    out = child.out
    if child.timed_out:
        raise InputFileError(str(path), f"reading its graph (checker, shape inference, cost) took longer than the "
                             f"{limits.seconds:.0f} s time limit", "a graph that large or that hostile is not benched")
    if out.get("cause") == "memory" or (not child.printed and child.returncode < 0):
        raise InputFileError(str(path), f"reading its graph (checker, shape inference, cost) needs more than the "
                             f"{limits.memory_bytes // MIB} MiB memory limit of the analysis child "
                             f"({printable(out.get('error', ''))})", "a graph that asks for tensors its file does "
                             "not hold (a huge ConstantOfShape, Range or Expand) is not benched")
    if "error" in out:
        what = "not a valid ORT-format model" if fmt == "ort" else "not a valid ONNX model"
        raise InputFileError(str(path), f"{what} ({printable(out['error'])})", FIX)
    return _info(path, out)


def _info(path: Path, out: dict) -> ModelInfo:
    inputs = tuple(IOSpec(str(i["name"]), i["dtype"], tuple(i["dims"])) for i in out["inputs"])
    costs, notes = {}, {}
    for batch, c in out.get("costs", {}).items():
        if "error" in c:
            notes[int(batch)] = f"graph cost unavailable: {printable(c['error'])}"
        else:
            costs[int(batch)] = GraphCost.from_wire(c)
    return ModelInfo(path, out["format"], inputs, tuple(map(str, out["outputs"])), bool(out["external_data"]),
                     costs, notes)


def check_shapes(infos: list[ModelInfo], shapes: dict | None) -> None:
    """Every --shape names an input of some model, with that input's rank and fixed dims (else exit 2)."""
    for name, dims in (shapes or {}).items():
        owners = [(info, i) for info in infos for i in info.inputs if i.name == name]
        if not owners:
            known = sorted({i.name for info in infos for i in info.inputs})
            raise UsageError(f"--shape {printable(name)}: no model input has that name; the model's inputs are "
                             f"{', '.join(map(printable, known)) or '(none)'}")
        for info, inp in owners:
            fixed = [(k, d) for k, d in enumerate(inp.dims) if d is not None and k < len(dims) and dims[k] != d]
            if len(dims) != len(inp.dims) or fixed:
                want = "x".join("?" if d is None else str(d) for d in inp.dims)
                raise UsageError(f"--shape {printable(name)}={'x'.join(map(str, dims))}: {info.path.name} declares "
                                 f"{printable(name)} as {want or 'a scalar'} (? = free)")
