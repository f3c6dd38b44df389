// Node tests of the npm package, run by scripts/web_test.sh from a temporary folder where the
// packed tarball is installed, so `import ... from "tinygpt"` resolves as it does for users.
//
// The reference is the native CLI (TINYGPT_BIN): the same model, prompt, settings and seed
// must give identical tokens, text and stop reason. TINYGPT_MODELS (optional): more .tgpt
// models with tokenizers (paths separated by ':'), compared the same way via `TinyGpt.load`.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { TinyGpt, DEFAULTS } from 'tinygpt';

const BIN = process.env.TINYGPT_BIN;
const MODELS = (process.env.TINYGPT_MODELS || '').split(':').filter(Boolean);
assert.ok(BIN, 'set TINYGPT_BIN to the native tinygpt binary');

function cli(args) {
  const out = execFileSync(BIN, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return JSON.parse(out);
}

/** CLI flags for JS options (the CLI's names and meanings are the reference). */
function cliFlags(o) {
  const f = [];
  const map = {
    maxTokens: '--max-tokens',
    temperature: '--temperature',
    topK: '--top-k',
    topP: '--top-p',
    minP: '--min-p',
    repeatPenalty: '--repeat-penalty',
    seed: '--seed',
  };
  for (const [k, flag] of Object.entries(map)) if (o[k] !== undefined) f.push(flag, String(o[k]));
  for (const s of [].concat(o.stop ?? [])) f.push('--stop', s);
  return f;
}

function cliDecode(ids, margs = []) {
  const out = execFileSync(BIN, ['decode', ...margs, '--tokens', ids.join(',')], { encoding: 'utf8' });
  return out.endsWith('\n') ? out.slice(0, -1) : out;
}

function cliGenerate(prompt, o, model) {
  const m = model ? ['-m', model] : [];
  const r = cli(['generate', ...m, '-p', prompt, '--json', ...cliFlags(o)]);
  return { text: r.text, tokens: r.tokens, stopReason: r.stop_reason };
}

// Settings chosen to exercise every sampler stage and stop reason.
const CASES = [
  ['defaults', 'The jury said', { seed: 42 }],
  ['greedy', 'The jury said', { temperature: 0, maxTokens: 40 }],
  ['top-k, hot', 'It was', { temperature: 1.3, topK: 5, seed: 7, maxTokens: 60 }],
  ['top-p + min-p + penalty', 'The city', { temperature: 0.9, topP: 0.5, minP: 0.05, repeatPenalty: 1.3, seed: 123, maxTokens: 60 }],
  ['no filters', 'In the', { temperature: 1, topP: 1, seed: 5, maxTokens: 50 }],
  ['stop string', 'The jury said', { seed: 42, maxTokens: 100, stop: ['.', '\n'] }],
  ['stop strings, multi-char', 'The jury said', { seed: 8, maxTokens: 100, temperature: 1, stop: ['the', ' of', 'and'] }],
  ['stop string, one frequent letter', 'It was', { seed: 2, maxTokens: 100, stop: 'e' }],
  ['stop string never seen', 'It was', { seed: 2, maxTokens: 30, stop: 'zzzzzz' }],
  ['stop strings, unicode', 'Café', { seed: 6, maxTokens: 60, temperature: 1.5, topP: 1, stop: ['é', '\uFFFD', '🙂'] }],
  ['empty prompt', '', { seed: 3, maxTokens: 20 }],
  ['unicode prompt', 'Café “naïve” — 東京 🙂', { seed: 9, maxTokens: 30 }],
  ['big seed', 'The', { seed: 2 ** 53 - 1, maxTokens: 20 }],
];

// The models under test: the built-in one, then TINYGPT_MODELS. Generation needs a
// tokenizer; the streaming and error tests use the first model that has one (the built-in
// model when it has one), `g`.
const BUILTIN = await TinyGpt.builtin();
const LOADED = [];
for (const path of MODELS) LOADED.push({ name: path.split('/').pop(), path, m: await TinyGpt.load(readFileSync(path)) });
const ALL = [{ name: 'built-in model', path: null, m: BUILTIN }, ...LOADED];
const hasTokenizer = (x) => x.m.info().tokenizer_bytes > 0;
const TEXT = ALL.filter(hasTokenizer);
const MAIN = TEXT[0];
assert.ok(MAIN, 'no model with a tokenizer: give converted fixtures in TINYGPT_MODELS');
const g = MAIN.m;
const mainCli = (prompt, o) => cliGenerate(prompt, o, MAIN.path);
console.log(`# generation tests on: ${TEXT.map((x) => x.name).join(', ')}; streaming/error tests on ${MAIN.name}`);

test('the defaults are the CLI defaults', () => {
  assert.deepEqual({ ...DEFAULTS, stop: [...DEFAULTS.stop] }, {
    maxTokens: 128, temperature: 0.8, topK: 0, topP: 0.9, minP: 0, repeatPenalty: 1, seed: 42, stop: [],
  });
});

for (const x of ALL) {
  test(`info() is the object \`tinygpt info\` prints: ${x.name}`, () => {
    assert.deepEqual(x.m.info(), cli(['info', ...(x.path ? ['-m', x.path] : [])]));
  });
}

if (!hasTokenizer(ALL[0])) {
  test('built-in model: generation needs a tokenizer', { skip: 'the built-in model file has no tokenizer (a stand-in)' }, () => {});
  test('a model without a tokenizer: generate/encode throw a clear Error, benchDecode works', async () => {
    await assert.rejects(BUILTIN.generate('The jury said'), /no tokenizer/);
    assert.throws(() => BUILTIN.encode('x'), /no tokenizer/);
    assert.ok(BUILTIN.benchDecode(8).tokensPerSecond > 0);
  });
}

for (const x of TEXT) {
  for (const [name, prompt, o] of CASES) {
    test(`generate matches the CLI: ${x.name}: ${name}`, async () => {
      const want = cliGenerate(prompt, o, x.path);
      const got = await x.m.generate(prompt, o);
      assert.deepEqual(got, want);
      assert.ok(got.tokens.length > 0 || got.stopReason === 'eos', 'generated something');
    });
  }
  test(`context_full matches the CLI: ${x.name}`, async () => {
    const o = { seed: 11, maxTokens: 100000, temperature: 1, topP: 1 };
    const got = await x.m.generate('Once', o);
    assert.deepEqual(got, cliGenerate('Once', o, x.path));
    if (got.stopReason !== 'eos') assert.equal(got.stopReason, 'context_full');
  });
  test(`encode/decode match the CLI and round-trip: ${x.name}`, () => {
    const m = x.m;
    const margs = x.path ? ['-m', x.path] : [];
    for (const text of ['The jury said', 'Hello, world!\nNew line', 'Café 東京 🙂', '']) {
      const ids = m.encode(text);
      assert.ok(Array.isArray(ids) && ids.every(Number.isInteger));
      assert.deepEqual(ids, cli(['encode', ...margs, '--text', text]).tokens, `encode ${JSON.stringify(text)}`);
      assert.equal(m.decode(ids), text, `round trip ${JSON.stringify(text)}`);
      if (ids.length) assert.equal(m.decode(ids), cliDecode(ids, margs), `decode ${JSON.stringify(text)} as the CLI does`);
    }
    assert.equal(m.decode(new Uint32Array(m.encode('typed arrays work'))), 'typed arrays work');
  });
}

test('the stop-string case really stopped on a stop string', async () => {
  const r = await g.generate('The jury said', { seed: 42, maxTokens: 100, stop: ['.', '\n'] });
  const free = await g.generate('The jury said', { seed: 42, maxTokens: 100 });
  if (r.stopReason === 'stop') {
    assert.ok(free.text.startsWith(r.text), 'stopped text is a prefix of the free text');
    assert.ok(!r.text.includes('.') && !r.text.includes('\n'));
  } else {
    assert.ok(!free.text.includes('.') && !free.text.includes('\n'), `no stop string in ${JSON.stringify(free.text)}`);
  }
});

test('streaming: onToken pieces, stream() pieces and the text agree, in order', async () => {
  const o = { seed: 42, maxTokens: 64 };
  const pieces = [];
  const events = [];
  const r = await g.generate('The jury said', o, (piece, ev) => {
    pieces.push(piece);
    events.push(ev);
  });
  assert.ok(pieces.length > 1, 'more than one piece');
  assert.ok(pieces.every((p) => typeof p === 'string' && p.length > 0));
  assert.equal(pieces.join(''), r.text);
  let last = -1;
  for (const ev of events) {
    assert.ok(ev.index >= last, 'token indexes never go back');
    if (ev.id !== undefined) assert.equal(ev.id, r.tokens[ev.index]);
    last = ev.index;
  }
  const streamed = [];
  const it = g.stream('The jury said', o);
  let s;
  while (!(s = await it.next()).done) streamed.push(s.value);
  assert.deepEqual(streamed, pieces);
  assert.deepEqual(s.value, r);
  const viaForAwait = [];
  for await (const p of g.stream('The jury said', o)) viaForAwait.push(p);
  assert.deepEqual(viaForAwait, pieces);
});

test('streaming is incremental: pieces arrive before generation ends', async () => {
  const seen = [];
  let done = false;
  const p = g.generate('The jury said', { seed: 1, maxTokens: 200, temperature: 1, topP: 1 }, (piece) => seen.push([piece, done]));
  await p.then(() => (done = true));
  assert.ok(seen.length > 0 && seen.every(([, d]) => d === false));
});

test('breaking out of stream() frees the instance', async () => {
  let n = 0;
  for await (const _ of g.stream('The jury said', { seed: 42, maxTokens: 100 })) if (++n === 2) break;
  assert.equal(n, 2);
  const r = await g.generate('The jury said', { temperature: 0, maxTokens: 5 });
  assert.deepEqual(r, mainCli('The jury said', { temperature: 0, maxTokens: 5 }));
});

test('AbortSignal stops between tokens with stopReason "cancelled"', async () => {
  const o = { seed: 4, maxTokens: 200, temperature: 1, topP: 1 };
  const full = await g.generate('The jury said', o);
  const ac = new AbortController();
  let n = 0;
  const r = await g.generate('The jury said', { ...o, signal: ac.signal }, () => {
    if (++n === 3) ac.abort();
  });
  assert.equal(r.stopReason, 'cancelled');
  assert.ok(r.tokens.length < full.tokens.length);
  assert.deepEqual(r.tokens, full.tokens.slice(0, r.tokens.length));
  assert.ok(full.text.startsWith(r.text));
});

test('nextTokenDistribution: probabilities, filters and greedy', () => {
  const vocab = g.info().vocab_size;
  const plain = g.nextTokenDistribution('The jury said', { temperature: 1, topP: 1, top: 50 });
  assert.equal(plain.length, Math.min(50, vocab));
  for (let i = 1; i < plain.length; i++) assert.ok(plain[i - 1].prob >= plain[i].prob, 'sorted by prob');
  for (const c of plain) {
    assert.ok(Number.isInteger(c.id) && c.id >= 0 && c.id < vocab);
    assert.equal(typeof c.text, 'string');
    assert.ok(Math.abs(c.prob - c.keptProb) < 1e-6, 'no filter, temperature 1: kept = prob');
  }
  const k3 = g.nextTokenDistribution('The jury said', { temperature: 1, topK: 3, topP: 1 });
  assert.equal(k3.filter((c) => c.keptProb > 0).length, 3);
  assert.ok(Math.abs(k3.slice(0, 3).reduce((s, c) => s + c.keptProb, 0) - 1) < 1e-5, 'top-3 renormalised');
  const greedy = g.nextTokenDistribution('The jury said', { temperature: 0 });
  assert.equal(greedy[0].keptProb, 1);
  assert.ok(greedy.slice(1).every((c) => c.keptProb === 0));
  // the same prompt as ids gives the same answer
  assert.deepEqual(g.nextTokenDistribution(g.encode('The jury said'), { temperature: 0 }), greedy);
  const p = g.nextTokenDistribution('The jury said', { topP: 0.3, temperature: 0.7 });
  const keptMass = p.filter((c) => c.keptProb > 0).reduce((s, c) => s + c.prob, 0);
  assert.ok(p[0].keptProb > 0 && keptMass > 0);
});

test('greedy generation picks the top candidate', async () => {
  const top = g.nextTokenDistribution('The jury said', { temperature: 0 })[0].id;
  const r = await g.generate('The jury said', { temperature: 0, maxTokens: 1 });
  assert.equal(r.tokens[0], top);
});

test('candidates option: the distribution each token was drawn from', async () => {
  const events = [];
  const r = await g.generate('The jury said', { seed: 42, maxTokens: 20, candidates: 5 }, (p, ev) => events.push(ev));
  assert.deepEqual(r, await g.generate('The jury said', { seed: 42, maxTokens: 20 }), 'same tokens with candidates on');
  const withId = events.filter((e) => e.id !== undefined);
  assert.ok(withId.length > 0);
  for (const e of withId) {
    assert.ok(e.candidates.length <= 5);
    const picked = e.candidates.find((c) => c.id === e.id);
    if (picked) assert.ok(picked.keptProb > 0, 'the drawn token was kept');
  }
});

test('kernels(): the wasm build this engine should run, and TINYGPT_WASM overrides it', async () => {
  const k = await TinyGpt.kernels();
  // Node 20's V8 has relaxed SIMD only behind a flag (and computes it differently there);
  // Node >= 22 runs it by default
  const major = Number(process.versions.node.split('.')[0]);
  assert.equal(k, major >= 22 ? 'simd128-relaxed' : 'simd128', `Node ${process.version}`);
  // a child process forced to the plain simd128 build gives the same tokens
  const script = `import { TinyGpt } from 'tinygpt';
    const g = await TinyGpt.builtin();
    const r = await g.generate('The jury said', { seed: 3, maxTokens: 30 });
    console.log(JSON.stringify({ k: await TinyGpt.kernels(), tokens: r.tokens }));`;
  const run = (env) => JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } }));
  const forced = run({ TINYGPT_WASM: 'simd128' });
  assert.equal(forced.k, 'simd128');
  const auto = run({ TINYGPT_WASM: '' });
  assert.equal(auto.k, k);
  assert.deepEqual(auto.tokens, forced.tokens, 'both builds give the same tokens');
  const bad = (() => { try { run({ TINYGPT_WASM: 'avx' }); return null; } catch (e) { return String(e.stderr); } })();
  assert.match(bad ?? '', /TINYGPT_WASM must be "simd128" or "relaxed"/);
});

