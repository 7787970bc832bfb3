"""Recipes, presets, device profiles, the Registry and Figure: config is data, errors name key and fix."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pydantic
import pytest
from conftest import ROOT, TINY, tiny_text

from edgedistill.data import DATASETS
from edgedistill.devices import DeviceProfile, list_profiles, load_profile
from edgedistill.errors import ConfigError
from edgedistill.export.presets import list_presets, load_preset
from edgedistill.models import MODELS
from edgedistill.recipe import Recipe, load_recipe
from edgedistill.registry import Registry
from edgedistill.release.budgets import load_budgets
from edgedistill.resources import data_dir, recipes_dir
from edgedistill.results import HOW, Figure


def config_error(fn, *args, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        fn(*args, **kwargs)
    assert info.value.exit_code == 2
    assert info.value.fix
    return info.value


# ---------------------------------------------------------------- the built-in recipe


def test_builtin_mnist1d_recipe_loads():
    recipe, path = load_recipe("mnist1d")
    assert path == recipes_dir() / "mnist1d.toml"
    assert isinstance(recipe, Recipe)
    assert recipe.name == "mnist1d"
    assert recipe.data.name == "mnist1d"
    assert recipe.data.transfer_seed != recipe.data.seed
    assert recipe.teacher.arch == recipe.student.arch == "cnn1d"
    assert recipe.teacher.channels == (32, 64, 128, 128)
    assert recipe.student.channels == (6, 12, 24)
    assert recipe.student.transfer_train.batch_size == 256
    assert recipe.distill.temperature == 4.0 and recipe.distill.alpha == 0.9
    assert set(recipe.bench.devices) == {"host-cpu", "mobile-big-core", "mobile-little-core", "browser-wasm",
                                         "browser-wasm-threads", "browser-mobile-throttled", "coreml"}
    assert recipe.gate.budgets == "mnist1d.budgets.toml"
    assert (path.parent / recipe.gate.budgets).is_file()


def test_default_recipe_is_mnist1d():
    assert load_recipe() == load_recipe("mnist1d")


def test_recipe_by_path(tmp_path):
    copy = tmp_path / "mine.toml"
    copy.write_text((recipes_dir() / "mnist1d.toml").read_text(encoding="utf-8"), encoding="utf-8")
    recipe, path = load_recipe(copy)
    assert path == copy
    assert recipe == load_recipe("mnist1d")[0]


def test_recipe_is_frozen():
    recipe, _ = load_recipe("mnist1d")
    with pytest.raises(pydantic.ValidationError):
        recipe.seed = 1  # type: ignore[misc]


def test_builtin_recipe_presets_and_budgets_agree():
    """Every artifact the shipped budgets gate is a file one of the recipe's presets produces."""
    recipe, path = load_recipe("mnist1d")
    produced = {load_preset(p).artifact_name("student") for p in recipe.export.presets}
    checks = load_budgets(path.parent / recipe.gate.budgets, list(recipe.bench.devices))
    assert {c.artifact for c in checks} <= produced


def test_unknown_builtin_recipe():
    err = config_error(load_recipe, "mnist2d")
    assert "no such recipe" in str(err)
    assert "mnist1d" in err.fix


# ---------------------------------------------------------------- overrides


def test_overrides_merge_deeply():
    base, _ = load_recipe("mnist1d")
    recipe, _ = load_recipe("mnist1d", {"distill": {"alpha": 0.5}, "student": {"train": {"epochs": 2}},
                                        "export": {"presets": ["onnx-fp32"]}})
    assert recipe.distill.alpha == 0.5
    assert recipe.distill.temperature == base.distill.temperature  # sibling kept
    assert recipe.student.train.epochs == 2
    assert recipe.student.train.lr == base.student.train.lr  # sibling kept
    assert recipe.student.channels == base.student.channels  # parent's other keys kept
    assert recipe.student.transfer_train == base.student.transfer_train
    assert recipe.teacher == base.teacher
    assert recipe.export.presets == ("onnx-fp32",)  # lists are replaced, not merged
    assert load_recipe("mnist1d")[0] == base  # the file is not changed by an override


