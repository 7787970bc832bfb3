// Text models in the page: tokenise each eval text with @huggingface/tokenizers (the tokenizer.json that
// ships beside the model), check the ids against the ids Python's `tokenizers` produced for the same row,
// and time tokenise alone and tokenise + infer at batch 1 with performance.now(). Imported by bench.js
// only when Python (edgedistill/bench/browser_text.py) sends spec.text; every text arrives as data in a
// JSON list and is only ever passed to the tokenizer (never written into the page).

import { Tokenizer } from './tokenizers/tokenizers.mjs';

const SHOWN_IDS = 32; // ids of a mismatching row kept in the result (page's and Python's)

// [tokens before, tokens after] the text in the single-sequence template: Python truncates the text's
// own tokens to max_len − (before + after) and keeps the specials ([CLS] … [SEP]: [1, 1]).
function specials(pp) {
  if (!pp) return [0, 0];
  switch (pp.type) {
    case 'TemplateProcessing': {
      const at = pp.single.findIndex((p) => 'Sequence' in p);
      const ids = (p) => (p.SpecialToken ? pp.special_tokens[p.SpecialToken.id].ids.length : 0);
      const count = (ps) => ps.reduce((n, p) => n + ids(p), 0);
      return [count(pp.single.slice(0, at)), count(pp.single.slice(at + 1))];
    }
    case 'BertProcessing': case 'RobertaProcessing': return [1, 1];
    case 'ByteLevel': return [0, 0];
    case 'Sequence': return pp.processors.map(specials).reduce((a, b) => [a[0] + b[0], a[1] + b[1]], [0, 0]);
    default: throw new Error(`post_processor type ${pp.type}: Python's truncation of it is not reproduced here`);
  }
}

// tokenizers.js 0.2.0 neither truncates nor pads: cut as Python does for one sequence. max_len is the
// shipped file's truncation.max_length (the length the app uses); without one, the eval ids' width L.
function truncator(tj, width) {
  const maxLen = tj.truncation?.max_length ?? width;
  const [pre, post] = specials(tj.post_processor);
  const keep = Math.max(0, maxLen - pre - post);
  const left = tj.truncation?.direction === 'Left';
  const cut = (ids) => {
    if (ids.length <= maxLen) return ids;
    const seq = ids.slice(pre, ids.length - post);
    return [...ids.slice(0, pre), ...(left ? seq.slice(seq.length - keep) : seq.slice(0, keep)),
      ...ids.slice(ids.length - post)];
  };
  return { maxLen, cut };
}

// Row i of Python's ids (N, L) and mask (N, L) against the page's ids (length m): the ids agree on the
// first m positions and the mask is m ones then zeros (the page's own mask, padded as Python pads).
// Returns -1 when they agree, else the first position that differs (L: the page's ids are longer).
function firstDiff(got, pyIds, pyMask, i, width) {
  if (got.length > width) return width;
  for (let j = 0; j < width; j++) {
    const on = j < got.length;
    if (pyMask[i * width + j] !== (on ? 1 : 0) || (on && Number(pyIds[i * width + j]) !== got[j])) return j;
  }
  return -1;
}

function pythonRow(pyIds, pyMask, i, width) {
  const row = [];
  for (let j = 0; j < width && pyMask[i * width + j] === 1; j++) row.push(Number(pyIds[i * width + j]));
  return row;
}

// Every eval text once: how many match Python's row, the first that does not (shortened), and the rows
// that tokenised at all (a text the page cannot tokenise counts as a mismatch, never as a crash).
function parity(tok, cut, texts, pyIds, pyMask, width) {
  let matches = 0, mismatch = null;
  const ok = [];
  for (let i = 0; i < texts.length; i++) {
    let got, at, error = null;
    try {
      got = cut(tok.encode(texts[i]).ids);
      at = firstDiff(got, pyIds, pyMask, i, width);
      ok.push(i);
    } catch (e) {
      got = [];
      at = 0;
      error = String(e && e.message || e);
    }
    if (at < 0) { matches++; continue; }
    if (!mismatch) {
      const py = pythonRow(pyIds, pyMask, i, width);
      mismatch = { row: i, position: at, error, text: Array.from(texts[i]).slice(0, 80).join(''),
        page_len: got.length, python_len: py.length, page_ids: got.slice(0, SHOWN_IDS),
        python_ids: py.slice(0, SHOWN_IDS) };
    }
  }
  return { matches, mismatch, ok };
}