test('benchDecode', () => {
  const b = g.benchDecode(16);
  assert.equal(b.tokens, 16);
  assert.ok(b.seconds > 0 && b.tokensPerSecond > 0);
});

test('load(bytes) of the built-in file behaves like builtin()', async () => {
  const bytes = readFileSync(new URL(import.meta.resolve('tinygpt/model.tgpt')));
  // an unaligned view and an ArrayBuffer work too
  const shifted = new Uint8Array(bytes.length + 1);
  shifted.set(bytes, 1);
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
  const same = async (h) => {
    assert.deepEqual(h.info(), BUILTIN.info());
    const ids = [1, 2, 3, 4, 5];
    assert.deepEqual(h.nextTokenDistribution(ids, { temperature: 1 }), BUILTIN.nextTokenDistribution(ids, { temperature: 1 }));
    if (hasTokenizer(ALL[0])) {
      const o = { seed: 42, maxTokens: 30 };
      assert.deepEqual(await h.generate('The jury said', o), await BUILTIN.generate('The jury said', o));
    }
  };
  for (const b of [bytes, shifted.subarray(1), ab]) {
    const h = await TinyGpt.load(b);
    await same(h);
    h.free();
    assert.throws(() => h.info(), /freed/);
  }
});

test('the defaults match a generation with explicit CLI defaults', async () => {
  const a = await g.generate('The jury said');
  assert.deepEqual(a, await g.generate('The jury said', { ...DEFAULTS }));
  assert.deepEqual(a, mainCli('The jury said', {}));
});

