"""The browser bundle of a sentence embedder (export/bundle.py), for real.

A tiny embedder with known meaning: an nn.Embedding whose rows for tinyhf's sport / tech / food words
are that topic's axis (filler words a little of a fourth axis, special tokens zero), masked mean,
L2-normalised; exported as one ONNX file with the embed contract. The bundle's demo page then runs in
headless Chromium from file:// and from a plain static server; a query of topic words must put a
sentence of that topic first. embed.js's truncation is checked against Python's `tokenizers`, and its
vectors against onnxruntime's. Tests marked `browser` skip with the reason (tests/conftest.py) where
Chromium or devices/browser/node_modules is missing.
"""

from __future__ import annotations

import functools
import json
import random
import re
import tempfile
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import numpy as np
import pytest
from tinyhf import FILLER, TOPICS, sentences, vocabulary, write_tokenizer

from edgedistill.errors import ConfigError, InputFileError, UsageError
from edgedistill.export.bundle import write_bundle

MAX_LEN = 16  # short, so that ordinary sentences already need cutting
HOSTILE = 'Goal tea robot <img src=x onerror="window.pwned=1"><script>window.pwned=2</script> \u2028 end'
ROWS = sentences(45, seed=3)
SENTENCES = [t for _, t in ROWS] + [HOSTILE]
TOPIC_OF = {t: label for label, t in ROWS}


def tiny_embedder(folder: Path) -> tuple[Path, Path]:
    """(model.onnx, tokenizer.json): input_ids, attention_mask (batch, sequence) int64 → embedding (batch, 4)."""
    import torch

    vocab, axes = vocabulary(), sorted(TOPICS)  # axes 0..2: food, sport, tech; axis 3: filler
    weight = torch.zeros(len(vocab), 4)
    for i, token in enumerate(vocab):
        for a, topic in enumerate(axes):
            weight[i, a] = float(token in TOPICS[topic].split())
        weight[i, 3] = 0.05 * (token in FILLER)  # [CLS]/[SEP]/[PAD] stay zero: a query is its words only

    class MeanPool(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding.from_pretrained(weight)

        def forward(self, input_ids, attention_mask):
            mask = attention_mask.unsqueeze(-1).to(torch.float32)  # (B, L, 1)
            mean = (self.emb(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1)  # (B, 4)
            return torch.nn.functional.normalize(mean, dim=-1)

    x = torch.ones(2, 5, dtype=torch.int64)
    axes_of = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
               "embedding": {0: "batch"}}
    torch.onnx.export(MeanPool(), (x, x), str(folder / "model.onnx"), input_names=["input_ids", "attention_mask"],
                      output_names=["embedding"], dynamic_axes=axes_of, opset_version=17, dynamo=False)
    return folder / "model.onnx", write_tokenizer(folder / "tok", max_len=MAX_LEN)


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    return tiny_embedder(tmp_path_factory.mktemp("embedder"))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, embedder) -> tuple[Path, dict]:
    """(the run folder, write_bundle's receipt); skipped with the reason where npm ci has not been run."""
    out = tmp_path_factory.mktemp("run")
    try:
        return out, write_bundle(out, *embedder, SENTENCES, title="Tiny <topics> search")
    except ConfigError as exc:
        pytest.skip(str(exc))


def test_bundle_files_and_receipt(bundle, embedder):
    out, receipt = bundle
    folder = out / "bundle"
    assert sorted(p.name for p in out.iterdir()) == ["bundle"]  # nothing half-built left beside it
    on_disk = {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}
    assert on_disk == {rel: f["bytes"] for rel, f in receipt["files"].items()}
    assert receipt["bytes"] == sum(on_disk.values()) and receipt["max_length"] == MAX_LEN
    for name in ("embed.js", "index.html", "demo.js", "model.onnx", "tokenizer.json", "sentences.json",
                 "ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm", "tokenizers.min.mjs",
                 "offline/model.onnx.js", "offline/ort-wasm-simd-threaded.wasm.js"):
        assert name in on_disk, name
    assert (folder / "model.onnx").read_bytes() == embedder[0].read_bytes()
    assert (folder / "tokenizer.json").read_bytes() == embedder[1].read_bytes()
    # untrusted sentences: JSON only, ASCII, no raw `<`; the HTML never contains them
    doc = json.loads((folder / "sentences.json").read_text())
    assert doc == {"title": "Tiny <topics> search", "sentences": SENTENCES}
    for rel in ("sentences.json", "offline/sentences.json.js"):
        raw = (folder / rel).read_bytes()
        assert b"<" not in raw and b"pwned" in raw and raw.isascii(), rel
    assert b"pwned" not in (folder / "index.html").read_bytes()
    html_sinks = r"\.(inner|outer)HTML\s*=|insertAdjacentHTML|document\.write"
    assert not re.search(html_sinks, (folder / "demo.js").read_text())


