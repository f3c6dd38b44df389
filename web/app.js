// The demo page: UI only. The model lives in worker.js (a module Web Worker), so the page
// never blocks; this file sends it requests and renders what comes back.
import { chooseBuild } from './pkg/src/detect.js';

const $ = (id) => document.getElementById(id);

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const SETTINGS = ['temperature', 'topK', 'topP', 'minP', 'repeatPenalty', 'maxTokens', 'seed'];

let ready = false;
let textModel = true; // false for a model file without a tokenizer
let generating = false;
let distReq = 0;
let lastIds = null; // prompt + generated ids after a generation, for the chart
let chartTimer = 0;

// ---- settings ---------------------------------------------------------------------------
function settings() {
  const o = {};
  for (const k of SETTINGS) o[k] = Number($(k).value);
  return o;
}

function samplerSettings() {
  const { maxTokens, seed, ...rest } = settings();
  return rest;
}

function showSettings() {
  for (const k of SETTINGS) {
    const v = Number($(k).value);
    let s = String(v);
    if (k === 'topK' && v === 0) s = '0 (off)';
    if (k === 'topP' && v === 1) s = '1 (off)';
    if (k === 'minP' && v === 0) s = '0 (off)';
    if (k === 'repeatPenalty' && v === 1) s = '1 (off)';
    if (k === 'temperature' && v === 0) s = '0 (greedy)';
    $(`${k}-v`).textContent = s;
  }
}

// ---- status and buttons -----------------------------------------------------------------
function status(text, error = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', error);
}

function buttons() {
  $('generate').disabled = !ready || generating || !textModel;
  $('stop').disabled = !generating;
  $('use-builtin').disabled = !ready || generating;
  $('file').disabled = generating;
}

// ---- the chart --------------------------------------------------------------------------
function visible(text) {
  const span = document.createElement('span');
  if (text === '') {
    span.className = 'ws';
    span.textContent = '∅';
    return span;
  }
  for (const part of text.split(/(\s)/)) {
    if (!part) continue;
    const ws = { ' ': '·', '\n': '↵', '\t': '→' }[part] ?? (/\s/.test(part) ? '␣' : null);
    if (ws) {
      const w = document.createElement('span');
      w.className = 'ws';
      w.textContent = ws;
      span.append(w);
    } else {
      span.append(part);
    }
  }
  return span;
}

function renderChart(candidates, what, pickId) {
  const chart = $('chart');
  chart.replaceChildren();
  const max = Math.max(1e-9, ...candidates.map((c) => Math.max(c.prob, c.keptProb)));
  let keptMass = 0;
  let kept = 0;
  for (const c of candidates) {
    const row = document.createElement('div');
    row.style.display = 'contents';
    row.className = `row${c.keptProb > 0 ? ' row-kept' : ' row-cut'}${c.id === pickId ? ' row-pick' : ''}`;
    row.dataset.id = c.id;
    const tok = document.createElement('div');
    tok.className = 'tok';
    tok.title = `id ${c.id}: ${JSON.stringify(c.text)}`;
    tok.append(visible(c.text));
    const bars = document.createElement('div');
    bars.className = 'bars';
    const p = document.createElement('div');
    p.className = 'p';
    p.style.width = `${(100 * c.prob) / max}%`;
    const k = document.createElement('div');
    k.className = 'k';
    k.style.width = `${(100 * c.keptProb) / max}%`;
    bars.append(p, k);
    const num = document.createElement('div');
    num.className = 'num';
    num.innerHTML = c.keptProb > 0 ? `<b>${(100 * c.keptProb).toFixed(1)}%</b>` : `✕ ${(100 * c.prob).toFixed(1)}%`;
    num.title = `model ${(100 * c.prob).toFixed(2)}% → kept ${(100 * c.keptProb).toFixed(2)}%`;
    row.append(tok, bars, num);
    chart.append(row);
    if (c.keptProb > 0) {
      kept++;
      keptMass += c.prob;
    }
  }
  $('dist-what').textContent = what;
  const all = candidates.length;
  $('dist-note').textContent = all
    ? `${kept} of the top ${all} kept (they hold ${(100 * keptMass).toFixed(1)}% of the model's probability); bars: model p (top) vs. renormalised sampling p (bottom).`
    : '';
}

