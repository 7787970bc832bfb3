"""`init = "teacher-layers"`: start a `bert` student from its teacher's weights (DistilBERT's initialisation).

Same width: the embeddings are copied, and student layer i takes teacher layer spaced(i) — evenly
spaced over the teacher's depth, first and last included (6 → 3 takes 0, 2, 5; DistilBERT
took every other of 12) — where the layer's shapes match (same feed-forward width).
Narrower student: no layer fits, so only the embeddings carry over, projected on the top principal
components of the teacher's token-embedding table: (V, H_t) → (V, H_s) keeps the directions along which
the teacher's tokens differ most; position and token-type rows go through the same projection.
A `static` student (models/static.py) takes the same PCA projection of the token table, and the map back
to the teacher's width takes the PCA basis.

`init = "teacher-outputs"` (static only): the rows are instead the teacher's own sentence vector of each
token alone — `[CLS] token [SEP]` through the whole teacher, pooled as it pools — projected the same way:
Model2Vec's starting point. Input embeddings know nothing of context; these vectors are what the teacher
makes of each token, so tokens the distillation text never shows (news names in a WordNet pile) start
where the teacher would put them, and training moves the rest.
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


def _same_vocab(sw: torch.Tensor, tw: torch.Tensor) -> None:
    if sw.shape[0] != tw.shape[0]:
        raise ConfigError("recipe", "student.vocab", f"{sw.shape[0]} tokens, the teacher's vocabulary "
                          f"{tw.shape[0]}", "leave student.vocab unset: it follows the teacher's tokenizer")


@torch.no_grad()
def init_from_teacher(student, teacher, how: str = "teacher-layers", tokenizer=None) -> str:
    """Copy (or project) the teacher's embeddings and, at equal widths, its spaced layers; say what was done.
    `how` "teacher-outputs" (static students): from the teacher's vector of each token alone (`tokenizer`:
    the tokenizer.json whose special tokens frame it)."""
    from .static import StaticEmbedding

    t = teacher.encoder
    tw = t.embeddings.word_embeddings.weight  # (V, H_t)
    if isinstance(student, StaticEmbedding):
        if how == "teacher-outputs":
            said = _init_static(student, token_vectors(teacher, tw.shape[0], tokenizer), center=False)
            return said.replace("token table", "token table from the teacher's vector of each token alone,")
        return _init_static(student, tw)
    s = student.encoder
    sw = s.embeddings.word_embeddings.weight  # (V, H_s)
    _same_vocab(sw, tw)
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


def token_vectors(teacher, vocab: int, tokenizer, batch: int = 512) -> torch.Tensor:
    """(V, D): the teacher's output for each token id alone, framed by the special tokens its tokenizer adds
    to every text (BERT: [CLS] t [SEP], so (V, 3) ids), in batches."""
    from ..data.text import load_tokenizer

    empty = load_tokenizer(tokenizer, 8).encode("")  # ids [CLS, SEP, PAD, …] at length 8
    head = [i for i, m in zip(empty.ids, empty.attention_mask) if m]  # [CLS, SEP]: the frame with no text between
    ids = torch.tensor([head[:1] + [t] + head[1:] for t in range(vocab)])  # (V, 3)
    out = []
    for i in range(0, vocab, batch):
        got = teacher(input_ids=ids[i:i + batch], attention_mask=torch.ones_like(ids[i:i + batch]))
        out.append(got["embedding"] if isinstance(got, dict) else got)  # (b, D)
    return torch.cat(out)


def _init_static(student, tw: torch.Tensor, center: bool = True) -> str:
    """Table (V, W) = the teacher's token rows centred and projected on their top W principal directions;
    the map (W → H_t) = those directions, so the first output is the (centred) mean of the teacher's input
    embeddings of the text's tokens — the untrained starting point Model2Vec-style models begin near."""
    table = student.table.weight
    _same_vocab(table, tw)
    width = table.shape[1]
    if width > tw.shape[1]:
        raise ConfigError("recipe", "student.width", f"{width} is wider than the teacher's {tw.shape[1]}: a "
                          "PCA gives at most as many directions as the teacher has", f"set width ≤ {tw.shape[1]}")
    mean, basis = pca_basis(tw, width)  # (H_t,), (H_t, W)
    table.copy_(((tw - mean) if center else tw) @ basis)  # uncentred: the vectors' shared part stays in the mean
    if student.proj is not None and student.proj.weight.shape == basis.shape:  # (D = H_t, W)
        student.proj.weight.copy_(basis)
        return f"token table from the teacher's top {width} of {tw.shape[1]} principal components; map = their basis"
    return f"token table from the teacher's top {width} of {tw.shape[1]} principal components"
