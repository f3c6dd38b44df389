// The demo's Web Worker: owns the model and runs generation off the page's thread, using
// the npm package's public API (pkg/ is the package, copied here by scripts/web_build.sh).
//
// Messages in:  {type:'builtin'} | {type:'load', bytes, name} | {type:'generate', prompt, options}
//               | {type:'stop'} | {type:'dist', req, prompt?, ids?, options}
// Messages out: {type:'ready', info, name, ms, kernels} | {type:'piece', text, id, index, candidates, tokS}
//               | {type:'done', result, tokS, ms} | {type:'dist', req, candidates, ids}
//               | {type:'error', where, message}
import { TinyGpt } from './pkg/src/browser.js';

let g = null;
let abort = null;

const post = (m) => self.postMessage(m);

async function use(make, name) {
  const t0 = performance.now();
  const next = await make();
  if (g && !abort) g.free();
  g = next;
  post({ type: 'ready', info: g.info(), name, ms: performance.now() - t0, kernels: await TinyGpt.kernels() });
}

async function generate({ prompt, options }) {
  abort = new AbortController();
  const t0 = performance.now();
  let first = 0;
  let last = 0;
  const rate = (count) => (count > 1 && last > first ? (count - 1) / ((last - first) / 1000) : 0);
  try {
    const result = await g.generate(prompt, { ...options, signal: abort.signal, candidates: 20 }, (text, ev) => {
      last = performance.now();
      if (!first) first = last;
      post({ type: 'piece', text, id: ev.id, index: ev.index, candidates: ev.candidates, tokS: rate(ev.index + 1) });
    });
    // ids of prompt + generated text, for the distribution of the token after it
    let ids = null;
    try {
      ids = [...g.encode(prompt), ...result.tokens];
      if (ids.length >= g.info().seq_len) ids = null;
    } catch {
      ids = null;
    }
    post({ type: 'done', result, ids, tokS: rate(result.tokens.length), ms: performance.now() - t0 });
  } finally {
    abort = null;
  }
}

function dist({ req, prompt, ids, options }) {
  const candidates = g.nextTokenDistribution(ids ?? prompt, { ...options, top: 20 });
  post({ type: 'dist', req, candidates });
}

self.onmessage = async ({ data: m }) => {
  try {
    switch (m.type) {
      case 'builtin':
        return await use(() => TinyGpt.builtin(), 'built-in model');
      case 'load':
        if (abort) throw new Error('stop the generation first');
        return await use(() => TinyGpt.load(new Uint8Array(m.bytes)), m.name);
      case 'generate':
        return await generate(m);
      case 'stop':
        return abort?.abort();
      case 'dist':
        if (!g || abort) return; // busy generating: the chart follows the generation instead
        return dist(m);
    }
  } catch (e) {
    post({ type: 'error', where: m.type, req: m.req, message: e?.message ?? String(e) });
  }
};
