"""The pure gate with a fake runner: hand-made Figures against Checks, no runtime, no files but budgets."""

from __future__ import annotations

import dataclasses
import math

import pytest

from edgedistill.release.budgets import METRICS, Check, load_budgets, parse_limit
from edgedistill.release.gate import HINTS, UNIT_OF, CheckResult, Verdict, fmt, judge
from edgedistill.release.hints import Origin
from edgedistill.results import Figure, Measurement, index

ART = "student-int8-qdq.onnx"
WHERE = "budgets.toml:7"


def check(metric: str, limit: str, device: str | None = "host-cpu", level: str = "error",
          artifact: str = ART, where: str = WHERE) -> Check:
    return Check(artifact, device, metric, parse_limit(limit, metric, where), limit, level, where)


def fig(metric: str, value: float, how: str = "measured") -> Figure:
    return Figure(value, UNIT_OF[METRICS[metric][0]], how)


def judge_one(c: Check, value: float | None, device: str | None = "host-cpu") -> CheckResult:
    figures = {} if value is None else {(c.artifact, device, c.metric): fig(c.metric, value)}
    verdict = judge([c], figures)
    assert len(verdict.results) == 1
    return verdict.results[0]


# ---------------------------------------------------------------- pass


def test_within_budget_passes():
    c = check("p90_ms", "5 ms")
    r = judge_one(c, 4.0)
    assert r.passed
    assert r.check is c
    assert r.measured == Figure(4.0, "ms")
    assert r.message == "p90_ms 4 ms within 5 ms" and r.subject == f"{ART} on host-cpu"
    assert r.margin == pytest.approx(1.0)
    v = judge([c], {(ART, "host-cpu", "p90_ms"): Figure(4.0, "ms")})
    assert v.passed and v.failures == ()


@pytest.mark.parametrize("metric, limit, value", [("p90_ms", "5 ms", 5.0), ("size", "32 kB", 32_000),
                                                  ("accuracy", "95 %", 95.0), ("throughput", "1000 /s", 1000)])
def test_exactly_at_the_limit_passes(metric, limit, value):
    r = judge_one(check(metric, limit), value)
    assert r.passed
    assert r.margin == 0


# ---------------------------------------------------------------- fail, upper bounds


def test_latency_over_budget_message_shape():
    r = judge_one(check("p90_ms", "5 ms"), 6.2)
    assert not r.passed
    assert r.message == ("p90_ms 6.2 ms exceeds 5 ms by 1.2 ms (+24%) [budgets.toml:7] — try: "
                         "the onnx-int8-qdq preset, or a smaller student")
    assert r.margin == pytest.approx(-1.2)
    assert judge([r.check], {(ART, "host-cpu", "p90_ms"): Figure(6.2, "ms")}).passed is False


def test_failure_names_the_budgets_file_line(tmp_path):
    path = tmp_path / "budgets.toml"
    path.write_text('# phone budgets\n\n[[check]]\nartifact = "m.onnx"\nmetric = "size"\nlimit = "32 kB"\n\n'
                    '[[check]]\nartifact = "m.onnx"\ndevice = "host-cpu"\nmetric = "p90_ms"\nlimit = "5 ms"\n',
                    encoding="utf-8")
    checks = load_budgets(path, ["host-cpu"])
    figures = {("m.onnx", None, "size"): Figure(20_000, "B"), ("m.onnx", "host-cpu", "p90_ms"): Figure(6.2, "ms")}
    v = judge(checks, figures)
    assert not v.passed
    (failure,) = v.failures
    assert failure.check.metric == "p90_ms"
    assert failure.message.startswith("p90_ms 6.2 ms exceeds 5 ms by 1.2 ms (+24%) [")
    assert f"[{path}:8] — try: " in failure.message
    assert v.results[0].passed and v.results[0].message == "size 20 kB within 32 kB"


def test_size_over_budget_has_no_device_in_message():
    c = check("size", "32 kB", device=None)
    r = judge_one(c, 40_000, device=None)
    assert not r.passed
    assert r.message == ("size 40 kB exceeds 32 kB by 8 kB (+25%) [budgets.toml:7] — try: "
                         "a smaller student, or the onnx-int8-qdq preset")
    assert r.margin == -8000


