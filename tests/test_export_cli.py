"""`edgedistill export` end to end in child processes: one preset, auto, and the error exits."""

from __future__ import annotations

import json

from conftest import FIXTURES, TINY, cli, tiny_text


def test_export_one_preset_from_a_run_folder(tiny_run, cache_dir, tmp_path):
    out = tmp_path / "dyn"
    r = cli("export", tiny_run.out, "--preset", "onnx-int8-dynamic", "--out", out, "--json",
            env={"EDGEDISTILL_CACHE": str(cache_dir)})
    assert r.returncode == 0, r.stderr
    record = json.loads(r.stdout)
    assert record["schema"] == "edgedistill.export/1" and record["preset"] == "onnx-int8-dynamic"
    assert (out / "student-int8-dynamic.onnx").is_file() and (out / "export.json").is_file()
    assert record["parity"]["top1_agreement"]["how"] == "measured"
    again = cli("export", tiny_run.out, "--preset", "onnx-int8-dynamic", "--out", out,
                env={"EDGEDISTILL_CACHE": str(cache_dir)})
    assert again.returncode == 2 and "--force" in again.stderr  # never overwrites silently


def test_export_auto_keeps_the_smallest_file_within_the_drop(tiny_run, cache_dir, tmp_path):
    out = tmp_path / "auto"
    r = cli("export", tiny_run.out, "--preset", "auto", "--max-drop", "0.5", "--out", out, "--json",
            env={"EDGEDISTILL_CACHE": str(cache_dir)})
    assert r.returncode == 0, r.stderr
    record = json.loads(r.stdout)
    tried = [a for a in record["attempts"] if a["bytes"] is not None]
    assert len(tried) >= 5 and [a["bytes"] for a in tried] == sorted(a["bytes"] for a in tried)
    kept = [a for a in record["attempts"] if a["kept"]]
    assert len(kept) == 1 and kept[0]["preset"] == record["chosen"]
    within = [a for a in tried if a["accuracy_drop_pp"] <= 0.5]
    assert kept[0]["bytes"] == min(a["bytes"] for a in within)
    assert (out / record["artifact"]["name"]).exists() and len(list(out.iterdir())) == 2  # file + export.json


def test_export_errors_name_the_problem_with_the_documented_exit_codes(tiny_run, cache_dir, tmp_path):
    env = {"EDGEDISTILL_CACHE": str(cache_dir)}
    bad = cli("export", tiny_run.out, "--preset", "onnx-int8", "--out", tmp_path / "x", env=env)
    assert bad.returncode == 2 and "did you mean 'onnx-int8-qdq'" in bad.stderr
    pickle = tmp_path / "student.pt"
    pickle.write_bytes(b"\x80\x04K\x01.")  # a pickle: refused, never loaded
    r = cli("export", pickle, "--preset", "onnx-fp32", env=env)
    assert r.returncode == 3 and "not a run folder or a .safetensors file" in r.stderr
    weights = tiny_run.out / "student-distilled_transfer.safetensors"
    r = cli("export", weights, "--preset", "onnx-fp32", env=env)
    assert r.returncode == 2 and "--recipe" in r.stderr
    r = cli("export", tiny_run.out / "teacher.safetensors", "--recipe", TINY, "--preset", "onnx-fp32",
            "--out", tmp_path / "t", env=env)
    assert r.returncode == 3 and "not weights for the recipe's cnn1d" in r.stderr
    cut = tmp_path / "cut.safetensors"  # cut short: no recipe fixes it, and the line says so
    cut.write_bytes(weights.read_bytes()[:50])
    r = cli("export", cut, "--recipe", TINY, "--preset", "onnx-fp32", "--out", tmp_path / "c", env=env)
    assert r.returncode == 3 and "not a readable safetensors file" in r.stderr and "restore the file" in r.stderr


def test_a_file_missing_its_parity_tolerance_exits_5_with_the_numbers_and_a_hint(tiny_run, cache_dir, tmp_path):
    """A parity miss is a result, not an internal error (4): its own exit code, documented in README and --help."""
    from edgedistill.resources import data_dir

    strict = tmp_path / "strict-int8.toml"
    text = (data_dir("exporters") / "onnx-int8-qdq.toml").read_text()
    text = text.replace('name = "onnx-int8-qdq"', 'name = "strict-int8"')
    strict.write_text(text.replace("[parity]\n", "[parity]\nmax_abs_diff = 1e-12\n"))
    r = cli("export", tiny_run.out, "--preset", strict, "--out", tmp_path / "out",
            env={"EDGEDISTILL_CACHE": str(cache_dir)})
    assert r.returncode == 5, r.stderr
    (line,) = r.stderr.splitlines()
    assert line.startswith("edgedistill: FAIL: ") and " fails parity with the torch model on " in line
    assert "max |Δ|" in line and " — " in line  # the numbers, then the hint
    assert "5 an exported file missed its parity tolerance" in cli("--help").stdout


def test_export_auto_ranks_by_a_named_criterion(tiny_run, cache_dir, tmp_path):
    """--by brotli_size keeps the smallest file over the wire; the default follows the recipe's first device."""
    import brotli

    env = {"EDGEDISTILL_CACHE": str(cache_dir)}
    r = cli("export", tiny_run.out, "--preset", "auto", "--by", "brotli_size", "--out", tmp_path / "br", "--json",
            env=env)
    assert r.returncode == 0, r.stderr
    record = json.loads(r.stdout)
    assert record["by"] == "brotli_size" and record["by_reason"] == "asked with --by"
    ranked = [a for a in record["attempts"] if a["bytes"] is not None]
    assert [a["brotli_size"] for a in ranked] == sorted(a["brotli_size"] for a in ranked)
    kept = (tmp_path / "br" / record["artifact"]["name"]).read_bytes()
    assert len(brotli.compress(kept, quality=11)) == min(a["brotli_size"] for a in ranked if a["within"])
    # a recipe whose first device is a browser: brotli_size by default, and the output says so
    browser_first = tmp_path / "browser-first.toml"
    text = tiny_text().replace('devices = ["%s/devices/host-cpu.toml", ' % FIXTURES, 'devices = [')
    browser_first.write_text(text.replace('"tiny.budgets.toml"', f'"{TINY.with_name("tiny.budgets.toml")}"'))
    r = cli("export", tiny_run.out, "--preset", "auto", "--recipe", browser_first, "--out", tmp_path / "d", env=env)
    assert r.returncode == 0, r.stderr
    assert ("ranked by brotli_size (default for browser-wasm: a browser downloads the file brotli-compressed), "
            "within 0.5 pp accuracy drop:") in r.stdout
    bad = cli("export", tiny_run.out, "--preset", "onnx-fp32", "--by", "size", "--out", tmp_path / "x", env=env)
    assert bad.returncode == 2 and "--by ranks the files of --preset auto" in bad.stderr


def test_rank_by_latency_measures_the_file_on_the_device(tmp_path):
    from gate_models import matmul_chain

    from edgedistill.export.ranking import default_criterion, rank_value

    model = matmul_chain(tmp_path / "m.onnx", width=32)
    assert rank_value("size", model, "host-cpu") == model.stat().st_size
    assert 0 < rank_value("p50_ms", model, "host-cpu") < 1000
    assert default_criterion("host-cpu")[0] == "size" and default_criterion("browser-wasm-threads")[0] == "brotli_size"
