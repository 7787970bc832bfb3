"""The security reproducers of issue 11: a run folder or a report from someone else's branch must never
run code, nor make edgedistill write or read outside the folders it was given."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import TINY, cli  # noqa: E402


def _stored_recipe(**changes) -> dict:
    """The tiny recipe as `edgedistill run` records it in report.json, with `changes` merged in."""
    from edgedistill.recipe import load_recipe

    cfg = load_recipe(TINY)[0].model_dump(mode="json")
    for section, values in changes.items():
        cfg[section] = {**cfg[section], **values}
    return cfg


def _run_folder(path: Path, config: dict) -> Path:
    path.mkdir()
    (path / "report.json").write_text(json.dumps({"schema": "edgedistill.report/1", "artifacts": {},
                                                  "measurements": [], "recipe": {"config": config}}))
    return path


@pytest.mark.parametrize("changes", [
    {"student": {"factory": "os:system", "params": {"command": "touch PWNED"}}},
    {"teacher": {"source": "import", "factory": "os:system", "params": {"command": "touch PWNED"}}},
    {"data": {"name": "import", "factory": "os:system"}},
], ids=["student-factory", "teacher-factory", "data-factory"])
def test_a_run_folder_naming_a_factory_never_runs_it(tmp_path, changes):
    run = _run_folder(tmp_path / "run", _stored_recipe(**changes))
    r = cli("export", run, "--preset", "onnx-fp32", "--out", tmp_path / "out", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "out").exists()
    assert "--recipe" in r.stderr and "--trust-run" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def _report_with(artifacts: dict) -> dict:
    ms = [{"artifact": n, "device": None, "metric": "size", "value": 10.0, "unit": "B", "how": "measured"}
          for n in artifacts]
    return {"schema": "edgedistill.report/1", "artifacts": artifacts, "measurements": ms}


def _budgets(path: Path, artifact: str) -> Path:
    path.write_text(f'[[check]]\nartifact = {json.dumps(artifact)}\nmetric = "size"\nlimit = "1 kB"\n')
    return path


@pytest.mark.parametrize("name,entry", [
    ("../../WRITTEN_OUTSIDE", {"path": "payload.txt"}),
    ("model.onnx", {"path": "/etc/hostname"}),
    ("model.onnx", {"path": "../payload.txt"}),
    ("model.onnx", {"path": "link.onnx"}),
], ids=["name-escapes", "absolute-path", "dotdot-path", "symlink-out"])
def test_update_baseline_writes_and_reads_only_inside_its_folders(tmp_path, name, entry):
    run = tmp_path / "a" / "b" / "run"
    run.mkdir(parents=True)
    (run / "payload.txt").write_text("payload")
    (tmp_path / "a" / "b" / "payload.txt").write_text("outside")
    (run / "link.onnx").symlink_to("/etc/hostname")
    (run / "report.json").write_text(json.dumps(_report_with({name: entry})))
    base = tmp_path / "a" / "b" / "base"
    r = cli("gate", "--budgets", _budgets(tmp_path / "b.toml", name), run, "--update-baseline", base, "--force")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not base.exists() and not (tmp_path / "WRITTEN_OUTSIDE").exists()
    assert not any(p.name == "WRITTEN_OUTSIDE" for p in tmp_path.rglob("*"))
    assert not any(p.name.startswith(".base.partial") for p in tmp_path.rglob("*"))


def test_a_baseline_whose_report_points_outside_is_rejected(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    (base / "report.json").write_text(json.dumps(_report_with({"model.onnx": {"path": "/etc/hostname"}})))
    model = tmp_path / "model.onnx"
    from gate_models import matmul_chain  # a real tiny ONNX file

    matmul_chain(model)
    budgets = tmp_path / "b.toml"
    budgets.write_text('[[check]]\nartifact = "model.onnx"\nmetric = "size"\nlimit = "+5%"\n')
    r = cli("gate", "--budgets", budgets, "--baseline", base, model)
    assert r.returncode == 3 and "/etc/hostname" in r.stderr and "Traceback" not in r.stderr, r.stderr