def test_accuracy_drop_is_an_upper_bound_in_points():
    r = judge_one(check("accuracy_drop", "3 pp"), 4.2)
    assert not r.passed
    assert r.message.startswith("accuracy_drop 4.20 pp exceeds 3 pp by 1.20 pp (+40%) [budgets.toml:7]")
    better = judge_one(check("accuracy_drop", "3 pp"), -0.5)  # the student beat the teacher
    assert better.passed
    assert better.margin == pytest.approx(3.5)


def test_peak_memory_over_budget():
    r = judge_one(check("peak_memory", "300 MB"), 312_500_000)
    assert not r.passed
    assert r.message.startswith("peak_memory 312 MB exceeds 300 MB by 12.5 MB (+4%) [")


def test_zero_limit_omits_the_relative_excess():
    r = judge_one(check("size", "0 B", device=None), 10, device=None)
    assert not r.passed
    assert r.message == "size 10 B exceeds 0 B by 10 B [budgets.toml:7] — try: " + HINTS["size"]


# ---------------------------------------------------------------- fail, lower bounds


def test_accuracy_below_limit_fails():
    r = judge_one(check("accuracy", "95 %"), 93.5)
    assert not r.passed
    assert r.message == ("accuracy 93.50% is below 95 % by 1.50 pp (-2%) [budgets.toml:7] — try: "
                         "more distillation epochs, more transfer data, or a wider student")
    assert r.margin == pytest.approx(-1.5)


def test_accuracy_above_limit_passes_with_positive_margin():
    r = judge_one(check("accuracy", "95 %"), 97.0)
    assert r.passed
    assert r.margin == pytest.approx(2.0)
    assert r.message == "accuracy 97.00% within 95 %"


def test_throughput_below_limit_fails():
    r = judge_one(check("throughput", "1000 /s"), 800)
    assert not r.passed
    assert r.message.startswith(f"throughput {fmt(800, 'samples/s')} is below 1000 /s by "
                                f"{fmt(200, 'samples/s')} (-20%) [budgets.toml:7] — try: ")
    assert r.margin == -200


def test_agreement_below_limit_fails():
    r = judge_one(check("agreement", "99 %"), 90.0)
    assert not r.passed and "is below" in r.message and "(-9%)" in r.message


@pytest.mark.parametrize("metric, limit", [("p90_ms", "5 ms"), ("accuracy", "95 %")])
def test_nan_measurement_never_passes(metric, limit):
    r = judge_one(check(metric, limit), math.nan)
    assert not r.passed


@pytest.mark.parametrize("metric", sorted(METRICS))
def test_margin_sign_follows_the_bound(metric):
    c = Check(ART, "host-cpu", metric, 10.0, "10", "error", WHERE)
    upper = METRICS[metric][1] == "max"
    good, bad = (8.0, 12.0) if upper else (12.0, 8.0)
    ok, ko = judge_one(c, good), judge_one(c, bad)
    assert ok.passed and ok.margin == pytest.approx(2.0)
    assert not ko.passed and ko.margin == pytest.approx(-2.0)
    assert ("exceeds" if upper else "is below") in ko.message
    assert f"try: {HINTS[metric]}" in ko.message


# ---------------------------------------------------------------- warn level


def test_warn_never_fails_the_verdict_but_is_listed():
    warn = check("agreement", "95 %", level="warn")
    err = check("p90_ms", "5 ms")
    v = judge([err, warn], {(ART, "host-cpu", "agreement"): Figure(90.0, "%"),
                            (ART, "host-cpu", "p90_ms"): Figure(3.0, "ms")})
    assert v.passed
    assert [r.check for r in v.failures] == [warn]
    assert not v.results[1].passed


def test_warn_without_measurement_does_not_fail_the_verdict():
    v = judge([check("agreement", "95 %", level="warn")], {})
    assert v.passed
    assert len(v.failures) == 1


def test_error_and_warn_failures_together():
    warn = check("agreement", "95 %", level="warn")
    err = check("p90_ms", "5 ms")
    ok = check("size", "32 kB", device=None)
    v = judge([ok, err, warn], {(ART, "host-cpu", "agreement"): Figure(90.0, "%"),
                                (ART, "host-cpu", "p90_ms"): Figure(9.0, "ms"),
                                (ART, None, "size"): Figure(1000, "B")})
    assert not v.passed
    assert [r.check for r in v.failures] == [err, warn]  # in budgets-file order
    assert [r.check for r in v.results] == [ok, err, warn]


