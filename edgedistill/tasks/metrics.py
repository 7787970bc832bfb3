"""Task metrics on a runtime's outputs: numpy only, so the bench child (no torch), the browser runner
(outputs shipped back from the page) and torch evaluation all compute them with the same code.

The eval set (`eval.npz`, or `edgedistill bench --data FILE`) holds the model's inputs by graph input
name (`x` feeds a single-input model) and these reference arrays:

    classify  y (N,) class ids · teacher_pred (N,) the teacher's top-1
    embed     teacher_embedding (N, D) · optional pair_a, pair_b (P,) row indices + gold (P,) human scores ·
              optional probe_class (N,) a class id per row of a labelled probe set, −1 elsewhere (kNN, few-shot) ·
              optional nn_row (N,) bool: the rows neighbour overlap is measured on (default all)
    lm        y (N, T) next-token ids (negative: no label, e.g. prompt positions) · teacher_pred (N, T) top-1

`evaluate(task, out, refs)` maps the model's first output (classify (N, C) logits, embed (N, D),
lm (N, T, V) logits) to figures {metric: (value, unit)}. METRICS says each metric's unit and
bound, which the budgets file reads.
"""

from __future__ import annotations

import numpy as np

NN_K = 10  # neighbours compared by nn_overlap

# metric → (unit, bound): "min" = higher is better (a budget is a floor), "max" = lower is better
METRICS: dict[str, tuple[str, str]] = {
    "accuracy": ("%", "min"),  # classify: top-1 vs labels; lm: next-token top-1 vs the real text
    "agreement": ("%", "min"),  # top-1 agreement with the teacher (per row, or per position for lm)
    "cosine": ("cosine", "min"),  # embed: mean cosine to the teacher's vector of the same input
    "nn_overlap": ("%", "min"),  # embed: share of each row's 10 nearest neighbours that the teacher's has too
    "spearman": ("rho", "min"),  # embed: Spearman ρ of pair similarities against human ratings
    "knn_accuracy": ("%", "min"),  # embed: leave-one-out 10-nearest-neighbour vote on the probe classes
    "fewshot_accuracy": ("%", "min"),  # embed: logistic regression on 16 probe rows a class, the rest tested
    "perplexity": ("ppl", "max"),  # lm: exp(mean next-token cross-entropy) over labelled positions
}


def infer_task(refs: dict) -> str:
    """The task an eval set was written for, from the reference arrays it holds."""
    if "teacher_embedding" in refs:
        return "embed"
    y = refs.get("y")
    return "lm" if y is not None and np.ndim(y) == 2 else "classify"


def evaluate(task: str, out: np.ndarray, refs: dict) -> dict[str, tuple[float, str]]:
    """Figures of one output array against the eval set's references; only those the references allow."""
    out = np.asarray(out)
    if task == "classify":
        return _classify(out, refs)
    if task == "embed":
        return _embed(out, refs)
    if task == "lm":
        return _lm(out, refs)
    raise ValueError(f"unknown task {task!r}")


def _pct(x) -> float:
    return float(100 * np.mean(x))


def _classify(logits: np.ndarray, refs: dict) -> dict:
    if logits.ndim != 2:
        raise ValueError(f"accuracy needs (N, classes) logits, got shape {logits.shape}")
    pred = logits.argmax(1)
    got = {}
    if "y" in refs:
        got["accuracy"] = (_pct(pred == refs["y"]), "%")
    if "teacher_pred" in refs:
        got["agreement"] = (_pct(pred == refs["teacher_pred"]), "%")
    return got


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (a zero row stays zero)."""
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def nn_overlap(a: np.ndarray, b: np.ndarray, k: int = NN_K) -> float:
    """Mean share (0–1) of each row's k nearest neighbours by cosine (itself excluded) that a and b share."""
    n = len(a)
    k = min(k, n - 1)
    if k < 1:
        return float("nan")
    out, step = 0.0, 1024  # (step, N) similarity blocks: 5,000 rows never build an N × N matrix at once
    ua, ub = unit_rows(a), unit_rows(b)
    for i in range(0, n, step):
        sa, sb = ua[i:i + step] @ ua.T, ub[i:i + step] @ ub.T  # (s, N) each
        rows = np.arange(len(sa))
        sa[rows, rows + i] = sb[rows, rows + i] = -np.inf  # never one's own neighbour
        na, nb = np.argpartition(-sa, k, axis=1)[:, :k], np.argpartition(-sb, k, axis=1)[:, :k]
        out += sum(len(np.intersect1d(x, y, assume_unique=True)) for x, y in zip(na, nb))
    return out / (n * k)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's ρ: Pearson correlation of the ranks (ties share their mean rank)."""
    def ranks(v):
        _, tie = np.unique(np.asarray(v, dtype=np.float64), return_inverse=True)  # equal values share an id
        r = np.empty(len(tie))
        r[np.argsort(v, kind="mergesort")] = np.arange(len(tie))
        return (np.bincount(tie, weights=r) / np.bincount(tie))[tie]  # tied values: their mean rank

    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = np.sqrt((rx ** 2).sum() * (ry ** 2).sum())
    return float((rx * ry).sum() / den) if den else float("nan")


def _embed(vec: np.ndarray, refs: dict) -> dict:
    if vec.ndim != 2:
        raise ValueError(f"embedding metrics need (N, dim) vectors, got shape {vec.shape}")
    got = {}
    if "teacher_embedding" in refs:
        t = refs["teacher_embedding"]
        if t.shape[1] == vec.shape[1]:  # a student of another width has no coordinate-wise cosine
            got["cosine"] = (float((unit_rows(vec) * unit_rows(t)).sum(1).mean()), "cosine")
        keep = np.asarray(refs["nn_row"], bool) if "nn_row" in refs else slice(None)
        got["nn_overlap"] = (100 * nn_overlap(vec[keep], t[keep]), "%")
    if {"pair_a", "pair_b", "gold"} <= set(refs):
        u = unit_rows(vec)
        sims = (u[refs["pair_a"]] * u[refs["pair_b"]]).sum(1)
        got["spearman"] = (spearman(sims, refs["gold"]), "rho")
    if "probe_class" in refs:
        from .probes import fewshot_accuracy, knn_accuracy

        rows = np.asarray(refs["probe_class"]) >= 0
        x, y = unit_rows(vec[rows]), np.asarray(refs["probe_class"])[rows]
        got["knn_accuracy"] = (knn_accuracy(x, y), "%")
        got["fewshot_accuracy"] = (fewshot_accuracy(x, y), "%")
    return got


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Numerically stable log-softmax over the last axis, in float64."""
    z = np.asarray(z, dtype=np.float64)
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _lm(logits: np.ndarray, refs: dict) -> dict:
    if logits.ndim != 3:
        raise ValueError(f"language-model metrics need (N, T, vocab) logits, got shape {logits.shape}")
    got, pred = {}, logits.argmax(-1)  # (N, T)
    if "y" in refs:
        y = np.asarray(refs["y"])
        keep = y >= 0  # a negative target (UNLABELED) carries no loss
        nll = -np.take_along_axis(log_softmax(logits), np.where(keep, y, 0)[..., None], -1)[..., 0]  # (N, T)
        got["perplexity"] = (float(np.exp(nll[keep].mean())), "ppl")
        got["accuracy"] = (_pct(pred[keep] == y[keep]), "%")
    if "teacher_pred" in refs:
        got["agreement"] = (_pct(pred == refs["teacher_pred"]), "%")
    return got
