// demo.js — the demo page's script: semantic search over sentences.json with embed.js, in the page.
// A classic script, like everything index.html loads, so that the page works opened from file:// as
// well as from any static server (why, and why one path for both: the comment at the top of embed.js).
// offline/<file>.js put each bundle file on globalThis.edgeBundle: text files as {text}, binary ones
// as {base64}; the three ES modules (embed.js, onnxruntime-web, tokenizers.js) are imported from
// blob: URLs made of their text. Sentences are untrusted text: they reach the page only through
// textContent, never innerHTML.
(() => {
  'use strict';
  const TOP = 10; // hits shown
  const files = globalThis.edgeBundle ?? {};
  const $ = (id) => document.getElementById(id);

  function take(name) { // each file is read once, then dropped: the base64 copies are large
    const f = files[name];
    if (!f) throw new Error(`offline/${name}.js did not load (is it beside index.html?)`);
    delete files[name];
    return f;
  }

  function bytes(name) {
    const b64 = take(name).base64;
    if (Uint8Array.fromBase64) return Uint8Array.fromBase64(b64);
    const bin = atob(b64), out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  async function importText(name) {
    const url = URL.createObjectURL(new Blob([take(name).text], { type: 'text/javascript' }));
    try { return await import(url); } finally { URL.revokeObjectURL(url); }
  }

  function status(text) { $('status').textContent = text; }

  function render(hits, query) {
    const list = $('results');
    list.replaceChildren(...hits.map(({ score, text }) => {
      const li = document.createElement('li');
      const s = document.createElement('span'), t = document.createElement('span');
      s.className = 'score'; s.textContent = score.toFixed(3);
      t.className = 'text'; t.textContent = text;
      li.append(s, ' ', t);
      return li;
    }));
    list.dataset.query = query; // what these hits answer: tests wait for it
  }

  async function main() {
    const { title, sentences } = JSON.parse(take('sentences.json').text);
    document.title = title;
    $('title').textContent = title;
    const [ort, { Tokenizer }, { load }] = await Promise.all(
      ['ort.wasm.bundle.min.mjs', 'tokenizers.min.mjs', 'embed.js'].map(importText));
    status('loading the model…');
    const embedder = await load({
      ort, Tokenizer, model: bytes('model.onnx'), wasm: bytes('ort-wasm-simd-threaded.wasm'),
      tokenizer: JSON.parse(take('tokenizer.json').text),
    });
    status(`embedding ${sentences.length} sentences…`);
    const t0 = performance.now();
    const vectors = await embedder.embed(sentences); // Float32Array(D) each, unit length
    const ms = performance.now() - t0;

    let latest = 0; // a slow search must not overwrite the answer to a later keystroke
    async function search() {
      const query = $('query').value, mine = ++latest;
      if (!query.trim()) { render([], query); return; }
      const [q] = await embedder.embed([query]);
      if (mine !== latest) return;
      const hits = vectors.map((v, i) => {
        let dot = 0;
        for (let k = 0; k < v.length; k++) dot += v[k] * q[k]; // cosine: both are unit length
        return { score: dot, text: sentences[i] };
      });
      hits.sort((a, b) => b.score - a.score);
      render(hits.slice(0, TOP), query);
    }
    $('query').addEventListener('input', search);
    $('query').disabled = false;
    $('query').focus();
    status(`${sentences.length} sentences, ${vectors[0]?.length ?? 0}-dimensional embeddings, ` +
           `embedded in ${Math.round(ms)} ms on this device`);
    document.body.dataset.state = 'ready';
    if ($('query').value) search();
  }

  main().catch((err) => {
    document.body.dataset.state = 'error';
    status(`error: ${err?.message ?? err}`);
    console.error(err);
  });
})();
