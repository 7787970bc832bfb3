"""Golden values for the KD contract (DESIGN.md), computed by hand with `math`, not with torch."""

from __future__ import annotations

import math

import pytest
import torch

from edgedistill.distill.losses import LOSSES, UNLABELED, hinton_kd, softened_kl


def softmax(z, t=1.0):
    e = [math.exp(v / t) for v in z]
    return [v / sum(e) for v in e]


def kl(p, q):
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))


S, T_ = [1.0, 2.0, 3.0], [3.0, 2.0, 1.0]  # student, teacher logits


def test_softened_kl_matches_hand_computed_value_at_t1():
    # p/q share one normaliser, so log(p0/q0) = 2 and KL = 2 (p0 − p2) = 1.150 exactly
    got = softened_kl(torch.tensor([S]), torch.tensor([T_]), 1.0).item()
    assert got == pytest.approx(2 * (softmax(T_)[0] - softmax(T_)[2]), rel=1e-6)
    assert got == pytest.approx(1.15042, abs=1e-5)


@pytest.mark.parametrize("t", [1.0, 2.0, 4.0, 8.0])
def test_softened_kl_is_kl_of_softened_distributions_times_t_squared(t):
    expected = kl(softmax(T_, t), softmax(S, t)) * t * t
    assert softened_kl(torch.tensor([S]), torch.tensor([T_]), t).item() == pytest.approx(expected, rel=1e-5)


def test_kl_direction_is_teacher_to_student():
    s, t = [0.0, 0.0, 4.0], [2.0, 1.0, 0.0]  # asymmetric: KL(p‖q) ≠ KL(q‖p)
    forward, reverse = kl(softmax(t), softmax(s)), kl(softmax(s), softmax(t))
    assert abs(forward - reverse) > 0.1
    assert softened_kl(torch.tensor([s]), torch.tensor([t]), 1.0).item() == pytest.approx(forward, rel=1e-5)


def test_t_squared_keeps_gradient_scale_across_temperatures():
    # Without T², the soft-target gradient shrinks like 1/T²; with it, T=2 and T=16 stay within 2×.
    norms = []
    for t in (2.0, 16.0):
        s = torch.tensor([S], requires_grad=True)
        softened_kl(s, torch.tensor([T_]), t).backward()
        norms.append(s.grad.norm().item())
    assert 0.5 < norms[0] / norms[1] < 2.0


def test_hinton_kd_weights_distillation_and_hard_label():
    t, alpha, label = 1.0, 0.9, 2
    expected = alpha * kl(softmax(T_), softmax(S)) + (1 - alpha) * -math.log(softmax(S)[label])
    got = hinton_kd(torch.tensor([S]), torch.tensor([T_]), torch.tensor([label]), temperature=t, alpha=alpha)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    assert got.item() == pytest.approx(1.07614, abs=1e-4)


def test_unlabeled_rows_carry_only_the_distillation_term():
    s, t = torch.tensor([S, S]), torch.tensor([T_, T_])
    got = hinton_kd(s, t, torch.tensor([UNLABELED, UNLABELED]), temperature=4.0, alpha=0.5)
    assert got.item() == pytest.approx(0.5 * kl(softmax(T_, 4), softmax(S, 4)) * 16, rel=1e-5)  # alpha · KL·T²
    mixed = hinton_kd(s, t, torch.tensor([0, UNLABELED]), temperature=4.0, alpha=0.5)
    labeled = hinton_kd(s[:1], t[:1], torch.tensor([0]), temperature=4.0, alpha=0.5)
    assert mixed.item() == pytest.approx((labeled.item() + got.item()) / 2, rel=1e-5)  # batch mean


def test_gradient_never_reaches_the_teacher():
    torch.manual_seed(0)
    teacher, student = torch.nn.Linear(5, 3), torch.nn.Linear(5, 3)
    x = torch.randn(8, 5)
    loss = hinton_kd(student(x), teacher(x), torch.tensor([0, 1, 2, 0, UNLABELED, 1, 2, UNLABELED]))
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters())


def test_cross_entropy_ignores_teacher_and_unlabeled_rows():
    s = torch.tensor([S, S])
    got = LOSSES.get("cross_entropy")(s, torch.zeros(2, 0), torch.tensor([2, UNLABELED]))
    assert got.item() == pytest.approx(-math.log(softmax(S)[2]), rel=1e-6)


def test_unknown_loss_suggests_the_closest_name():
    with pytest.raises(KeyError, match="did you mean 'hinton_kd'"):
        LOSSES.get("hinton_dk")
