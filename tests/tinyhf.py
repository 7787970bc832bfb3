"""A tiny Hugging Face teacher folder built in the test: BERT (2 layers, hidden 32) + its own WordPiece
tokenizer (~200 tokens), and a small labelled text corpus whose classes its words tell apart.

Nothing is downloaded: the config, weights (safetensors) and tokenizer.json are written here, as a
user's `save_pretrained` folder would be.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# three topics, each with its own words; FILLER is shared, so a class is read from the topic words
TOPICS = {
    "sport": "goal match team score player coach league win ball cup race field",
    "tech": "chip code data cloud robot phone software server network laptop app screen",
    "food": "bread cheese soup pasta salad fruit cake rice spice sauce bean tea",
}
FILLER = "the a of and to in is it on for with was this that at by from new said".split()


def vocabulary() -> list[str]:
    """Special tokens, words, letters and ##-continuations: every word tokenises to known pieces."""
    words = sorted({w for t in TOPICS.values() for w in t.split()} | set(FILLER))
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    return SPECIAL + words + [c for c in letters if c not in words] + [f"##{c}" for c in letters] + \
        list(".,!?'-0123456789")


def write_tokenizer(folder: Path, max_len: int = 32) -> Path:
    """A BERT-style WordPiece tokenizer.json (lowercase, [CLS] … [SEP]), truncation/padding set at max_len
    as MiniLM's file sets them at 128 (edgedistill must apply its own length, not trust these)."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece

    vocab = {t: i for i, t in enumerate(vocabulary())}
    tok = Tokenizer(WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tok.decoder = decoders.WordPiece()
    tok.enable_truncation(max_len)
    tok.enable_padding(length=max_len, pad_id=0, pad_token="[PAD]")
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    return folder / "tokenizer.json"


def write_bert(folder: Path, layers: int = 2, hidden: int = 32, heads: int = 2, seed: int = 0,
               classes: int | None = None) -> Path:
    """A random tiny BERT saved as a Hugging Face folder (config.json + model.safetensors + tokenizer);
    `classes`: a sequence-classification model with that many labels instead of a bare encoder."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertModel

    cfg = BertConfig(vocab_size=len(vocabulary()), hidden_size=hidden, num_hidden_layers=layers,
                     num_attention_heads=heads, intermediate_size=2 * hidden, max_position_embeddings=64)
    torch.manual_seed(seed)
    if classes:
        cfg.num_labels = classes
        model = BertForSequenceClassification(cfg)
    else:
        model = BertModel(cfg)
    model.save_pretrained(str(folder), safe_serialization=True)
    write_tokenizer(folder)
    return folder


def sentences(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """n (label, text) pairs: 4–9 words each, about half of them the class's topic words."""
    rng = random.Random(seed)
    names = sorted(TOPICS)
    out = []
    for i in range(n):
        label = names[i % len(names)]
        words = TOPICS[label].split()
        text = [rng.choice(words) if rng.random() < 0.5 else rng.choice(FILLER) for _ in range(rng.randint(4, 9))]
        out.append((label, " ".join(text).capitalize() + "."))
    return out


def write_jsonl(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"text": t, "label": lab}) + "\n" for lab, t in rows))
    return path


def write_class_folders(root: Path, rows: list[tuple[str, str]]) -> Path:
    """root/<label>/<i>.txt, one example a file (as BBC News ships)."""
    for i, (lab, t) in enumerate(rows):
        (root / lab).mkdir(parents=True, exist_ok=True)
        (root / lab / f"{i:04d}.txt").write_text(t + "\n")
    return root