// Warm per-text latency, bounded as bench.js bounds the model's: lat.warmup texts first (discarded), then
// one sample per text, cycling over `texts`, until lat.runs samples and lat.min_seconds have passed. A
// sample is k back-to-back calls on one text / k, k doubled from 1 until the k calls span >= 20 clock
// steps and `minSpan` ms (a call shorter than the clock cannot be timed alone; per text, so an empty
// text's k never multiplies a long text's time). The shorter tries warm that text up.
// `spanOf(text, k)`: ms for k calls.
async function sampleTexts(spanOf, texts, lat, res, minSpan) {
  for (let i = 0; i < lat.warmup; i++) await spanOf(texts[i % texts.length], 1);
  const samples = [], t0 = performance.now();
  let kMax = 1;
  for (let i = 0; samples.length < lat.runs || performance.now() - t0 < 1000 * lat.min_seconds; i++) {
    const text = texts[i % texts.length];
    let k = 1, span = await spanOf(text, k);
    while (span < Math.max(20 * res, minSpan) && k < 1e6) { k *= 2; span = await spanOf(text, k); }
    samples.push(span / k);
    kMax = Math.max(kMax, k);
  }
  return { samples, k: kMax };
}

// The model's feeds for one text at batch 1: (1, m) without padding, or (1, pad_to) for a model whose
// sequence dim is fixed (ids padded with the tokenizer's pad id, mask zeros, token types zeros).
function feedsFor(ids, text, padId, ort, ARRAYS) {
  const n = text.pad_to ?? ids.length;
  const m = Math.min(ids.length, n);
  const feeds = {};
  for (const inp of text.inputs) {
    const vals = new Array(n).fill(inp.role === 'ids' ? padId : 0);
    for (let j = 0; j < m; j++) vals[j] = inp.role === 'ids' ? ids[j] : inp.role === 'mask' ? 1 : 0;
    const data = inp.dtype === 'int64' ? BigInt64Array.from(vals, BigInt) : ARRAYS[inp.dtype].from(vals);
    feeds[inp.name] = new ort.Tensor(inp.dtype, data, [1, n]);
  }
  return feeds;
}

async function loadTokenizer(text, fetchBytes) {
  const tj = JSON.parse(new TextDecoder().decode(await fetchBytes(text.tokenizer)));
  // Config {}: Python's `tokenizers` reads only tokenizer.json, so tokenizer_config.json must not change ids
  return { tj, tok: new Tokenizer(tj, {}), trunc: truncator(tj, text.ids.dims[1]) };
}

// The text figures' raw numbers (tokenizer_*; tokenize_ms and text_ms are per-text samples in ms).
// `t0`: performance.now() before this module was imported (the library load is part of the cold start).
export async function textBench(session, text, lat, res, t0, { ort, ARRAYS, fetchBytes }) {
  const texts = JSON.parse(new TextDecoder().decode(await fetchBytes(text.texts)));
  const [width, out] = [text.ids.dims[1], { tokenizer_texts: texts.length }];
  let loaded;
  try {
    loaded = await loadTokenizer(text, fetchBytes);
  } catch (e) { // a tokenizer.json the library cannot load: no text matches (parity 0), said in the result
    return { ...out, tokenizer_matches: 0, tokenizer_parity: 0, tokenizer_error: String(e && e.message || e) };
  }
  out.tokenizer_load_ms = performance.now() - t0;
  const { tj, tok, trunc } = loaded;
  out.tokenizer_max_len = trunc.maxLen;
  const pyIds = new BigInt64Array(await fetchBytes(text.ids.url));
  const pyMask = new Uint8Array(await fetchBytes(text.mask.url));
  const t = performance.now();
  const { matches, mismatch, ok } = parity(tok, trunc.cut, texts, pyIds, pyMask, width);
  Object.assign(out, { tokenizer_matches: matches, tokenizer_mismatch: mismatch,
    tokenizer_parity_ms: performance.now() - t, tokenizer_parity: texts.length ? (100 * matches) / texts.length : 100 });
  const timed = ok.slice(0, text.timed).map((i) => texts[i]);
  if (!timed.length) return out;
  const tokenize = async (s, k) => {
    const t1 = performance.now();
    for (let i = 0; i < k; i++) trunc.cut(tok.encode(s).ids);
    return performance.now() - t1;
  };
  const padId = tj.padding?.pad_id ?? 0;
  const tokenizeAndRun = async (s, k) => { // the app's path for one text: ids → tensors → session.run
    const t1 = performance.now();
    for (let i = 0; i < k; i++) {
      await session.run(feedsFor(trunc.cut(tok.encode(s).ids), text, padId, ort, ARRAYS));
    }
    return performance.now() - t1;
  };
  const tk = await sampleTexts(tokenize, timed, lat, res, text.min_span_ms);
  const run = await sampleTexts(tokenizeAndRun, timed, lat, res, text.min_span_ms);
  return { ...out, tokenize_ms: tk.samples, tokenize_runs_per_sample_max: tk.k, text_ms: run.samples,
    text_runs_per_sample_max: run.k, timed_texts: timed.length };
}
