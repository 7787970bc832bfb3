"""The default recipe's promise, checked on the real thing (≈2 min): the numbers `make demo` shows.

Done-when of the pipeline: gate passes; the distilled-with-transfer student reaches ≥ 95% and
closes ≥ 60% of the scratch → teacher gap; the int8 student file is ≥ 20× smaller than the fp32
teacher file. Accuracies are seeded and do not depend on machine load.
"""

from __future__ import annotations

import tomllib

import pytest
from conftest import quick_profiles

from edgedistill.pipeline import run
from edgedistill.progress import Reporter
from edgedistill.recipe import load_recipe


@pytest.fixture(scope="module")
def default_run(tmp_path_factory, cache_dir):
    """The shipped recipe and budgets as they are, benched on the profiles its budgets name (host-cpu,
    browser-wasm) timing 50 runs instead of 200 (conftest.quick_profile_text): no trained or exported byte
    changes. The other shipped profiles are exercised on small files (test_browser.py, test_bench_native.py);
    here they cost ~30 s of Chromium and constrained-core runs for no check."""
    folder = tmp_path_factory.mktemp("default")
    recipe, path = load_recipe(None)
    budgets = tomllib.loads((path.parent / recipe.gate.budgets).read_text())["check"]
    named = {c["device"] for c in budgets if "device" in c}
    assert named <= set(recipe.bench.devices)  # the recipe benches every profile its budgets judge
    quick = quick_profiles(folder / "devices", [d for d in recipe.bench.devices if d in named])
    return run(None, out=folder / "mnist1d", reporter=Reporter(quiet=True), cache_dir=cache_dir,
               overrides={"bench": {"devices": quick}})


def test_teacher_and_students_reach_the_recipe_promise(default_run):
    tr = default_run.report["training"]
    teacher = tr["teacher"]["test_accuracy"]["value"]
    s = {k: v["test_accuracy"]["value"] for k, v in tr["students"].items()}
    assert teacher >= 97.0
    assert s["distilled_transfer"] >= 95.0
    assert s["distilled_transfer"] > s["scratch"]
    assert tr["gap_closed"]["value"] >= 60.0
    assert tr["params_ratio"] >= 15


def test_int8_student_is_20x_smaller_than_fp32_teacher(default_run):
    arts = default_run.report["artifacts"]
    assert arts["teacher-fp32.onnx"]["bytes"] >= 20 * arts["student-int8-qdq.onnx"]["bytes"]


def test_shipped_budgets_pass(default_run):
    gate = default_run.report["gate"]
    assert gate["passed"], [c["message"] for c in gate["checks"] if not c["passed"]]
    assert len(gate["checks"]) == 8
