"""The gate's output in a CI log (stdout not a terminal): full names at full width, one line per row,
every FAIL / warning line starting with the artifact (and device)."""

from __future__ import annotations

from conftest import cli
from gate_models import fast_profile, matmul_chain
from test_gate_e2e import budgets_file

LONG = "student-distilled_transfer-mobile-int8-qdq-per-channel.onnx"
DEVICE = "mobile-little-cores-pinned-throttled"


def test_piped_gate_output_keeps_full_names_on_one_line_each(tmp_path):
    model = matmul_chain(tmp_path / LONG, width=32)
    profile = fast_profile(tmp_path, name=DEVICE)
    budgets = budgets_file(tmp_path / "b.toml", [(LONG, "size", "1 kB", None, None),
                                                 (LONG, "p50_ms", "1 us", DEVICE, None),
                                                 (LONG, "peak_memory", "1 MB", DEVICE, "warn"),
                                                 (LONG, "p90_ms", "10 s", DEVICE, None)])
    r = cli("gate", "--budgets", budgets, model, "--device", profile, env={"COLUMNS": "80",
                                                                          "EDGEDISTILL_CACHE": str(tmp_path / "c")})
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    assert "…" not in r.stdout
    rows = [ln for ln in lines if ln.startswith("│")]
    assert len(rows) == 4  # one line per check: nothing folded onto a second line
    assert all(f"{LONG} " in row for row in rows)
    assert sum(f" {DEVICE} " in row for row in rows) == 3
    failures = [ln for ln in lines if "FAIL: " in ln or "warning: " in ln]
    assert failures == [ln for ln in lines if ln.startswith(LONG)]  # every such line starts with the file
    assert [ln.split(": ")[:2] for ln in failures] == [[LONG, "FAIL"], [f"{LONG} on {DEVICE}", "FAIL"],
                                                      [f"{LONG} on {DEVICE}", "warning"]]
    assert max(map(len, lines)) > 80  # the table took the width its cells need