def test_section_hash_tracks_only_its_sections():
    base, _ = load_recipe("mnist1d")
    other, _ = load_recipe("mnist1d", {"student": {"train": {"epochs": 2}}})
    assert base.section_hash("data", "teacher") == other.section_hash("data", "teacher")
    assert base.section_hash("student") != other.section_hash("student")
    assert base.section_hash() != other.section_hash()
    assert base.section_hash() == load_recipe("mnist1d")[0].section_hash()


@pytest.mark.parametrize("overrides, key", [({"name": {"x": 1}}, "name"), ({"seed": {"x": 1}}, "seed")])
def test_table_override_over_a_scalar_is_a_config_error(overrides, key):
    err = config_error(load_recipe, "mnist1d", overrides)
    assert err.key.startswith(key)


# ---------------------------------------------------------------- unknown keys and names


@pytest.mark.parametrize(
    "overrides, key, suggestion",
    [
        ({"sed": 1}, "sed", "seed"),
        ({"distill": {"temprature": 2.0}}, "distill.temprature", "temperature"),
        ({"teacher": {"train": {"epoch": 3}}}, "teacher.train.epoch", "epochs"),
        ({"student": {"chanels": [4]}}, "student.chanels", "channels"),
        ({"data": {"transfer_sample": 10}}, "data.transfer_sample", "transfer_samples"),
        ({"bench": {"device": ["host-cpu"]}}, "bench.device", "devices"),
    ],
)
def test_unknown_key_suggests_the_closest(overrides, key, suggestion):
    err = config_error(load_recipe, "mnist1d", overrides)
    assert err.key == key
    assert "unknown key" in str(err)
    assert err.fix == f"did you mean {suggestion!r}?"


def test_unknown_key_without_a_close_name_lists_the_allowed_keys():
    err = config_error(load_recipe, "mnist1d", {"distill": {"zzzzzz": 1}})
    assert "alpha" in err.fix and "temperature" in err.fix


@pytest.mark.parametrize(
    "overrides, key, value, suggestion",
    [
        ({"teacher": {"arch": "cnn1"}}, "teacher.arch", "cnn1", "cnn1d"),
        ({"student": {"arch": "cnn_1d"}}, "student.arch", "cnn_1d", "cnn1d"),
        ({"data": {"name": "mnist"}}, "data.name", "mnist", "mnist1d"),
        ({"export": {"presets": ["onnx-fp32", "onnx-int8"]}}, "export.presets[1]", "onnx-int8", "onnx-int8-qdq"),
        ({"bench": {"devices": ["host-cpu", "hostcpu"]}}, "bench.devices[1]", "hostcpu", "host-cpu"),
    ],
)
def test_unknown_registry_name_names_key_path_and_closest(overrides, key, value, suggestion):
    err = config_error(load_recipe, "mnist1d", overrides)
    assert err.key == key
    msg = str(err)
    assert f"{key}: unknown name {value!r}" in msg
    assert err.fix == f"did you mean {suggestion!r}?"


def test_unknown_name_with_nothing_close_lists_the_known():
    err = config_error(load_recipe, "mnist1d", {"student": {"arch": "transformer-xl"}})
    assert err.key == "student.arch"
    assert err.fix == "known: " + ", ".join(MODELS.names())


def test_error_in_a_recipe_file_names_that_file(tmp_path):
    text = (recipes_dir() / "mnist1d.toml").read_text(encoding="utf-8").replace('arch = "cnn1d"', 'arch = "cnn"', 1)
    path = tmp_path / "typo.toml"
    path.write_text(text, encoding="utf-8")
    err = config_error(load_recipe, path)
    assert err.source == str(path)
    assert str(err).startswith(f"{path}: teacher.arch: unknown name 'cnn'")


def test_transfer_seed_equal_to_seed_is_rejected():
    err = config_error(load_recipe, "mnist1d", {"data": {"seed": 7, "transfer_seed": 7}})
    assert err.key == "data"
    assert "transfer_seed must differ from seed" in str(err)


def test_equal_seeds_are_fine_without_a_transfer_set():
    recipe, _ = load_recipe("mnist1d", {"data": {"seed": 7, "transfer_seed": 7, "transfer_samples": 0}})
    assert recipe.data.transfer_samples == 0


