"""Export presets as data: every shipped precision, users' own files, recipes naming files by path."""

from __future__ import annotations

import pytest
from conftest import TINY, tiny_text

from edgedistill.errors import ConfigError
from edgedistill.export.presets import list_presets, load_preset
from edgedistill.quantize.onnx import choose_saturation
from edgedistill.recipe import load_recipe

SHIPPED = {"onnx-fp32": "student-fp32.onnx", "onnx-fp16": "student-fp16.onnx",
           "onnx-int8-dynamic": "student-int8-dynamic.onnx", "onnx-int8-qdq": "student-int8-qdq.onnx",
           "ort-mobile-int8": "student-mobile-int8.ort", "coreml-fp16": "student-fp16.mlpackage",
           "coreml-int8-weights": "student-int8-weights.mlpackage",
           "coreml-palettize-4bit": "student-palettize-4bit.mlpackage"}


def test_every_required_preset_ships_with_its_artifact_name():
    assert set(SHIPPED) <= set(list_presets())
    for name, artifact in SHIPPED.items():
        assert load_preset(name).artifact_name("student") == artifact


def test_presets_carry_scheme_calibration_axes_and_tolerances():
    qdq = load_preset("onnx-int8-qdq")
    assert qdq.quantization.mode == "static" and qdq.quantization.per_channel
    assert qdq.quantization.calibration == "minmax" and qdq.quantization.calibration_samples == 512
    assert qdq.opset == 18
    assert load_preset("onnx-int8-dynamic").quantization.mode == "dynamic"
    assert load_preset("coreml-palettize-4bit").quantization.nbits == 4
    # tolerances loosen with precision: fp32 is an exact export, int8 is allowed to move
    assert load_preset("onnx-fp32").parity.max_abs_diff < load_preset("onnx-fp16").parity.max_abs_diff
    assert load_preset("onnx-fp16").parity.min_top1_agreement > qdq.parity.min_top1_agreement


def test_a_users_preset_file_is_loaded_by_path_and_named_by_a_recipe(tmp_path):
    (tmp_path / "my-int8.toml").write_text(
        'name = "my-int8"\nformat = "onnx"\nprecision = "int8"\nopset = 17\n'
        '[quantization]\nmode = "static"\ncalibration = "percentile"\ncalibration_samples = 64\n'
        'nodes_to_exclude = ["node_linear"]\n')
    recipe = tmp_path / "r.toml"
    recipe.write_text(tiny_text().replace('presets = ["onnx-fp32", "onnx-int8-qdq", "coreml-fp16"]',
                                               'presets = ["onnx-fp32", "my-int8.toml"]')
                      .replace('"tiny.budgets.toml"', f'"{TINY.with_name("tiny.budgets.toml")}"'))
    r, _ = load_recipe(recipe)
    preset = load_preset(r.export.presets[1])
    assert preset.quantization.calibration == "percentile" and preset.quantization.nodes_to_exclude == ("node_linear",)
    assert preset.artifact_name("student") == "student-my-int8.onnx"


@pytest.mark.parametrize("text, key", [
    ('name = "bad"\nformat = "onnx"\nprecision = "int8"\nopset = 18\n', "quantization"),
    ('name = "bad"\nformat = "onnx"\nprecision = "int8"\nopset = 18\n[quantization]\nmode = "palettize"\n', "Core ML"),
    ('name = "bad"\nformat = "coreml"\nprecision = "int8"\n[quantization]\nmode = "static"\n', "linear or palettize"),
    ('name = "bad"\nformat = "onnx"\nprecision = "fp32"\nopset = 18\n[quantization]\ncalibration = "kl"\n',
     "calibration"),
])
def test_inconsistent_presets_are_config_errors(tmp_path, text, key):
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(ConfigError, match=key):
        load_preset(str(tmp_path / "bad.toml"))


@pytest.mark.parametrize("flags, machine, reduce_range, why", [
    (["avx2", "avx512f", "avx512_vnni"], "x86_64", False, "VNNI"),
    (["avx2", "avx_vnni"], "x86_64", False, "VNNI"),
    (["avx2", "fma"], "x86_64", True, "without VNNI"),
    (["avx2", "avx512f"], "x86_64", True, "without VNNI"),
    ([], "aarch64", False, "aarch64 int8 dot product"),
])
def test_saturation_choice_follows_the_cpu_flags(flags, machine, reduce_range, why):
    sat = choose_saturation("auto", flags, machine)
    assert sat.reduce_range is reduce_range and why in sat.reason
    assert sat.activation == "int8" and sat.weight == "int8"  # S8S8 either way


def test_saturation_can_be_forced_by_the_preset():
    assert choose_saturation("u8s8", ["avx2"], "x86_64").activation == "uint8"
    assert choose_saturation("reduce_range", ["avx512_vnni"], "x86_64").reduce_range is True
    assert choose_saturation("s8s8", ["avx2"], "x86_64").reduce_range is False
