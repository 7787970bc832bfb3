"""`data.name = "text"`: text tokenised with a Hugging Face `tokenizer.json` (the fast `tokenizers` library).

Inputs are {"input_ids": (N, L) int64, "attention_mask": (N, L) int64} with L = `data.max_len`, the one
length used in training, export and the browser: the file's own truncation and padding (MiniLM's pads and
cuts at 128) are replaced by ours. `data.path` is one of
  - a folder of class subfolders, one example per `*.txt` file (BBC News); classes = sorted folder names.
    Files are read as UTF-8, and a file that is not UTF-8 as cp1252 (latin-1 for its 5 unmapped bytes):
    such corpora predate UTF-8 (one BBC file holds a cp1252 '£'). A file with NUL bytes is refused;
  - `.jsonl`: one object a line, text in `data.text_field`, label in `data.label_field`;
  - `.csv` with a header naming those fields;
  - `.txt`: `label<TAB>text` a line, as `text_lines`.
Labels are class names (sorted → ids) or integer ids; all-digit strings (.csv / .txt) are ids. Without a
label field anywhere the data is unlabelled (embed). `.jsonl`, `.csv` and `.txt` must be UTF-8.
Unlabelled text (`data.unlabeled`) is read and tokenised in chunks, never held as one list of strings.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from ..errors import ConfigError, InputFileError
from . import checks
from .base import Dataset, labels, split, take
from .checks import utf8_lines

NAMES = ("input_ids", "attention_mask")  # the inputs of every huggingface text model (models/hf.py)
CHUNK = 4096  # texts per encode_batch call: fast (Rust threads) while the strings held stay few


# --- the tokenizer ------------------------------------------------------------------------------------

def tokenizer_file(path) -> Path:
    """The tokenizer.json named by `data.tokenizer` (the file, or the folder holding it)."""
    if path is None:
        raise ConfigError("recipe", "data.tokenizer", "required for data name 'text' (no huggingface teacher "
                                                      "folder to take it from)",
                          'tokenizer = "path/to/tokenizer.json" (or the folder holding it)')
    p = Path(path)
    if p.is_dir():
        p = p / "tokenizer.json"
        if not p.is_file():
            raise InputFileError(str(path), "no tokenizer.json in this folder",
                                 "name a fast tokenizer file (AutoTokenizer.from_pretrained(...).save_pretrained "
                                 "writes one)")
    elif not p.is_file():
        raise InputFileError(str(p), "no such tokenizer file", "set data.tokenizer to a tokenizer.json or its folder")
    return p


def _read_tokenizer(path):
    p = tokenizer_file(path)
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise ConfigError("recipe", "data.name", "'text' tokenises with the tokenizers package, which is not "
                                                 "installed", "pip install 'tokenizers>=0.20'") from None
    try:
        return p, Tokenizer.from_file(str(p))
    except Exception as exc:  # the Rust side raises a bare Exception for any malformed file
        raise InputFileError(str(p), f"not a tokenizer.json the tokenizers library can read "
                                     f"({str(exc).splitlines()[0][:200]})",
                             "give the tokenizer.json of a fast (Rust) tokenizer") from None


def pad_id(tok) -> int:
    """The file's padding id: its padding token's, else the id of "[PAD]", else 0."""
    if tok.padding is not None:
        return int(tok.padding["pad_id"])
    found = tok.token_to_id("[PAD]")
    return 0 if found is None else int(found)


def load_tokenizer(path, max_len: int):
    """A `tokenizers.Tokenizer` that cuts and pads every text to exactly `max_len` tokens (right side)."""
    _, tok = _read_tokenizer(path)
    specials = tok.num_special_tokens_to_add(False)  # [CLS] … [SEP]: 2 for BERT
    if max_len <= specials:  # tokenizers would silently not truncate at all (rows longer than max_len)
        raise ConfigError("recipe", "data.max_len", f"{max_len} token(s) leave no room for text: the tokenizer "
                                                    f"adds {specials} special tokens to every example",
                          f"set data.max_len above {specials} (the teacher's usual length, e.g. 128)")
    pid = pad_id(tok)
    pad_token = tok.id_to_token(pid) or "[PAD]"
    tok.no_truncation()
    tok.no_padding()  # the file's own settings are not trusted: ours replace them
    tok.enable_truncation(max_len)
    tok.enable_padding(length=max_len, pad_id=pid, pad_token=pad_token)
    return tok


def tokenizer_info(path, max_len: int | None = None) -> dict:
    """{"sha256", "max_len", "vocab_size", "pad_id"} of a tokenizer.json, for receipts; `max_len` is the length
    in use (None: the file's own truncation length, or None)."""
    p, tok = _read_tokenizer(path)
    if max_len is None and tok.truncation is not None:
        max_len = int(tok.truncation["max_length"])
    return {"sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "max_len": max_len,
            "vocab_size": tok.get_vocab_size(), "pad_id": pad_id(tok)}


# --- tokenising in chunks -----------------------------------------------------------------------------

def _chunks(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    batch = []
    for t in texts:
        batch.append(t)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def encode(tok, texts: Iterable[str], max_len: int, where: str, chunk: int = CHUNK) -> dict:
    """Texts → {"input_ids", "attention_mask"} (N, max_len) int64, tokenised `chunk` texts at a time into
    arrays that grow by doubling (then trimmed in place): memory ≈ the arrays, not the strings."""
    out = {n: np.zeros((0, max_len), np.int64) for n in NAMES}
    n = 0
    for batch in _chunks(texts, chunk):
        encs = getattr(tok, "encode_batch_fast", tok.encode_batch)(batch)  # _fast (≥ 0.20): no character offsets
        if n + len(batch) > len(out["input_ids"]):
            cap = max(2 * len(out["input_ids"]), n + len(batch))
            checks.fits_in_memory(cap * max_len * 8 * len(NAMES), f"{cap:,} examples of {max_len:,} tokens",
                                  lambda p: InputFileError(where, p, "use less text or a lower data.max_len"))
            for a in out.values():
                a.resize((cap, max_len), refcheck=False)  # realloc in place: no second copy held
        out["input_ids"][n:n + len(batch)] = [e.ids for e in encs]  # (b, L)
        out["attention_mask"][n:n + len(batch)] = [e.attention_mask for e in encs]
        n += len(batch)
    for a in out.values():
        a.resize((n, max_len), refcheck=False)
    return out


# --- reading the files --------------------------------------------------------------------------------

def read_document(path: Path) -> str:
    """One example file: UTF-8, else cp1252, else latin-1 (legacy corpora); NUL bytes → refused."""
    data = Path(path).read_bytes()
    if b"\x00" in data:
        raise InputFileError(str(path), "holds NUL bytes: binary, not text", "remove the file")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            pass
    return data.decode("latin-1")  # maps every byte: the cp1252 bytes it lacks (0x81, 0x8d, …) become C1 controls


def _text_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.txt") if p.is_file() and not p.name.startswith("."))


def _text(value, where: str, key: str) -> str:
    if not isinstance(value, str):
        raise InputFileError(where, f"{key!r} is {type(value).__name__}, not text", f"store the text in {key!r}")
    if not value.strip():
        raise InputFileError(where, f"{key!r} is empty", "remove the example or give it text")
    return value


def _jsonl(path: Path, cfg) -> Iterator[tuple[str, str, object]]:
    """(where, text, label or None) per non-blank line of a .jsonl file."""
    for n, line in utf8_lines(path):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputFileError(where, f"not JSON ({exc.msg}, column {exc.colno})",
                                 "write one JSON object per line") from None
        if not isinstance(row, dict):
            raise InputFileError(where, f"a JSON {type(row).__name__}, not an object", "write one object per line")
        if cfg.text_field not in row:
            raise InputFileError(where, f"no key {cfg.text_field!r} (keys: {', '.join(map(repr, row)) or 'none'})",
                                 "set data.text_field to the key holding the text")
        yield where, _text(row[cfg.text_field], where, cfg.text_field), row.get(cfg.label_field)


def _csv(path: Path, cfg) -> Iterator[tuple[str, str, object]]:
    """(where, text, label or None) per row of a .csv file whose header names the fields."""
    lines = (ln for _, ln in utf8_lines(path))
    reader = csv.DictReader(lines)
    try:
        header = reader.fieldnames or []
        if cfg.text_field not in header:
            raise InputFileError(f"{path}:1", f"no column {cfg.text_field!r} in the header "
                                              f"({', '.join(map(repr, header)) or 'empty'})",
                                 "set data.text_field to the column holding the text")
        for row in reader:
            where = f"{path}:{reader.line_num}"  # the row's last physical line (a quoted field may span lines)
            if None in row or None in row.values():  # DictReader: extra fields under key None, missing ones None
                got = len(header) + len(row[None]) if None in row else sum(v is not None for v in row.values())
                raise InputFileError(where, f"{got} fields where the header has {len(header)}",
                                     "quote fields that hold commas")
            yield where, _text(row[cfg.text_field], where, cfg.text_field), row.get(cfg.label_field)
    except csv.Error as exc:
        raise InputFileError(f"{path}:{reader.line_num}", f"not readable CSV ({exc})",
                             "write RFC 4180 CSV with a header row") from None


def _tsv(path: Path) -> Iterator[tuple[str, str, object]]:
    """(where, text, label) per non-blank `label<TAB>text` line."""
    for n, line in utf8_lines(path):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        if "\t" not in line:
            raise InputFileError(f"{path}:{n}", "no tab between label and text",
                                 "write 'label<TAB>text'; plain unlabelled lines belong in data.unlabeled")
        label, text = line.split("\t", 1)
        yield f"{path}:{n}", _text(text, f"{path}:{n}", "text"), label.strip()


def _folders(root: Path) -> Iterator[tuple[str, str, object]]:
    """(file, text, class name) of every root/<class>/*.txt."""
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise InputFileError(str(root), "no class subfolders", "put each class's .txt files in a folder named "
                                                               "after it")
    for name in classes:
        files = _text_files(root / name)
        if not files:
            raise InputFileError(str(root / name), "no .txt files in this class folder",
                                 "add one .txt file per example, or remove the folder")
        for f in files:
            yield str(f), _text(read_document(f), str(f), "text"), name


def _examples(path: Path, cfg) -> Iterator[tuple[str, str, object]]:
    if path.is_dir():
        return _folders(path)
    reader = {".jsonl": _jsonl, ".csv": _csv}.get(path.suffix.lower())
    return reader(path, cfg) if reader else _tsv(path)


# --- labels ---------------------------------------------------------------------------------------------

def _class_ids(found: list, refs: list[str], digit_strings: bool) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """Labels as read (None, str or int) → ((N,) int64 ids or None when unlabelled, class names)."""
    missing = [i for i, v in enumerate(found) if v is None or (isinstance(v, str) and not v.strip())]
    if len(missing) == len(found):
        return None, ()
    if missing:
        raise InputFileError(refs[missing[0]], "no label, while other examples have one",
                             "label every example, or none (unlabelled data)")
    if digit_strings and all(isinstance(v, str) and v.strip().isdecimal() for v in found):
        found = [int(v) for v in found]
    label_type = str if isinstance(found[0], str) else int
    for i, v in enumerate(found):
        if isinstance(v, bool) or not isinstance(v, label_type):
            raise InputFileError(refs[i], f"label {v!r} is not a {label_type.__name__} like the first example's "
                                          f"{found[0]!r}", "use class names everywhere, or integer ids everywhere")
        if label_type is int and v < 0:
            raise InputFileError(refs[i], f"negative label {v}", "class ids start at 0")
    if label_type is int:
        return np.array(found, np.int64), ()
    classes = tuple(sorted(set(found)))
    ids = {c: i for i, c in enumerate(classes)}
    return np.array([ids[v] for v in found], np.int64), classes


def load_text(cfg, cache_dir) -> Dataset:
    """`data.path` (class folders, .jsonl, .csv or label<TAB>text .txt) → tokenised Dataset."""
    path, L = Path(cfg.path), cfg.max_len
    where = str(path)
    tok = load_tokenizer(cfg.tokenizer, L)
    refs, found, texts = [], [], []
    for ref, text, label in _examples(path, cfg):
        refs.append(ref)
        found.append(label)
        texts.append(text)
    if len(texts) < 2:
        raise InputFileError(where, f"{len(texts)} example(s); a train and a test split need ≥ 2",
                             "give at least two examples")
    y, classes = _class_ids(found, refs, digit_strings=path.suffix.lower() in (".csv", ".txt"))
    y = labels(y, len(texts), where)  # UNLABELED (−1) rows when the data has no labels
    num_classes = cfg.num_classes or max(int(y.max()) + 1, len(classes))
    if int(y.max()) >= num_classes:
        raise InputFileError(refs[int(np.argmax(y))], f"label {int(y.max())} ≥ data.num_classes = {num_classes}",
                             "raise data.num_classes or fix the labels")
    checks.fits_in_memory(len(texts) * L * 8 * len(NAMES), f"{len(texts):,} examples of {L:,} tokens (int64)",
                          checks.recipe_size("data.max_len", "lower data.max_len"))
    from functools import partial

    from .tokcache import cached_tokens, texts_hash

    x = cached_tokens(cache_dir, ["text", texts_hash(texts), tokenizer_info(cfg.tokenizer)["sha256"]],
                      partial(encode, tok, texts, L, where), L)
    del texts, found, refs  # the strings go before the splits copy the arrays
    i_train, y_train, i_test, y_test = split(np.arange(len(y)), y, cfg.test_fraction, cfg.seed)
    empty = {n: np.zeros((0, L), np.int64) for n in NAMES}
    return Dataset("text", take(x, i_train), y_train, take(x, i_test), y_test, empty, num_classes,
                   f"text {where}", classes)


def _unlabeled_texts(path: Path, cfg) -> Iterator[str]:
    from .wordnet import glosses, is_wordnet

    if path.is_dir() and is_wordnet(path):  # Debian's wordnet-base: /usr/share/wordnet
        return glosses(path)
    if path.is_dir():
        files = _text_files(path)
        if not files:
            raise InputFileError(str(path), "no .txt files found", "put one example per .txt file")
        return (t for f in files if (t := read_document(f)).strip())  # empty files carry no example
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".csv"):
        return (text for _, text, _ in (_jsonl if suffix == ".jsonl" else _csv)(path, cfg))
    return (part for _, ln in utf8_lines(path) for part in ln.splitlines() if part.strip())  # as files._lines


def unlabeled_text(path, cfg, cache_dir=None) -> dict:
    """`data.unlabeled` (.txt one example a line, a folder of .txt files, .jsonl or .csv) → token arrays,
    cached by the source's bytes and the settings that pick and cut its texts."""
    from ..artifacts import sha256_path
    from .tokcache import cached_tokens

    path = Path(path)

    def build() -> dict:
        texts = _unlabeled_texts(path, cfg)
        if cfg.unlabeled_max:
            texts = iter(sample(texts, cfg.unlabeled_max, cfg.seed))
        return encode(load_tokenizer(cfg.tokenizer, cfg.max_len), texts, cfg.max_len, str(path))

    source = sha256_path(path) if path.exists() else str(path)  # missing: build() names the file
    parts = ["unlabeled", source, cfg.unlabeled_max, cfg.seed if cfg.unlabeled_max else None, cfg.text_field,
             tokenizer_info(cfg.tokenizer)["sha256"]]
    x = cached_tokens(cache_dir, parts, build, cfg.max_len)
    if not len(x["input_ids"]):
        raise InputFileError(str(path), "no examples", "write one example per non-empty line")
    return x


def sample(texts: Iterable[str], k: int, seed: int) -> list[str]:
    """k texts drawn uniformly (seeded) from a stream of any length, in stream order (reservoir sampling:
    one pass, k strings held)."""
    import random

    rng = random.Random(seed)
    kept: list[tuple[int, str]] = []
    for i, t in enumerate(texts):
        if i < k:
            kept.append((i, t))
        elif (j := rng.randint(0, i)) < k:
            kept[j] = (i, t)
    return [t for _, t in sorted(kept)]
