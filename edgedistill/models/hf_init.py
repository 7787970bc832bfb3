"""`init = "teacher-layers"`: start a `bert` student from its teacher's weights (DistilBERT's initialisation).

Same width: the embeddings are copied, and student layer i takes teacher layer spaced(i) — evenly
spaced over the teacher's depth, first and last included (6 → 3 takes 0, 2, 5; DistilBERT
took every other of 12) — where the layer's shapes match (same feed-forward width).
Narrower student: no layer fits, so only the embeddings carry over, projected on the top principal
components of the teacher's token-embedding table: (V, H_t) → (V, H_s) keeps the directions along which
the teacher's tokens differ most; position and token-type rows go through the same projection.
"""

from __future__ import annotations

import torch

from ..errors import ConfigError


def spaced(teacher_layers: int, student_layers: int) -> list[int]:
    """Teacher layer index (0-based) each student layer starts from."""
    if student_layers == 1:
        return [teacher_layers - 1]
    step = (teacher_layers - 1) / (student_layers - 1)
    return [round(i * step) for i in range(student_layers)]


def pca_basis(table: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean (H,), basis (H, k)): the top-k principal directions of the rows of `table` (V, H)."""
    mean = table.mean(0)
    # the right singular vectors of the centred table are the principal directions, largest first
    _, _, vh = torch.linalg.svd((table - mean).double(), full_matrices=False)
    return mean, vh[:k].T.to(table.dtype)


@torch.no_grad()
def init_from_teacher(student, teacher) -> str:
    """Copy (or project) the teacher's embeddings and, at equal widths, its spaced layers; say what was done."""
    s, t = student.encoder, teacher.encoder
    sw, tw = s.embeddings.word_embeddings.weight, t.embeddings.word_embeddings.weight  # (V, H_s), (V, H_t)
    if sw.shape[0] != tw.shape[0]:
        raise ConfigError("recipe", "student.vocab", f"{sw.shape[0]} tokens, the teacher's vocabulary "
                          f"{tw.shape[0]}", "leave student.vocab unset: it follows the teacher's tokenizer")
    width_s, width_t = sw.shape[1], tw.shape[1]
    n_pos = s.embeddings.position_embeddings.weight.shape[0]
    pairs = [(s.embeddings.word_embeddings.weight, tw),
             (s.embeddings.position_embeddings.weight, t.embeddings.position_embeddings.weight[:n_pos]),
             (s.embeddings.token_type_embeddings.weight, t.embeddings.token_type_embeddings.weight)]
    if width_s == width_t:
        for dst, src in pairs:
            dst.copy_(src)
        s.embeddings.LayerNorm.load_state_dict(t.embeddings.LayerNorm.state_dict())
        copied = []
        for i, j in enumerate(spaced(len(t.encoder.layer), len(s.encoder.layer))):
            src = t.encoder.layer[j].state_dict()
            dst = s.encoder.layer[i]
            if all(src[k].shape == v.shape for k, v in dst.state_dict().items() if k in src):
                dst.load_state_dict(src)
                copied.append(j)
        return f"embeddings copied; teacher layers {copied} copied into {len(s.encoder.layer)} student layers"
    mean, basis = pca_basis(tw, width_s)  # (H_t,), (H_t, H_s)
    for dst, src in pairs:
        dst.copy_((src - mean) @ basis)
    return f"embeddings projected on the teacher's top {width_s} of {width_t} principal components; layers random"
