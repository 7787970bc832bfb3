"""Hostile and broken model files, and a harness that runs the real CLI on them and watches what it does.

Shared by tests/hostile/test_models.py and benchmarks/hostile_fuzz.py. Every model is a real ONNX
file built with onnx.helper; the harness runs `python -m edgedistill` in a child process and
records its exit code, stderr, its own peak memory (VmHWM read at exit, so children are not
counted), wall time, processes left running, and files written outside the output folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
TAG = "EDGEDISTILL_HOSTILE_TAG"
# `python -c` entry point that writes the CLI process's own VmHWM (kB) to argv[1] when it exits
_WRAPPER = """
import atexit, sys
out = sys.argv.pop(1)
def _hwm():
    with open('/proc/self/status') as fh:
        kb = next((int(l.split()[1]) for l in fh if l.startswith('VmHWM:')), 0)
    with open(out, 'w') as fh:
        fh.write(str(kb))
atexit.register(_hwm)
from edgedistill.cli import main
main(sys.argv[1:])
"""


def opset(n: int = 17):
    from onnx import helper

    return [helper.make_opsetid("", n)]


def save(graph, path: Path, ir_version: int = 8) -> Path:
    """Save without checking: hostile files are meant to be wrong."""
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=opset())
    model.ir_version = ir_version
    onnx.save(model, str(path))
    return Path(path)


def const(name: str, values, dims, dtype=None):
    from onnx import TensorProto, helper

    return helper.make_node("Constant", [], [name],
                            value=helper.make_tensor(name, dtype or TensorProto.INT64, dims, values))


def constant_of_shape(path: Path, int64: bool = True, n: int = 6_250_000_000) -> Path:
    """~200 bytes whose ConstantOfShape output is n elements (50 GB of int64 by default), feeding an Expand."""
    from onnx import TensorProto, helper

    value = helper.make_tensor("v", TensorProto.INT64 if int64 else TensorProto.FLOAT, [1], [1])
    nodes = [const("shape", [n], [1]), helper.make_node("ConstantOfShape", ["shape"], ["big"], value=value)]
    if int64:  # used as a shape: symbolic shape inference materialises it to follow the Expand
        nodes.append(helper.make_node("Expand", ["x", "big"], ["y"]))
    else:
        nodes.append(helper.make_node("ReduceSum", ["big"], ["s"], keepdims=0))
        nodes.append(helper.make_node("Add", ["x", "s"], ["y"]))
    g = helper.make_graph(nodes, "cos", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["d"])])
    return save(g, path)


def range_reshape(path: Path, n: int = 6_250_000_000) -> Path:
    """Range(0, n) used as the shape of a Reshape: 50 GB of int64 if anyone materialises it."""
    from onnx import TensorProto, helper

    nodes = [const("a", [0], []), const("b", [n], []), const("c", [1], []),
             helper.make_node("Range", ["a", "b", "c"], ["r"]), helper.make_node("Reshape", ["x", "r"], ["y"])]
    g = helper.make_graph(nodes, "range", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["d"])])
    return save(g, path)


def endless_loop(path: Path) -> Path:
    """A Loop with no trip count whose condition stays true: onnxruntime runs it forever."""
    from onnx import TensorProto, helper

    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["v_in", "one"], ["v_out"])],
        "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                 helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                 helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [1])])
    nodes = [const("one", [1.0], [1], TensorProto.FLOAT), const("true", [True], [], TensorProto.BOOL),
             helper.make_node("Loop", ["", "true", "x"], ["y"], body=body)]
    g = helper.make_graph(nodes, "loop", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    return save(g, path)


def many_outputs(path: Path, n: int = 20_000) -> Path:
    """x → n Identity nodes, each a graph output (graph cost was quadratic in outputs)."""
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Identity", ["x"], [f"y{i}"]) for i in range(n)]
    outs = [helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, [1, 4]) for i in range(n)]
    g = helper.make_graph(nodes, "wide", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])], outs)
    return save(g, path)


def inconsistent_shapes(path: Path) -> Path:
    """Declares MatMul's output with the wrong rank: ONNX shape inference raises InferenceError."""
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "bad",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 5, 7])], [w])
    return save(g, path)


