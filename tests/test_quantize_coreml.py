"""Core ML compression proven from the saved packages' bytes (Core ML cannot predict on Linux)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from edgedistill.export.coreml import export_coreml, validate
from edgedistill.export.presets import load_preset
from edgedistill.quantize.coreml import compress
from edgedistill.tasks import Signature, TensorSpec


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    """An MLP with ~22k weights (big enough that per-blob headers do not blur the ratios)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(40, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10)).eval()
    out = tmp_path_factory.mktemp("coreml")
    meta = {"author": "tests", "license": "Apache-2.0", "version": "9.9", "recipe_hash": "abc", "classes": "[]"}
    sig = Signature("classify", (TensorSpec("input", "float32", ("batch", 40), (40,)),),
                    (TensorSpec("logits", "float32", ("batch", 10)),))
    export_coreml(model, sig, out / "m-fp16.mlpackage", load_preset("coreml-fp16"), meta)
    int8 = compress(out / "m-fp16.mlpackage", out / "m-int8.mlpackage", load_preset("coreml-int8-weights").quantization)
    pal4 = compress(out / "m-fp16.mlpackage", out / "m-pal4.mlpackage",
                    load_preset("coreml-palettize-4bit").quantization)
    return validate(out / "m-fp16.mlpackage"), int8, pal4, out


def test_fp16_package_is_an_mlprogram_with_metadata(packages):
    fp16, _, _, out = packages
    assert fp16["graph_inputs"] == ["input"] and fp16["graph_outputs"] == ["logits"]
    assert fp16["ops"]["linear"] == 3 and fp16["metadata"]["recipe_hash"] == "abc"
    assert (out / "m-fp16.mlpackage" / "Manifest.json").is_file()
    n = 40 * 128 + 128 * 128 + 128 * 10
    assert n * 2 <= fp16["weight_bytes"] < n * 2 * 1.05  # float16 weights (+ biases, headers)


def test_int8_weights_are_half_of_fp16_in_bytes(packages):
    fp16, int8, _, _ = packages
    c = int8["compression"]
    assert c["fp16_weight_bytes"] == fp16["weight_bytes"]
    assert 0.45 <= c["ratio_vs_fp16"] <= 0.56, c
    assert c["constexpr_ops"].get("constexpr_affine_dequantize", 0) >= 3  # one per weight tensor
    assert int8["metadata"]["recipe_hash"] == "abc"  # metadata survives compression


def test_4bit_palettized_weights_are_a_quarter_of_fp16_in_bytes(packages):
    _, _, pal4, _ = packages
    c = pal4["compression"]
    assert 0.2 <= c["ratio_vs_fp16"] <= 0.31, c
    assert c["constexpr_ops"].get("constexpr_lut_to_dense", 0) >= 3


def test_compression_that_skips_every_tensor_is_refused(packages, tmp_path):
    from edgedistill.errors import StageError

    *_, out = packages
    q = load_preset("coreml-int8-weights").quantization.model_copy(update={"weight_threshold": 10**9})
    with pytest.raises(StageError, match="compression did not happen"):
        compress(out / "m-fp16.mlpackage", tmp_path / "none.mlpackage", q)
