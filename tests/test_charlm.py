"""The char-LM recipe (edgedistill/lm): corpus, perplexity, generation, frozen teacher, recipe
errors, and the whole run through the CLI at test size (tests/fixtures/charlm-tiny.toml).

That the distilled students beat the scratch student is a benchmark claim (benchmarks/charlm.py,
RESULTS.md) at the real recipe's size, not asserted here on tiny models.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from conftest import FIXTURES, cli

from edgedistill.errors import ConfigError
from edgedistill.lm.corpus import VOCAB, decode, encode, load_corpus, pydoc_text, windows
from edgedistill.lm.generate import IGNORE, masked_targets, teacher_samples
from edgedistill.lm.model import CharGPT
from edgedistill.lm.train import LMResult, Soft, fit, teacher_logits, val_loss
from edgedistill.progress import Reporter
from edgedistill.recipe import load_any_recipe, load_recipe

TINY_LM = FIXTURES / "charlm-tiny.toml"
QUIET = Reporter(quiet=True)


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory, cache_dir):
    """The tiny char-LM recipe through `edgedistill run --json`, once (teacher cached in the session cache)."""
    out = tmp_path_factory.mktemp("lm") / "run"
    r = cli("run", TINY_LM, "--out", out, "--json", env={"EDGEDISTILL_CACHE": str(cache_dir)})
    assert r.returncode == 0, r.stderr
    return out, json.loads(r.stdout)


# --- the run, end to end ------------------------------------------------------------------------
def test_run_writes_a_complete_run_folder_with_the_perplexity_table(lm_run):
    out, report = lm_run
    assert report == json.loads((out / "report.json").read_text())  # --json prints report.json
    lm = report["lm"]
    assert report["kind"] == "charlm" and set(lm["students"]) == {"scratch", "word", "sequence"}
    for m in [lm["teacher"], *lm["students"].values()]:
        ppl = m["val_perplexity"]
        assert ppl["how"] == "measured" and 1 < ppl["value"] < len(VOCAB) * 2
        assert ppl["value"] == pytest.approx(math.exp(m["val_loss"]))
    assert lm["students"]["scratch"]["params"] < lm["teacher"]["params"]
    for name in ("teacher.safetensors", "student-scratch.safetensors", "student-word.safetensors",
                 "student-sequence.safetensors", "student-word.onnx", "teacher-samples.txt", "report.md"):
        assert (out / name).is_file(), name
    assert "## Validation perplexity" in (out / "report.md").read_text()
    assert not list(out.parent.glob(".run.partial-*"))  # staging folder renamed into place


def test_onnx_student_is_one_file_matching_torch_and_benched(lm_run):
    out, report = lm_run
    assert not (out / "student-word.onnx.data").exists()
    p = report["parity"]["student-word.onnx"]
    assert p["max_abs_diff"]["value"] < 1e-3 and p["top1_agreement"]["value"] > 99
    metrics = {(m["artifact"], m["device"], m["metric"]) for m in report["measurements"]}
    assert ("student-word.onnx", "host-cpu", "p50_ms") in metrics


def test_rerun_reuses_the_cached_teacher_and_trains_identical_students(lm_run, cache_dir, tmp_path):
    from edgedistill.lm.stage import train_all

    out, report = lm_run
    recipe, _ = load_any_recipe(TINY_LM)
    trained = train_all(recipe, cache_dir, tmp_path, QUIET)
    assert trained.teacher_cached
    assert trained.teacher_result.val_loss == report["lm"]["teacher"]["val_loss"]
    for name, r in trained.results.items():  # same seed → bit-identical students
        assert r.val_loss == report["lm"]["students"][name]["val_loss"], name
        assert trained.weights[name].sha256 == report["artifacts"][f"student-{name}.safetensors"]["sha256"]


def test_report_command_shows_the_perplexity_table(lm_run):
    out, _ = lm_run
    r = cli("report", out)
    assert r.returncode == 0, r.stderr
    assert "Validation perplexity" in r.stdout and "scratch" in r.stdout


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


# --- perplexity ---------------------------------------------------------------------------------
class Bigram(torch.nn.Module):
    """A model whose next-character logits depend only on the current character: a fixed table."""

    def __init__(self, table):
        super().__init__()
        self.table = torch.nn.Parameter(table)

    def forward(self, ids):
        return self.table[ids]  # (B, T, V)


def test_perplexity_matches_a_hand_computation():
    torch.manual_seed(0)
    table = torch.randn(4, 4)
    model = Bigram(table)
    w = torch.tensor([[0, 1, 2, 3], [3, 3, 0, 2], [2, 1, 1, 0]])
    nll = []
    for row in w.tolist():
        for cur, nxt in zip(row[:-1], row[1:]):
            logits = table[cur].tolist()
            log_z = math.log(sum(math.exp(v) for v in logits))
            nll.append(log_z - logits[nxt])
    assert val_loss(model, w, batch=2) == pytest.approx(sum(nll) / len(nll), rel=1e-6)
    # a uniform model has perplexity exactly V
    assert math.exp(val_loss(Bigram(torch.zeros(4, 4)), w)) == pytest.approx(4.0)


# --- generation ---------------------------------------------------------------------------------
def _tiny_gpt(seed: int = 0, context: int = 16) -> CharGPT:
    torch.manual_seed(seed)
    return CharGPT(16, 1, 2, context).eval()


def test_cached_generation_gives_the_same_logits_as_a_full_forward():
    model, ids = _tiny_gpt(), torch.randint(0, len(VOCAB), (2, 16))
    logits, past = model.step(ids[:, :5], None, 0)
    steps = [logits]
    for pos in range(5, 16):
        logits, past = model.step(ids[:, pos:pos + 1], past, pos)
        steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), model(ids), atol=1e-5, rtol=1e-5)


def test_teacher_samples_are_deterministic_under_a_seed():
    model, text = _tiny_gpt(), encode(pydoc_text()[:5000])
    a = teacher_samples(model, text, 10, 16, 4, 1.0, seed=3, batch=4)
    b = teacher_samples(model, text, 10, 16, 4, 1.0, seed=3, batch=4)
    c = teacher_samples(model, text, 10, 16, 4, 1.0, seed=4, batch=4)
    assert a.shape == (10, 17) and torch.equal(a, b) and not torch.equal(a, c)
    prompts = {tuple(text[i:i + 4].tolist()) for i in range(len(text) - 4)}
    assert all(tuple(s[:4].tolist()) in prompts for s in a)  # every sample starts with real text
    y = masked_targets(a, 4)
    assert (y[:, :3] == IGNORE).all() and torch.equal(y[:, 3:], a[:, 4:])  # only teacher-written targets


# --- the frozen teacher -------------------------------------------------------------------------
def test_gradients_never_reach_the_teacher():
    teacher, student = _tiny_gpt(0), _tiny_gpt(1)
    teacher.train()  # even a teacher left in train mode with requires_grad is never updated
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    text = encode(pydoc_text()[:3000])
    train = windows(text, 16)
    soft = Soft(teacher_logits(teacher, train), temperature=2.0, alpha=0.5)
    samples = teacher_samples(teacher, text, 8, 16, 4, 1.0, seed=0)
    assert not soft.logits.requires_grad and not samples.requires_grad
    cfg = load_any_recipe(TINY_LM)[0].student.train
    result = fit(student, train, cfg=cfg, val=train[:4], seed=0, label="s", reporter=QUIET, soft=soft)
    assert isinstance(result, LMResult) and math.isfinite(result.val_loss)
    assert all(p.grad is None for p in teacher.parameters())
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    assert any(p.grad is not None for p in student.parameters())


# --- recipe errors ------------------------------------------------------------------------------
def _error(overrides: dict) -> str:
    with pytest.raises(ConfigError) as exc:
        load_any_recipe(TINY_LM, overrides)
    return str(exc.value)


def test_unknown_key_names_the_key_path_and_the_closest_key():
    err = _error({"teacher": {"train": {"epoch": 3}}})
    assert "teacher.train.epoch" in err and "did you mean 'epochs'" in err and str(TINY_LM) in err


def test_unknown_kind_and_inconsistent_values_are_named():
    assert "did you mean 'charlm'" in _error({"kind": "charml"})
    assert "distill.prompt_chars" in _error({"distill": {"prompt_chars": 32}})  # context is 32
    assert "multiple of heads" in _error({"student": {"d_model": 18}})
    err = _error({"bench": {"devices": ["host-cpuu"]}})
    assert "bench.devices[0]" in err and "did you mean 'host-cpu'" in err
    assert "onnxruntime" in _error({"bench": {"devices": ["coreml"]}})
    assert "export.onnx" in _error({"export": {"onnx": False}})  # bench needs the file


def test_classifier_loader_rejects_a_charlm_file():
    with pytest.raises(ConfigError, match="kind"):
        load_recipe(TINY_LM)


def test_cli_errors_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "charlm"\nname = "bad"\n[student.train]\nepochs = 1\nlr = -1\n')
    r = cli("run", bad, "--out", tmp_path / "run")
    assert r.returncode == 2 and "student.train.lr" in r.stderr and "Traceback" not in r.stderr
    r = cli("run", TINY_LM, "--resume", "--out", tmp_path / "run")
    assert r.returncode == 2 and "--resume" in r.stderr
    assert not (tmp_path / "run").exists()
