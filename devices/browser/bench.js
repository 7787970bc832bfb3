// edgedistill browser runner: measures one ONNX file with onnxruntime-web (wasm EP) in this page.
// Python (edgedistill/bench/browser.py) serves this folder, the model and its input blobs on
// loopback, then calls window.edgeBench(spec) and reads the JSON-able object it returns.
// Times are performance.now() milliseconds; their resolution is measured, not assumed.

// Catch every WebAssembly.Memory onnxruntime-web creates (its threaded build makes the memory in
// JS), before ORT is imported: the wasm heap never shrinks, so its size after the runs is its peak.
const memories = [];
const OrigMemory = WebAssembly.Memory;
function TrackedMemory(desc) {
  const mem = new OrigMemory(desc);
  memories.push(mem);
  return mem;
}
TrackedMemory.prototype = OrigMemory.prototype;
WebAssembly.Memory = TrackedMemory;
for (const fn of ['instantiate', 'instantiateStreaming']) {
  const orig = WebAssembly[fn];
  WebAssembly[fn] = async (...args) => {
    const out = await orig.apply(WebAssembly, args);
    const inst = out.instance ?? out;
    for (const v of Object.values(inst.exports ?? {})) if (v instanceof OrigMemory) memories.push(v);
    return out;
  };
}

const ort = await import('./ort/ort.wasm.min.mjs');

const ARRAYS = {
  float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array,
  uint8: Uint8Array, int8: Int8Array, bool: Uint8Array, float16: Uint16Array,
};

async function fetchBytes(url) {
  const res = await fetch(url, { cache: 'no-store' });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.arrayBuffer();
}

async function tensorOf(blob, dtype) {
  return new ort.Tensor(dtype, new ARRAYS[dtype](await fetchBytes(blob.url)), blob.dims);
}

// Smallest non-zero step of performance.now(): 0.1 ms in a plain Chromium page, 5 µs isolated.
function timerResolution() {
  let prev = performance.now(), best = Infinity;
  for (let i = 0; i < 200000; i++) {
    const t = performance.now();
    if (t > prev && t - prev < best) best = t - prev;
    prev = t;
  }
  return best;
}

async function timeRuns(session, feeds, n) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await session.run(feeds);
  return performance.now() - t0;
}

// Warm latency. A run shorter than the clock's resolution cannot be timed alone, so each sample
// times k back-to-back runs (k chosen so a sample spans >= 20 clock steps) and divides by k.
async function latency(session, feeds, lat, res) {
  await timeRuns(session, feeds, lat.warmup); // discarded: wasm tier-up, allocator, thread pool
  let n = 10, span = await timeRuns(session, feeds, n); // calibration, also discarded
  while (span < 20 * res && n < 1e6) { n *= 2; span = await timeRuns(session, feeds, n); }
  let k = Math.max(1, Math.ceil((20 * res) / (span / n)));
  // Stalls (CPU throttling suspends the page in slices, other processes preempt it) inflate that
  // mean; grow k while over a quarter of 20 trial samples still span under 5 clock steps.
  for (let tries = 0; tries < 12; tries++) {
    let short = 0;
    for (let i = 0; i < 20; i++) if ((await timeRuns(session, feeds, k)) < 5 * res) short++;
    if (short <= 5) break;
    k *= 2;
  }
  const samples = [], t0 = performance.now();
  while (samples.length < lat.runs || performance.now() - t0 < 1000 * lat.min_seconds) {
    samples.push((await timeRuns(session, feeds, k)) / k);
  }
  return { samples, k };
}

// Run every eval batch (Python cut the eval set into batches, every model input fed, as the native
// runner feeds them) and POST the first output of each back as raw bytes: the task metrics are
// computed in Python by tasks/metrics.py, one implementation for every runner.
async function evaluate(session, ev) {
  for (let k = 0; k < ev.batches.length; k++) {
    const feed = {};
    for (const inp of ev.batches[k]) feed[inp.name] = await tensorOf(inp, inp.dtype);
    const out = (await session.run(feed))[session.outputNames[0]];
    const data = out.data;
    const res = await fetch(`${ev.post}/${k}`, {
      method: 'POST',
      headers: { 'X-Dims': out.dims.join(','), 'X-Dtype': out.type },
      body: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    if (!res.ok) throw new Error(`POST ${ev.post}/${k}: HTTP ${res.status}`);
  }
  return { eval_batches: ev.batches.length };
}

async function feedsOf(inputs, which) {
  const feeds = {};
  for (const inp of inputs) feeds[inp.name] = await tensorOf(inp[which], inp.dtype);
  return feeds;
}

window.edgeBench = async (spec) => {
  ort.env.wasm.wasmPaths = new URL('./ort/', location.href).href; // absolute URL on this loopback origin
  ort.env.wasm.numThreads = spec.threads || navigator.hardwareConcurrency || 1; // 0: every logical core
  ort.env.wasm.proxy = false;
  const res = timerResolution();
  const latFeeds = await feedsOf(spec.inputs, 'lat');
  const thrFeeds = await feedsOf(spec.inputs, 'thr');
  // Cold start: fetch the model + compile the wasm module + create the session (first create does all).
  let t = performance.now();
  const model = await fetchBytes(spec.model);
  const session = await ort.InferenceSession.create(new Uint8Array(model), {
    executionProviders: ['wasm'], graphOptimizationLevel: 'all',
  });
  const sessionCreate = performance.now() - t;
  t = performance.now();
  await session.run(latFeeds);
  const firstRun = performance.now() - t;
  const { samples, k } = await latency(session, latFeeds, spec.latency, res);
  await timeRuns(session, thrFeeds, 2);
  let thrRuns = spec.throughput.runs, thrMs = await timeRuns(session, thrFeeds, thrRuns);
  while (thrMs < 20 * res && thrRuns < 1e6) { thrRuns *= 2; thrMs = await timeRuns(session, thrFeeds, thrRuns); }
  const result = {
    session_create_ms: sessionCreate, first_run_ms: firstRun, latency_ms: samples, runs_per_sample: k,
    throughput_per_s: (spec.throughput.batch * thrRuns) / (thrMs / 1000), // span >= 20 clock steps
    throughput_batch: spec.throughput.batch, // the leading dim of the inputs that ran
    timer_resolution_ms: res, isolated: self.crossOriginIsolated ? 1 : 0,
    threads: ort.env.wasm.numThreads, // ORT resets it to 1 when the page cannot run threads
    ort_version: ort.env.versions?.web ?? '', user_agent: navigator.userAgent,
  };
  if (spec.eval) Object.assign(result, await evaluate(session, spec.eval));
  // Memory after the runs: the wasm heap (never shrinks, so this is its peak) + the main thread's
  // JS heap (precise only with --enable-precise-memory-info; workers' heaps are not included).
  result.wasm_memory_bytes = Math.max(0, ...memories.map((m) => m.buffer.byteLength));
  result.js_heap_bytes = performance.memory ? performance.memory.usedJSHeapSize : 0;
  // Text models (text.js): after the memory readings, which stay the model's alone (the texts and
  // Python's ids held here for the parity check are the harness's, not an app's).
  if (spec.text) {
    const t0 = performance.now(); // the tokenizer's cold start includes loading the library
    const { textBench } = await import('./text.js');
    Object.assign(result, await textBench(session, spec.text, spec.latency, res, t0, { ort, ARRAYS, fetchBytes }));
  }
  await session.release();
  return result;
};
document.getElementById('status').textContent = 'ready';
window.edgeReady = true;
