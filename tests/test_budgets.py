"""Budgets files → Checks: unit conversion, line numbers, and one precise ConfigError per bad input."""

from __future__ import annotations

import textwrap

import pytest

from edgedistill.devices import list_profiles
from edgedistill.errors import ConfigError, InputFileError
from edgedistill.release.budgets import METRICS, Check, load_budgets, parse_limit
from edgedistill.resources import recipes_dir

DEVICES = ["host-cpu", "pixel-7"]


def write(tmp_path, text: str, name: str = "budgets.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def one_check(tmp_path, metric: str, limit: str, device: str | None = "host-cpu") -> Check:
    dev = f'device = "{device}"\n' if device else ""
    path = write(tmp_path, f'[[check]]\nartifact = "m.onnx"\n{dev}metric = "{metric}"\nlimit = "{limit}"\n')
    (check,) = load_budgets(path, DEVICES)
    return check


def config_error(path, devices=DEVICES) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_budgets(path, devices)
    err = info.value
    assert err.exit_code == 2
    assert err.fix, "every config error carries a fix"
    return err


# ---------------------------------------------------------------- unit conversion


@pytest.mark.parametrize(
    "metric, limit, expected",
    [
        ("size", "500 B", 500),
        ("size", "32 kB", 32_000),
        ("size", "32 KB", 32_000),
        ("size", "32 KiB", 32_768),
        ("size", "1.5 MB", 1_500_000),
        ("size", "2 MiB", 2 * 1024 * 1024),
        ("size", "1 GB", 1e9),
        ("size", "1 GiB", 1024**3),
        ("gzip_size", "10kB", 10_000),  # no space is fine
        ("size", "1e3 B", 1000),  # exponent notation
        ("peak_memory", "300 MB", 300e6),
        ("p90_ms", "500 us", 0.5),
        ("p90_ms", "250 µs", 0.25),
        ("p90_ms", "5 ms", 5.0),
        ("p90_ms", "0.002 s", 2.0),
        ("session_create_ms", "1.5 s", 1500.0),
        ("p50_ms", ".5 ms", 0.5),
        ("accuracy", "95 %", 95.0),
        ("accuracy", "95%", 95.0),
        ("agreement", "99.5 %", 99.5),
        ("accuracy_drop", "3 pp", 3.0),
        ("accuracy_drop", "3 %", 3.0),
        ("throughput", "1000 samples/s", 1000.0),
        ("throughput", "1000 /s", 1000.0),
        ("size", "  32 kB  ", 32_000),  # surrounding blanks ignored
    ],
)
def test_limit_is_converted_to_the_measurement_unit(tmp_path, metric, limit, expected):
    check = one_check(tmp_path, metric, limit)
    assert check.limit == pytest.approx(expected)
    assert check.limit_text == limit  # as written, for messages
    assert check.metric == metric


def test_kilobyte_and_kibibyte_differ(tmp_path):
    assert parse_limit("1 kB", "size", "x:1") == 1000
    assert parse_limit("1 KiB", "size", "x:1") == 1024
    assert parse_limit("1 MB", "size", "x:1") == 1_000_000
    assert parse_limit("1 MiB", "size", "x:1") == 1_048_576


def test_size_metric_needs_no_device(tmp_path):
    check = one_check(tmp_path, "size", "32 kB", device=None)
    assert check.device is None
    assert check.upper


def test_size_metric_may_name_a_known_device(tmp_path):
    assert one_check(tmp_path, "size", "32 kB", device="pixel-7").device == "pixel-7"


def test_every_field_of_a_check(tmp_path):
    path = write(tmp_path, """
        # budgets for the phone build

        [[check]]
        artifact = "student-int8-qdq.onnx"
        metric = "size"
        limit = "32 kB"

        [[check]]   # latency
        artifact = "student-fp32.onnx"
        device = "pixel-7"
        metric = "p90_ms"
        limit = "5 ms"

        [[check]]
        artifact = "student-fp32.onnx"
        device = "host-cpu"
        metric = "agreement"
        limit = "95 %"
        level = "warn"
    """)
    size, lat, agree = load_budgets(path, DEVICES)
    assert size == Check("student-int8-qdq.onnx", None, "size", 32_000.0, "32 kB", "error", f"{path}:3")
    assert lat == Check("student-fp32.onnx", "pixel-7", "p90_ms", 5.0, "5 ms", "error", f"{path}:8")
    assert agree == Check("student-fp32.onnx", "host-cpu", "agreement", 95.0, "95 %", "warn", f"{path}:14")
    assert size.upper and lat.upper and not agree.upper


@pytest.mark.parametrize("metric", sorted(METRICS))
def test_bound_direction_of_each_metric(metric):
    lower_bounds = {"accuracy", "agreement", "throughput", "parity_cosine", "parity_agreement", "cosine", "nn_overlap",
                    "spearman", "knn_accuracy", "fewshot_accuracy", "tokenizer_parity"}
    check = Check("a", "host-cpu", metric, 1.0, "1", "error", "b.toml:1")
    assert check.upper == (metric not in lower_bounds)


def test_shipped_budgets_load_against_shipped_profiles():
    path = recipes_dir() / "mnist1d.budgets.toml"
    checks = load_budgets(path, list_profiles())
    assert checks, "the default recipe ships budgets"
    lines = path.read_text(encoding="utf-8").splitlines()
    for c in checks:
        n = int(c.where.rsplit(":", 1)[1])
        assert lines[n - 1].strip().startswith("[[check]]")
        assert c.metric in METRICS
    by_metric = {c.metric: c for c in checks}
    assert by_metric["size"].limit == 32_000
    assert by_metric["size"].device is None
    assert by_metric["agreement"].level == "warn"


# ---------------------------------------------------------------- bad inputs


def test_unknown_metric_suggests_the_closest(tmp_path):
    path = write(tmp_path, """
        [[check]]
        artifact = "m.onnx"
        metric = "size"
        limit = "32 kB"

        [[check]]
        artifact = "m.onnx"
        device = "host-cpu"
        metric = "p90ms"
        limit = "5 ms"
    """)
    err = config_error(path)
    assert err.key == "metric"
    msg = str(err)
    assert "budgets.toml:6" in msg
    assert err.source == f"{path}:6"
    assert "unknown metric 'p90ms'" in msg
    assert "did you mean 'p90_ms'?" in msg


def test_unknown_metric_without_a_close_name_lists_them_all(tmp_path):
    path = write(tmp_path, '[[check]]\nartifact = "m.onnx"\nmetric = "banana"\nlimit = "1"\n')
    err = config_error(path)
    assert "budgets.toml:1" in str(err)
    assert "did you mean" not in str(err)
    for metric in METRICS:
        assert metric in err.fix


@pytest.mark.parametrize(
    "metric, limit, family",
    [
        ("size", "5 ms", "bytes"),
        ("p90_ms", "5 kB", "time"),
        ("accuracy", "0.95", "percent"),  # a bare number is not a limit
        ("throughput", "5 ms", "rate"),
        ("accuracy_drop", "3 ms", "points"),
        ("size", "lots", "bytes"),
    ],
)
def test_unit_mismatch(tmp_path, metric, limit, family):
    path = write(tmp_path, f"""
        # header comment

        [[check]]
        artifact = "m.onnx"
        device = "host-cpu"
        metric = "{metric}"
        limit = "{limit}"
    """)
    err = config_error(path)
    assert err.key == "limit"
    msg = str(err)
    assert "budgets.toml:3" in msg
    assert f"{limit!r} is not a {family} limit for {metric}" in msg
    # the fix names the units that would have worked
    assert "write a number and one of:" in err.fix


def test_size_in_milliseconds_fix_lists_byte_units(tmp_path):
    path = write(tmp_path, '[[check]]\nartifact = "m.onnx"\nmetric = "size"\nlimit = "5 ms"\n')
    err = config_error(path)
    for unit in ("B", "kB", "MB", "KiB"):
        assert unit in err.fix
    assert "ms" not in err.fix


@pytest.mark.parametrize("metric, limit", [("p90_ms", "-5 ms"), ("size", "-1 kB"), ("accuracy", "-3 %")])
def test_negative_limit_is_rejected(tmp_path, metric, limit):
    path = tmp_path / "budgets.toml"  # header on line 2
    path.write_text(f'\n[[check]]\nartifact = "m.onnx"\ndevice = "host-cpu"\nmetric = "{metric}"\n'
                    f'limit = "{limit}"\n', encoding="utf-8")
    err = config_error(path)
    assert err.key == "limit"
    assert "budgets.toml:2" in str(err)
    assert repr(limit) in str(err)


@pytest.mark.parametrize("metric", [m for m, (_, _, needs) in METRICS.items() if needs])
def test_device_dependent_metric_without_device(tmp_path, metric):
    path = write(tmp_path, f"""
        [[check]]
        artifact = "m.onnx"
        metric = "size"
        limit = "1 MB"
        [[check]]
        artifact = "m.onnx"
        metric = "{metric}"
        limit = "1"
    """)
    err = config_error(path)
    assert err.key == "device"
    msg = str(err)
    assert "budgets.toml:5" in msg
    assert f"metric {metric} depends on the device" in msg
    assert "add device = one of host-cpu, pixel-7" in msg


@pytest.mark.parametrize("metric, limit", [("p90_ms", "5 ms"), ("size", "32 kB")])
def test_unknown_device(tmp_path, metric, limit):
    path = write(tmp_path, f"""
        [[check]]
        artifact = "m.onnx"
        device = "iphone-15"
        metric = "{metric}"
        limit = "{limit}"
    """)
    err = config_error(path)
    assert err.key == "device"
    msg = str(err)
    assert "budgets.toml:1" in msg
    assert "unknown device 'iphone-15'" in msg
    assert "host-cpu" in err.fix and "pixel-7" in err.fix


def test_malformed_toml_names_file_and_line(tmp_path):
    path = write(tmp_path, """
        [[check]]
        artifact = "m.onnx"
        metric = "size"
        limit = "5 kB
    """)
    err = config_error(path)
    msg = str(err)
    assert "budgets.toml" in msg
    assert "invalid TOML" in msg
    assert "line 4" in msg
    assert err.fix


def test_unknown_key_in_a_check_table_suggests_the_closest(tmp_path):
    path = write(tmp_path, """
        [[check]]
        artifact = "m.onnx"
        metric = "size"
        limit = "5 kB"

        [[check]]
        artifact = "m.onnx"
        devce = "host-cpu"
        metric = "p90_ms"
        limit = "5 ms"
    """)
    err = config_error(path)
    msg = str(err)
    assert "budgets.toml" in msg
    assert err.key == "devce" and err.source.endswith("budgets.toml:6")
    assert "unknown key" in msg
    assert "did you mean 'device'?" in msg


@pytest.mark.parametrize(
    "body",
    [
        'artifact = "m.onnx"\ndevce = "host-cpu"\nmetric = "p90_ms"\nlimit = "5 ms"\n',  # unknown key
        'artifact = "m.onnx"\nmetric = "size"\nlimit = "5 kB"\nlevel = "fatal"\n',  # bad level
        'artifact = "m.onnx"\nmetric = "size"\nlimit = 5000\n',  # number instead of "5 kB"
        'artifact = "m.onnx"\nmetric = "size"\n',  # missing limit
    ],
    ids=["unknown-key", "bad-level", "bare-number-limit", "missing-limit"],
)
def test_schema_errors_name_the_line_of_the_check(tmp_path, body):
    path = write(tmp_path, '[[check]]\nartifact = "m.onnx"\nmetric = "size"\nlimit = "5 kB"\n\n'
                           f"[[check]]\n{body}")
    err = config_error(path)
    assert "budgets.toml:6" in str(err)


def test_bad_level_is_rejected(tmp_path):
    path = write(tmp_path, '[[check]]\nartifact = "m.onnx"\nmetric = "size"\nlimit = "5 kB"\nlevel = "fatal"\n')
    err = config_error(path)
    assert err.key == "level" and err.source.endswith("budgets.toml:1")
    assert "'fatal'" in str(err)


def test_missing_required_key(tmp_path):
    path = write(tmp_path, '[[check]]\nartifact = "m.onnx"\nmetric = "size"\n')
    err = config_error(path)
    assert err.key == "limit" and err.source.endswith("budgets.toml:1")
    assert "required key is missing" in str(err)


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "check = []\n"])
def test_a_budgets_file_without_checks_is_an_error(tmp_path, text):
    path = tmp_path / "budgets.toml"
    path.write_text(text, encoding="utf-8")
    err = config_error(path)
    assert err.key == "check"
    assert "budgets.toml" in str(err)


