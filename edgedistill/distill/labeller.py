"""`teacher.label_with = "onnx-int8"`: the teacher-output cache is filled by an int8 ONNX copy of the teacher.

Labelling — the teacher's forward over every training and transfer row — is most of a run's time when
the teacher is large and the transfer set long. The int8 copy (the teacher exported to ONNX, then
quantized as the onnx-int8-dynamic preset does: int8 weights per channel, activations at run time)
labelled 1.8–2.4× more sentences per CPU-second than the fp32 teacher on MiniLM (benchmarks/RESULTS.md).

It is built lazily, only when the cache has to be filled (a reused entry needs no labeller), and before
it labels anything it is spot-checked against the fp32 teacher on the first SPOT rows: top-1 agreement
(mean cosine for vectors), reported and recorded in report.json. It gives outputs only, so a recipe whose
terms read teacher layers is refused (recipe_sources.py). Its content hash — what keys the cache entry —
is derived from the fp32 teacher's weights and the quantization settings.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..cache import code_version, content_key
from .cache import teacher_hash

SPOT = 256  # rows compared with the fp32 teacher before the int8 copy labels the rest


class OnnxLabeller(nn.Module):
    """The teacher's int8 ONNX copy, run by onnxruntime: named input tensors → {task output: float32 tensor}."""

    def __init__(self, teacher: nn.Module, task, signature, spot_rows: dict):
        super().__init__()
        self._teacher, self.task, self.signature = [teacher], task, signature  # a list: not a submodule
        self.spot_rows = spot_rows  # {input: (≤ SPOT, …)}: the rows the copy is checked on once it is built
        from ..export.presets import load_preset

        self.quantization = load_preset("onnx-int8-dynamic").quantization
        self.content_hash = content_key("onnx-int8 labeller", teacher_hash(teacher),
                                        self.quantization.model_dump(mode="json"), code_version())
        self._session, self.spot = None, None

    def _build(self) -> None:
        """Export, quantize and load the int8 copy; spot-check it against the fp32 teacher."""
        import onnxruntime as ort

        from ..export.onnx import export_onnx
        from ..export.presets import load_preset
        from ..quantize.onnx import quantize_dynamic_int8

        with tempfile.TemporaryDirectory(prefix="edgedistill-labeller-") as tmp:
            fp32, int8 = Path(tmp) / "teacher-fp32.onnx", Path(tmp) / "teacher-int8.onnx"
            export_onnx(self._teacher[0], self.signature, fp32, load_preset("onnx-fp32").opset)
            quantize_dynamic_int8(fp32, int8, self.quantization)
            self._session = ort.InferenceSession(str(int8), providers=["CPUExecutionProvider"])
        with torch.no_grad():
            ref = self.task.forward(self._teacher[0], self.spot_rows)
        got = self._run(self.spot_rows)
        self.spot = spot_figures(self.task.name, ref, got)

    def _run(self, batch: dict) -> torch.Tensor:
        if "attention_mask" in batch:  # all-padding columns change nothing (models/hf.py): cut them
            from ..models.hf import used_length

            mask = batch["attention_mask"]
            used = used_length(mask)
            batch = {k: v[:, :used] if v.dim() == 2 and v.shape[1] == mask.shape[1] else v for k, v in batch.items()}
        feed = {s.name: batch[s.name].numpy() for s in self.signature.inputs}
        return torch.from_numpy(np.asarray(self._session.run(None, feed)[0], dtype=np.float32))

    def forward(self, *args, **kwargs) -> dict:
        batch = kwargs or dict(zip((s.name for s in self.signature.inputs), args))
        if self._session is None:
            self._build()
        return {self.task.output: self._run(batch)}


def spot_figures(task: str, ref: torch.Tensor, got: torch.Tensor) -> dict:
    """How the int8 copy's outputs compare with the fp32 teacher's on the same rows."""
    rows = int(ref.shape[0])
    if task == "embed":
        cos = torch.nn.functional.cosine_similarity(ref, got, dim=-1).mean().item()
        return {"rows": rows, "cosine": cos, "how": "measured"}
    agree = 100 * (ref.argmax(-1) == got.argmax(-1)).float().mean().item()
    return {"rows": rows, "agreement": agree, "unit": "%", "how": "measured"}
