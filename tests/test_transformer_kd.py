"""Transformer teachers and students (models/hf.py, hf_init.py) and TinyBERT's losses, on a tiny random BERT.

Golden values are worked by hand; the models are real transformers (2 layers, hidden 32) saved and loaded
the way a user's save_pretrained folder is, offline.
"""

from __future__ import annotations

import json

import pytest
import torch
from tinyhf import vocabulary, write_bert

from edgedistill.distill.features import FeatureTap
from edgedistill.distill.losses import LOSSES
from edgedistill.distill.transformer_losses import attention_mse, hidden_mse, mapped_layers, token_adapter
from edgedistill.errors import ConfigError, InputFileError
from edgedistill.models.hf import build_bert, load_folder
from edgedistill.models.hf_init import init_from_teacher, pca_basis, spaced
from edgedistill.recipe import StudentConfig, TeacherConfig, TrainConfig

V = len(vocabulary())


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_bert(tmp_path_factory.mktemp("hf") / "tiny-bert")


def teacher_cfg(path, **kw):
    return TeacherConfig(source="huggingface", path=str(path), **kw)


def student_cfg(**kw):
    return StudentConfig(arch="bert", vocab=V, train=TrainConfig(epochs=1, lr=1e-3), **kw)


def batch(n=3, t=12):
    ids = torch.randint(5, V, (n, t), generator=torch.Generator().manual_seed(0))
    mask = torch.ones(n, t, dtype=torch.long)
    mask[1, 8:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def test_hidden_mse_golden():
    s = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])  # (1, 2, 2)
    assert hidden_mse(s, torch.zeros(1, 2, 2)).item() == pytest.approx(7.5)  # (1 + 4 + 9 + 16) / 4
    assert LOSSES.get("hidden_mse").uses_labels is False
    with pytest.raises(ValueError, match="projection"):
        hidden_mse(s, torch.zeros(1, 2, 3))


def test_attention_mse_golden_same_and_different_heads():
    eye, swap = torch.eye(2), torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    half = torch.full((1, 1, 2, 2), 0.5)
    assert attention_mse(half, eye[None, None]).item() == pytest.approx(0.25)
    # two student heads whose mean is 0.5 everywhere vs one teacher head: compared as head means
    two = torch.stack([eye, swap])[None]  # (1, 2, 2, 2)
    assert attention_mse(two, eye[None, None]).item() == pytest.approx(0.25)
    # same head count: per head, not averaged (the mean would hide the swapped head)
    assert attention_mse(two, torch.stack([eye, eye])[None]).item() == pytest.approx(0.5)


def test_layer_map_and_projection():
    assert mapped_layers("uniform", 2, 6) == [(1, 3), (2, 6)]
    assert mapped_layers(((0, 0), (1, 4)), 2, 6) == [(0, 0), (1, 4)]
    assert spaced(6, 3) == [0, 2, 5] and spaced(6, 1) == [5]
    assert isinstance(token_adapter(torch.Size([2, 5, 16]), torch.Size([2, 5, 16])), torch.nn.Identity)
    lin = token_adapter(torch.Size([2, 5, 16]), torch.Size([2, 5, 32]))
    assert lin(torch.zeros(2, 5, 16)).shape == (2, 5, 32)


def test_folder_loads_offline_with_taps(folder):
    model = load_folder(teacher_cfg(folder), 3)
    x = batch()
    with torch.no_grad(), FeatureTap(model, ["hidden.0", "hidden.2", "attention.1"]) as tap:
        logits = model(**x)
    assert logits.shape == (3, 3)
    assert tap["hidden.0"].shape == (3, 12, 32) and tap["hidden.2"].shape == (3, 12, 32)
    att = tap["attention.1"]
    assert att.shape == (3, 2, 12, 12)
    # probabilities over keys; padded keys of row 1 get none
    torch.testing.assert_close(att.sum(-1), torch.ones(3, 2, 12))
    assert att[1, :, :, 8:].abs().max() < 1e-6
    # mean pooling ignores padded tokens: changing them leaves the logits as they were
    y = dict(x, input_ids=x["input_ids"].clone())
    y["input_ids"][1, 8:] = 7
    with torch.no_grad():
        torch.testing.assert_close(model(**y), logits)


def test_pickle_weights_refused_unless_trusted(folder, tmp_path):
    bare = tmp_path / "bin-only"
    bare.mkdir()
    (bare / "config.json").write_text((folder / "config.json").read_text())
    (bare / "pytorch_model.bin").write_bytes(b"not even a pickle")
    with pytest.raises(ConfigError, match="teacher.trusted"):
        load_folder(teacher_cfg(bare), 3)