def test_unknown_top_level_table_suggests_check(tmp_path):
    path = write(tmp_path, '[[check]]\nartifact = "m.onnx"\nmetric = "size"\nlimit = "5 kB"\n'
                           '[[chekc]]\nartifact = "m.onnx"\n')
    err = config_error(path)
    assert err.key == "chekc"
    assert "did you mean 'check'?" in str(err)


def test_inline_check_array_falls_back_to_the_index(tmp_path):
    path = write(tmp_path, """
        check = [
          { artifact = "m.onnx", metric = "size", limit = "5 kB" },
          { artifact = "m.onnx", metric = "sise", limit = "5 kB" },
        ]
    """)
    err = config_error(path)
    assert "check[1]" in str(err)
    assert "did you mean 'size'?" in str(err)


def test_spaced_array_header_keeps_line_numbers_right(tmp_path):
    path = write(tmp_path, """
        [[ check ]]
        artifact = "m.onnx"
        metric = "sise"
        limit = "5 kB"

        [[check]]
        artifact = "m.onnx"
        metric = "size"
        limit = "5 kB"
    """)
    err = config_error(path)
    assert "budgets.toml:1" in str(err)  # today it says budgets.toml:6: the *second* check


def test_missing_budgets_file_is_a_rejected_input(tmp_path):
    with pytest.raises(InputFileError) as info:
        load_budgets(tmp_path / "nope.toml", DEVICES)
    assert info.value.exit_code == 3
    assert "nope.toml" in str(info.value)


def test_parse_limit_error_names_the_given_location():
    with pytest.raises(ConfigError) as info:
        parse_limit("5 ms", "size", "b.toml:14")
    assert info.value.source == "b.toml:14"
    assert str(info.value).startswith("b.toml:14: limit: '5 ms' is not a bytes limit for size")


def test_missing_required_key_suggests_the_misspelt_one_beside_it(tmp_path):
    path = write(tmp_path, '[[check]]\nartifact = "m.onnx"\nmetirc = "size"\nlimit = "1 MB"\n')
    err = config_error(path)
    assert str(err) == (f"{path}:1: metric: required key is missing — did you mean 'metric' "
                        f"(you wrote 'metirc')?")
    far = write(tmp_path, '[[check]]\nartifact = "m.onnx"\nlimit = "1 MB"\n', "far.toml")
    assert str(config_error(far)).endswith("metric: required key is missing — add it")