def control_bytes(path: Path, op: str = "Relu") -> Path:
    """Tensor and node names with ESC sequences, a bell and a newline (`op` NoSuchOp: refused by the checker)."""
    from onnx import TensorProto, helper

    name = "x\x1b[31mRED\x1b[0m\nFAKE: line"
    g = helper.make_graph([helper.make_node(op, [name], ["y\x07"], name="n\x1b]0;title\x07")], "ctl",
                          [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y\x07", TensorProto.FLOAT, [1, 4])])
    return save(g, path)


def huge_input_dims(path: Path) -> Path:
    """A declared input of 10^12 floats: feeding it would need 4 TB."""
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "huge",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1_000_000, 1_000_000])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1_000_000, 1_000_000])])
    return save(g, path)


def sparse_garbage(path: Path, gib: float = 2.5) -> Path:
    """A sparse file of `gib` GiB that starts with garbage: reading it whole would cost that much memory."""
    with open(path, "wb") as fh:
        fh.write(b"\xff\xfe not a protobuf \x00" * 64)
        fh.truncate(int(gib * 2**30))
    return Path(path)


def lean_profile(folder: Path, name: str = "lean", time_limit_s: float = 60, memory_mib: int | None = 1024) -> Path:
    """A user profile with few runs and explicit limits."""
    lines = [f'name = "{name}"', 'description = "hostile-input test profile"', 'runtime = "onnxruntime"',
             'how = "measured"', "threads = 1", "[latency]", "warmup = 2", "runs = 10", "min_seconds = 0",
             "[throughput]", "batch = 2", "runs = 2", "[constraints]", f"time_limit_s = {time_limit_s}"]
    if memory_mib:
        lines.append(f"memory_limit_mib = {memory_mib}")
    path = Path(folder) / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Outcome:
    """What one CLI run did."""

    returncode: int
    stderr: str
    stdout: str
    peak_mib: float  # the CLI process's own VmHWM (its children excluded); nan if it never reported
    seconds: float
    hung: bool  # killed by the harness at its deadline
    orphans: list[int] = field(default_factory=list)  # processes of this run still alive after it exited
    stray: list[str] = field(default_factory=list)  # files left in its cwd, TMPDIR or the children's scratch

    @property
    def lines(self) -> list[str]:
        return self.stderr.strip().splitlines()

    def problems(self, cap_mib: float, limit_s: float) -> list[str]:
        """Every broken promise of issue 11 for this run (empty when it behaved)."""
        out = []
        if self.returncode not in (0, 1, 2, 3):
            out.append(f"exit {self.returncode}")
        if self.returncode != 0 and len(self.lines) != 1:
            out.append(f"{len(self.lines)} stderr lines")
        if "Traceback" in self.stderr:
            out.append("traceback")
        if not self.peak_mib <= cap_mib:
            out.append(f"parent peak {self.peak_mib:.0f} MiB > {cap_mib:.0f} MiB")
        if self.hung or self.seconds > limit_s:
            out.append(f"took {self.seconds:.0f} s > {limit_s:.0f} s")
        if self.orphans:
            out.append(f"orphans {self.orphans}")
        if self.stray:
            out.append(f"files outside the output folder {self.stray}")
        return out