def test_no_checks_pass():
    v = judge([], {(ART, None, "size"): Figure(1, "B")})
    assert v.passed and v.results == () and v.failures == ()


# ---------------------------------------------------------------- missing measurements and look-up


def test_missing_measurement_fails():
    c = check("p90_ms", "5 ms", device="pixel-7")
    v = judge([c], {(ART, "host-cpu", "p90_ms"): Figure(1.0, "ms")})  # measured elsewhere only
    assert not v.passed
    (r,) = v.failures
    assert r.measured is None and r.margin is None
    assert r.message == (f"p90_ms was not measured — a budget without a measurement fails "
                         f"[{WHERE}]; bench that artifact there")
    assert r.subject == f"{ART} on pixel-7"


def test_a_quality_metric_missing_from_a_measured_file_says_why_not_bench_it_there():
    """A perplexity budget on a classifier's file (measured, with accuracy) or any quality budget on a file
    benched without eval data: "bench that artifact there" would not help, so the line says what would."""
    timing = {(ART, "host-cpu", "p50_ms"): Figure(0.1, "ms")}
    classified = {**timing, (ART, "host-cpu", "accuracy"): fig("accuracy", 97.0),
                  (ART, "host-cpu", "agreement"): fig("agreement", 99.0)}
    (r,) = judge([check("perplexity", "6")], classified).failures
    assert r.message == (f"perplexity was not measured — this file's eval set gives accuracy, agreement here, "
                         f"not perplexity (a metric of another task) [{WHERE}]; check one of those instead")
    (r,) = judge([check("accuracy", "90 %")], timing).failures
    assert r.message == (f"accuracy was not measured — no eval data reached this file here [{WHERE}]; "
                         "give it one (`--data EVAL.npz`, e.g. a run's eval.npz)")
    (r,) = judge([check("accuracy", "90 %", device="pixel-7")], classified).failures  # not benched there
    assert r.message.endswith("bench that artifact there")


def test_missing_size_measurement_message_has_no_device():
    r = judge_one(check("size", "32 kB", device=None), None)
    assert not r.passed
    assert r.message.startswith("size was not measured") and r.subject == ART


def test_other_artifacts_figures_do_not_count():
    c = check("size", "32 kB", device=None)
    r = judge([c], {("teacher-fp32.onnx", None, "size"): Figure(1000, "B")}).results[0]
    assert not r.passed and r.measured is None


def test_other_metrics_do_not_count():
    c = check("p99_ms", "5 ms")
    r = judge([c], {(ART, "host-cpu", "p90_ms"): Figure(1.0, "ms")}).results[0]
    assert not r.passed and r.measured is None


@pytest.mark.parametrize("device", [None, "host-cpu"])
def test_size_check_matches_the_device_independent_figure(device):
    c = check("size", "32 kB", device=device)
    r = judge([c], {(ART, None, "size"): Figure(20_000, "B")}).results[0]
    assert r.passed
    assert r.measured == Figure(20_000, "B")


def test_device_specific_figure_wins_over_device_independent():
    c = check("size", "32 kB", device="host-cpu")
    figures = {(ART, None, "size"): Figure(40_000, "B"), (ART, "host-cpu", "size"): Figure(20_000, "B")}
    assert judge([c], figures).results[0].measured == Figure(20_000, "B")


def test_latency_on_an_unbenched_device_is_not_satisfied_by_a_deviceless_figure():
    c = check("p90_ms", "5 ms", device="pixel-7")
    r = judge([c], {(ART, None, "p90_ms"): Figure(1.0, "ms")}).results[0]
    assert not r.passed


def test_measurements_indexed_by_results_module():
    ms = [Measurement(ART, None, "size", Figure(30_000, "B")),
          Measurement(ART, "host-cpu", "p90_ms", Figure(1.0, "ms")),
          Measurement(ART, "host-cpu", "accuracy", Figure(96.0, "%", "estimated"))]
    checks = [check("size", "32 kB", device=None), check("p90_ms", "2 ms"), check("accuracy", "95 %")]
    v = judge(checks, index(ms))
    assert v.passed
    assert v.results[2].measured.how == "estimated"  # the figure keeps how it was obtained


