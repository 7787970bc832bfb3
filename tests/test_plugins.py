"""Exporters and runners are selected through their registries, so a plugin package adds either.

tests/plugins/ holds a real third-party plugin (a TorchScript exporter and runner) with the
`.dist-info` that `pip install` would write; putting that folder on PYTHONPATH installs it. A preset
file and a device profile file then select it by name — nothing in edgedistill names the plugin.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import FIXTURES, cli

PLUGIN = Path(__file__).resolve().parent / "plugins"


def _recipe(folder: Path) -> Path:
    (folder / "budgets.toml").write_text('[[check]]\nartifact = "student-torchscript.pt"\n'
                                         'device = "torchscript-cpu"\nmetric = "p50_ms"\nlimit = "1 s"\n')
    path, host = folder / "plugged.toml", FIXTURES / "devices" / "host-cpu.toml"  # quick copy of the shipped one
    path.write_text(f'extends = "{FIXTURES / "tiny.toml"}"\nname = "plugged"\n'
                    f'[export]\npresets = ["onnx-fp32", "{PLUGIN / "torchscript.toml"}"]\n'
                    f'[bench]\ndevices = ["{host}", "{PLUGIN / "torchscript-cpu.toml"}"]\n'
                    '[gate]\nbudgets = "budgets.toml"\n')
    return path


def _with_plugin() -> dict:
    return {"PYTHONPATH": os.pathsep.join([str(PLUGIN), os.environ.get("PYTHONPATH", "")])}


def test_without_the_plugin_its_format_and_runtime_are_named_config_errors(tmp_path):
    r = cli("run", _recipe(tmp_path), "--out", tmp_path / "run")
    assert r.returncode == 2 and "export.presets[1]" in r.stderr and "no exporter for format 'torchscript'" in r.stderr
    assert "edgedistill.exporters" in r.stderr and not (tmp_path / "run").exists()
    model = tmp_path / "m.onnx"
    from gate_models import matmul_chain

    matmul_chain(model)
    r = cli("bench", model, "--device", PLUGIN / "torchscript-cpu.toml")
    assert r.returncode == 2 and "unknown runner 'torchscript'" in r.stderr and "Traceback" not in r.stderr


@pytest.fixture(scope="module")
def plugged_run(tmp_path_factory, cache_dir):
    folder = tmp_path_factory.mktemp("plugged")
    r = cli("run", _recipe(folder), "--out", folder / "run", "--json",
            env={**_with_plugin(), "EDGEDISTILL_CACHE": str(cache_dir)})
    assert r.returncode == 0, r.stderr
    return folder / "run", json.loads(r.stdout)


def test_a_plugin_exporter_and_runner_are_selected_through_preset_and_profile_files(plugged_run):
    out, report = plugged_run
    art = report["artifacts"]["student-torchscript.pt"]
    assert art["kind"] == "torchscript" and art["produced_by"] == "export.torchscript" and (out / art["path"]).is_file()
    assert art["meta"]["graph_inputs"] == ["input"]
    assert "no parity check for format 'torchscript'" in report["parity"]["student-torchscript.pt"]["skipped"]
    ms = {(m["artifact"], m["device"], m["metric"]): m for m in report["measurements"]}
    p50 = ms[("student-torchscript.pt", "torchscript-cpu", "p50_ms")]
    assert p50["how"] == "measured" and 0 < p50["value"] < 1000
    status = {(s["artifact"], s["device"]): s for s in report["bench"]["statuses"]}
    assert status[("student-torchscript.pt", "host-cpu")]["status"] == "not_runnable"  # onnxruntime runs onnx/ort
    assert status[("student-fp32.onnx", "torchscript-cpu")]["status"] == "not_runnable"
    gate = report["gate"]
    assert gate["passed"] and gate["checks"][0]["device"] == "torchscript-cpu"


def test_edgedistill_bench_runs_a_plugin_format_file(plugged_run):
    out, _ = plugged_run
    r = cli("bench", out / "student-torchscript.pt", "--device", PLUGIN / "torchscript-cpu.toml",
            "--data", out / "eval.npz", "--json", env=_with_plugin())
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert ("torchscript-cpu", "p50_ms") in {(m["device"], m["metric"]) for m in doc["measurements"]
                                             if m["artifact"] == "student-torchscript.pt"}
