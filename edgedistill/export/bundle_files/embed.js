// embed.js — sentence embeddings in the browser: tokenise (@huggingface/tokenizers), run the model
// (onnxruntime-web, wasm, one thread), pool. Written by edgedistill (edgedistill/export/bundle.py).
//
//   import { load, embed } from './embed.js';
//   await load();                                   // model.onnx, tokenizer.json, runtime: beside this file
//   const [a, b] = await embed(['a sentence', 'another one']);   // Float32Array(D) each, unit length
//   let cosine = 0; for (let i = 0; i < a.length; i++) cosine += a[i] * b[i];
//
// The model's contract: inputs input_ids and attention_mask, (batch, sequence) int64; output embedding,
// (batch, D) float32. token_type_ids, if the model also takes it, is fed zeros.
//
// Why an ES module, and how the demo page still works from file://
// ----------------------------------------------------------------
// This file is the API for apps, which serve their files over http(s): an ES module, so that it
// imports onnxruntime-web and tokenizers.js itself and nothing lands on `window`.
// Chromium treats a page opened from file:// as an opaque ("null") origin and refuses both fetch()
// and <script type="module" src> / import() of file:// URLs (CORS). What still loads from file:// is
// a classic <script src>, and what may be imported is a blob: (or data:) URL. So the demo page
// (index.html + demo.js) takes one path, the same from file:// and from a static server: the classic
// scripts in offline/ carry this file, ort.wasm.bundle.min.mjs and tokenizers.min.mjs as text and the
// model and ort's .wasm as base64; demo.js imports the three modules from blob: URLs (this exact file,
// no second build of it to drift) and hands load() the modules and the bytes, so load() fetches nothing.
// ort.wasm.bundle.min.mjs (not ort.wasm.min.mjs) because it carries the Emscripten glue inside: with
// one thread and env.wasm.wasmBinary set it never import()s a second .mjs, which file:// would block.
// One thread: wasm threads need SharedArrayBuffer, i.e. cross-origin isolation (COOP/COEP headers),
// which file:// cannot give and most static hosts do not send.

const HERE = import.meta.url; // defaults resolve beside this file (a blob: URL in the demo: nothing resolved)
const ORT_MODULE = 'ort.wasm.bundle.min.mjs';
const ORT_WASM = 'ort-wasm-simd-threaded.wasm';
const TOKENIZERS_MODULE = 'tokenizers.min.mjs';

let last = null; // the Embedder load() made last, for the module-level embed()

/**
 * Load the model, tokenizer and runtime; returns an Embedder (also used by the module-level embed()).
 *
 * Each source is a URL (string or URL, fetched; relative ones resolve against the page) or the thing
 * itself: model and wasm as ArrayBuffer / Uint8Array, tokenizer as the parsed tokenizer.json object.
 * Left out, model.onnx, tokenizer.json and the runtime files beside embed.js are used.
 * `ort` / `Tokenizer`: onnxruntime-web's module and tokenizers.js's Tokenizer class, already imported.
 */
export async function load({ model, tokenizer, wasm, ort, Tokenizer, batchSize = 32 } = {}) {
  ort ??= await import(beside(ORT_MODULE));
  Tokenizer ??= (await import(beside(TOKENIZERS_MODULE))).Tokenizer;
  // env.wasm is global to the page and read once, when the first session starts the runtime
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmBinary ??= await bytesOf(wasm ?? beside(ORT_WASM));
  const tokenizerJson = tokenizer === undefined || isUrl(tokenizer) ? await jsonOf(tokenizer ?? beside('tokenizer.json')) : tokenizer;
  const modelBytes = await bytesOf(model ?? beside('model.onnx'));
  const session = await ort.InferenceSession.create(modelBytes, { executionProviders: ['wasm'] });
  for (const name of ['input_ids', 'attention_mask']) {
    if (!session.inputNames.includes(name)) throw new Error(`embed.js: the model has no input ${name} (it has ${session.inputNames})`);
  }
  if (!session.outputNames.includes('embedding')) {
    throw new Error(`embed.js: the model has no output "embedding" (it has ${session.outputNames})`);
  }
  last = new Embedder(ort, session, new Tokenizer(tokenizerJson, {}), tokenizerJson, batchSize);
  return last;
}

