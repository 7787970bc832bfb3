"""The command line, end to end in child processes: exit codes 0/1/2/3 each triggered for real."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

from conftest import FIXTURES, ROOT, TINY, cli, tiny_text

import edgedistill


def write(path, text):
    path.write_text(text)
    return path


def test_help_does_not_import_torch():
    code = ("import sys\nfrom edgedistill.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit as e:\n"
            "    assert e.code == 0, e.code\nheavy = [m for m in ('torch', 'onnxruntime', 'coremltools', 'onnx')"
            " if m in sys.modules]\nprint('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "Usage: edgedistill" in out and "HEAVY []" in out


def test_public_api_is_exactly_all():
    assert sorted(edgedistill.__all__) == sorted(set(edgedistill.__all__))
    for name in edgedistill.__all__:
        assert getattr(edgedistill, name) is not None, name


def test_gate_passes_with_exit_0(tiny_run):
    r = cli("gate", "--budgets", TINY.with_name("tiny.budgets.toml"), tiny_run.out)
    assert r.returncode == 0, r.stderr
    assert "Gate: PASSED" in r.stdout


def test_gate_failing_budget_exits_1_with_what_where_how_much_and_a_hint(tiny_run, tmp_path):
    budgets = write(tmp_path / "budgets.toml", '[[check]]\nartifact = "student-int8-qdq.onnx"\n'
                                               'metric = "size"\nlimit = "1 kB"\n')
    r = cli("gate", "--budgets", budgets, tiny_run.out)
    assert r.returncode == 1, r.stdout + r.stderr
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("student-int8-qdq.onnx: FAIL: size "))
    assert "size" in line and "exceeds 1 kB by" in line and f"{budgets}:1" in line and "try:" in line
    j = cli("gate", "--budgets", budgets, tiny_run.out, "--json")
    assert j.returncode == 1 and json.loads(j.stdout)["passed"] is False


def test_run_with_a_failing_budget_exits_1_keeps_the_run_and_refuses_to_overwrite_it(tiny_run, cache_dir, tmp_path):
    budgets = write(tmp_path / "tight.toml", '[[check]]\nartifact = "student-int8-qdq.onnx"\ndevice = "host-cpu"\n'
                                             'metric = "accuracy"\nlimit = "100 %"\n')
    text = tiny_text().replace('"tiny.budgets.toml"', f'"{budgets}"')  # host-cpu only: the browser adds ~9 s
    recipe = write(tmp_path / "tight-recipe.toml", text.replace(f'"{FIXTURES}/devices/browser-wasm.toml", ', ""))
    out, env = tmp_path / "run", {"EDGEDISTILL_CACHE": str(cache_dir)}
    r = cli("run", recipe, "--out", out, env=env)
    assert r.returncode == 1, r.stderr
    assert "teacher: reused from cache" in r.stderr  # trained once by the tiny_run fixture
    assert "student-int8-qdq.onnx on host-cpu: FAIL: accuracy" in r.stdout
    assert "is below 100 %" in r.stdout and f"{budgets}:1" in r.stdout
    assert (out / "report.json").exists()  # a missed budget is a result: the run folder is complete
    before = (out / "report.json").read_bytes()
    again = cli("run", recipe, "--out", out, "--quiet", env=env)
    assert again.returncode == 2 and "--force" in again.stderr
    assert again.stderr.count("\n") == 1  # --quiet: the refusal line alone
    assert (out / "report.json").read_bytes() == before  # nothing lost or half-written


def test_malformed_recipe_exits_2_naming_the_file_and_line(tmp_path):
    bad = write(tmp_path / "bad.toml", 'name = "x"\n[teacher\nchannels = [1]\n')
    r = cli("run", bad, "--out", tmp_path / "run")
    assert r.returncode == 2
    assert str(bad) in r.stderr and "line 2" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "run").exists()


def test_recipe_typo_exits_2_with_did_you_mean(tmp_path):
    text = tiny_text().replace('[student]\nchannels', '[student]\narch = "cnn1dd"\nchannels')
    r = cli("run", write(tmp_path / "typo.toml", text), "--out", tmp_path / "run")
    assert r.returncode == 2 and "student.arch" in r.stderr and "did you mean 'cnn1d'" in r.stderr


def test_corrupt_onnx_exits_3(tiny_run, tmp_path):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes((tiny_run.out / "student-fp32.onnx").read_bytes()[:500])
    r = cli("bench", corrupt)
    assert r.returncode == 3, r.stderr
    assert "corrupt.onnx" in r.stderr and "not a valid ONNX model" in r.stderr and len(r.stderr.splitlines()) == 1


def test_missing_report_exits_3(tmp_path):
    r = cli("gate", "--budgets", TINY.with_name("tiny.budgets.toml"), tmp_path)
    assert r.returncode == 3 and "report.json" in r.stderr


def test_standalone_bench_json_on_any_file(tiny_run):
    r = cli("bench", tiny_run.out / "student-int8-qdq.onnx", "--data", tiny_run.out / "eval.npz", "--json",
            env={"EDGEDISTILL_CACHE": str(tiny_run.out.parent / "bench-cache")})
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema"] == "edgedistill.bench/1"
    ms = {m["metric"]: m for m in doc["measurements"]}
    assert ms["p90_ms"]["how"] == "measured" and ms["p90_ms"]["unit"] == "ms"
    assert 0 <= ms["accuracy"]["value"] <= 100 and ms["size"]["value"] > 0


def test_listing_commands():
    presets = json.loads(cli("presets", "--json").stdout)
    assert {"onnx-fp32", "onnx-int8-qdq", "coreml-fp16"} <= {p["name"] for p in presets}
    devices = json.loads(cli("devices", "--json").stdout)
    by_name = {d["name"]: d for d in devices}
    assert {"name": "host-cpu", "how": "measured"}.items() <= by_name["host-cpu"].items()
    assert by_name["browser-wasm"]["how"] == "browser"
    assert {"mobile-big-core", "mobile-little-core", "coreml"} <= set(by_name)


def test_listings_are_aligned_tables_with_runs_peaks_opset_and_tolerances():
    for command, header, expected in (
            ("devices", ["constraints", "runs (latency; throughput)", "peak"],
             {"mobile-big-core": ["2 CPUs, 2048 MiB", "batch 1: 10 warm-up + ≥200 runs, ≥2 s; batch 16: 20 runs",
                                  "77.4 GFLOP/s, 34.1 GB/s"]}),
            ("presets", ["opset / target", "quantization", "parity tolerance"],
             {"onnx-int8-qdq": ["opset 18", "static QDQ, per-channel, minmax on 512 rows",
                                "top-1 ≥ 97%, cosine ≥ 0.99, drop ≤ 2 pp"]})):
        r = cli(command)
        assert r.returncode == 0, r.stderr
        table = [ln for ln in r.stdout.splitlines() if ln[:1] in "┏┃┡│└"]
        assert len({len(ln) for ln in table}) == 1, "every line of the table has the same width"
        cells = [[c.strip() for c in ln.strip("┃│").split(ln[0])] for ln in table if ln[0] in "┃│"]
        assert all(h in cells[0] for h in header)
        for name, wanted in expected.items():
            row = next(c for c in cells if c[0] == name)
            assert all(w in row for w in wanted), row
    peak = next(d for d in json.loads(cli("devices", "--json").stdout) if d["name"] == "mobile-big-core")["peak"]
    assert peak["gflops"] == 77.4 and "Snapdragon 855" in peak["gflops_source"]
    qdq = next(p for p in json.loads(cli("presets", "--json").stdout) if p["name"] == "onnx-int8-qdq")
    assert qdq["opset"] == 18 and qdq["parity"]["min_cosine"] == 0.99


def test_report_json_prints_the_checked_report(tiny_run, tmp_path):
    r = cli("report", tiny_run.out, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == json.loads((tiny_run.out / "report.json").read_text())
    bad = json.loads((tiny_run.out / "report.json").read_text())
    bad["measurements"][0]["value"] = "fast"
    (tmp_path / "report.json").write_text(json.dumps(bad))
    r = cli("report", tmp_path, "--json")
    assert r.returncode == 3 and "measurements[0]: 'value' is not a finite number" in r.stderr


def test_gate_benches_model_files_first_and_names_unknown_artifacts(tiny_run, tmp_path):
    model = tmp_path / "student-int8-qdq.onnx"
    shutil.copy(tiny_run.out / "student-int8-qdq.onnx", model)
    budgets = write(tmp_path / "b.toml", '[[check]]\nartifact = "student-int8-qdq.onnx"\nmetric = "size"\n'
                                         'limit = "64 kB"\n\n[[check]]\nartifact = "student-int8-qdq.onnx"\n'
                                         'device = "host-cpu"\nmetric = "p99_ms"\nlimit = "1 s"\n')
    r = cli("gate", "--budgets", budgets, model, "--json")
    assert r.returncode == 0, r.stderr
    checks = json.loads(r.stdout)["checks"]
    assert [c["passed"] for c in checks] == [True, True] and checks[1]["measured"]["how"] == "measured"
    renamed = tmp_path / "student-int8.onnx"
    model.rename(renamed)
    r = cli("gate", "--budgets", budgets, renamed)
    assert r.returncode == 2 and f"{budgets}:1" in r.stderr and "did you mean 'student-int8.onnx'" in r.stderr


def test_sigterm_mid_training_cleans_staging_says_how_to_resume_and_exits_143(tiny_run, cache_dir, tmp_path):
    """A cancelled CI job sends SIGTERM: handled like Ctrl-C (staging removed, checkpoints kept, how to resume)."""
    out = tmp_path / "run"
    ckpt = tmp_path / ".run.checkpoints" / "student-distilled"
    proc = subprocess.Popen([sys.executable, "-m", "edgedistill", "run", str(TINY), "--out", str(out), "--quiet",
                             "--checkpoint-every", "1"], env={**os.environ, "EDGEDISTILL_CACHE": str(cache_dir)},
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not ckpt.joinpath("step-00000002").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    assert list(tmp_path.glob(".run.partial-*")), "the run was staging when stopped"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "stopped by SIGTERM" in err and f"--resume --out {out}" in err and "Traceback" not in err
    assert not list(tmp_path.glob(".run.partial-*")) and not out.exists()  # nothing half-written
    assert ckpt.is_dir()  # training is not lost
