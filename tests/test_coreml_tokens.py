"""Core ML for transformers: token ids and mask as int32 inputs with a flexible batch (1…1024) and sequence
(1…the recipe's max_len); the traced graph is proven right at another length before conversion, so a model
that bakes its traced length into the graph is refused instead of shipped. Prediction needs macOS; here the
saved package is reloaded and its interface read back."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from edgedistill.errors import ParityError
from edgedistill.export.presets import load_preset
from edgedistill.tasks.base import Signature, TensorSpec

pytest.importorskip("coremltools")

TOKENS = tuple(TensorSpec(n, "int64", ("batch", "sequence"), (24,)) for n in ("input_ids", "attention_mask"))
SIG = Signature("classify", TOKENS, (TensorSpec("logits", "float32", ("batch", 3)),))


def bert():
    from edgedistill.models.hf import build_bert

    torch.manual_seed(0)
    cfg = SimpleNamespace(vocab=200, width=32, layers=2, heads=2, intermediate=64, pooling="mean")
    return build_bert(cfg, (24,), 3).eval()


def test_a_bert_converts_with_flexible_batch_and_sequence(tmp_path):
    import coremltools as ct

    from edgedistill.export.coreml import export_coreml

    path = tmp_path / "student-fp16.mlpackage"
    meta = export_coreml(bert(), SIG, path, load_preset("coreml-fp16"), {"version": "t"})
    assert meta["graph_inputs"] == ["input_ids", "attention_mask"] and meta["graph_outputs"] == ["logits"]
    # traced at 24 tokens, checked at 8 with padding in one row: the padding cut and the mask did not bake
    assert meta["traced_flexible"]["checked_length"] == 8 and meta["traced_flexible"]["max_abs_diff"] <= 1e-4
    for spec in ct.utils.load_spec(str(path)).description.input:
        array = spec.type.multiArrayType
        assert array.dataType == type(array).INT32, spec.name  # Core ML has no int64 inputs
        ranges = [(r.lowerBound, r.upperBound) for r in array.shapeRange.sizeRanges]
        assert ranges == [(1, 1024), (1, 24)], (spec.name, ranges)
    again = export_coreml(bert(), SIG, path, load_preset("coreml-fp16"), {"version": "t"})  # a rerun replaces it
    assert again["weight_bytes"] == meta["weight_bytes"]
    assert [p.name for p in tmp_path.iterdir()] == ["student-fp16.mlpackage"]  # nothing temporary left


class BakesItsLength(torch.nn.Module):
    """Reads the sequence length as a Python int: a trace keeps the number it saw (24), whatever it is fed."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(1, 3)

    def forward(self, input_ids, attention_mask):
        length = float(int(input_ids.shape[1]))
        return {"logits": self.linear(attention_mask[:, :1].float() * length)}


class ReshapesToItsLength(BakesItsLength):
    """Reshapes with the length as a Python int: the traced graph fails outright at any other length."""

    def forward(self, input_ids, attention_mask):
        rows = attention_mask.float().reshape(int(input_ids.shape[0]), int(input_ids.shape[1]))
        return {"logits": self.linear(rows[:, :1])}


@pytest.mark.parametrize("model, says", [(BakesItsLength, "differs from the model"), (ReshapesToItsLength, "fails")])
def test_a_graph_that_keeps_its_traced_length_is_refused(tmp_path, model, says):
    from edgedistill.export.coreml import export_coreml

    path = tmp_path / "student-fp16.mlpackage"
    with pytest.raises(ParityError, match=says) as info:
        export_coreml(model(), SIG, path, load_preset("coreml-fp16"), {})
    assert info.value.exit_code == 5 and "kept the traced length" in str(info.value)
    assert "export.presets" in str(info.value)  # the fix names the recipe key
    assert not list(tmp_path.iterdir())