def run_cli(args, folder: Path, deadline_s: float = 300, kill_after_s: float | None = None,
            kill_when: str = "edgedistill.bench._child") -> Outcome:
    """`edgedistill ARGS` in a fresh process with cwd, TMPDIR and cache inside `folder`.

    `kill_after_s`: SIGKILL the CLI (like `kill -9`) that long after a child running `kill_when` appears."""
    folder = Path(folder)
    cwd, tmp, hwm = folder / "cwd", folder / "tmp", folder / "hwm.txt"
    for d in (cwd, tmp):
        d.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp), "EDGEDISTILL_CACHE": str(folder / "cache"),
           "OMP_NUM_THREADS": "1", TAG: tag}
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", _WRAPPER, str(hwm), *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    hung = False
    if kill_after_s is not None:
        _wait_for_child(tag, kill_when, deadline_s)
        time.sleep(kill_after_s)
        proc.kill()
    try:
        stdout, stderr = proc.communicate(timeout=deadline_s)
    except subprocess.TimeoutExpired:
        hung = True
        proc.kill()
        stdout, stderr = proc.communicate()
    seconds = time.monotonic() - t0
    orphans = _survivors(tag, grace_s=3.0)
    for pid in orphans:  # never leave them running, whatever the assertion says
        _kill(pid)
    try:
        peak = int(hwm.read_text()) / 1024
    except (OSError, ValueError):
        peak = float("nan")
    scratch = folder / "cache" / "tmp"  # the children's scratch folders: each removed with its child
    stray = [str(p.relative_to(folder)) for d in (cwd, tmp, scratch) if d.is_dir() for p in d.iterdir()]
    return Outcome(proc.returncode, stderr, stdout, peak, seconds, hung, orphans, stray)


def tagged(tag: str) -> list[int]:
    """PIDs of live processes whose environment carries `tag`."""
    needle = f"{TAG}={tag}".encode()
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0") and _alive(entry):
                out.append(int(entry.name))
        except OSError:
            continue
    return out


def _alive(entry: Path) -> bool:
    try:
        state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _survivors(tag: str, grace_s: float) -> list[int]:
    end = time.monotonic() + grace_s
    while True:
        left = tagged(tag)
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.1)


def _wait_for_child(tag: str, module: str, deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        for pid in tagged(tag):
            try:
                if module.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return
            except OSError:
                continue
        time.sleep(0.05)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def deep_nesting(path: Path, depth: int = 300) -> Path:
    """If inside If inside If … `depth` levels, written as raw protobuf bytes (the protobuf library refuses
    to build past 100 levels; a file from elsewhere has no such scruple). Linear in depth."""
    from onnx import TensorProto, helper

    vi = helper.make_tensor_value_info
    leaf = helper.make_graph([helper.make_node("Identity", ["x"], ["y0"])], "leaf", [],
                             [vi("y0", TensorProto.FLOAT, [1])]).SerializeToString()
    graph = leaf
    for level in range(1, depth):  # GraphProto{node: NodeProto{op_type If, attribute then_branch: graph}}
        attr = _ld(1, b"then_branch") + b"\xa0\x01\x05" + _ld(6, graph)  # name, type = GRAPH (field 20), g
        node = _ld(1, b"c") + _ld(2, f"y{level}".encode()) + _ld(4, b"If") + _ld(5, attr)
        graph = _ld(1, node) + _ld(2, f"g{level}".encode()) + _ld(12, vi(f"y{level}", 1, [1]).SerializeToString())
    model = helper.make_model(helper.make_graph([const("c", [True], [], TensorProto.BOOL)], "deep",
                                                [vi("x", TensorProto.FLOAT, [1])], []), opset_imports=opset())
    model.ir_version = 8
    head = model.SerializeToString()
    Path(path).write_bytes(head + _ld(7, graph))  # a second `graph` field: protobuf merges it into the first
    return Path(path)


def _ld(field: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint((field << 3) | 2) + _varint(len(payload)) + payload


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def sequence_input(path: Path) -> Path:
    """A graph input that is a sequence of tensors, not a tensor: nothing can synthesise it."""
    from onnx import TensorProto, helper

    seq = helper.make_tensor_sequence_value_info("s", TensorProto.FLOAT, [1])
    g = helper.make_graph([helper.make_node("SequenceLength", ["s"], ["n"])], "seq", [seq],
                          [helper.make_tensor_value_info("n", TensorProto.INT64, [])])
    return save(g, path)
