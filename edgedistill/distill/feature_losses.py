"""Feature-, relation- and embedding-based distillation losses: pure functions of two tensors.

Each takes (student, teacher) tensors of one batch and returns a scalar. The teacher tensor is
detached first, so no gradient ever reaches the teacher. Shapes: features are (B, C, *spatial)
or (B, D); embeddings are (B, D). A student tensor whose width differs from the teacher's goes
through a learned adapter first (distill/features.py), so shapes match here.

References:
  FitNets hints          Romero et al. 2015, "FitNets: Hints for Thin Deep Nets"
  attention transfer     Zagoruyko & Komodakis 2017, "Paying More Attention to Attention"
  RKD distance + angle   Park et al. 2019, "Relational Knowledge Distillation"
  similarity-preserving  Tung & Mori 2019, "Similarity-Preserving Knowledge Distillation"
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def hint_mse(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """FitNets hint: mean squared error between the (adapted) student feature and the teacher's."""
    teacher = teacher.detach()
    if student.shape != teacher.shape:
        raise ValueError(f"hint shapes differ: student {tuple(student.shape)} vs teacher {tuple(teacher.shape)} "
                         "(an adapter or projection should have matched them)")
    return F.mse_loss(student, teacher)


def attention_map(feature: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """(B, C, *spatial) → (B, prod(spatial)): channel mean of |x|^p, L2-normalised per example."""
    if feature.dim() < 3:
        raise ValueError(f"attention transfer needs a conv feature map (B, C, ...), got {tuple(feature.shape)}")
    return F.normalize(feature.abs().pow(p).mean(dim=1).flatten(1), dim=1)


def attention_transfer(student: torch.Tensor, teacher: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """Mean squared distance between normalised spatial attention maps; channel counts may differ.

    Spatial sizes must agree; a larger map is average-pooled to the smaller one first.
    """
    teacher = teacher.detach()
    s_size, t_size = student.shape[2:], teacher.shape[2:]
    if s_size != t_size:  # pool the larger map down (1-D or 2-D feature maps)
        target = tuple(min(a, b) for a, b in zip(s_size, t_size))
        pool = F.adaptive_avg_pool1d if len(target) == 1 else F.adaptive_avg_pool2d
        student = pool(student, target) if s_size != target else student
        teacher = pool(teacher, target) if t_size != target else teacher
    return (attention_map(student, p) - attention_map(teacher, p)).pow(2).mean()


def _pairwise_distances(x: torch.Tensor) -> torch.Tensor:
    """(B, D) → (B, B) Euclidean distances, normalised by their mean over distinct pairs (RKD's μ)."""
    d = torch.cdist(x, x)  # (B, B), zero diagonal
    off = ~torch.eye(len(x), dtype=torch.bool, device=x.device)
    return d / d[off].mean().clamp(min=1e-12)


def _angles(x: torch.Tensor) -> torch.Tensor:
    """(B, D) → (B, B, B): cos of the angle at vertex j between x_i and x_k, for every triplet."""
    e = F.normalize(x.unsqueeze(0) - x.unsqueeze(1), dim=2)  # e[j, i] = unit(x_i − x_j), (B, B, D)
    return torch.bmm(e, e.transpose(1, 2))  # [j, i, k] = <e_ji, e_jk>


def rkd(student: torch.Tensor, teacher: torch.Tensor, distance_weight: float = 25.0,
        angle_weight: float = 50.0, angle_rows: float = 64) -> torch.Tensor:
    """RKD: smooth-L1 between the batch's normalised pairwise distances and triplet angles.

    Defaults are the paper's weights (25 distance, 50 angle). Inputs flatten to (B, D); the two
    models' widths may differ — RKD compares relations, not coordinates. The angle term builds a
    (b, b, b) tensor, so it uses only the first `angle_rows` rows of the batch (batches are
    shuffled, so these are a random subset): at B = 256 that is 64× fewer triplets, and below
    `angle_rows` rows it is the paper's loss unchanged.
    """
    s, t = student.flatten(1), teacher.detach().flatten(1)
    loss = student.new_zeros(())
    if distance_weight:
        loss = loss + distance_weight * F.smooth_l1_loss(_pairwise_distances(s), _pairwise_distances(t))
    if angle_weight:
        k = max(3, int(angle_rows))  # an angle needs three rows
        loss = loss + angle_weight * F.smooth_l1_loss(_angles(s[:k]), _angles(t[:k]))
    return loss


def similarity_preserving(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """SP: ‖G_s − G_t‖²_F / B², where G = row-L2-normalised (B, B) Gram matrix of flattened features."""
    s, t = student.flatten(1), teacher.detach().flatten(1)
    g_s = F.normalize(s @ s.T, dim=1)
    g_t = F.normalize(t @ t.T, dim=1)
    b = len(s)
    return (g_s - g_t).pow(2).sum() / (b * b)


def embedding_cosine(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """1 − cosine similarity between student and teacher embeddings, batch mean."""
    return (1.0 - F.cosine_similarity(student.flatten(1), teacher.detach().flatten(1), dim=1)).mean()


def embedding_mse(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Mean squared error between student and teacher embeddings."""
    return F.mse_loss(student.flatten(1), teacher.detach().flatten(1))
