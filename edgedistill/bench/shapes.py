"""Concrete tensor shapes for the graph cost: the bench's input dims, then shape inference.

onnxruntime's symbolic shape inference (onnxruntime.tools.symbolic_shape_infer) goes first: it
follows shape arithmetic (Shape → Gather → Concat → Reshape, Pad widths, Range lengths) that plain
ONNX inference leaves unknown, and it types If/Loop bodies. It fails on some graphs (an If whose
branches declare no output types) and, being sympy, can be slow, so it runs under a time budget;
then ONNX's own inference with data propagation takes over, and failing that the declared shapes.
Which one produced the shapes is recorded with the cost. This runs only inside the analysis child
(bench/_analyse.py), under its memory ceiling: symbolic inference materialises int64 constants.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager

SYMBOLIC_BUDGET_S = 60.0  # symbolic inference gets at most this long before ONNX inference takes over


def fix_input_dims(model, batch: int, shapes: dict | None, rows: dict | None = None) -> None:
    """Dynamic input dims made concrete like the bench child feeds them: --shape, else batch first, else the
    eval set's row dims (`rows`: array name → dims after the batch; `x` feeds a one-input model; a token
    model's sequence is its eval rows' length, as fed), else 1."""
    inits = {i.name for i in model.graph.initializer}
    graph_inputs = [i for i in model.graph.input if i.name not in inits]
    for inp in graph_inputs:
        if not inp.type.HasField("tensor_type"):
            continue
        given = (shapes or {}).get(inp.name)
        row = (rows or {}).get(inp.name, (rows or {}).get("x") if len(graph_inputs) == 1 else None)
        dims = inp.type.tensor_type.shape.dim
        if row is not None and len(row) + 1 != len(dims):
            row = None  # not this input's rank: the child feeds it synthesised, at 1
        for i, d in enumerate(dims):
            if given is not None and i < len(given):
                d.dim_value = int(given[i])
            elif not d.HasField("dim_value") or d.dim_value <= 0:
                d.dim_value = batch if i == 0 else int(row[i - 1]) if row is not None else 1


def _symbolic():
    """onnxruntime's symbolic_shape_infer module, loaded from its file: importing it as
    `onnxruntime.tools.symbolic_shape_infer` runs `onnxruntime/tools/__init__.py`, which imports torch
    (~1 s in every analysis child, for nothing)."""
    import importlib.util
    import os
    import sys

    name = "edgedistill_ort_symbolic_shape_infer"
    if name not in sys.modules:
        import onnxruntime

        path = os.path.join(os.path.dirname(onnxruntime.__file__), "tools", "symbolic_shape_infer.py")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def infer(model, budget_s: float = SYMBOLIC_BUDGET_S):
    """(model with value_info filled, how): symbolic inference, else ONNX data propagation, else declared."""
    from onnx import shape_inference

    why = ""
    try:
        with _time_budget(budget_s), _scratch_cwd():
            _quiet_symbolic()
            inferred = _symbolic().SymbolicShapeInference.infer_shapes(model, int_max=2**31 - 1, auto_merge=True)
            if inferred is None:
                raise ValueError("it supports opset 7 and later only")
            return inferred, "symbolic"
    except MemoryError:
        raise  # over the child's ceiling: the file is rejected, naming the limit
    except BaseException as exc:  # AssertionError, KeyError, sympy errors, the budget's alarm
        if isinstance(exc, KeyboardInterrupt):
            raise
        why = f"symbolic inference failed: {_short(exc)}"
    try:
        return shape_inference.infer_shapes(model, data_prop=True), f"onnx ({why})"
    except MemoryError:
        raise
    except Exception as exc:  # InferenceError: declared shapes or types that contradict each other
        return model, f"declared shapes only ({why}; onnx inference failed: {_short(exc)})"


class _Budget(BaseException):
    """Raised by SIGALRM when symbolic inference overruns its budget (BaseException: no except swallows it)."""


@contextmanager
def _time_budget(seconds: float):
    """SIGALRM after `seconds` (main thread of a child process only; elsewhere no budget)."""
    import threading

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def alarm(*_):
        raise _Budget(f"took longer than {seconds:.0f} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@contextmanager
def _scratch_cwd():
    """A private working folder, removed afterwards: symbolic inference dumps `sym_shape_infer_temp.onnx`
    (and its external data) into the working folder when it cannot finish."""
    import os
    import tempfile

    before = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="edgedistill-shapes-") as scratch:
        os.chdir(scratch)
        try:
            yield
        finally:
            os.chdir(before)


def _quiet_symbolic() -> None:
    import logging

    logging.getLogger("onnxruntime.tools.symbolic_shape_infer").setLevel(logging.CRITICAL)


def _short(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [""])[0][:160]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
