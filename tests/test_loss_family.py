"""Golden values for every distillation family, computed independently (math / numpy), plus the
frozen-teacher contract: no loss lets a gradient reach the teacher."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from edgedistill.distill import feature_losses as fl
from edgedistill.distill.losses import LOSSES, UNLABELED, as_loss, dkd

S, T_ = [1.0, 2.0, 3.0], [3.0, 2.0, 1.0]


def softmax(z, t=1.0):
    e = [math.exp(v / t) for v in z]
    return [v / sum(e) for v in e]


def kl(p, q):
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q) if pi > 0)


# --- response: decoupled KD -------------------------------------------------------------------

def dkd_by_hand(s, t, target, temp, alpha, beta):
    p_s, p_t = softmax(s, temp), softmax(t, temp)
    b_s, b_t = [p_s[target], 1 - p_s[target]], [p_t[target], 1 - p_t[target]]
    rest = [i for i in range(len(s)) if i != target]
    nckd = kl(softmax([t[i] for i in rest], temp), softmax([s[i] for i in rest], temp))
    return (alpha * kl(b_t, b_s) + beta * nckd) * temp * temp


@pytest.mark.parametrize("temp,alpha,beta", [(1.0, 1.0, 8.0), (4.0, 1.0, 8.0), (2.0, 0.5, 2.0)])
def test_dkd_matches_the_decoupled_formula(temp, alpha, beta):
    got = dkd(torch.tensor([S]), torch.tensor([T_]), torch.tensor([0]), temperature=temp, alpha=alpha, beta=beta)
    assert got.item() == pytest.approx(dkd_by_hand(S, T_, 0, temp, alpha, beta), rel=1e-5)


def test_dkd_golden_value():
    got = dkd(torch.tensor([S, T_]), torch.tensor([T_, T_]), torch.tensor([0, 2]))  # T 4, alpha 1, beta 8
    assert got.item() == pytest.approx(0.5 * (dkd_by_hand(S, T_, 0, 4, 1, 8) + dkd_by_hand(T_, T_, 2, 4, 1, 8)))
    assert got.item() == pytest.approx(2.50502, abs=1e-4)


def test_dkd_unlabeled_rows_use_the_teachers_top_class():
    a = dkd(torch.tensor([S]), torch.tensor([T_]), torch.tensor([UNLABELED]))
    b = dkd(torch.tensor([S]), torch.tensor([T_]), torch.tensor([0]))  # teacher argmax is class 0
    assert a.item() == pytest.approx(b.item())


def test_dkd_is_zero_when_student_equals_teacher():
    assert dkd(torch.tensor([T_]), torch.tensor([T_]), torch.tensor([1])).item() == pytest.approx(0, abs=1e-6)


# --- feature: FitNets hints, attention transfer ----------------------------------------------

def test_hint_mse_golden_value():
    s, t = torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[0.0, 2.0], [5.0, 4.0]])
    assert fl.hint_mse(s, t).item() == pytest.approx((1 + 0 + 4 + 0) / 4)


def test_hint_mse_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="adapter"):
        fl.hint_mse(torch.zeros(2, 3), torch.zeros(2, 4))


def test_attention_transfer_golden_value():
    # student (1, 2 ch, 2 positions): channel mean of x² = [2.5, 0.5]; teacher (1, 3 ch, 2): [1, 1]
    s = torch.tensor([[[1.0, 1.0], [2.0, 0.0]]])
    t = torch.tensor([[[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]])
    a_s = np.array([2.5, 0.5]) / np.linalg.norm([2.5, 0.5])
    a_t = np.array([1.0, 1.0]) / np.linalg.norm([1.0, 1.0])
    expected = float(((a_s - a_t) ** 2).mean())
    assert fl.attention_transfer(s, t).item() == pytest.approx(expected, rel=1e-5)
    assert expected == pytest.approx(0.16795, abs=1e-4)


def test_attention_transfer_pools_the_larger_map():
    s, t = torch.rand(2, 4, 8), torch.rand(2, 16, 4)  # spatial 8 vs 4: student pooled to 4
    assert fl.attention_transfer(s, t).item() >= 0
    with pytest.raises(ValueError, match="conv feature map"):
        fl.attention_transfer(torch.rand(2, 4), torch.rand(2, 4))


# --- relation: RKD, similarity-preserving -----------------------------------------------------

def rkd_by_hand(s, t, wd, wa):
    def dist(x):
        d = np.linalg.norm(x[:, None] - x[None], axis=2)
        return d / d[~np.eye(len(x), dtype=bool)].mean()

    def ang(x):
        e = x[None] - x[:, None]  # e[j, i] = x_i − x_j
        n = np.linalg.norm(e, axis=2, keepdims=True)
        e = np.where(n > 0, e / np.maximum(n, 1e-12), 0)
        return np.einsum("jid,jkd->jik", e, e)

    def huber(a, b):
        d = np.abs(a - b)
        return float(np.where(d < 1, 0.5 * d * d, d - 0.5).mean())

    return wd * huber(dist(s), dist(t)) + wa * huber(ang(s), ang(t))


def test_rkd_matches_numpy_and_golden_value():
    rng = np.random.default_rng(0)
    s, t = rng.standard_normal((5, 3)), rng.standard_normal((5, 7))  # widths differ on purpose
    got = fl.rkd(torch.tensor(s), torch.tensor(t)).item()
    assert got == pytest.approx(rkd_by_hand(s, t, 25, 50), rel=1e-6)
    assert got == pytest.approx(6.70248, abs=1e-4)


def test_rkd_angle_term_uses_the_first_angle_rows_only():
    rng = np.random.default_rng(2)
    s, t = rng.standard_normal((9, 3)), rng.standard_normal((9, 4))
    got = fl.rkd(torch.tensor(s), torch.tensor(t), angle_rows=4).item()
    by_hand = rkd_by_hand(s, t, 25, 0) + rkd_by_hand(s[:4], t[:4], 0, 50)  # distances: all 9 rows
    assert got == pytest.approx(by_hand, rel=1e-6)
    assert got != pytest.approx(fl.rkd(torch.tensor(s), torch.tensor(t)).item(), rel=1e-3)


def test_rkd_ignores_scale_and_rotation():
    x = torch.randn(6, 4, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(4, 4, dtype=torch.float64))
    assert fl.rkd(3.0 * x @ q, x).item() == pytest.approx(0.0, abs=1e-9)


def test_similarity_preserving_matches_numpy_and_golden_value():
    rng = np.random.default_rng(1)
    s, t = rng.standard_normal((4, 2, 3)), rng.standard_normal((4, 5))
    fs, ft = s.reshape(4, -1), t

    def gram(f):
        g = f @ f.T
        return g / np.linalg.norm(g, axis=1, keepdims=True)

    expected = float(((gram(fs) - gram(ft)) ** 2).sum() / 16)
    got = fl.similarity_preserving(torch.tensor(s), torch.tensor(t)).item()
    assert got == pytest.approx(expected, rel=1e-6)
    assert got == pytest.approx(0.16640, abs=1e-4)


# --- embedding --------------------------------------------------------------------------------

def test_embedding_losses_golden_values():
    s, t = torch.tensor([[1.0, 0.0], [1.0, 1.0]]), torch.tensor([[0.0, 2.0], [2.0, 2.0]])
    assert fl.embedding_cosine(s, t).item() == pytest.approx((1 - 0 + 1 - 1) / 2)
    assert fl.embedding_mse(s, t).item() == pytest.approx((1 + 4 + 1 + 1) / 4)


# --- the frozen-teacher contract, for every registered loss -----------------------------------

class Net(torch.nn.Module):
    """conv feature map (B, C, 8) → pooled embedding (B, C) → logits (B, 3)."""

    def __init__(self, width):
        super().__init__()
        self.conv = torch.nn.Conv1d(1, width, 3, padding=1)
        self.head = torch.nn.Linear(width, 3)

    def forward(self, x):
        fmap = torch.relu(self.conv(x))
        emb = fmap.mean(2)
        return fmap, emb, self.head(emb)


@pytest.mark.parametrize("name", LOSSES.names())
def test_no_gradient_reaches_the_teacher(name):
    torch.manual_seed(0)
    teacher, student = Net(4), Net(4)  # same width, so every family applies without an adapter
    x = torch.randn(6, 1, 8)
    labels = torch.tensor([0, 1, 2, UNLABELED, 1, 0])
    loss = as_loss(LOSSES.get(name))
    (sf, se, sl), (tf, te, tl) = student(x), teacher(x)  # teacher NOT under no_grad: the loss must detach
    if name == "attention_mse":  # attention probabilities (B, heads, T, T): the features' own softmax maps
        value = loss(*(torch.softmax(f.unsqueeze(-1) * f.unsqueeze(-2), -1) for f in (sf, tf)))
    elif loss.compares == "features":
        value = loss(sf, tf)
    elif loss.uses_labels:
        value = loss(sl, tl, labels if name != "cross_entropy" else labels.clamp(min=0))
    else:
        value = loss(se, te)
    value.backward()
    assert torch.isfinite(value)
    assert all(p.grad is None for p in teacher.parameters()), f"{name} let a gradient reach the teacher"
    grads = [p.grad for p in student.parameters() if p.grad is not None]
    assert grads and sum(g.abs().sum() for g in grads) > 0, f"{name} gives the student no gradient"


def test_every_family_is_registered():
    assert {"hinton_kd", "dkd", "hint_mse", "attention_transfer", "rkd", "similarity_preserving",
            "embedding_cosine", "embedding_mse"} <= set(LOSSES.names())