function requestChart() {
  if (!ready || generating || !textModel) return;
  clearTimeout(chartTimer);
  chartTimer = setTimeout(() => {
    const req = ++distReq;
    const msg = { type: 'dist', req, options: samplerSettings() };
    if (lastIds) msg.ids = lastIds;
    else msg.prompt = $('prompt').value;
    worker.postMessage(msg);
  }, 60);
}

// ---- generation -------------------------------------------------------------------------
function generate() {
  if (!ready || generating) return;
  generating = true;
  lastIds = null;
  buttons();
  $('out-prompt').textContent = $('prompt').value;
  $('out-text').textContent = '';
  $('n-tokens').textContent = '0';
  $('tok-s').textContent = '–';
  $('stop-reason').textContent = '…';
  status('generating…');
  worker.postMessage({ type: 'generate', prompt: $('prompt').value, options: settings() });
}

let pending = null; // candidates to draw on the next animation frame
function onPiece(m) {
  $('out-text').append(m.text);
  $('output').scrollTop = $('output').scrollHeight;
  $('n-tokens').textContent = String(m.index + 1);
  if (m.tokS) $('tok-s').textContent = m.tokS.toFixed(1);
  if (m.candidates) {
    const first = !pending;
    pending = m;
    if (first) {
      requestAnimationFrame(() => {
        renderChart(pending.candidates, `(token ${pending.index + 1} was drawn from these)`, pending.id);
        pending = null;
      });
    }
  }
}

function onDone(m) {
  generating = false;
  buttons();
  const r = m.result;
  $('n-tokens').textContent = String(r.tokens.length);
  if (m.tokS) $('tok-s').textContent = m.tokS.toFixed(1);
  $('stop-reason').textContent = r.stopReason;
  status(`done: ${r.tokens.length} tokens in ${(m.ms / 1000).toFixed(2)} s`);
  document.body.dataset.generated = String(r.tokens.length);
  lastIds = m.ids;
  requestChart();
}

// ---- loading models ---------------------------------------------------------------------
async function readWithProgress(file) {
  const bar = $('progress');
  bar.hidden = false;
  bar.value = 0;
  const out = new Uint8Array(file.size);
  let at = 0;
  const reader = file.stream().getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    out.set(value, at);
    at += value.length;
    bar.value = file.size ? at / file.size : 1;
    $('load-msg').textContent = `reading ${file.name}: ${(at / 1e6).toFixed(1)} of ${(file.size / 1e6).toFixed(1)} MB`;
  }
  return out;
}

async function loadFile(file) {
  if (!file || generating) return;
  ready = false;
  buttons();
  $('load-msg').classList.remove('error');
  try {
    const bytes = await readWithProgress(file);
    $('load-msg').textContent = `checking ${file.name}…`;
    status('loading model…');
    worker.postMessage({ type: 'load', bytes: bytes.buffer, name: file.name }, [bytes.buffer]);
  } catch (e) {
    loadFailed(`could not read ${file.name}: ${e.message}`);
  }
}

function loadFailed(message) {
  $('load-msg').textContent = message;
  $('load-msg').classList.add('error');
  $('progress').hidden = true;
  ready = true; // the previous model is still loaded
  buttons();
  status('ready');
}

