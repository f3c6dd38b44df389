// End-to-end test of the demo page (web/) in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core; no browser download). Run by scripts/web_test.sh after
// scripts/web_build.sh. Prints a plain "N passed, N failed" line last; exit 1 on a failure.
//
// Env: TINYGPT_BIN   the native CLI (the reference for tokens and text)
//      MODEL2        a second .tgpt with a tokenizer, loaded through the file picker
//      SLOW_MODEL    a bigger .tgpt with a tokenizer (tests/web/make_model.mjs), for Stop
//      SHOT          where to save the screenshot (default /tmp/tinygpt-web/demo.png)
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = process.env.TINYGPT_BIN ?? join(ROOT, 'target/release/tinygpt');
const MODEL2 = process.env.MODEL2 ?? '';
const SLOW_MODEL = process.env.SLOW_MODEL ?? '';
const SHOT = process.env.SHOT ?? '/tmp/tinygpt-web/demo.png';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

const cli = (args) => JSON.parse(execFileSync(BIN, args, { encoding: 'utf8', maxBuffer: 64 << 20 }));
const cliGenerate = (prompt, o, model) => {
  const r = cli(['generate', ...(model ? ['-m', model] : []), '-p', prompt, '--json',
    '--max-tokens', String(o.maxTokens), '--temperature', String(o.temperature), '--top-k', String(o.topK),
    '--top-p', String(o.topP), '--min-p', String(o.minP), '--repeat-penalty', String(o.repeatPenalty),
    '--seed', String(o.seed)]);
  return { text: r.text, tokens: r.tokens, stopReason: r.stop_reason };
};

let passed = 0;
let failed = 0;
async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e?.stack ?? e}`);
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
function same(a, b, msg) {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  if (x !== y) throw new Error(`${msg}\n  got:  ${x.slice(0, 400)}\n  want: ${y.slice(0, 400)}`);
}

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitHttp(url, ms = 10000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      if ((await fetch(url)).ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server did not come up: ${url}`);
}

// UI settings used for the comparisons (every slider moved off its default).
const UI = { temperature: 0.7, topK: 40, topP: 0.85, minP: 0.02, repeatPenalty: 1.1, maxTokens: 48, seed: 7 };

async function setSliders(page, o) {
  await page.evaluate((o) => {
    for (const [k, v] of Object.entries(o)) {
      const el = document.getElementById(k);
      el.value = String(v);
      el.dispatchEvent(new Event('input', { bubbles: true }));
    }
  }, o);
}

async function generateInUi(page, prompt) {
  await page.fill('#prompt', prompt);
  await page.evaluate(() => {
    window.__pieces = 0;
    delete document.body.dataset.generated;
  });
  await page.click('#generate');
  await page.waitForFunction(() => document.body.dataset.generated !== undefined, null, { timeout: 60000 });
  return {
    text: await page.textContent('#out-text'),
    pieces: await page.evaluate(() => window.__pieces),
    stop: await page.textContent('#stop-reason'),
    tokS: await page.textContent('#tok-s'),
    n: Number(await page.textContent('#n-tokens')),
  };
}