def test_refuses_an_existing_bundle_unless_forced(tmp_path, embedder, bundle):
    out, _ = bundle
    with pytest.raises(UsageError, match="already there"):
        write_bundle(out, *embedder, ["one sentence"])
    receipt = write_bundle(tmp_path, *embedder, ["first"])
    again = write_bundle(tmp_path, *embedder, ["second"], force=True)
    assert json.loads((tmp_path / "bundle" / "sentences.json").read_text())["sentences"] == ["second"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"] and again["bytes"] > receipt["bytes"] - 100


def test_rejects_what_the_page_cannot_use(tmp_path, embedder, monkeypatch):
    model, tok = embedder
    with pytest.raises(InputFileError, match="not an ONNX model"):
        write_bundle(tmp_path, tok, tok, ["x"])
    bare = json.loads(tok.read_text()) | {"truncation": None}
    (tmp_path / "bare.json").write_text(json.dumps(bare))
    with pytest.raises(InputFileError, match="truncation.max_length"):
        write_bundle(tmp_path, model, tmp_path / "bare.json", ["x"])
    with pytest.raises(UsageError, match="list of strings"):
        write_bundle(tmp_path, model, tok, "not a list")
    monkeypatch.setattr("edgedistill.export.bundle.data_dir", lambda name: tmp_path)  # a checkout without npm ci
    with pytest.raises(ConfigError, match="npm ci"):
        write_bundle(tmp_path, model, tok, ["x"])
    assert not (tmp_path / "bundle").exists()


# --- in headless Chromium -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def chromium():
    """One headless system Chromium for this module (never a downloaded one); yields its context."""
    from playwright.sync_api import sync_playwright

    from edgedistill.bench.chromium import CHROMIUM_ARGS, chromium_path

    with tempfile.TemporaryDirectory(prefix="edgedistill-chromium-") as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(profile, executable_path=str(chromium_path()), headless=True,
                                                    args=CHROMIUM_ARGS, timeout=120_000)
        yield ctx
        ctx.close()


@contextmanager
def static_server(folder: Path):
    """`python -m http.server` for `folder` on 127.0.0.1:<ephemeral>, in a thread; yields its base URL."""
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    from edgedistill.bench.chromium import serving

    with serving(functools.partial(Quiet, directory=str(folder))) as url:
        yield url


@contextmanager
def demo_page(chromium, url: str):
    """The demo page at `url`, once it says ready; yields (page, errors the page logged)."""
    page = chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    try:
        page.goto(url)
        page.wait_for_selector('body[data-state="ready"], body[data-state="error"]', timeout=60_000)
        assert page.get_attribute("body", "data-state") == "ready", page.text_content("#status")
        yield page, errors
    finally:
        page.close()


def top_hits(page, query: str) -> list[str]:
    """Type `query` into the search box; the texts of the hits, best first."""
    page.fill("#query", query)  # sets the value and fires `input`, as typing does
    page.wait_for_function("q => document.getElementById('results').dataset.query === q", arg=query)
    return [el.text_content() for el in page.query_selector_all("#results li .text")]


def check_search(page, errors):
    assert TOPIC_OF[top_hits(page, "goal")[0]] == "sport"
    assert TOPIC_OF[top_hits(page, "robot laptop")[0]] == "tech"
    assert TOPIC_OF[top_hits(page, "bread and cheese")[0]] == "food"
    # the hostile sentence is found (its own text is its best query), shown as text, and inert
    assert top_hits(page, HOSTILE)[0] == HOSTILE
    assert page.evaluate("() => [window.pwned, document.querySelectorAll('#results *:not(li):not(span)').length]") \
        == [None, 0]
    assert page.title() == "Tiny <topics> search"
    assert errors == []


@pytest.mark.browser
def test_demo_page_from_file(chromium, bundle):
    with demo_page(chromium, (bundle[0] / "bundle" / "index.html").as_uri()) as (page, errors):
        check_search(page, errors)


@pytest.mark.browser
def test_demo_page_from_a_static_server(chromium, bundle):
    with static_server(bundle[0] / "bundle") as base, demo_page(chromium, f"{base}/index.html") as (page, errors):
        check_search(page, errors)


def long_texts(n: int = 60) -> list[str]:
    """Texts from a few tokens to several times MAX_LEN: topic and filler words, unknown words (cut into
    ##letters), accents, punctuation, digits, CJK; and texts of MAX_LEN - 3 … MAX_LEN + 1 pieces."""
    rng = random.Random(7)
    words = [w for t in TOPICS.values() for w in t.split()] + FILLER + ["zyx", "Café", "naïve", "東京", "42", "?!"]
    out = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 3 * MAX_LEN))) for _ in range(n)]
    return out + [" ".join(["goal"] * k) for k in range(MAX_LEN - 3, MAX_LEN + 2)]


@pytest.mark.browser
def test_embed_js_cuts_and_embeds_as_python(chromium, bundle):
    """embed.js as an app uses it (an ES module over http, its defaults): ids equal Python's `tokenizers`
    with the file's truncation (no padding), vectors equal onnxruntime's on those ids."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    folder, texts = bundle[0] / "bundle", long_texts()
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    want = [tok.encode(t).ids for t in texts]
    assert max(map(len, want)) == MAX_LEN and sum(len(tok.encode(t).overflowing) > 0 for t in texts) > 20
    with static_server(folder) as base:
        page = chromium.new_page()
        try:
            page.goto(f"{base}/LICENSE.tokenizers.txt")  # any page of that origin: embed.js fetches its files
            got = page.evaluate("""async (texts) => {
                const m = await import('/embed.js');
                const e = await m.load();
                const vectors = await m.embed(texts);
                return { ids: texts.map((t) => e.tokenize(t)), vectors: vectors.map((v) => Array.from(v)) };
            }""", texts)
        finally:
            page.close()
    assert got["ids"] == want
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    for ids, vector in zip(want, got["vectors"]):
        x = np.array([ids], dtype=np.int64)
        ref = session.run(["embedding"], {"input_ids": x, "attention_mask": np.ones_like(x)})[0][0]
        np.testing.assert_allclose(vector, ref / max(np.linalg.norm(ref), 1e-12), atol=1e-5)