def test_custom_code_and_broken_folders_refused(folder, tmp_path):
    remote = tmp_path / "remote"
    remote.mkdir()
    cfg = json.loads((folder / "config.json").read_text())
    (remote / "config.json").write_text(json.dumps({**cfg, "auto_map": {"AutoModel": "evil.Model"}}))
    (remote / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
    with pytest.raises(InputFileError, match="auto_map"):
        load_folder(teacher_cfg(remote), 3)
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "config.json").write_text((folder / "config.json").read_text())
    (cut / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes()[:500])
    with pytest.raises(InputFileError, match="not a loadable"):
        load_folder(teacher_cfg(cut), 3)
    with pytest.raises(InputFileError, match="config.json"):
        load_folder(teacher_cfg(tmp_path), 3)


def test_classifier_folder_keeps_its_head_and_label_count(tmp_path):
    clf = write_bert(tmp_path / "clf", classes=4)
    model = load_folder(teacher_cfg(clf), 4)
    assert model.head is None and model(**batch()).shape == (3, 4)
    with pytest.raises(InputFileError, match="4 labels"):
        load_folder(teacher_cfg(clf), 3)


def test_teacher_layers_init_copies_spaced_layers(folder):
    teacher = load_folder(teacher_cfg(folder), 3)
    torch.manual_seed(0)
    student = build_bert(student_cfg(width=32, layers=1, heads=2, intermediate=64), (16,), 3)
    said = init_from_teacher(student, teacher)
    assert "layers [1]" in said
    s, t = student.encoder, teacher.encoder
    torch.testing.assert_close(s.embeddings.word_embeddings.weight, t.embeddings.word_embeddings.weight)
    torch.testing.assert_close(s.embeddings.position_embeddings.weight, t.embeddings.position_embeddings.weight[:16])
    for (k, a), b in zip(s.encoder.layer[0].state_dict().items(), t.encoder.layer[1].state_dict().values()):
        torch.testing.assert_close(a, b, msg=k)


def test_narrow_student_gets_pca_embeddings(folder):
    teacher = load_folder(teacher_cfg(folder), 3)
    student = build_bert(student_cfg(width=8, layers=1, heads=2), (16,), 3)
    assert "principal components" in init_from_teacher(student, teacher)
    table = teacher.encoder.embeddings.word_embeddings.weight.detach()
    got = student.encoder.embeddings.word_embeddings.weight.detach()
    mean, basis = pca_basis(table, 8)
    torch.testing.assert_close(got, (table - mean) @ basis)
    # the projection keeps more of the table's variance than any other 8 directions: more than random ones
    rand = torch.linalg.qr(torch.randn(32, 8, generator=torch.Generator().manual_seed(1)))[0]
    assert got.var(0).sum() > ((table - mean) @ rand).var(0).sum()


def test_vocab_mismatch_is_a_config_error(folder):
    teacher = load_folder(teacher_cfg(folder), 3)
    student = build_bert(StudentConfig(arch="bert", vocab=V + 1, width=32, train=TrainConfig(epochs=1, lr=1e-3)),
                         (16,), 3)
    with pytest.raises(ConfigError, match="student.vocab"):
        init_from_teacher(student, teacher)


def test_all_padding_columns_are_cut_without_changing_anything(folder):
    model = load_folder(teacher_cfg(folder), 3)
    x = batch(t=12)
    x["attention_mask"][:, 9:] = 0  # the last 3 columns are padding in every row
    padded = {k: torch.cat([v, torch.zeros(3, 20, dtype=v.dtype)], 1) for k, v in x.items()}  # 20 more
    with torch.no_grad(), FeatureTap(model, ["hidden.1", "attention.2"]) as tap:
        short = model(**x)
        h, a = tap["hidden.1"], tap["attention.2"]
        long = model(**padded)
    torch.testing.assert_close(long, short, atol=1e-5, rtol=1e-5)
    assert tap["hidden.1"].shape == (3, 32, 32) and tap["attention.2"].shape == (3, 2, 32, 32)
    torch.testing.assert_close(tap["hidden.1"][:, :12], h, atol=1e-5, rtol=1e-5)  # same states, zeros after
    assert tap["hidden.1"][:, 9:].abs().max() == 0 and tap["attention.2"][:, :, 9:].abs().max() == 0
    torch.testing.assert_close(tap["attention.2"][:, :, :9, :9], a[:, :, :9, :9], atol=1e-5, rtol=1e-5)


def test_a_config_too_large_for_memory_is_refused_before_allocating(folder, tmp_path):
    huge = tmp_path / "huge"
    huge.mkdir()
    cfg = json.loads((folder / "config.json").read_text())
    (huge / "config.json").write_text(json.dumps({**cfg, "hidden_size": 65536, "num_attention_heads": 2,
                                                  "intermediate_size": 262144, "num_hidden_layers": 48}))
    (huge / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
    with pytest.raises(InputFileError) as info:
        load_folder(teacher_cfg(huge), 3)
    assert info.value.exit_code == 3 and "parameters" in str(info.value) and "config.json" in str(info.value)
