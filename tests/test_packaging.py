"""The wheel ships exporters/ and devices/ inside the package; an installed copy lists them."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

from conftest import ROOT


def test_wheel_carries_presets_and_profiles(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("edgedistill-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "edgedistill/_data/exporters/onnx-int8-qdq.toml" in names
    assert "edgedistill/_data/devices/host-cpu.toml" in names
    assert "edgedistill/recipes/mnist1d.toml" in names and "edgedistill/recipes/mnist1d.budgets.toml" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    # Run from the unpacked wheel, outside the checkout, so only the wheel's copy can be found.
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import edgedistill.resources as r; "
            "print(r.data_dir('exporters')); from edgedistill.cli import main; main([sys.argv[2], '--json'])")
    listed = {}
    for command in ("presets", "devices"):
        out = subprocess.run([sys.executable, "-c", code, str(site), command], capture_output=True, text=True,
                             cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ""})
        assert out.returncode == 0, out.stderr
        first, rest = out.stdout.split("\n", 1)
        assert first.startswith(str(site))
        listed[command] = {p["name"] for p in json.loads(rest)}
    assert {"onnx-fp32", "onnx-int8-qdq", "coreml-fp16"} <= listed["presets"]
    assert "host-cpu" in listed["devices"]
