"""Text models on the browser profiles: tokenise in the page, check the ids against Python's, time it.

Applies when all of these hold (otherwise nothing changes: no blobs, no figures):
  - the eval set holds `text`, (N,) unicode ('<U…', loads without pickle), row-aligned with its
    `input_ids` and `attention_mask` (N, L): the ids Python's `tokenizers` made, truncated and padded at L;
  - a tokenizer.json lies beside the model file (export/tokenizer.py ships it there);
  - the model takes input_ids and attention_mask (token_type_ids too, fed zeros), (batch, sequence) with a
    batch of 1 allowed.
The page (devices/browser/text.js) loads the tokenizer with @huggingface/tokenizers, tokenises every eval
text, compares ids and mask with Python's row, and times tokenise and tokenise + infer per text at batch 1.
Figures (how = "browser"): tokenizer_parity (% of texts whose ids match), tokenizer_texts, tokenizer_load_ms,
tokenize_ms (p50 per text), text_p50_ms (p50 of tokenise + infer per text). A mismatch is a figure, never
an exception: its first row (ids shortened) is in the raw result and the status details.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..artifacts import printable
from ..errors import InputFileError

TOKENIZER = "tokenizer.json"
TIMED_TEXTS = 1000  # texts the timing cycles over (parity covers every text)
# DevTools CPU throttling suspends the renderer in slices: a per-text sample of a few ms either hits a
# slice or not (BBC articles at 4×: samples at 1.1 and 2.1 ms, p50 2.1 ms); spans of >= 10 ms average
# over the slices (p50 1.3 ms, about 4× the unthrottled 0.29 ms).
THROTTLED_MIN_SPAN_MS = 10.0
ROLES = {"input_ids": "ids", "attention_mask": "mask", "token_type_ids": "type_ids"}  # model input → what it gets


def text_spec(path: Path, arrays: dict, inputs: list[dict], shapes: dict, blobs: dict, data: Path | None,
              throttle: float = 1.0) -> dict | None:
    """spec.text for the page (and its blobs added to `blobs`), or None when the text path does not apply."""
    tokenizer = Path(path).parent / TOKENIZER
    names = {i["name"] for i in inputs}
    if "text" not in arrays or not tokenizer.is_file() or not {"input_ids", "attention_mask"} <= names <= set(ROLES):
        return None
    if "input_ids" not in arrays or "attention_mask" not in arrays:
        return None  # no Python ids to compare with
    dims = {i["name"]: list(shapes.get(i["name"]) or i["dims"]) for i in inputs}
    if any(len(d) != 2 or d[0] not in (None, 1) for d in dims.values()):
        return None  # not (batch, sequence), or a fixed batch above 1: one text cannot run alone
    texts, ids, mask = arrays["text"], np.asarray(arrays["input_ids"]), np.asarray(arrays["attention_mask"])
    if texts.dtype.kind != "U" or texts.ndim != 1 or ids.ndim != 2 or mask.shape != ids.shape \
            or len(texts) != len(ids):
        raise InputFileError(str(data), f"array 'text' is {texts.dtype} {texts.shape}, input_ids {ids.shape}, "
                             f"attention_mask {mask.shape}: the texts must be (N,) strings, row-aligned with "
                             "(N, L) ids and mask", "save numpy.array(texts) (one str per row) beside input_ids")
    from .chromium import tokenizers_dist

    tokenizers_dist()  # the page imports it: say "npm ci" here rather than fail in the page
    blobs["/text/tokenizer.json"] = tokenizer.read_bytes()
    blobs["/text/texts.json"] = json.dumps([str(t) for t in texts]).encode()
    blobs["/text/ids"] = np.ascontiguousarray(ids, dtype=np.int64).tobytes()  # (N, L) int64, exact for any id
    blobs["/text/mask"] = np.ascontiguousarray(mask != 0, dtype=np.uint8).tobytes()  # (N, L) 0/1
    fixed = {d[1] for d in dims.values()} - {None}
    return {"tokenizer": "/text/tokenizer.json", "texts": "/text/texts.json",
            "ids": {"url": "/text/ids", "dims": list(ids.shape)},
            "mask": {"url": "/text/mask", "dims": list(mask.shape)},
            "inputs": [{"name": i["name"], "dtype": i["dtype"], "role": ROLES[i["name"]]} for i in inputs],
            "pad_to": min(fixed) if fixed else None, "timed": TIMED_TEXTS,
            "min_span_ms": THROTTLED_MIN_SPAN_MS if throttle > 1 else 0.0}


def note(raw: dict) -> str | None:
    """One warning line about the page's tokenizer (a load error or the first mismatching row), or None."""
    if raw.get("tokenizer_error"):
        return f"the page could not load tokenizer.json: {printable(raw['tokenizer_error'])[:200]}"
    bad = raw.get("tokenizer_mismatch")
    if not bad:
        return None
    shown = 8  # ids each side, enough to see where they part

    def ids(xs, n):
        return "[" + ", ".join(map(str, xs[:shown])) + (", …" if n > shown else "") + f"] ({n} ids)"

    why = f"encode failed: {printable(bad['error'])[:120]}" if bad.get("error") else \
        f"from token {bad['position']}: page {ids(bad['page_ids'], bad['page_len'])} vs Python " \
        f"{ids(bad['python_ids'], bad['python_len'])}"
    return (f"tokenizer parity {raw['tokenizer_parity']:.2f}% ({raw['tokenizer_matches']} of "
            f"{raw['tokenizer_texts']} eval texts); first mismatch row {bad['row']} "
            f"(\"{printable(bad['text'])[:40]}\") {why}")


def measurements(raw: dict, m) -> list:
    """The text figures from the page's raw result ([] when the page did no text); `m(metric, value, unit)`."""
    if "tokenizer_texts" not in raw:
        return []
    out = [m("tokenizer_parity", raw["tokenizer_parity"], "%"), m("tokenizer_texts", raw["tokenizer_texts"], "texts")]
    if "tokenizer_load_ms" in raw:
        out.append(m("tokenizer_load_ms", raw["tokenizer_load_ms"], "ms"))
    if raw.get("tokenize_ms"):
        out.append(m("tokenize_ms", float(np.median(raw["tokenize_ms"])), "ms"))
    if raw.get("text_ms"):
        out.append(m("text_p50_ms", float(np.median(raw["text_ms"])), "ms"))
    return out


def details(raw: dict) -> dict:
    """{"tokenizer": …} for the status details (the mismatch, the note, sample counts), or {}."""
    if "tokenizer_texts" not in raw:
        return {}
    keys = ("tokenizer_max_len", "tokenizer_matches", "tokenizer_mismatch", "tokenizer_error", "tokenizer_note",
            "tokenizer_parity_ms", "timed_texts", "tokenize_runs_per_sample_max", "text_runs_per_sample_max")
    got = {k.removeprefix("tokenizer_"): raw[k] for k in keys if raw.get(k) is not None}
    got.update(tokenize_samples=len(raw.get("tokenize_ms", [])), text_samples=len(raw.get("text_ms", [])))
    return {"tokenizer": got}