// ---- errors: each throws an Error with a clear message, and the instance keeps working ----

const GOOD = { temperature: 0, maxTokens: 4 };
let baseline;
async function stillWorks() {
  baseline ??= await g.generate('The jury said', GOOD);
  assert.deepEqual(await g.generate('The jury said', GOOD), baseline);
}

const BAD_CALLS = [
  ['prompt not a string', () => g.generate(42), /prompt.*string/],
  ['options not an object', () => g.generate('x', 'hot'), /options.*object/],
  ['unknown option', () => g.generate('x', { temprature: 1 }), /unknown option.*temprature/],
  ['temperature a string', () => g.generate('x', { temperature: 'hot' }), /temperature.*number/],
  ['temperature negative', () => g.generate('x', { temperature: -1 }), /invalid temperature/],
  ['temperature NaN', () => g.generate('x', { temperature: NaN }), /temperature/],
  ['temperature Infinity', () => g.generate('x', { temperature: Infinity }), /invalid temperature/],
  ['topP 0', () => g.generate('x', { topP: 0 }), /invalid topP/],
  ['topP NaN', () => g.generate('x', { topP: NaN }), /invalid topP/],
  ['minP negative', () => g.generate('x', { minP: -0.1 }), /invalid minP/],
  ['repeatPenalty NaN', () => g.generate('x', { repeatPenalty: NaN }), /invalid repeatPenalty/],
  ['repeatPenalty Infinity', () => g.generate('x', { repeatPenalty: Infinity }), /invalid repeatPenalty/],
  ['candidates negative', () => g.generate('x', { candidates: -1 }), /invalid candidates/],
  ['candidates fractional', () => g.generate('x', { candidates: 2.5 }), /invalid candidates/],
  ['topP > 1', () => g.generate('x', { topP: 1.5 }), /invalid topP/],
  ['minP 1', () => g.generate('x', { minP: 1 }), /invalid minP/],
  ['repeatPenalty 0', () => g.generate('x', { repeatPenalty: 0 }), /invalid repeatPenalty/],
  ['topK negative', () => g.generate('x', { topK: -1 }), /invalid topK/],
  ['topK fractional', () => g.generate('x', { topK: 1.5 }), /invalid topK/],
  ['maxTokens negative', () => g.generate('x', { maxTokens: -1 }), /invalid maxTokens/],
  ['maxTokens a string', () => g.generate('x', { maxTokens: '10' }), /invalid maxTokens/],
  ['seed negative', () => g.generate('x', { seed: -1 }), /invalid seed/],
  ['seed fractional', () => g.generate('x', { seed: 0.5 }), /invalid seed/],
  ['seed BigInt too big', () => g.generate('x', { seed: 1n << 64n }), /invalid seed/],
  ['stop not a string', () => g.generate('x', { stop: 5 }), /invalid stop/],
  ['stop array with a non-string', () => g.generate('x', { stop: ['a', 7] }), /invalid stop/],
  ['stop empty', () => g.generate('x', { stop: '' }), /invalid stop/],
  ['too many stops', () => g.generate('x', { stop: 'abcdefghij'.split('') }), /invalid stop/],
  ['stop too long', () => g.generate('x', { stop: 'x'.repeat(65) }), /invalid stop/],
  ['signal not a signal', () => g.generate('x', { signal: 1 }), /invalid signal/],
  ['onToken not a function', () => g.generate('x', {}, 'f'), /onToken.*function/],
  ['prompt longer than the context', () => g.generate('the jury said '.repeat(2000)), /prompt too long/],
  ['stream: bad option', () => g.stream('x', { topP: 'a' }), /invalid topP/],
  ['stream: prompt too long (on iteration)', async () => {
    for await (const _ of g.stream('the jury said '.repeat(2000))) { /* nothing */ }
  }, /prompt too long/],
  ['encode: not a string', () => g.encode(5), /encode.*string/],
  ['decode: id out of range', () => g.decode([0, g.info().vocab_size]), /out of range/],
  ['decode: negative id', () => g.decode([-1]), /token id/],
  ['decode: not an array', () => g.decode('abc'), /array/],
  ['decode: fractional id', () => g.decode([1.5]), /token id/],
  ['decode: NaN id', () => g.decode([NaN]), /token id/],
  ['decode: id 2^32', () => g.decode([2 ** 32]), /token id/],
  ['decode: null', () => g.decode(null), /array/],
  ['distribution: empty ids', () => g.nextTokenDistribution([]), /empty/],
  ['distribution: id out of range', () => g.nextTokenDistribution([g.info().vocab_size + 5]), /out of range/],
  ['distribution: bad topP', () => g.nextTokenDistribution('x', { topP: 2 }), /invalid topP/],
  ['distribution: unknown option', () => g.nextTokenDistribution('x', { maxTokens: 3 }), /unknown option/],
  ['distribution: not text or ids', () => g.nextTokenDistribution({}), /token ids/],
  ['distribution: bad top', () => g.nextTokenDistribution('x', { top: -1 }), /invalid top/],
  ['distribution: prompt longer than the context', () => g.nextTokenDistribution('the jury said '.repeat(2000)), /prompt too long/],
  ['distribution: more ids than the context', () => g.nextTokenDistribution(new Array(g.info().seq_len + 1).fill(1)), /context/],
  ['benchDecode: too many steps', () => g.benchDecode(1e6), /benchDecode/],
  ['benchDecode: zero steps', () => g.benchDecode(0), /benchDecode/],
  ['benchDecode: negative', () => g.benchDecode(-3), /invalid n/],
  ['benchDecode: not a number', () => g.benchDecode('many'), /invalid n/],
  ['onToken throws', () => g.generate('The jury said', { maxTokens: 10 }, () => { throw new Error('boom'); }), /boom/],
  ['busy: generate during stream', async () => {
    const it = g.stream('The jury said', { maxTokens: 50 });
    await it.next();
    try {
      await g.generate('x');
    } finally {
      await it.return();
    }
  }, /busy/],
  ['busy: distribution during generate', async () => {
    await g.generate('The jury said', { maxTokens: 5 }, () => g.nextTokenDistribution('x'));
  }, /busy/],
];

