"""pareto.png stays readable with seven devices: one panel per device family, legends instead of labels."""

from __future__ import annotations

from edgedistill.bench.outcome import BenchRun
from edgedistill.bench.plots import _pareto, write_plots
from edgedistill.devices import list_profiles, load_profile
from edgedistill.results import Figure, Measurement

FILES = {"teacher-fp32.onnx": (98.1, 1.0), "student-fp32.onnx": (97.8, 0.12), "student-int8-qdq.onnx": (97.2, 0.08)}


def seven_devices():
    """Figures of three files on every shipped profile (the shapes a default run produces)."""
    ms = []
    for k, device in enumerate(list_profiles()):
        how = "browser" if load_profile(device).runtime == "onnxruntime-web" else "measured"
        for name, (acc, ms_) in FILES.items():
            ms += [Measurement(name, device, "p50_ms", Figure(ms_ * (1 + k), "ms", how)),
                   Measurement(name, device, "accuracy", Figure(acc, "%", how))]
    return ms, {d: {"runtime": load_profile(d).runtime} for d in list_profiles()}


def test_pareto_has_one_panel_per_device_family_and_no_piled_up_labels(tmp_path):
    ms, profiles = seven_devices()
    assert len(profiles) == 7
    fig = _pareto(ms, profiles)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["native onnxruntime (CPU)", "browser (onnxruntime-web)", "Core ML"]
    assert all(not ax.texts for ax in fig.axes)  # no per-point text to pile up
    legend_text = {t.get_text() for lg in fig.legends for t in lg.get_texts()}
    assert legend_text == set(FILES) | set(profiles)
    written = write_plots(BenchRun(ms, [], {}, profiles, {}), tmp_path)
    assert (tmp_path / "pareto.png") in written and (tmp_path / "pareto.png").stat().st_size > 10_000
