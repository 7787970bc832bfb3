"""The shipped char-LM student → one ONNX file with a fixed (1, context) int64 input, proven against torch.

A fixed context keeps the graph static (no dynamic axes): what a phone keyboard or a browser
autocomplete would run once per keystroke. The file is checked like the classifier exports: a
single file (no external data), onnx.checker's full check, and parity with the torch student on
validation windows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import StageError
from ..export.onnx import checked_single_file
from ..progress import silenced
from ..results import Figure

INPUT, OUTPUT = "input", "logits"


def export_lm(model: torch.nn.Module, context: int, path: Path, opset: int) -> dict:
    """Write `model` as ONNX: input (1, context) int64 ids → logits (1, context, V). Returns describe()."""
    example = torch.zeros(1, context, dtype=torch.int64)
    try:
        with silenced():  # the exporter's chatter; our Reporter is the only progress a user sees
            torch.onnx.export(model.eval(), (example,), str(path), input_names=[INPUT], output_names=[OUTPUT],
                              opset_version=opset, dynamo=True, external_data=False, optimize=True)
    except Exception as exc:
        raise StageError(f"ONNX export of {path.name} failed: {str(exc).splitlines()[0]}") from exc
    return checked_single_file(path)


def parity(model: torch.nn.Module, path: Path, val: torch.Tensor, windows: int = 16) -> dict:
    """onnxruntime vs torch on the first `windows` validation windows: max |Δ logit|, top-1 agreement."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = val[:windows, :-1]  # (N, T)
    with torch.no_grad():
        ref = model.eval()(x).numpy()  # (N, T, V)
    got = np.concatenate([sess.run(None, {INPUT: x[i:i + 1].numpy()})[0] for i in range(len(x))])
    agree = float((got.argmax(-1) == ref.argmax(-1)).mean())
    return {"max_abs_diff": Figure(float(np.abs(got - ref).max()), "").to_json(),
            "top1_agreement": Figure(100 * agree, "%").to_json(), "runtime": f"onnxruntime {ort.__version__}",
            "windows": int(len(x)), "positions": int(x.numel())}