@pytest.mark.parametrize(
    "overrides, key",
    [
        ({"distill": {"alpha": 1.5}}, "distill.alpha"),
        ({"distill": {"temperature": 0}}, "distill.temperature"),
        ({"teacher": {"train": {"epochs": 0}}}, "teacher.train.epochs"),
        ({"student": {"channels": [4, -1]}}, "student.channels.1"),
        ({"name": "has space"}, "name"),
    ],
)
def test_out_of_range_values_name_the_key(overrides, key):
    err = config_error(load_recipe, "mnist1d", overrides)
    assert err.key == key


def test_malformed_recipe_toml(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('name = "x"\n[teacher\narch = "cnn1d"\n', encoding="utf-8")
    err = config_error(load_recipe, path)
    assert "broken.toml" in str(err) and "line 2" in str(err)


# ---------------------------------------------------------------- Registry


def test_registry_register_get_names():
    reg: Registry = Registry("loss")
    reg.register("kd", "kd-fn")

    @reg.register("attention")
    def attention():
        return "at"

    assert attention() == "at"  # the decorator returns the function itself
    assert reg.get("kd") == "kd-fn"
    assert reg.get("attention") is attention
    assert reg.names() == ["attention", "kd"]
    assert "kd" in reg and "rkd" not in reg


def test_registry_miss_suggests_the_closest():
    reg: Registry = Registry("loss")
    for name in ("kd", "attention", "similarity"):
        reg.register(name, name)
    with pytest.raises(KeyError) as info:
        reg.get("atention")
    assert info.value.args[0] == "unknown loss 'atention'; did you mean 'attention'?"
    with pytest.raises(KeyError) as info:
        reg.get("zzzzzz")
    assert info.value.args[0] == "unknown loss 'zzzzzz'; known: attention, kd, similarity"


def test_registry_refuses_duplicates():
    reg: Registry = Registry("model architecture")
    reg.register("cnn1d", 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("cnn1d", 2)
    assert reg.get("cnn1d") == 1


def test_shipped_registries_are_filled():
    assert "cnn1d" in MODELS
    assert "mnist1d" in DATASETS
    with pytest.raises(KeyError, match="did you mean 'cnn1d'"):
        MODELS.get("cnn1D")


# ---------------------------------------------------------------- presets


def test_presets_listed_match_files():
    stems = sorted(p.stem for p in data_dir("exporters").glob("*.toml"))
    assert list_presets() == stems
    assert {"onnx-fp32", "onnx-int8-qdq", "coreml-fp16"} <= set(stems)


@pytest.mark.parametrize("name", list_presets())
def test_every_shipped_preset_loads_and_matches_its_file_name(name):
    preset = load_preset(name)
    assert preset.name == name
    assert preset.name.startswith(preset.format + "-")
    if preset.format == "onnx":
        assert preset.opset is not None
    if preset.precision == "int8" and preset.format == "onnx":
        assert preset.quantization is not None


@pytest.mark.parametrize("name, artifact", [("onnx-fp32", "student-fp32.onnx"),
                                            ("onnx-int8-qdq", "student-int8-qdq.onnx"),
                                            ("coreml-fp16", "student-fp16.mlpackage")])
def test_preset_artifact_names(name, artifact):
    assert load_preset(name).artifact_name("student") == artifact


def test_unknown_preset_suggests_the_closest():
    err = config_error(load_preset, "onnx-int8")
    assert err.fix == "did you mean 'onnx-int8-qdq'?"


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_user_preset_whose_name_differs_from_its_file(tmp_path):
    path = _write(tmp_path, "mine.toml", 'name = "theirs"\nformat = "onnx"\nprecision = "fp32"\nopset = 18\n')
    err = config_error(load_preset, str(path))
    assert err.key == "name"
    assert err.fix == "rename to 'mine'"


def test_user_preset_loads_by_path(tmp_path):
    path = _write(tmp_path, "onnx-fp16.toml", 'name = "onnx-fp16"\nformat = "onnx"\nprecision = "fp16"\nopset = 17\n')
    assert load_preset(str(path)).opset == 17


@pytest.mark.parametrize(
    "body, needle",
    [
        ('format = "onnx"\nprecision = "fp32"\n', "needs `opset`"),
        ('format = "onnx"\nprecision = "int8"\nopset = 18\n', "needs a [quantization] table"),
        ('format = "onnx"\nprecision = "fp32"\nopset = 11\n', "opset"),
        ('format = "TF Lite"\nprecision = "fp32"\n', "format"),  # an unregistered name: tests/test_plugins.py
        ('format = "onnx"\nprecision = "fp32"\nopset = 18\nopst = 18\n', "did you mean 'opset'?"),
    ],
)
def test_bad_user_preset(tmp_path, body, needle):
    path = _write(tmp_path, "p.toml", 'name = "p"\n' + body)
    err = config_error(load_preset, str(path))
    assert needle in str(err)
    assert "p.toml" in str(err)


# ---------------------------------------------------------------- device profiles


def test_profiles_listed_match_files():
    assert list_profiles() == sorted(p.stem for p in data_dir("devices").glob("*.toml"))
    assert "host-cpu" in list_profiles()


@pytest.mark.parametrize("name", list_profiles())
def test_every_shipped_profile_loads_and_matches_its_file_name(name):
    profile = load_profile(name)
    assert isinstance(profile, DeviceProfile)
    assert profile.name == name
    assert profile.how in HOW


def test_host_cpu_profile_is_a_measurement():
    p = load_profile("host-cpu")
    assert p.how == "measured" and p.runtime == "onnxruntime"
    assert p.latency.runs >= 1 and p.throughput.batch >= 1


def test_unknown_profile_suggests_the_closest():
    err = config_error(load_profile, "host-gpu")
    assert err.fix == "did you mean 'host-cpu'?"
    far = config_error(load_profile, "zzzzzz")
    assert far.fix.startswith("known: ") and "host-cpu" in far.fix


def test_user_profile_whose_name_differs_from_its_file(tmp_path):
    path = _write(tmp_path, "pixel-7.toml", """
        name = "pixel7"
        description = "a phone"
        runtime = "onnxruntime"
        how = "estimated"
    """)
    err = config_error(load_profile, str(path))
    assert err.key == "name" and err.fix == "rename to 'pixel-7'"


def test_user_profile_unknown_key(tmp_path):
    path = _write(tmp_path, "pixel-7.toml", """
        name = "pixel-7"
        description = "a phone"
        runtime = "onnxruntime"
        how = "estimated"
        [latency]
        warmups = 3
    """)
    err = config_error(load_profile, str(path))
    assert err.key == "latency.warmups"
    assert err.fix == "did you mean 'warmup'?"


def test_user_profile_rejects_unknown_how(tmp_path):
    path = _write(tmp_path, "pixel-7.toml", """
        name = "pixel-7"
        description = "a phone"
        runtime = "onnxruntime"
        how = "guessed"
    """)
    err = config_error(load_profile, str(path))
    assert err.key == "how"


# ---------------------------------------------------------------- Figure


@pytest.mark.parametrize("how", HOW)
def test_figure_accepts_each_documented_how(how):
    assert Figure(1.0, "ms", how).how == how


def test_figure_defaults_to_measured():
    assert Figure(1.0, "ms").how == "measured"


@pytest.mark.parametrize("how", ["guessed", "Measured", ""])
def test_figure_rejects_an_unknown_how(how):
    with pytest.raises(ValueError, match="figure.how must be one of"):
        Figure(1.0, "ms", how)


def test_figure_json_round_trip():
    f = Figure(6.25, "ms", "estimated")
    assert f.to_json() == {"value": 6.25, "unit": "ms", "how": "estimated"}
    assert Figure.from_json(f.to_json()) == f
    assert Figure.from_json({"value": 3, "unit": "B"}) == Figure(3.0, "B", "measured")
    with pytest.raises(ValueError):
        Figure.from_json({"value": 3, "unit": "B", "how": "guessed"})


# ---------------------------------------------------------------- no torch


def test_config_modules_do_not_import_torch():
    code = ("import sys\n"
            "import edgedistill.release.budgets, edgedistill.release.gate, edgedistill.results, edgedistill.registry\n"
            "import edgedistill.devices, edgedistill.export.presets\n"
            "from edgedistill.recipe import load_recipe\n"
            "load_recipe('mnist1d')\n"
            "heavy = sorted(m for m in ('torch', 'coremltools', 'onnxruntime') if m in sys.modules)\n"
            "print(','.join(heavy))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_registry_takes_plugins_from_entry_points_and_builtins_win(tmp_path, monkeypatch):
    # A real installed-distribution layout on sys.path: what `pip install some-plugin` leaves behind.
    dist = tmp_path / "edplugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: edplugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[edgedistill.testgroup]\nmy_loss = edplugin_mod:my_loss\n"
                                           "builtin = edplugin_mod:impostor\n")
    (tmp_path / "edplugin_mod.py").write_text("def my_loss():\n    return 'plugin'\n\ndef impostor():\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry("loss", plugin_group="edgedistill.testgroup")
    reg.register("builtin", "mine")
    assert reg.names() == ["builtin", "my_loss"]
    assert reg.get("my_loss")() == "plugin" and reg.get("builtin") == "mine"


def test_the_tests_quick_profiles_are_the_shipped_ones_with_fewer_runs():
    # tests/fixtures/devices/ must not drift from devices/: regenerate them with conftest.quick_profile_text
    from conftest import FIXTURES, quick_profile_text

    for path in sorted((FIXTURES / "devices").glob("*.toml")):
        assert path.read_text() == quick_profile_text(path.stem), f"{path}: regenerate from devices/{path.name}"


def test_a_factory_module_beside_a_base_recipe_is_importable_from_a_child_elsewhere(tmp_path):
    import uuid

    from edgedistill.models import build_model

    module = f"team_family_{uuid.uuid4().hex[:8]}"  # fresh: sys.path and sys.modules outlive the test
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / f"{module}.py").write_text(
        "import torch\n\ndef make(input_shape, num_classes):\n"
        "    return torch.nn.Linear(input_shape[0], num_classes)\n")
    (tmp_path / "team" / "base.toml").write_text(
        tiny_text().replace('"tiny.budgets.toml"', '"b.toml"')
        .replace("[student]\n", f'[student]\nfactory = "{module}:make"\n'))
    (tmp_path / "mine.toml").write_text('name = "mine"\nextends = "team/base.toml"\n')
    recipe, _ = load_recipe(tmp_path / "mine.toml")
    assert build_model(recipe.student, (40,), 10).out_features == 10  # was: cannot import 'team_family_…'


def test_paths_a_base_recipe_names_stay_relative_to_the_base(tmp_path, monkeypatch):
    # `extends = "charlm"` in a user's folder used to look for ./charlm.budgets.toml beside the user's file
    (tmp_path / "my.toml").write_text('name = "my-charlm"\nextends = "charlm"\n')
    recipe, _ = load_recipe(tmp_path / "my.toml")
    assert Path(recipe.gate.budgets) == recipes_dir() / "charlm.budgets.toml"
    team = tmp_path / "team"
    (team / "profiles").mkdir(parents=True)
    (team / "profiles" / "host-cpu.toml").write_text((ROOT / "devices" / "host-cpu.toml").read_text())
    quick = '"devices/host-cpu.toml", "devices/browser-wasm.toml", '
    (team / "base.toml").write_text(TINY.read_text().replace('"tiny.budgets.toml"', '"b.toml"')
                                    .replace(quick, '"profiles/host-cpu.toml", '))
    (tmp_path / "mine.toml").write_text('name = "mine"\nextends = "team/base.toml"\n')
    recipe, _ = load_recipe(tmp_path / "mine.toml")
    assert recipe.gate.budgets == str(team / "b.toml")
    assert recipe.bench.devices[0] == str(team / "profiles" / "host-cpu.toml")
    monkeypatch.chdir(tmp_path)  # named relative to the cwd: the base's folder is not joined in twice
    recipe, _ = load_recipe(Path("mine.toml"))
    assert recipe.gate.budgets == str(team / "b.toml")
    assert recipe.bench.devices[0] == str(team / "profiles" / "host-cpu.toml")
