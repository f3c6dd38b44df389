// Decode speed of the npm package in Node and in headless Chromium (single thread, the
// wasm SIMD build), for each model file given: `node tests/web/bench.mjs N model.tgpt...`.
// Measures `g.benchDecode(N)` (N single-token steps from position 0 with the token ids of
// `tinygpt bench`), best of 5 after a warm-up run. Prints one JSON line per model and runtime.
// Never asserts: benches measure, tests assert. Run by scripts/web_bench.sh.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const nodeOnly = args[0] === '--node-only';
const [n = '128', ...models] = nodeOnly ? args.slice(1) : args;
const N = Number(n);
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

function best(g, n) {
  g.benchDecode(n); // warm-up (and wasm tier-up)
  let top = null;
  for (let i = 0; i < 5; i++) {
    const r = g.benchDecode(n);
    if (!top || r.tokensPerSecond > top.tokensPerSecond) top = r;
  }
  return top;
}

// ---- Node ----------------------------------------------------------------------------------
const { TinyGpt } = await import(join(ROOT, 'npm/src/node.js'));
for (const m of models) {
  const g = await TinyGpt.load(readFileSync(m));
  const steps = Math.min(N, g.info().seq_len);
  const r = best(g, steps);
  console.log(JSON.stringify({ runtime: `node ${process.version}`, kernels: await TinyGpt.kernels(), model: basename(m), ...r }));
  g.free();
}
if (nodeOnly) process.exit(0);

// ---- Chromium ------------------------------------------------------------------------------
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  console.error('playwright-core not installed (tests/web: npm ci): skipping Chromium');
  process.exit(0);
}
const files = new Map(models.map((m, i) => [`/bench/${i}.tgpt`, m]));
const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/bench.html') return res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>bench</title>');
  const model = files.get(url.pathname);
  const path = model ?? join(ROOT, 'web', url.pathname === '/' ? 'index.html' : url.pathname);
  try {
    const body = readFileSync(path);
    const type = path.endsWith('.wasm') ? 'application/wasm' : path.endsWith('.js') ? 'text/javascript' : path.endsWith('.html') ? 'text/html' : 'application/octet-stream';
    res.writeHead(200, { 'content-type': type }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: FLAGS });
try {
  const version = browser.version();
  // the build the page picks by itself (relaxed SIMD in Chromium 156), then plain simd128
  for (const build of ['', 'simd128']) {
  const page = await browser.newPage();
  await page.goto(`${base}/bench.html`);
  for (const [path, m] of files) {
    const r = await page.evaluate(async ({ path, n, build }) => {
      if (build) globalThis.TINYGPT_WASM = build;
      const { TinyGpt } = await import('/pkg/src/browser.js');
      const bytes = new Uint8Array(await (await fetch(path)).arrayBuffer());
      const g = await TinyGpt.load(bytes);
      const steps = Math.min(n, g.info().seq_len);
      g.benchDecode(steps); // warm-up (and wasm tier-up)
      let top = null;
      for (let i = 0; i < 5; i++) {
        const r = g.benchDecode(steps);
        if (!top || r.tokensPerSecond > top.tokensPerSecond) top = r;
      }
      g.free();
      return { kernels: await TinyGpt.kernels(), ...top };
    }, { path, n: N, build });
    const { kernels, ...rest } = r;
    console.log(JSON.stringify({ runtime: `chromium ${version}`, kernels, model: basename(m), ...rest }));
  }
  await page.close();
  }
} finally {
  await browser.close();
  server.close();
}