const port = await freePort();
const base = `http://127.0.0.1:${port}/`;
const server = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', join(ROOT, 'web')], {
  stdio: 'ignore',
});
let browser;
try {
  await waitHttp(base);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: FLAGS });
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  // count streamed pieces as the page renders them
  await page.addInitScript(() => {
    window.__pieces = 0;
    const append = Element.prototype.append;
    Element.prototype.append = function (...a) {
      if (this.id === 'out-text') window.__pieces++;
      return append.apply(this, a);
    };
  });

  const BUILTIN_INFO = cli(['info']);
  const builtinHasTokenizer = BUILTIN_INFO.tokenizer_bytes > 0;
  // The model the UI generation checks use: the built-in one, or MODEL2 when the built-in
  // file has no tokenizer (a stand-in). Served to the page at /__test/model2.tgpt too.
  const textModel = builtinHasTokenizer ? null : MODEL2;
  if (MODEL2) await context.route('**/__test/model2.tgpt', (route) => route.fulfill({ path: MODEL2 }));

  await check('page loads the built-in model in a worker', async () => {
    await page.goto(base + 'index.html');
    await page.waitForSelector('body[data-ready]', { timeout: 30000 });
    same(await page.textContent('#model-name'), 'built-in model', 'model name');
    assert((await page.textContent('#model-info')).includes(`vocab ${BUILTIN_INFO.vocab_size}`), 'info line shows the model');
    // Chromium >= 114 runs relaxed SIMD: the page must have picked the relaxed-SIMD build
    // (every generation check below then compares that build's tokens with the CLI's)
    const kernels = await page.evaluate(() => document.body.dataset.kernels);
    const relaxed = await page.evaluate(async () => (await import('./pkg/src/detect.js')).relaxedSimd());
    same(kernels, relaxed ? 'simd128-relaxed' : 'simd128', 'wasm build in use');
    console.log(`     (wasm build: ${kernels})`);
    if (!builtinHasTokenizer) {
      assert(await page.isDisabled('#generate'), 'Generate is off for a model without a tokenizer');
      console.log('     (the built-in model file has no tokenizer: the generation checks use MODEL2)');
    }
  });

  await check('a bad file in the picker shows an error and keeps the model', async () => {
    mkdirSync(dirname(SHOT), { recursive: true });
    const bad = join(dirname(SHOT), 'broken.tgpt');
    writeFileSync(bad, Buffer.from('not a model at all, just some text '.repeat(20)));
    await page.setInputFiles('#file', bad);
    await page.waitForFunction(() => document.getElementById('load-msg').classList.contains('error'), null, { timeout: 10000 });
    assert(/bad magic/.test(await page.textContent('#load-msg')), 'error names the problem');
    same(await page.evaluate(() => document.body.dataset.model), 'built-in model', 'still the built-in model');
  });

  await check('a second model loads through the file picker (progress bar, info line)', async () => {
    assert(MODEL2, 'MODEL2 not set');
    await page.setInputFiles('#file', MODEL2);
    await page.waitForFunction((n) => document.body.dataset.model === n, basename(MODEL2), { timeout: 60000 });
    const info = cli(['info', '-m', MODEL2]);
    const shown = await page.textContent('#model-info');
    assert(shown.includes(`vocab ${info.vocab_size}`) && shown.includes(`context ${info.seq_len}`), `info line: ${shown}`);
    same(await page.textContent('#load-msg'), `loaded ${basename(MODEL2)}`, 'load message');
  });

  await check('drag and drop loads a model too', async () => {
    assert(MODEL2, 'MODEL2 not set');
    await page.click('#use-builtin');
    await page.waitForFunction(() => document.body.dataset.model === 'built-in model', null, { timeout: 30000 });
    await page.evaluate(async (name) => {
      const bytes = await (await fetch('/__test/model2.tgpt')).arrayBuffer();
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], name));
      document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, basename(MODEL2));
    await page.waitForFunction((n) => document.body.dataset.model === n, basename(MODEL2), { timeout: 60000 });
  });

  if (builtinHasTokenizer) {
    await check('back to the built-in model', async () => {
      await page.click('#use-builtin');
      await page.waitForFunction(() => document.body.dataset.model === 'built-in model', null, { timeout: 30000 });
    });
  }

  await check('distribution chart appears for the prompt', async () => {
    await page.waitForSelector('#chart .row', { timeout: 10000 });
    const rows = await page.$$eval('#chart .row', (r) => r.length);
    assert(rows > 0, 'chart has rows');
  });

  await check('sliders change which candidates are kept (top-k 3 keeps 3 bars; greedy 1)', async () => {
    await setSliders(page, { temperature: 1, topK: 3, topP: 1, minP: 0 });
    await page.waitForFunction(() => document.querySelectorAll('#chart .row-kept').length === 3, null, { timeout: 10000 });
    const cut = await page.$$eval('#chart .row-cut', (r) => r.length);
    assert(cut > 0, 'the others are shown as filtered');
    await setSliders(page, { temperature: 0 });
    await page.waitForFunction(() => document.querySelectorAll('#chart .row-kept').length === 1, null, { timeout: 10000 });
  });

  let ui;
  await check('Generate streams text; tokens/s and the chart update', async () => {
    await setSliders(page, UI);
    ui = await generateInUi(page, 'The jury said');
    assert(ui.text.length > 0, 'text appeared');
    assert(ui.pieces > 1, `streamed in pieces (${ui.pieces})`);
    assert(Number(ui.tokS) > 0, `tokens/s shown (${ui.tokS})`);
    assert(ui.n > 0, 'token count shown');
    assert(await page.$$eval('#chart .row', (r) => r.length) > 0, 'chart shown after generating');
  });

  await check('screenshot', async () => {
    // a top-p cut, so the chart shows kept and filtered candidates
    await setSliders(page, { temperature: 1, topK: 0, topP: 0.8 });
    await page.waitForSelector('#chart .row-cut', { timeout: 10000 });
    mkdirSync(dirname(SHOT), { recursive: true });
    await page.screenshot({ path: SHOT, fullPage: true });
    await setSliders(page, UI);
    assert(readFileSync(SHOT).length > 10000, 'screenshot written');
    console.log(`     screenshot: ${SHOT}`);
  });

  await check('the UI text equals the CLI text for the same settings', async () => {
    const want = cliGenerate('The jury said', UI, textModel);
    same(ui.text, want.text, 'UI text vs CLI');
    same(ui.stop, want.stopReason, 'stop reason');
    same(ui.n, want.tokens.length, 'token count');
  });

  await check('same seed and settings give the CLI tokens in Chromium (npm API in the page)', async () => {
    const cases = [
      ['The jury said', { maxTokens: 64, temperature: 0.8, topK: 0, topP: 0.9, minP: 0, repeatPenalty: 1, seed: 42 }],
      ['It was', { maxTokens: 64, temperature: 0, topK: 0, topP: 1, minP: 0, repeatPenalty: 1, seed: 42 }],
      ['The city', { maxTokens: 64, temperature: 1.2, topK: 8, topP: 0.7, minP: 0.05, repeatPenalty: 1.3, seed: 99 }],
    ];
    const got = await page.evaluate(async ({ cases, builtin }) => {
      const { TinyGpt } = await import('./pkg/src/browser.js');
      const g = builtin
        ? await TinyGpt.builtin()
        : await TinyGpt.load(new Uint8Array(await (await fetch('/__test/model2.tgpt')).arrayBuffer()));
      const out = [];
      for (const [p, o] of cases) out.push(await g.generate(p, o));
      g.free();
      return out;
    }, { cases, builtin: builtinHasTokenizer });
    cases.forEach(([p, o], i) => same(got[i], cliGenerate(p, o, textModel), `case ${i} (${p})`));
  });

  await check('Stop ends a generation early ("cancelled")', async () => {
    // a model slow enough that Stop lands mid-generation (the tiny fixtures finish in ms)
    if (SLOW_MODEL) {
      await page.setInputFiles('#file', SLOW_MODEL);
      await page.waitForFunction((n) => document.body.dataset.model === n, basename(SLOW_MODEL), { timeout: 60000 });
    }
    // greedy: on this random model it never draws EOS and runs to the full context (1,020
    // tokens from 'Once' with ctx 1024, checked with the CLI), about a second of decoding
    await setSliders(page, { temperature: 0, topK: 0, topP: 1, minP: 0, repeatPenalty: 1, seed: 3 });
    await page.evaluate(() => {
      const m = document.getElementById('maxTokens');
      m.value = m.max;
      m.dispatchEvent(new Event('input'));
    });
    await page.fill('#prompt', 'Once');
    await page.evaluate(() => delete document.body.dataset.generated);
    // Generate and Stop in one task of the page: the worker then gets 'generate' and 'stop'
    // in that order, and since a generation yields to the worker's message queue every 8 ms,
    // Stop is served within the first slice however fast decoding is. (Clicking Stop from
    // Playwright after Generate raced with the end of the generation: three round trips to
    // the page took longer than the 1,020 tokens on a fast CI machine.) `click()` does
    // nothing on a disabled button, so this also checks that Stop is enabled while generating.
    const enabled = await page.evaluate(() => {
      document.getElementById('generate').click();
      const stop = document.getElementById('stop');
      const was = !stop.disabled;
      stop.click();
      return was;
    });
    assert(enabled, 'Stop is enabled while generating');
    await page.waitForFunction(() => document.body.dataset.generated !== undefined, null, { timeout: 60000 });
    const reason = await page.textContent('#stop-reason');
    const n = Number(await page.textContent('#n-tokens'));
    same(reason, 'cancelled', `stop reason after ${n} tokens`);
    assert(n < 1020, `stopped early (${n} tokens)`);
    assert(!(await page.isDisabled('#generate')), 'Generate is enabled again');
  });

  await check('works offline once loaded (service worker)', async () => {
    await page.waitForFunction(() => document.body.dataset.offline === 'ready', null, { timeout: 20000 });
    // only the wasm build this browser runs is cached
    const relaxed = await page.evaluate(async () => (await import('./pkg/src/detect.js')).relaxedSimd());
    const cached = await page.evaluate(async () => {
      const urls = [];
      for (const name of await caches.keys()) {
        for (const req of await (await caches.open(name)).keys()) urls.push(new URL(req.url).pathname);
      }
      return urls.filter((u) => u.endsWith('.wasm')).sort();
    });
    const want = relaxed ? '/pkg/pkg/tinygpt_wasm_relaxed_bg.wasm' : '/pkg/pkg/tinygpt_wasm_bg.wasm';
    same(JSON.stringify(cached), JSON.stringify([want]), 'cached wasm builds');
    await context.setOffline(true);
    try {
      await page.reload();
      await page.waitForSelector('body[data-ready]', { timeout: 30000 });
      same(await page.textContent('#model-name'), 'built-in model', 'built-in model offline');
      const info = await page.textContent('#model-info');
      assert(info.includes(`vocab ${BUILTIN_INFO.vocab_size}`), 'model info offline');
      if (builtinHasTokenizer) {
        await setSliders(page, UI);
        const r = await generateInUi(page, 'The jury said');
        same(r.text, ui.text, 'same text offline');
      }
    } finally {
      await context.setOffline(false);
    }
  });

  await check('no errors in the console', async () => {
    const real = problems.filter((p) => !/Failed to load resource/.test(p) || !/offline|ERR_INTERNET_DISCONNECTED/.test(p));
    assert(real.length === 0, real.join('\n'));
  });
} catch (e) {
  failed++;
  console.log(`FAIL setup: ${e?.stack ?? e}`);
} finally {
  await browser?.close();
  server.kill();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
