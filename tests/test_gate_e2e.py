"""The release gate end to end on real files and real onnxruntime: every kind of check made to fail for real."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from importlib import metadata
from pathlib import Path

from conftest import cli
from gate_models import fast_profile, matmul_chain

INT8 = "student-int8-qdq.onnx"

# (metric, limit, device?) — each impossible for the tiny run's int8 student, so each must fail
IMPOSSIBLE = [("size", "1 kB", False), ("gzip_size", "1 kB", False), ("brotli_size", "1 kB", False),
              ("p90_ms", "1 us", True), ("session_create_ms", "1 us", True), ("first_run_ms", "1 us", True),
              ("throughput", "1e12 /s", True), ("peak_memory", "1 MB", True), ("accuracy", "100 %", True),
              ("accuracy_drop", "0 pp", True), ("agreement", "100 %", True),
              ("parity_max_abs_diff", "1e-9", False), ("parity_cosine", "1", False)]


def budgets_file(path: Path, checks) -> Path:
    """[[check]] tables, one per (artifact, metric, limit, device, level); returns the path."""
    text = ""
    for artifact, metric, limit, device, level in checks:
        text += f'[[check]]\nartifact = "{artifact}"\nmetric = "{metric}"\nlimit = "{limit}"\n'
        text += (f'device = "{device}"\n' if device else "") + (f'level = "{level}"\n' if level else "") + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def fail_lines(stdout: str) -> list[str]:
    """The FAIL lines, each with its leading `ARTIFACT[ on DEVICE]: FAIL: ` removed (checked here)."""
    lines = [ln for ln in stdout.splitlines() if ": FAIL: " in ln]
    assert all(ln.split(": FAIL: ")[0].split(" on ")[0].endswith((".onnx", ".mlpackage")) for ln in lines), lines
    return ["FAIL: " + ln.split(": FAIL: ", 1)[1] for ln in lines]


def test_each_kind_of_check_fails_for_real_with_its_line_and_exit_1(tiny_run, tmp_path):
    rows = [(INT8, m, lim, "host-cpu" if dev else None, None) for m, lim, dev in IMPOSSIBLE]
    rows.append((INT8, "agreement", "100 %", "host-cpu", "warn"))  # a warning: listed, never fails the gate
    budgets = budgets_file(tmp_path / "tight.toml", rows)
    summary = tmp_path / "summary.md"
    r = cli("gate", "--budgets", budgets, tiny_run.out, "--junit", tmp_path / "gate.xml", "--markdown",
            tmp_path / "gate.md", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert r.returncode == 1, r.stdout + r.stderr
    lines = fail_lines(r.stdout)
    assert len(lines) == len(IMPOSSIBLE)
    starts = [ln.split(": FAIL: ")[0] for ln in r.stdout.splitlines() if ": FAIL: " in ln]
    assert starts == [INT8 + (" on host-cpu" if dev else "") for _, _, dev in IMPOSSIBLE]
    headers = [n for n, ln in enumerate(budgets.read_text().splitlines(), 1) if ln == "[[check]]"]
    for i, ((metric, limit, dev), line) in enumerate(zip(IMPOSSIBLE, lines)):
        verb = "is below" if metric in ("throughput", "accuracy", "agreement", "parity_cosine") else "exceeds"
        assert line.startswith(f"FAIL: {metric} "), line
        assert f" {verb} {limit} by " in line and f"[{budgets}:{headers[i]}] — try: " in line, line
    assert sum(ln.startswith(f"{INT8} on host-cpu: warning: agreement") for ln in r.stdout.splitlines()) == 1
    # machine outputs: JUnit (warn as skipped), markdown, and the GitHub step summary
    suite = ET.parse(tmp_path / "gate.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == (str(len(rows)), str(len(lines)), "1")
    md = (tmp_path / "gate.md").read_text()
    assert md.startswith("## Gate: FAILED")
    assert md.count(f"- `{INT8}`: **FAIL**: ") + md.count(f"- `{INT8} on host-cpu`: **FAIL**: ") == len(lines)
    assert summary.read_text().strip() == md.strip()
    verdict = json.loads(cli("gate", "--budgets", budgets, tiny_run.out, "--json").stdout)
    assert verdict["passed"] is False and [c["passed"] for c in verdict["checks"]] == [False] * len(rows)
    assert all(c["margin"] < 0 for c in verdict["checks"])


def test_third_party_onnx_model_with_a_too_tight_size_budget(tmp_path):
    """silero_vad.onnx (Silero VAD, MIT) as shipped in the silero-vad wheel: a model nobody here trained."""
    model = Path(metadata.distribution("silero-vad").locate_file("silero_vad/data/silero_vad.onnx"))
    assert model.is_file(), "silero-vad is a dev dependency (pyproject.toml)"
    budgets = budgets_file(tmp_path / "b.toml", [("silero_vad.onnx", "gzip_size", "10 MB", None, None),
                                                 ("silero_vad.onnx", "size", "1 MB", None, None)])
    r = cli("gate", "--budgets", budgets, model)
    assert r.returncode == 1, r.stdout + r.stderr
    (line,) = fail_lines(r.stdout)
    assert line.startswith("FAIL: size 2.33 MB exceeds 1 MB by 1.33 MB (+133%) ") and f"[{budgets}:6]" in line


def test_relative_size_and_latency_pass_for_a_vs_a_and_fail_for_a_slower_bigger_b(tmp_path):
    """Baseline = A; gating A again passes; B (same interface, 16 chained MatMuls) fails both, for real."""
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    a, b = matmul_chain(tmp_path / "a" / "model.onnx", 1), matmul_chain(tmp_path / "b" / "model.onnx", 16)
    profile = fast_profile(tmp_path, runs=100)
    # +50%: A vs A sits near 1.0×, B measures ≈ 5–8× here: a wide margin either way under machine load
    budgets = budgets_file(tmp_path / "rel.toml", [("model.onnx", "size", "+5%", None, None),
                                                   ("model.onnx", "p50_ms", "+50%", "host-cpu", None)])
    base = tmp_path / "baseline"
    first = cli("gate", "--budgets", budgets, a, "--device", profile, "--update-baseline", base, "--force")
    assert first.returncode == 1 and "needs a baseline" in first.stdout  # the first baseline is accepted by force
    assert (base / "report.json").exists() and (base / "model.onnx").read_bytes() == a.read_bytes()

    same = cli("gate", "--budgets", budgets, a, "--device", profile, "--baseline", base, "--json")
    assert same.returncode == 0, same.stdout + same.stderr
    size, lat = json.loads(same.stdout)["checks"]
    assert size["passed"] and lat["passed"] and lat["measured"]["unit"] == "×" and lat["measured"]["value"] < 1.5

    slow = cli("gate", "--budgets", budgets, b, "--device", profile, "--baseline", base, "--update-baseline", base)
    assert slow.returncode == 1, slow.stdout + slow.stderr
    size_line, lat_line = fail_lines(slow.stdout)
    assert size_line.startswith("FAIL: size ") and "vs baseline" in size_line and f"[{budgets}:1]" in size_line
    assert lat_line.startswith("FAIL: p50_ms ratio: p50 ") and " exceeds +50% (≤ 1.50×) by " in lat_line
    assert f"[{budgets}:6]" in lat_line and "model.onnx on host-cpu: FAIL: p50_ms ratio" in slow.stdout
    assert "not updated: the gate failed" in slow.stderr
    assert (base / "model.onnx").read_bytes() == a.read_bytes()  # a failing gate never moves the baseline

    ab = cli("bench", b, "--vs", a, "--device", profile, "--json")
    assert ab.returncode == 0, ab.stderr
    (pair,) = json.loads(ab.stdout)
    assert pair["ratios"]["p50"]["ratio"] > 2 and pair["ratios"]["p50"]["low"] <= pair["ratios"]["p50"]["ratio"]
    metrics = {m["metric"]: m for m in pair["measurements"]}
    assert metrics["latency_ratio"]["artifact"] == "model.onnx" and metrics["latency_ratio"]["unit"] == "×"
    assert {"latency_ratio_low", "latency_ratio_high", "latency_ratio_p90"} <= set(metrics)


def test_relative_check_without_baseline_exits_2_and_missing_artifact_fails(tiny_run, tmp_path):
    budgets = budgets_file(tmp_path / "b.toml", [(INT8, "size", "32 kB", None, None),
                                                 (INT8, "gzip_size", "+5%", None, None)])
    r = cli("gate", "--budgets", budgets, tiny_run.out)
    assert r.returncode == 2 and f"{budgets}:6: limit: relative limit '+5%' needs a baseline" in r.stderr
    other = tmp_path / "base"
    other.mkdir()
    (other / "report.json").write_text(json.dumps({"schema": "edgedistill.report/1", "artifacts": {},
                                                   "measurements": []}))
    r = cli("gate", "--budgets", budgets, tiny_run.out, "--baseline", other)
    assert r.returncode == 1
    (line,) = fail_lines(r.stdout)
    assert f"the baseline has no artifact '{INT8}'" in line and f"[{budgets}:6]" in line


def test_report_compare_terminal_json_markdown_and_plot(tiny_run, tmp_path):
    b = json.loads((tiny_run.out / "report.json").read_text())
    for m in b["measurements"]:
        if m["artifact"] == INT8 and m["metric"] == "size":
            m["value"] *= 2
    (tmp_path / "b.json").write_text(json.dumps(b))
    r = cli("report", "--compare", tiny_run.out, tmp_path / "b.json", "--json", "--plot", tmp_path / "c.png")
    assert r.returncode == 0, r.stderr
    rows = {(x["artifact"], x["device"], x["metric"]): x["change"] for x in json.loads(r.stdout)["rows"]}
    assert rows[(INT8, None, "size")]["value"] == 2.0 and rows[(INT8, "host-cpu", "p50_ms")]["value"] == 1.0
    assert rows[(INT8, "host-cpu", "accuracy")] == {"type": "delta", "value": 0.0, "unit": "pp"}
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = cli("report", "--compare", tiny_run.out, tmp_path / "b.json", "--markdown").stdout
    assert f"| {INT8} | — | size |" in md and "2.00× (+100%)" in md
    text = cli("report", "--compare", tiny_run.out, tmp_path / "b.json").stdout
    assert "What changed" in text and "2.00× (+100%)" in text


def test_run_folder_baseline_copies_the_files_and_gates_relative_sizes(tiny_run, tmp_path):
    budgets = budgets_file(tmp_path / "b.toml", [(INT8, "size", "+0%", None, None),
                                                 (INT8, "brotli_size", "+0%", None, None)])
    base = tmp_path / "base"
    r = cli("gate", "--budgets", budgets, tiny_run.out, "--update-baseline", base, "--force")
    assert r.returncode == 1 and (base / INT8).read_bytes() == (tiny_run.out / INT8).read_bytes()
    r = cli("gate", "--budgets", budgets, tiny_run.out, "--baseline", base)
    assert r.returncode == 0, r.stdout + r.stderr  # the same files: +0% holds exactly
    shutil.rmtree(base)


def test_fail_on_the_runs_int8_file_does_not_suggest_the_int8_preset(tiny_run, tmp_path):
    budgets = budgets_file(tmp_path / "b.toml", [(INT8, "brotli_size", "1 kB", None, None),
                                                 ("student-fp32.onnx", "brotli_size", "1 kB", None, None)])
    r = cli("gate", "--budgets", budgets, tiny_run.out, "--json")
    assert r.returncode == 1, r.stderr
    hints = {c["artifact"]: c["message"].split(" — try: ")[1] for c in json.loads(r.stdout)["checks"]}
    assert hints[INT8] == "a smaller student (fewer channels or layers); this file is already int8-qdq"
    assert hints["student-fp32.onnx"] == "the onnx-int8-qdq preset, or a smaller student (fewer channels or layers)"