for (const [name, call, re] of BAD_CALLS) {
  test(`error: ${name}`, async () => {
    await stillWorks();
    let err;
    try {
      await call();
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof Error, `throws an Error (got ${err})`);
    assert.match(err.message, re);
    await stillWorks();
  });
}

const BAD_FILES = [
  ['not bytes', () => 'model.tgpt', /Uint8Array/],
  ['null', () => null, /Uint8Array/],
  ['empty', () => new Uint8Array(0), /truncated/],
  ['a PNG', () => Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Array(200).fill(0)]), /bad magic/],
  ['a safetensors file (ArrayBuffer)', () => {
    const header = new TextEncoder().encode('{"wte.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}');
    const b = new Uint8Array(8 + header.length + 16);
    new DataView(b.buffer).setBigUint64(0, BigInt(header.length), true);
    b.set(header, 8);
    return b.buffer;
  }, /bad magic/],
  ['bad magic', () => new TextEncoder().encode('definitely not a model file, just text'.repeat(10)), /bad magic/],
  ['truncated', (b) => b.subarray(0, Math.floor(b.length / 2)), /truncated/],
  ['corrupted', (b) => { const c = new Uint8Array(b); c[c.length - 100] ^= 0xff; return c; }, /checksum|corrupt/],
];

for (const [name, make, re] of BAD_FILES) {
  test(`load error: ${name}`, async () => {
    const bytes = new Uint8Array(readFileSync(new URL(import.meta.resolve('tinygpt/model.tgpt'))));
    await assert.rejects(TinyGpt.load(make(bytes)), (e) => e instanceof Error && re.test(e.message));
    await stillWorks();
  });
}
