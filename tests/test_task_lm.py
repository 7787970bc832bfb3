"""The lm task (a character-level language model) through the one pipeline: corpus, perplexity,
generation, frozen teacher, recipe errors, int8 export with parity, bench, a perplexity budget in
the gate, and a bit-identical resume after SIGKILL (tests/fixtures/charlm-tiny.toml).

That the distilled students beat the scratch student is a benchmark claim (benchmarks/charlm.py,
RESULTS.md) at the real recipe's size, not asserted here on tiny models.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from conftest import FIXTURES, cli, kill_run_at
from safetensors.torch import load_file

from edgedistill.data.pydoc import VOCAB, decode, encode, load_corpus, pydoc_text, windows
from edgedistill.distill.objective import Objective
from edgedistill.errors import ConfigError
from edgedistill.models.gpt import CharGPT
from edgedistill.recipe import load_recipe
from edgedistill.tasks import UNLABELED, get_task
from edgedistill.tasks.lm import teacher_samples
from edgedistill.tasks.metrics import evaluate

TINY_LM = FIXTURES / "charlm-tiny.toml"
LM = get_task("lm")


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory, cache_dir):
    """The tiny char-LM recipe through `edgedistill run --json`, once (teacher cached in the session cache)."""
    out = tmp_path_factory.mktemp("lm") / "run"
    r = cli("run", TINY_LM, "--out", out, "--json", env={"EDGEDISTILL_CACHE": str(cache_dir)})
    assert r.returncode == 0, r.stderr
    return out, json.loads(r.stdout)


# --- the run, end to end ------------------------------------------------------------------------
def test_run_goes_through_the_one_pipeline_and_writes_a_complete_run_folder(lm_run):
    out, report = lm_run
    assert report == json.loads((out / "report.json").read_text())  # --json prints report.json
    tr = report["training"]
    assert report["task"] == "lm" and tr["headline"] == "perplexity" and tr["shipped"] == "word"
    assert set(tr["students"]) == {"scratch", "word", "sequence"}
    for m in [tr["teacher"], *tr["students"].values()]:
        ppl = m["metrics"]["perplexity"]
        assert ppl["how"] == "measured" and ppl["unit"] == "ppl" and 1 < ppl["value"] < len(VOCAB) * 2
    assert tr["students"]["scratch"]["params"] < tr["teacher"]["params"]
    assert report["data"]["inputs"] == ["input (batch, sequence) int64"]
    assert report["data"]["outputs"] == ["logits (batch, sequence, 97) float32"]
    for name in ("teacher.safetensors", "student-scratch.safetensors", "student-word.safetensors",
                 "student-sequence.safetensors", "student-fp32.onnx", "student-int8-dynamic.onnx",
                 "teacher-samples.txt", "report.md", "eval.npz"):
        assert (out / name).is_file(), name
    assert "test perplexity" in (out / "report.md").read_text()
    assert not list(out.parent.glob(".run.partial-*"))  # staging folder renamed into place


def test_int8_student_passes_parity_is_benched_and_gated_on_perplexity(lm_run):
    out, report = lm_run
    assert not (out / "student-int8-dynamic.onnx.data").exists()
    fp32, int8 = report["parity"]["student-fp32.onnx"], report["parity"]["student-int8-dynamic.onnx"]
    assert fp32["max_abs_diff"]["value"] < 1e-3 and fp32["top1_agreement"]["value"] > 99.9
    assert int8["top1_agreement"]["value"] >= 97 and int8["mean_cosine"]["value"] >= 0.99
    ms = {(m["artifact"], m["device"], m["metric"]): m for m in report["measurements"]}
    for name in ("teacher-fp32.onnx", "student-fp32.onnx", "student-int8-dynamic.onnx"):
        assert ms[(name, "host-cpu", "p50_ms")]["value"] > 0
        ppl = ms[(name, "host-cpu", "perplexity")]
        assert ppl["how"] == "measured" and ppl["unit"] == "ppl"
    # through onnxruntime on the same windows, the fp32 file's perplexity is the torch model's
    torch_ppl = report["training"]["students"]["word"]["metrics"]["perplexity"]["value"]
    assert ms[("student-fp32.onnx", "host-cpu", "perplexity")]["value"] == pytest.approx(torch_ppl, rel=1e-4)
    gate = report["gate"]
    assert gate["passed"] and [c["metric"] for c in gate["checks"]] == ["perplexity"]


def test_rerun_reuses_the_cached_teacher_and_trains_identical_students(lm_run, cache_dir, tmp_path):
    from edgedistill.distill.stage import distill_all
    from edgedistill.progress import Reporter

    out, report = lm_run
    recipe, _ = load_recipe(TINY_LM)
    trained = distill_all(recipe, cache_dir, tmp_path, Reporter(quiet=True))
    assert trained.teacher_cached
    assert trained.teacher_result.metrics["perplexity"] == report["training"]["teacher"]["metrics"]["perplexity"][
        "value"]
    for name in ("scratch", "word", "sequence"):  # same seed → bit-identical students
        assert trained.weights[name].sha256 == report["artifacts"][f"student-{name}.safetensors"]["sha256"], name


def test_report_command_shows_the_perplexity_table(lm_run):
    out, _ = lm_run
    r = cli("report", out)
    assert r.returncode == 0, r.stderr
    assert "test perplexity" in r.stdout and "student: word (shipped)" in r.stdout


@pytest.mark.slow  # a third whole-pipeline kill + resume: tests/test_resume.py (tiny) and test_hf_pipeline.py run one
def test_run_killed_mid_training_resumes_bit_identical(lm_run, tmp_path, cache_dir):
    """SIGKILL `edgedistill run` while the word-level student trains, then `run --resume`."""
    ref, _ = lm_run
    out = tmp_path / "run"
    ckpt = tmp_path / ".run.checkpoints" / "student-word"
    kill_run_at(TINY_LM, out, ckpt / "step-00000002", cache_dir)
    assert not out.exists() and ckpt.is_dir()
    done = cli("run", TINY_LM, "--out", out, "--quiet", "--resume", "--checkpoint-every", "1",
               env={"EDGEDISTILL_CACHE": str(cache_dir)})
    assert done.returncode in (0, 1), done.stderr
    for name in ("student-scratch", "student-word", "student-sequence"):
        a, b = load_file(str(ref / f"{name}.safetensors")), load_file(str(out / f"{name}.safetensors"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


# --- corpus -------------------------------------------------------------------------------------
def test_split_is_by_contiguous_blocks_with_no_shared_text():
    ids = encode(pydoc_text())
    c = load_corpus(4096, 10)
    assert len(c.train) + len(c.val) == len(ids) == c.chars
    assert torch.equal(c.val[:4096], ids[9 * 4096:10 * 4096])  # block 9 is the first validation block
    assert torch.equal(c.train[:9 * 4096], ids[:9 * 4096]) and torch.equal(c.train[9 * 4096:9 * 4096 + 10],
                                                                        ids[10 * 4096:10 * 4096 + 10])
    assert load_corpus(4096, 10).sha256 == c.sha256  # deterministic


def test_encoding_maps_unknown_characters_and_windows_predict_each_character_once():
    assert decode(encode("a\n“b”")) == "a\n?b?"
    w = windows(torch.arange(10), 3)  # ids 0…9, context 3
    assert w.tolist() == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    assert torch.cat([x[1:] for x in w]).tolist() == list(range(1, 10))


def test_pydoc_source_gives_int64_windows_and_next_characters():
    from edgedistill.data import load_dataset

    recipe, _ = load_recipe(TINY_LM)
    ds = load_dataset(recipe.data, None)
    x, y = ds.x_train["input"], ds.y_train
    assert x.dtype == np.int64 and x.shape[1:] == (32,) and y.shape == x.shape and ds.num_classes == len(VOCAB)
    assert np.array_equal(x[:, 1:], y[:, :-1])  # targets are the inputs shifted by one
    assert LM.signature(ds).inputs[0].describe() == "input (batch, sequence) int64"


# --- perplexity ---------------------------------------------------------------------------------
def test_perplexity_matches_a_hand_computation_and_skips_unlabelled_positions():
    torch.manual_seed(0)
    table = torch.randn(4, 4)
    w = torch.tensor([[0, 1, 2, 3], [3, 3, 0, 2], [2, 1, 1, 0]])
    logits = table[w[:, :-1]].numpy()  # a bigram model: (N, T, V)
    nll = []
    for row in w.tolist():
        for cur, nxt in zip(row[:-1], row[1:]):
            vals = table[cur].tolist()
            nll.append(math.log(sum(math.exp(v) for v in vals)) - vals[nxt])
    got = evaluate("lm", logits, {"y": w[:, 1:].numpy()})
    assert got["perplexity"][0] == pytest.approx(math.exp(sum(nll) / len(nll)), rel=1e-9)
    y = w[:, 1:].numpy().copy()
    y[0, 0] = UNLABELED  # a prompt position carries no loss
    keep = [v for i, v in enumerate(nll) if i != 0]
    assert evaluate("lm", logits, {"y": y})["perplexity"][0] == pytest.approx(math.exp(sum(keep) / len(keep)))
    assert evaluate("lm", np.zeros((2, 3, 4)), {"y": np.zeros((2, 3), int)})["perplexity"][0] == pytest.approx(4.0)


# --- generation ---------------------------------------------------------------------------------
def _tiny_gpt(seed: int = 0, context: int = 16) -> CharGPT:
    torch.manual_seed(seed)
    return CharGPT(16, 1, 2, context, len(VOCAB)).eval()


def test_cached_generation_gives_the_same_logits_as_a_full_forward():
    model, ids = _tiny_gpt(), torch.randint(0, len(VOCAB), (2, 16))
    logits, past = model.step(ids[:, :5], None, 0)
    steps = [logits]
    for pos in range(5, 16):
        logits, past = model.step(ids[:, pos:pos + 1], past, pos)
        steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), model(ids), atol=1e-5, rtol=1e-5)


def test_teacher_samples_are_deterministic_and_only_teacher_text_carries_loss():
    model = _tiny_gpt()
    w = windows(encode(pydoc_text()[:5000]), 16)  # (W, 17)
    x, y = w[:, :-1], w[:, 1:]
    a = teacher_samples(model, x, y, 10, 4, 1.0, seed=3, batch=4)
    b = teacher_samples(model, x, y, 10, 4, 1.0, seed=3, batch=4)
    c = teacher_samples(model, x, y, 10, 4, 1.0, seed=4, batch=4)
    assert a[0].shape == (10, 16) and torch.equal(a[0], b[0]) and not torch.equal(a[0], c[0])
    prompts = {tuple(r[i:i + 4].tolist()) for r in w for i in range(14)}
    assert all(tuple(s[:4].tolist()) in prompts for s in a[0])  # every sample starts with real text
    xs, ys = a
    assert (ys[:, :3] == UNLABELED).all() and torch.equal(ys[:, 3:-1], xs[:, 4:])  # teacher-written targets only


def test_word_level_kd_never_sends_gradients_to_the_teacher():
    teacher, student = _tiny_gpt(0), _tiny_gpt(1)
    teacher.train()  # even a teacher left in train mode with requires_grad is never updated
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    w = windows(encode(pydoc_text()[:3000]), 16)
    with torch.no_grad():
        t_out = teacher(w[:8, :-1])
    objective = Objective("hinton_kd", {"temperature": 2.0, "alpha": 0.5}, task=LM)
    loss = objective(student, {"input": w[:8, :-1]}, w[:8, 1:], {"": t_out})
    loss.backward()
    assert math.isfinite(loss.item()) and all(p.grad is None for p in teacher.parameters())
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    assert any(p.grad is not None for p in student.parameters())


# --- recipe errors ------------------------------------------------------------------------------
def _error(overrides: dict) -> str:
    with pytest.raises(ConfigError) as exc:
        load_recipe(TINY_LM, overrides)
    return str(exc.value)


def test_unknown_key_names_the_key_path_and_the_closest_key():
    err = _error({"teacher": {"train": {"epoch": 3}}})
    assert "teacher.train.epoch" in err and "did you mean 'epochs'" in err and str(TINY_LM) in err


def test_unknown_task_and_inconsistent_values_are_named():
    assert "did you mean 'embed'" in _error({"task": "embd"})
    assert "distill.prompt_chars" in _error({"distill": {"prompt_chars": 32}})  # context is 32
    assert "multiple of student.heads" in _error({"student": {"width": 18}})
    err = _error({"bench": {"devices": ["host-cpuu"]}})
    assert "bench.devices[0]" in err and "did you mean 'host-cpu'" in err
    assert "Core ML export is not built for the lm task" in \
        _error({"export": {"presets": ["onnx-fp32", "coreml-fp16"]}})
    assert "trains no student 'distilled'" in _error({"export": {"ship": "distilled"}})
    err = _error({"kind": "charlm"})  # the old top-level key: unknown, and `task` is listed
    assert "kind: unknown key" in err and "task" in err


def test_cli_errors_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "charlm"\nname = "bad"\n[student.train]\nepochs = 1\nlr = -1\n')
    r = cli("run", bad, "--out", tmp_path / "run")
    assert r.returncode == 2 and "student.train.lr" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "run").exists()
