"""Transformer fusion (export/fusion.py) on the tiny BERT (tests/tinyhf.py): what onnxruntime.transformers fuses
in our own dynamo export, numbers against torch at two sequence lengths, the parity gate, and the pipeline's
use of it (fused fp32 shipped, int8 derived from the unfused graph). Only real onnxruntime, no mocks.
"""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
import torch
from tinyhf import vocabulary, write_bert

from edgedistill.export import parity
from edgedistill.export.fusion import fuse_if_parity, fuse_transformer
from edgedistill.export.presets import Preset, load_preset
from edgedistill.models.hf import load_folder
from edgedistill.recipe import TeacherConfig
from edgedistill.tasks import get_task

T, CLASSES = 16, 3
FUSED = {"Attention": 2, "BiasGelu": 2, "SkipLayerNormalization": 4}  # 2 layers: 1 attention, 2 skip-LNs, 1 GELU each


def rows(n: int, t: int, seed: int) -> dict:
    """(n, t) token ids and masks: right padding, left padding, holes, full rows."""
    g = np.random.default_rng(seed)
    ids = g.integers(5, len(vocabulary()), (n, t))
    mask = np.ones((n, t), np.int64)
    mask[0::4, t // 2:] = 0  # right-padded
    mask[1::4, :3] = 0  # left-padded: the optimizer's default 1-D mask index would get these wrong
    mask[2::4, 1::3] = 0  # holes
    return {"input_ids": ids, "attention_mask": mask}


def torch_logits(model, x: dict) -> np.ndarray:
    with torch.no_grad():
        return model(**{k: torch.from_numpy(v) for k, v in x.items()}).numpy()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    m = load_folder(TeacherConfig(source="huggingface", path=str(write_bert(tmp_path_factory.mktemp("hf") / "bert"))),
                    CLASSES)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # a fresh BERT has zero biases and unit LayerNorms: give the fused ops real numbers
        for p in m.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    return m


@pytest.fixture(scope="module")
def data():
    x_train, x_test = rows(8, T, 0), rows(24, T, 1)
    return SimpleNamespace(x_train=x_train, x_test=x_test, y_test=np.arange(24) % CLASSES, num_classes=CLASSES)


@pytest.fixture(scope="module")
def exported(model, data, tmp_path_factory):
    from edgedistill.export.onnx import export_onnx

    path = tmp_path_factory.mktemp("onnx") / "student-fp32.onnx"
    export_onnx(model, get_task("classify").signature(data), path, 18)
    return path


def ops(path) -> dict:
    m = onnx.load(str(path))
    out: dict = {}
    for n in m.graph.node:
        out[(n.domain or "ai.onnx", n.op_type)] = out.get((n.domain or "ai.onnx", n.op_type), 0) + 1
    return out


def ort_run(path, x):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, x)[0]


def test_fuses_attention_skip_layernorm_and_bias_gelu(exported, model, data, tmp_path):
    src = tmp_path / exported.name
    shutil.copy(exported, src)
    meta = fuse_transformer(src, heads=2, hidden=32)
    fused = meta["path"]
    assert fused is not None and fused.parent == tmp_path, meta
    assert meta["contrib_ops"] == FUSED and meta["domains"] == ["ai.onnx", "com.microsoft"]
    assert "rewritten" in meta["mask"]  # transformers 5's GatherND mask, made matchable
    assert meta["nodes"]["after"] < meta["nodes"]["before"] / 2
    got = ops(fused)
    assert ("ai.onnx", "Softmax") not in got and ("ai.onnx", "Erf") not in got  # attention and GELU fully fused
    assert got[("ai.onnx", "MatMul")] == 6  # Q/K/V and the score MatMuls went into Attention
    # one self-contained file with the export's own inputs and outputs
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([src.name, fused.name])
    before, after = onnx.load(str(src)).graph, onnx.load(str(fused)).graph
    assert [(v.name, v.type.tensor_type.elem_type) for v in (*before.input, *before.output)] == \
        [(v.name, v.type.tensor_type.elem_type) for v in (*after.input, *after.output)]
    for t in (T, 9):  # two sequence lengths through the same dynamic axis
        x = {k: v[:, :t] for k, v in data.x_test.items()}
        assert np.abs(ort_run(fused, x) - torch_logits(model, x)).max() < 1e-4
    # the graph cost counts fused Attention as the MatMuls it replaced: the same MACs at any length
    from edgedistill.bench.cost import graph_cost

    for t in (T, 9):
        dims = {"input_ids": [1, t], "attention_mask": [1, t]}
        assert graph_cost(fused, 1, dims).macs == graph_cost(src, 1, dims).macs > 0


def check_against(reference, data):
    """The check export_all hands the gate: parity.check_file with the fp32 preset's tolerances."""
    fp32 = load_preset("onnx-fp32")
    return lambda path: parity.check_file(fp32, "student-fp32.onnx", path, reference, data.x_test, data.y_test)


def test_gate_keeps_a_fusion_that_holds_parity(exported, model, data, tmp_path):
    src = tmp_path / exported.name
    shutil.copy(exported, src)
    meta, result = fuse_if_parity(src, 2, 32, check_against(torch_logits(model, data.x_test), data))
    assert meta["kept"] is True and result["max_abs_diff"]["value"] < 1e-4, meta
    assert {k[1]: v for k, v in ops(src).items() if k[0] == "com.microsoft"} == FUSED  # replaced in place
    assert [p.name for p in tmp_path.iterdir()] == [src.name]  # no temp file left


def test_gate_drops_a_fusion_that_breaks_parity(exported, model, data, tmp_path):
    src = tmp_path / exported.name
    shutil.copy(exported, src)
    wrong = torch_logits(model, data.x_test) + 0.01  # a reference the fused file cannot match
    meta, result = fuse_if_parity(src, 2, 32, check_against(wrong, data))
    assert meta["kept"] is False and result is None and "fails parity" in meta["why"], meta
    assert src.read_bytes() == exported.read_bytes()  # the unfused file stays, untouched
    assert [p.name for p in tmp_path.iterdir()] == [src.name]


def test_a_graph_without_transformer_patterns_is_left_alone(tmp_path):
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((4, 4), np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
                              "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])], [w])
    path = tmp_path / "mlp.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    meta = fuse_transformer(path, 2, 32)
    assert meta["path"] is None and "nothing to fuse" in meta["why"]
    assert [p.name for p in tmp_path.iterdir()] == ["mlp.onnx"]


def test_fuse_is_on_for_onnx_fp32_only():
    assert load_preset("onnx-fp32").fused and not load_preset("onnx-int8-dynamic").fused
    assert not load_preset("coreml-fp16").fused
    assert not Preset(name="plain", format="onnx", precision="fp32", opset=18, fuse=False).fused
    with pytest.raises(ValueError, match="fuse = true"):
        Preset(name="half", format="onnx", precision="fp16", opset=18, fuse=True)


class Bag(torch.nn.Module):
    """A bag-of-words classifier over the same named inputs: (B, T) ids, mask → {"logits": (B, C)}."""

    def __init__(self):
        super().__init__()
        self.emb, self.head = torch.nn.Embedding(len(vocabulary()), 8), torch.nn.Linear(8, CLASSES)

    def forward(self, input_ids, attention_mask):
        m = attention_mask.unsqueeze(-1).float()  # (B, T, 1)
        return {"logits": self.head((self.emb(input_ids) * m).sum(1) / m.sum(1).clamp(min=1))}