function onReady(m) {
  const i = m.info;
  ready = true;
  textModel = i.tokenizer_bytes > 0;
  lastIds = null;
  buttons();
  $('model-name').textContent = m.name;
  $('model-info').textContent =
    `${i.architecture}, ${i.dtype}, ${i.n_layers} layers × ${i.dim} wide, ${i.n_heads} heads, ` +
    `vocab ${i.vocab_size}, context ${i.seq_len}, ${(i.model_bytes / 1e6).toFixed(2)} MB` +
    ` · loaded in ${m.ms.toFixed(0)} ms · wasm ${m.kernels}`;
  $('maxTokens').max = String(Math.max(1, i.seq_len));
  $('progress').hidden = true;
  $('load-msg').textContent = m.name === 'built-in model' ? '' : `loaded ${m.name}`;
  document.body.dataset.model = m.name;
  document.body.dataset.ready = '1';
  document.body.dataset.kernels = m.kernels;
  if (textModel) {
    status('ready');
    requestChart();
  } else {
    status('this model file has no tokenizer, so it cannot turn text into tokens: load one that has', true);
    $('chart').replaceChildren();
    $('dist-note').textContent = '';
  }
}

worker.onmessage = ({ data: m }) => {
  switch (m.type) {
    case 'ready':
      return onReady(m);
    case 'piece':
      return onPiece(m);
    case 'done':
      return onDone(m);
    case 'dist':
      if (m.req === distReq) renderChart(m.candidates, lastIds ? '(after the generated text)' : '(after the prompt)');
      return;
    case 'error':
      if (m.where === 'load') return loadFailed(m.message);
      if (m.where === 'builtin') return status(`could not load the built-in model: ${m.message}`, true);
      if (m.where === 'generate') {
        generating = false;
        buttons();
        $('stop-reason').textContent = 'error';
      }
      if (m.where === 'dist' && m.req !== distReq) return;
      if (m.where === 'dist') {
        $('chart').replaceChildren();
        $('dist-note').textContent = m.message;
        return;
      }
      return status(m.message, true);
  }
};
worker.onerror = (e) => status(`worker failed: ${e.message}`, true);

// ---- wiring -----------------------------------------------------------------------------
$('generate').onclick = generate;
$('stop').onclick = () => worker.postMessage({ type: 'stop' });
$('prompt').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) generate();
});
$('prompt').addEventListener('input', () => {
  lastIds = null;
  requestChart();
});
for (const k of SETTINGS) {
  $(k).addEventListener('input', () => {
    showSettings();
    if (k !== 'maxTokens' && k !== 'seed') requestChart();
  });
}
$('file').addEventListener('change', (e) => loadFile(e.target.files[0]));
$('use-builtin').onclick = () => {
  ready = false;
  buttons();
  status('loading the built-in model…');
  worker.postMessage({ type: 'builtin' });
};
const drop = $('drop');
for (const ev of ['dragenter', 'dragover']) {
  document.addEventListener(ev, (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
}
for (const ev of ['dragleave', 'drop']) {
  document.addEventListener(ev, (e) => {
    e.preventDefault();
    if (ev === 'drop' || e.target === document.documentElement) drop.classList.remove('over');
  });
}
document.addEventListener('drop', (e) => loadFile(e.dataTransfer?.files?.[0]));

showSettings();
buttons();
worker.postMessage({ type: 'builtin' });

// Offline: a service worker keeps a copy of the page, the built-in model and the wasm build
// this browser runs (chosen as the package chooses it, in the worker: same engine, same
// answer).
if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('./sw.js').then(
    () =>
      navigator.serviceWorker.ready.then((reg) => {
        let base;
        try {
          base = chooseBuild(globalThis.TINYGPT_WASM) === 'relaxed' ? 'pkg/pkg/tinygpt_wasm_relaxed' : 'pkg/pkg/tinygpt_wasm';
        } catch {
          return; // a bad TINYGPT_WASM override: the worker reports it
        }
        const ch = new MessageChannel();
        ch.port1.onmessage = (m) => {
          if (m.data === 'cached') document.body.dataset.offline = 'ready';
        };
        reg.active?.postMessage({ cacheBuild: [`${base}.js`, `${base}_bg.wasm`] }, [ch.port2]);
      }),
    () => {},
  );
}