/** Embed `texts` (an array of strings) with the model load() loaded last: Float32Array(D)[], unit length. */
export async function embed(texts) {
  if (!last) throw new Error('embed.js: call `await load()` before embed()');
  return last.embed(texts);
}

/** A loaded model + tokenizer. */
export class Embedder {
  constructor(ort, session, tokenizer, tokenizerJson, batchSize) {
    this.ort = ort;
    this.session = session;
    this.tokenizer = tokenizer;
    this.batchSize = batchSize;
    // tokenizers.js neither truncates nor pads; tokenizer.json says at which length Python cut the
    // training data (edgedistill writes truncation.max_length = the recipe's max_len)
    this.maxLength = tokenizerJson.truncation?.max_length ?? null;
    this.direction = tokenizerJson.truncation?.direction ?? 'Right';
    this.padId = tokenizerJson.padding?.pad_id ?? 0;
  }

  /**
   * Token ids of one text, cut to maxLength as Python's tokenizers cuts a single sequence: the content
   * is truncated, then the template's special tokens are added. For BERT's [CLS] $A [SEP] that is
   * ids.slice(0, maxLength - 1).concat([last id]).
   */
  tokenize(text) {
    const full = this.tokenizer.encode(text).ids;
    if (this.maxLength === null || full.length <= this.maxLength) return full;
    const content = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
    const specials = full.length - content.length; // [CLS] and [SEP]: 2
    let start = 0; // where the content begins in `full`: after the leading specials
    while (start < specials && !content.every((id, i) => full[start + i] === id)) start++;
    const keep = Math.max(0, this.maxLength - specials);
    const kept = this.direction === 'Left' ? content.slice(content.length - keep) : content.slice(0, keep);
    return full.slice(0, start).concat(kept, full.slice(start + content.length));
  }

  /** Float32Array(D) per text, L2-normalised (again: cheap, and right for models that do not). */
  async embed(texts) {
    if (!Array.isArray(texts)) throw new Error('embed.js: embed() takes an array of strings');
    const out = [];
    for (let i = 0; i < texts.length; i += this.batchSize) {
      out.push(...(await this.#batch(texts.slice(i, i + this.batchSize))));
    }
    return out;
  }

  /** Free the session's wasm memory. */
  async release() {
    await this.session.release();
    if (last === this) last = null;
  }

  async #batch(texts) {
    const ids = texts.map((t) => this.tokenize(String(t)));
    const B = ids.length, L = Math.max(1, ...ids.map((x) => x.length));
    // (B, L) int64, right-padded with pad_id; the mask keeps padding out of the model's mean pooling
    const inputIds = new BigInt64Array(B * L).fill(BigInt(this.padId));
    const mask = new BigInt64Array(B * L);
    ids.forEach((row, b) => row.forEach((id, t) => { inputIds[b * L + t] = BigInt(id); mask[b * L + t] = 1n; }));
    const T = this.ort.Tensor;
    const feeds = { input_ids: new T('int64', inputIds, [B, L]), attention_mask: new T('int64', mask, [B, L]) };
    if (this.session.inputNames.includes('token_type_ids')) feeds.token_type_ids = new T('int64', new BigInt64Array(B * L), [B, L]);
    const result = await this.session.run(feeds, ['embedding']);
    const emb = result.embedding; // (B, D) float32
    const D = emb.dims[1], data = emb.data;
    const rows = [];
    for (let b = 0; b < B; b++) {
      const v = Float32Array.from(data.subarray(b * D, (b + 1) * D));
      let norm = 0;
      for (let k = 0; k < D; k++) norm += v[k] * v[k];
      norm = Math.sqrt(norm) || 1; // an all-zero row stays zero rather than NaN
      for (let k = 0; k < D; k++) v[k] /= norm;
      rows.push(v);
    }
    emb.dispose?.();
    return rows;
  }
}

function beside(name) {
  return new URL(name, HERE).href;
}

function isUrl(x) {
  return typeof x === 'string' || x instanceof URL;
}

async function bytesOf(src) {
  if (src instanceof Uint8Array) return src;
  if (src instanceof ArrayBuffer) return new Uint8Array(src);
  return new Uint8Array(await (await fetched(src)).arrayBuffer());
}

async function jsonOf(src) {
  return (await fetched(src)).json();
}

async function fetched(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`embed.js: GET ${url}: HTTP ${res.status}`);
  return res;
}