def test_judge_is_pure():
    c = check("p90_ms", "5 ms")
    figures = {(ART, "host-cpu", "p90_ms"): Figure(6.0, "ms")}
    before = dict(figures)
    first, second = judge([c], figures), judge([c], figures)
    assert figures == before
    assert first == second
    assert isinstance(first, Verdict)
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.results[0].passed = True  # type: ignore[misc]


def test_every_metric_has_a_hint():
    assert set(HINTS) == set(METRICS)
    assert all(HINTS.values())


# ---------------------------------------------------------------- fmt


@pytest.mark.parametrize(
    "value, unit, text",
    [
        (512, "B", "512 B"),
        (32_000, "B", "32 kB"),
        (31_234, "B", "31.2 kB"),
        (1_500_000, "B", "1.5 MB"),
        (95.0, "%", "95.00%"),
        (1.5, "pp", "1.50 pp"),
        (6.2, "ms", "6.2 ms"),
        (123.456, "ms", "123 ms"),
    ],
)
def test_fmt(value, unit, text):
    assert fmt(value, unit) == text


def test_fmt_sub_millisecond_keeps_three_digits():
    assert fmt(0.1234, "ms") in {"0.123 ms", "123 µs"}


def test_fmt_rate_shows_the_whole_number():
    text = fmt(800, "samples/s")
    assert text.startswith("800") and text.endswith("/s")


@pytest.mark.parametrize("value, unit", [(999_999, "B"), (1500, "ms"), (999.9, "ms")])
def test_fmt_never_uses_scientific_notation(value, unit):
    assert "e+" not in fmt(value, unit)


# ---------------------------------------------------------------- hints follow the file's origin


def _fail(metric: str, origin: Origin | None, limit: str = "1 B", value: float = 10.0) -> str:
    upper = METRICS[metric][1] == "max"
    device = "host-cpu" if METRICS[metric][2] else None
    c = Check(ART, device, metric, 1.0 if upper else 100.0, limit, "error", WHERE)
    r = judge([c], {(ART, device, metric): Figure(value, UNIT_OF[METRICS[metric][0]])}, origins={ART: origin})
    assert not r.passed
    return r.results[0].message.split(" — try: ")[1]


@pytest.mark.parametrize("metric", ["size", "gzip_size", "brotli_size", "p50_ms", "p90_ms", "throughput"])
def test_int8_file_is_never_told_to_use_the_int8_preset(metric):
    got = _fail(metric, Origin("student", "int8-qdq"))
    assert "onnx-int8-qdq preset" not in got and "already int8-qdq" in got and "smaller student" in got


@pytest.mark.parametrize("metric", ["size", "brotli_size", "p90_ms", "peak_memory", "accuracy", "agreement"])
def test_third_party_file_is_never_told_to_train_a_smaller_student(metric):
    for precision in ("fp32", "int8-dynamic"):
        got = _fail(metric, Origin("external", precision))
        assert "smaller student" not in got and "wider student" not in got and "preset" not in got, got
        assert "distillation epochs" not in got and "alpha" not in got, got


def test_hints_say_what_fits_the_file():
    assert _fail("size", Origin("external", "fp32")).startswith("int8 quantization (onnxruntime.quantization")
    assert _fail("size", Origin("student", "fp32")).startswith("the onnx-int8-qdq preset")
    assert "coreml-int8-weights" in _fail("size", Origin("student", "fp16", "coreml"))
    assert _fail("size", Origin("teacher", "fp32")).endswith("gating the distilled student instead (the teacher is "
                                                            "the reference, not the shipped file)")
    assert "fp16 instead of int8" in _fail("accuracy_drop", Origin("student", "int8-qdq"))
    assert "wider student" in _fail("accuracy_drop", Origin("student", "fp32"))
    assert _fail("parity_cosine", Origin("student", "fp32")).startswith("check the export")
    assert _fail("size", None) == HINTS["size"]  # nothing known: the generic hint


def test_origin_of_file_reads_the_graph(tmp_path):
    from gate_models import matmul_chain
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from edgedistill.release.hints import origin_of_file

    fp32 = matmul_chain(tmp_path / "m.onnx", width=32)
    assert origin_of_file(fp32) == Origin("external", "fp32", "onnx")
    quantize_dynamic(str(fp32), str(tmp_path / "d.onnx"), weight_type=QuantType.QInt8)
    assert origin_of_file(tmp_path / "d.onnx").precision == "int8-dynamic"
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    assert origin_of_file(tmp_path / "junk.onnx").precision == "unknown"
