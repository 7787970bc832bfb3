"""Pure logic of relative limits, A/B ratios, JUnit, baselines and run comparison: hand-made figures, no runtime."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from edgedistill.bench.ab import ratios
from edgedistill.errors import ConfigError, InputFileError, UsageError
from edgedistill.release.baseline import load_baseline, update_baseline
from edgedistill.release.budgets import Check, load_budgets, parse_limit, parse_relative, require_baseline
from edgedistill.release.compare import compare, markdown
from edgedistill.release.gate import judge
from edgedistill.release.junit import to_junit
from edgedistill.release.report import gate_json, gate_rows, parity_measurements
from edgedistill.results import Figure

ART, DEV, WHERE = "model.onnx", "host-cpu", "b.toml:3"


def rel(metric: str, limit: str = "+5%", device: str | None = None, level: str = "error") -> Check:
    return Check(ART, device, metric, parse_relative(limit, metric, WHERE), limit, level, WHERE, relative=True)


def ratio_figs(metric: str, r: float, lo: float, hi: float) -> dict:
    return {(ART, DEV, metric): Figure(r, "×"), (ART, DEV, f"{metric}_low"): Figure(lo, "×"),
            (ART, DEV, f"{metric}_high"): Figure(hi, "×")}


# ---------------------------------------------------------------- the A/B statistic


def test_ratio_of_a_uniformly_twice_slower_file_is_exactly_two():
    old = np.full((8, 10), 1000.0) + np.arange(10)
    r = ratios(old, 2 * old)
    for stat in ("p50", "p90", "p99"):
        assert r[stat].ratio == pytest.approx(2.0) and r[stat].low == pytest.approx(2.0)
        assert r[stat].high == pytest.approx(2.0)


def test_ratio_ci_covers_the_estimate_and_is_reproducible():
    rng = np.random.default_rng(1)
    old = rng.lognormal(0, 0.2, (20, 10)) * 1e4
    new = old * 1.1 * rng.lognormal(0, 0.05, (20, 10))
    a, b = ratios(old, new), ratios(old, new)
    assert a == b  # fixed seed: the same data gives the same interval
    assert a["p50"].low < a["p50"].ratio < a["p50"].high
    assert 1.0 < a["p50"].low and a["p50"].high < 1.25


def test_paired_blocks_cancel_load_that_hits_both_sides():
    load = np.repeat(np.array([1.0, 3.0] * 10)[:, None], 10, axis=1)  # every other block 3× slower: both files
    old = 1000.0 * load
    r = ratios(old, 1.5 * old)
    assert r["p50"].ratio == pytest.approx(1.5) and r["p50"].high - r["p50"].low < 0.05


def test_ratios_reject_unpaired_blocks():
    with pytest.raises(ValueError):
        ratios(np.ones((4, 10)), np.ones((5, 10)))


# ---------------------------------------------------------------- relative limits in budgets


def test_relative_limit_is_a_factor():
    assert parse_relative("+5%", "size", WHERE) == pytest.approx(1.05)
    assert parse_relative(" + 12.5 % ", "p90_ms", WHERE) == pytest.approx(1.125)
    assert parse_relative("5 kB", "size", WHERE) is None


def test_relative_limit_on_a_metric_without_baseline_semantics_is_a_config_error(tmp_path):
    path = tmp_path / "b.toml"
    path.write_text('\n[[check]]\nartifact = "m.onnx"\ndevice = "host-cpu"\nmetric = "accuracy"\nlimit = "+5%"\n')
    with pytest.raises(ConfigError) as info:
        load_budgets(path, [DEV])
    assert f"{path}:2" in str(info.value) and "relative limits work for size" in str(info.value)


def test_relative_check_without_baseline_is_exit_2_naming_the_line(tmp_path):
    path = tmp_path / "b.toml"
    path.write_text('[[check]]\nartifact = "m.onnx"\nmetric = "size"\nlimit = "32 kB"\n\n'
                    '[[check]]\nartifact = "m.onnx"\nmetric = "gzip_size"\nlimit = "+5%"\n')
    checks = load_budgets(path, [DEV])
    assert checks[1].relative and checks[1].limit == pytest.approx(1.05)
    with pytest.raises(ConfigError) as info:
        require_baseline(checks, None)
    assert info.value.exit_code == 2 and f"{path}:6" in str(info.value) and "--baseline" in str(info.value)
    require_baseline(checks, tmp_path)  # with a baseline: fine


def test_new_metrics_parse_their_units():
    assert parse_limit("1.1×", "latency_ratio", WHERE) == pytest.approx(1.1)
    assert parse_limit("1.1x", "latency_ratio_p90", WHERE) == pytest.approx(1.1)
    assert parse_limit("0.01", "parity_max_abs_diff", WHERE) == pytest.approx(0.01)
    assert parse_limit("0.999", "parity_cosine", WHERE) == pytest.approx(0.999)
    assert parse_limit("99 %", "parity_agreement", WHERE) == 99
    assert parse_limit("40 kB", "brotli_size", WHERE) == 40_000


# ---------------------------------------------------------------- relative sizes


def test_relative_size_within_and_over_the_baseline():
    base = {(ART, None, "size"): Figure(10_000, "B")}
    ok = judge([rel("size")], {(ART, None, "size"): Figure(10_400, "B")}, base).results[0]
    assert ok.passed and ok.limit == pytest.approx(10_500) and ok.margin == pytest.approx(100)
    assert ok.message == "size 10.4 kB vs baseline 10 kB within +5% (≤ 10.5 kB)"
    bad = judge([rel("size")], {(ART, None, "size"): Figure(12_000, "B")}, base).results[0]
    assert not bad.passed and bad.margin == pytest.approx(-1500)
    assert bad.message.startswith("size 12 kB vs baseline 10 kB exceeds +5% (≤ 10.5 kB) by 1.5 kB (+14%) [b.toml:3]")


def test_relative_check_fails_when_the_baseline_lacks_the_artifact_or_figure():
    figs = {(ART, None, "size"): Figure(1, "B"), (ART, None, "brotli_size"): Figure(1, "B")}
    r = judge([rel("size")], figs, {("other.onnx", None, "size"): Figure(1, "B")}).results[0]
    assert not r.passed and "the baseline has no artifact 'model.onnx'" in r.message and WHERE in r.message
    r = judge([rel("brotli_size")], figs, {(ART, None, "size"): Figure(1, "B")}).results[0]
    assert not r.passed and "brotli_size is not in the baseline" in r.message


def test_relative_check_judged_without_baseline_fails_never_passes():
    r = judge([rel("size")], {(ART, None, "size"): Figure(1, "B")}, None).results[0]
    assert not r.passed and "needs a baseline" in r.message


# ---------------------------------------------------------------- relative latency: the A/B ratio and its CI


def test_relative_latency_passes_and_fails_on_the_ratio():
    base = {(ART, None, "size"): Figure(1, "B")}
    c = rel("p90_ms", "+10%", DEV)
    ok = judge([c], ratio_figs("latency_ratio_p90", 1.02, 0.98, 1.06), base).results[0]
    assert ok.passed and not ok.inconclusive and ok.limit == pytest.approx(1.1)
    assert ok.message == "p90_ms ratio: p90 1.02× the baseline (95% CI 0.98–1.06×) within +10% (≤ 1.10×)"
    bad = judge([c], ratio_figs("latency_ratio_p90", 1.32, 1.25, 1.40), base).results[0]
    assert not bad.passed and bad.margin == pytest.approx(-0.22)
    assert bad.message.startswith("p90_ms ratio: p90 1.32× the baseline (95% CI 1.25–1.40×) exceeds +10% (≤ 1.10×) "
                                  "by 0.22× (+20%) [b.toml:3] — try: ")
    assert "inconclusive" not in bad.message


@pytest.mark.parametrize("r, passed", [(1.08, True), (1.12, False)])
def test_a_ci_straddling_the_limit_is_judged_on_the_median_and_called_inconclusive(r, passed):
    base = {(ART, None, "size"): Figure(1, "B")}
    res = judge([rel("p50_ms", "+10%", DEV)], ratio_figs("latency_ratio", r, 1.02, 1.18), base).results[0]
    assert res.passed is passed and res.inconclusive
    assert "inconclusive: the 95% CI straddles the limit" in res.message
    assert gate_rows(gate_json(judge([res.check], ratio_figs("latency_ratio", r, 1.02, 1.18), base)))[0][-1]\
        .endswith("(inconclusive)")


def test_relative_latency_without_a_ratio_fails_saying_why():
    r = judge([rel("p50_ms", "+5%", DEV)], {}, {(ART, None, "size"): Figure(1, "B")}).results[0]
    assert not r.passed and "no interleaved A/B ratio" in r.message and WHERE in r.message


def test_absolute_latency_ratio_check():
    c = Check(ART, DEV, "latency_ratio", 1.2, "1.2×", "error", WHERE)
    assert judge([c], ratio_figs("latency_ratio", 1.1, 1.0, 1.15)).passed
    r = judge([c], ratio_figs("latency_ratio", 1.5, 1.4, 1.6)).results[0]
    assert not r.passed and r.message.startswith("latency_ratio: p50 1.50× the baseline (95% CI 1.40–1.60×) exceeds "
                                                 "1.2× by 0.30×")


# ---------------------------------------------------------------- parity figures from a report


def test_parity_section_becomes_device_independent_measurements():
    parity = {"a.onnx": {"max_abs_diff": Figure(0.01, "logit").to_json(), "mean_cosine": Figure(0.9999, "cosine")
                         .to_json(), "top1_agreement": Figure(99.0, "%").to_json(), "accuracy": Figure(90, "%")
                         .to_json(), "samples": 10},
              "b.mlpackage": {"skipped": "Core ML predicts only on macOS"}}
    ms = {(m.artifact, m.device, m.metric): m.figure for m in parity_measurements(parity)}
    assert ms == {("a.onnx", None, "parity_max_abs_diff"): Figure(0.01, "logit"),
                  ("a.onnx", None, "parity_cosine"): Figure(0.9999, "cosine"),
                  ("a.onnx", None, "parity_agreement"): Figure(99.0, "%")}
    c = Check("a.onnx", DEV, "parity_cosine", 0.99999, "0.99999", "error", WHERE)
    r = judge([c], ms).results[0]  # a device-named check finds the device-independent figure
    assert not r.passed and "is below 0.99999" in r.message


# ---------------------------------------------------------------- JUnit


def test_junit_has_one_testcase_per_check_and_warnings_as_skipped():
    checks = [Check(ART, None, "size", 10, "10 B", "error", "b.toml:1"),
              Check(ART, DEV, "p90_ms", 1, "1 ms", "error", "b.toml:5"),
              Check(ART, DEV, "agreement", 99, "99 %", "warn", "b.toml:9")]
    figs = {(ART, None, "size"): Figure(5, "B"), (ART, DEV, "p90_ms"): Figure(2, "ms"),
            (ART, DEV, "agreement"): Figure(90, "%")}
    root = ET.fromstring(to_junit(gate_json(judge(checks, figs))))
    suite = root.find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "1" and suite.get("skipped") == "1"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["size 10 B [b.toml:1]", "p90_ms 1 ms on host-cpu [b.toml:5]",
                                              "agreement 99 % on host-cpu [b.toml:9]"]
    assert cases[0].find("failure") is None and cases[0].find("skipped") is None
    assert cases[1].find("failure").get("message").startswith("p90_ms 2 ms exceeds 1 ms by 1 ms (+100%)")
    assert cases[2].find("failure") is None and cases[2].find("skipped").get("message").startswith("warning: ")


# ---------------------------------------------------------------- baselines


def _report(sha: str = "x") -> dict:
    return {"schema": "edgedistill.report/1", "artifacts": {ART: {"name": ART, "path": ART, "sha256": sha}},
            "measurements": [{"artifact": ART, "device": None, "metric": "size", "value": 3, "unit": "B"}]}


def test_update_baseline_refuses_a_failing_gate_and_a_different_baseline(tmp_path):
    src = tmp_path / ART
    src.write_bytes(b"one")
    dest = tmp_path / "base"
    with pytest.raises(UsageError, match="the gate failed"):
        update_baseline(dest, _report(), {ART: src}, passed=False, force=False)
    assert not dest.exists()
    assert "written" in update_baseline(dest, _report(), {ART: src}, passed=True, force=False)
    base = load_baseline(dest)
    assert base.file(ART).read_bytes() == b"one" and base.figures[(ART, None, "size")] == Figure(3, "B")
    assert "unchanged" in update_baseline(dest, _report(), {ART: src}, passed=True, force=False)
    src.write_bytes(b"two")
    with pytest.raises(UsageError, match="different baseline"):
        update_baseline(dest, _report(), {ART: src}, passed=True, force=False)
    assert load_baseline(dest).file(ART).read_bytes() == b"one"  # untouched
    update_baseline(dest, _report(), {ART: src}, passed=True, force=True)
    assert load_baseline(dest).file(ART).read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base", ART]  # no staging folders left behind
    assert json.loads((dest / "report.json").read_text())["artifacts"][ART]["path"] == ART


def test_missing_baseline_is_a_rejected_input(tmp_path):
    with pytest.raises(InputFileError, match="no baseline here"):
        load_baseline(tmp_path / "nope")


def test_baseline_refuses_a_folder_that_is_not_a_baseline(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not a baseline folder"):
        update_baseline(tmp_path / "base", _report(), {}, passed=True, force=False)


# ---------------------------------------------------------------- comparing two runs


def _run(size: float, p50: float, acc: float, cpu: str) -> dict:
    ms = [("m.onnx", None, "size", size, "B"), ("m.onnx", DEV, "p50_ms", p50, "ms"),
          ("m.onnx", DEV, "accuracy", acc, "%"), ("gone.onnx", None, "size", 1, "B")]
    return {"schema": "edgedistill.report/1", "environment": {"cpu": {"model": cpu}},
            "measurements": [{"artifact": a, "device": d, "metric": m, "value": v, "unit": u} for a, d, m, v, u in ms]}


def test_compare_gives_ratios_for_sizes_and_latency_and_point_deltas_for_accuracy():
    result = compare(_run(1000, 2.0, 95.0, "cpu A"), _run(1100, 3.0, 94.5, "cpu B"))
    by = {(r["metric"], r["device"]): r["change"] for r in result["rows"]}
    assert by[("size", None)] == {"type": "ratio", "value": pytest.approx(1.1), "unit": "×"}
    assert by[("p50_ms", DEV)]["value"] == pytest.approx(1.5)
    assert by[("accuracy", DEV)] == {"type": "delta", "value": pytest.approx(-0.5), "unit": "pp"}
    assert result["only_in_a"] == [] and not result["same_cpu"]
    md = markdown(result, "a", "b")
    assert "| m.onnx | — | size | 1 kB | 1.1 kB | 1.10× (+10%) |" in md
    assert "| m.onnx | host-cpu | accuracy | 95.00% | 94.50% | -0.50 pp |" in md
    assert "different CPUs" in md
