"""`data.name = "sentences"`: unlabelled sentences for the embed task, plus measurement-only probe rows.

    data.path          the pile: WordNet's folder (Debian wordnet-base: definitions and example sentences),
                       a folder of .txt files, .jsonl / .csv (data.text_field), or .txt one sentence a line
    data.max_texts     keep this many distinct sentences (drawn evenly, seed data.seed); default all
    data.test_rows     held out for evaluation, never trained on (default: data.test_fraction of them)
    data.rated_pairs   Lee et al. (2005): a folder with lee.cor (50 news documents, one a line, latin-1)
                       and similarities0-1.txt (50 × 50 mean human ratings) → 1,225 rated pairs (Spearman ρ)
    data.class_probe   a folder of class subfolders of .txt files; each file's first line is one row (BBC
                       News: its headline) → kNN and few-shot accuracy (tasks/probes.py)

The test split is the held-out sentences, then the Lee documents, then the probe rows; the references say
which is which (`nn_row`: neighbour overlap is measured on the held-out sentences only; `pair_a/pair_b/gold`;
`probe_class`, −1 off the probe) and hold every test row's `text` for tokenising in the page. Probe text is
read as data, never trained on, and never copied into the run folder except as eval rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ConfigError, InputFileError
from ..tasks.base import UNLABELED
from .base import Dataset
from .text import NAMES, _text_files, _unlabeled_texts, encode, load_tokenizer, read_document, sample, tokenizer_info

LEE_DOCS, LEE_RATINGS = "lee.cor", "similarities0-1.txt"


def load_sentences(cfg, cache_dir) -> Dataset:
    """The pile split into train / held-out sentences, with the probe rows appended to the test split."""
    from .tokcache import cached_tokens, texts_hash

    if cfg.path is None:
        raise ConfigError("recipe", "data.path", "required for data name 'sentences'",
                          'path = "/usr/share/wordnet" (Debian wordnet-base) or a .txt file, one sentence a line')
    pile = list(dict.fromkeys(_unlabeled_texts(Path(cfg.path), cfg)))  # distinct, in file order
    if cfg.max_texts and len(pile) > cfg.max_texts:
        pile = sample(pile, cfg.max_texts, cfg.seed)
    pile = [pile[i] for i in np.random.default_rng(cfg.seed).permutation(len(pile))]
    n_test = cfg.test_rows or max(1, round(cfg.test_fraction * len(pile)))
    if len(pile) < n_test + 1:
        raise InputFileError(str(cfg.path), f"{len(pile):,} distinct sentences; data.test_rows = {n_test:,} leaves "
                             "none to train on", "give more text or lower data.test_rows")
    held, train = pile[:n_test], pile[n_test:]
    refs, probe = {"nn_row": np.zeros(0, bool)}, []
    if cfg.rated_pairs:
        docs, (a, b, gold) = lee(Path(cfg.rated_pairs.path))
        refs.update(pair_a=a + n_test, pair_b=b + n_test, gold=gold)
        probe += docs
    probe_class = np.full(n_test + len(probe), UNLABELED, np.int64)
    classes: tuple[str, ...] = ()
    if cfg.class_probe:
        texts, ids, classes = first_lines(Path(cfg.class_probe.path))
        probe, probe_class = probe + texts, np.concatenate([probe_class, ids])
        refs["probe_class"] = probe_class
    test = held + probe
    refs["nn_row"] = np.arange(len(test)) < n_test
    refs["text"] = np.array(test, dtype=str)  # (N,) unicode: what the browser page tokenises
    L, tok_sha = cfg.max_len, tokenizer_info(cfg.tokenizer)["sha256"]
    tok = load_tokenizer(cfg.tokenizer, L)
    x_train = cached_tokens(cache_dir, ["sentences", texts_hash(train), tok_sha],
                            lambda: encode(tok, train, L, str(cfg.path)), L)
    x_test = cached_tokens(cache_dir, ["sentences-test", texts_hash(test), tok_sha],
                           lambda: encode(tok, test, L, str(cfg.path)), L)
    empty = {n: np.zeros((0, L), np.int64) for n in NAMES}
    return Dataset("sentences", x_train, np.full(len(train), UNLABELED, np.int64), x_test,
                   np.full(len(test), UNLABELED, np.int64), empty, 0,
                   f"sentences {cfg.path} ({len(train):,} train, {n_test:,} held out, {len(probe):,} probe rows)",
                   classes, refs)


def lee(folder: Path) -> tuple[list[str], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Lee et al. (2005): 50 documents, and (pair_a, pair_b, gold) over the 1,225 pairs i < j (row indices
    into the documents; gold = the mean human similarity rating, 0–1)."""
    docs_file, ratings_file = folder / LEE_DOCS, folder / LEE_RATINGS
    for f in (docs_file, ratings_file):
        if not f.is_file():
            raise InputFileError(str(f), "missing", f"data.rated_pairs names a folder holding {LEE_DOCS} and "
                                 f"{LEE_RATINGS} (gensim's test/test_data)")
    docs = [ln.strip() for ln in docs_file.read_bytes().decode("latin-1").splitlines() if ln.strip()]
    try:
        sims = np.loadtxt(ratings_file, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise InputFileError(str(ratings_file), f"not a matrix of numbers ({exc})"[:200], "restore the file") from None
    if sims.shape != (len(docs), len(docs)) or not np.isfinite(sims).all():
        raise InputFileError(str(ratings_file), f"a {sims.shape} matrix for {len(docs)} documents in {LEE_DOCS}",
                             "give one finite rating per pair of documents (a square matrix)")
    a, b = np.triu_indices(len(docs), 1)
    return docs, (a.astype(np.int64), b.astype(np.int64), sims[a, b])


def first_lines(root: Path) -> tuple[list[str], np.ndarray, tuple[str, ...]]:
    """(texts, class ids, class names) of root/<class>/*.txt: each file's first non-blank line."""
    if not root.is_dir():
        raise InputFileError(str(root), "not a folder", "data.class_probe names a folder of class subfolders")
    classes = tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")))
    if len(classes) < 2:
        raise InputFileError(str(root), f"{len(classes)} class subfolder(s)", "give two or more class folders")
    texts, ids = [], []
    for k, name in enumerate(classes):
        for f in _text_files(root / name):
            line = next((ln.strip() for ln in read_document(f).splitlines() if ln.strip()), None)
            if line:
                texts.append(line)
                ids.append(k)
    return texts, np.array(ids, np.int64), classes


__all__ = ["first_lines", "lee", "load_sentences"]
