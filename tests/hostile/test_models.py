"""Hostile and broken model files through the real CLI (issue 11): exit code in {0, 1, 2, 3}, one line on
stderr, no traceback, the parent's own peak memory under a cap, within its time limit, nothing written
outside the output folder, no child left running. The bounded fuzz is marked `slow`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hostile_models as hm  # noqa: E402

CAP_MIB = 400  # the CLI process itself: python + numpy + onnx protobufs; a 50 GB tensor never lands here


def _bench(model: Path, tmp_path: Path, *extra, deadline_s: float = 120) -> hm.Outcome:
    profile = hm.lean_profile(tmp_path, time_limit_s=30)
    return hm.run_cli(["bench", model, "--device", profile, "--json", *extra], tmp_path / "run", deadline_s)


def _clean(out: hm.Outcome, limit_s: float = 120) -> None:
    assert not out.problems(CAP_MIB, limit_s), (out.problems(CAP_MIB, limit_s), out.stderr[-2000:])


@pytest.mark.parametrize("int64", [True, False], ids=["int64-shape-input", "float-reduced"])
def test_a_200_byte_model_asking_for_50_gb_never_reaches_the_parent(tmp_path, int64):
    model = hm.constant_of_shape(tmp_path / "cos.onnx", int64=int64)
    assert model.stat().st_size < 300
    out = _bench(model, tmp_path)
    _clean(out)
    if out.returncode == 3:  # refused while reading the graph: the message names the limit
        assert "MiB memory limit" in out.stderr and str(model) in out.stderr
    else:  # or onnxruntime failed to allocate it inside the bench child: a `failed` status naming the ceiling
        assert out.returncode == 0 and '"failed"' in out.stdout and "memory ceiling of 1024 MiB" in out.stdout


def test_a_multi_gb_garbage_file_is_refused_from_its_first_bytes(tmp_path):
    model = hm.sparse_garbage(tmp_path / "garbage.onnx", gib=2.5)
    out = _bench(model, tmp_path, deadline_s=60)
    _clean(out, limit_s=60)
    assert out.returncode == 3 and "not a valid ONNX model" in out.stderr and out.peak_mib < 200
