// The TinyGpt class: the package's public API, the same in Node and in browsers.
//
// Owns: argument checking (types, with the JS option names), defaults, async iteration,
// yielding to the event loop between tokens, and the one-generation-at-a-time rule.
// Everything that decides tokens is the wasm engine's (pkg/, built from wasm/src/lib.rs),
// which runs tinygpt's core. `node.js` and `browser.js` only say where the wasm and the
// built-in model come from.

/** Generation defaults: those of `tinygpt generate` (the CLI). */
export const DEFAULTS = Object.freeze({
  maxTokens: 128,
  temperature: 0.8,
  topK: 0,
  topP: 0.9,
  minP: 0,
  repeatPenalty: 1,
  seed: 42,
  stop: Object.freeze([]),
});

const SAMPLER_KEYS = ['temperature', 'topK', 'topP', 'minP', 'repeatPenalty'];
const GENERATE_KEYS = new Set(['maxTokens', ...SAMPLER_KEYS, 'seed', 'stop', 'signal', 'candidates']);
const DISTRIBUTION_KEYS = new Set([...SAMPLER_KEYS, 'top']);
const U32_MAX = 0xffffffff;
const U64_MAX = (1n << 64n) - 1n;

// Work this long between yields to the event loop (so a page, a worker's messages and
// AbortSignals are served while generating).
const SLICE_MS = 8;

const now = typeof performance !== 'undefined' ? () => performance.now() : () => Date.now();

/** Resolves on the next macrotask (not clamped like nested `setTimeout(0)`). */
const nextTask = (() => {
  if (typeof setImmediate === 'function') return () => new Promise((r) => setImmediate(r));
  if (typeof MessageChannel === 'function') {
    const ch = new MessageChannel();
    const queue = [];
    ch.port1.onmessage = () => queue.shift()?.();
    return () => new Promise((r) => { queue.push(r); ch.port2.postMessage(0); });
  }
  return () => new Promise((r) => setTimeout(r, 0));
})();

function fail(msg) {
  throw new Error(msg);
}

function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(String(v)).slice(0, 40)}`;
}

function num(name, v) {
  if (typeof v !== 'number' || Number.isNaN(v)) fail(`invalid ${name}: expected a number, got ${describe(v)}`);
  return v;
}

function uint(name, v) {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    fail(`invalid ${name}: expected an integer >= 0, got ${describe(v)}`);
  }
  return Math.min(v, U32_MAX);
}

function seedOf(v) {
  if (typeof v === 'bigint') {
    if (v < 0n || v > U64_MAX) fail(`invalid seed: must be between 0 and 2^64-1, got ${v}`);
    return v;
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    fail(`invalid seed: expected an integer between 0 and 2^53-1 (or a BigInt up to 2^64-1), got ${describe(v)}`);
  }
  return BigInt(v);
}

function stopsOf(v) {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.some((s) => typeof s !== 'string')) {
    fail(`invalid stop: expected a string or an array of strings, got ${describe(v)}`);
  }
  return list;
}

function optionsObject(options, allowed, what) {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    fail(`invalid options for ${what}: expected an object, got ${describe(options)}`);
  }
  for (const k of Object.keys(options)) {
    if (!allowed.has(k)) fail(`unknown option for ${what}: ${JSON.stringify(k)} (allowed: ${[...allowed].join(', ')})`);
  }
  return options;
}

function samplerArgs(o) {
  const v = (k) => (o[k] === undefined ? DEFAULTS[k] : o[k]);
  return [
    num('temperature', v('temperature')),
    uint('topK', v('topK')),
    num('topP', v('topP')),
    num('minP', v('minP')),
    num('repeatPenalty', v('repeatPenalty')),
  ];
}

function generateArgs(options, what) {
  const o = optionsObject(options, GENERATE_KEYS, what);
  const signal = o.signal;
  if (signal !== undefined && (signal === null || typeof signal.aborted !== 'boolean')) {
    fail(`invalid signal: expected an AbortSignal, got ${describe(signal)}`);
  }
  const candidates = o.candidates === undefined ? 0 : uint('candidates', o.candidates);
  return {
    maxTokens: uint('maxTokens', o.maxTokens === undefined ? DEFAULTS.maxTokens : o.maxTokens),
    sampler: samplerArgs(o),
    seed: seedOf(o.seed === undefined ? DEFAULTS.seed : o.seed),
    stop: stopsOf(o.stop === undefined ? DEFAULTS.stop : o.stop),
    signal,
    candidates,
  };
}

function promptOf(p, what) {
  if (typeof p !== 'string') fail(`invalid prompt for ${what}: expected a string, got ${describe(p)}`);
  return p;
}

function idsOf(ids, what) {
  if (ids instanceof Uint32Array) return ids;
  const ok = Array.isArray(ids) || ArrayBuffer.isView(ids);
  if (!ok) fail(`invalid token ids for ${what}: expected an array of integers, got ${describe(ids)}`);
  const out = new Uint32Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > U32_MAX) {
      fail(`invalid token id at index ${i} for ${what}: expected an integer >= 0, got ${describe(id)}`);
    }
    out[i] = id;
  }
  return out;
}

function bytesOf(bytes) {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  fail(`TinyGpt.load: expected the model file's bytes as a Uint8Array, got ${describe(bytes)}`);
}

/** Turns whatever the engine threw into an `Error` with a message. */
function rethrow(e) {
  if (e instanceof Error) throw e;
  throw new Error(String(e?.message ?? e));
}

const CONSTRUCT = Symbol('construct');

/**
 * Makes the TinyGpt class for one environment.
 * @param {{ init(): Promise<any>, builtinBytes(): Promise<Uint8Array> }} env
 */
export function createTinyGpt(env) {
  let engineModule = null;
  const wasm = () => (engineModule ??= env.init().catch((e) => { engineModule = null; throw e; }));

  class TinyGpt {
    #e;
    #busy = null;

    constructor(key, engine) {
      if (key !== CONSTRUCT) fail('use `await TinyGpt.load(bytes)` or `await TinyGpt.builtin()`');
      this.#e = engine;
    }

    /** The model built into the package (the one `tinygpt` runs without `-m`). */
    static async builtin() {
      const [mod, bytes] = await Promise.all([wasm(), env.builtinBytes()]);
      return TinyGpt.#make(mod, bytes);
    }

    /**
     * The int8 kernel set of the wasm build this engine loaded: `"simd128-relaxed"` (relaxed
     * SIMD's 8-bit dot product) or `"simd128"`. Same results either way; the first is faster.
     */
    static async kernels() {
      return (await wasm()).kernels();
    }

    /** Loads a `.tgpt` model from its bytes; throws an Error naming what is wrong. */
    static async load(bytes) {
      const b = bytesOf(bytes);
      return TinyGpt.#make(await wasm(), b);
    }

    static #make(mod, bytes) {
      let engine;
      try {
        engine = new mod.Engine(bytes);
      } catch (e) {
        rethrow(e);
      }
      return new TinyGpt(CONSTRUCT, engine);
    }

    #engine() {
      if (!this.#e) fail('this TinyGpt has been freed');
      return this.#e;
    }

    #claim(what) {
      const e = this.#engine();
      if (this.#busy) fail(`${what}: this TinyGpt is busy with ${this.#busy} (await it, or break out of its loop, first)`);
      this.#busy = what;
      return e;
    }

    #release() {
      this.#busy = null;
      this.#e?.end();
    }

    /** Generates text; calls `onToken(piece)` with each piece of text as it is produced. */
    async generate(prompt, options, onToken) {
      promptOf(prompt, 'generate');
      const o = generateArgs(options, 'generate');
      if (onToken !== undefined && typeof onToken !== 'function') {
        fail(`invalid onToken for generate: expected a function, got ${describe(onToken)}`);
      }
      const it = this.#run(prompt, o, 'generate');
      let r;
      try {
        while (!(r = await it.next()).done) {
          if (onToken) onToken(r.value.text, r.value);
        }
      } finally {
        if (!r?.done) await it.return(); // onToken threw: end the generation, then rethrow
      }
      return r.value;
    }

    /** Async iterator of the generated text pieces (`for await (const piece of g.stream(p))`). */
    stream(prompt, options) {
      promptOf(prompt, 'stream');
      const o = generateArgs(options, 'stream');
      const it = this.#run(prompt, o, 'stream');
      return (async function* pieces() {
        let r;
        try {
          while (!(r = await it.next()).done) yield r.value.text;
        } finally {
          if (!r?.done) await it.return(); // the consumer broke out of its loop
        }
        return r.value;
      })();
    }

    /** One generation; yields `{ text, id, index, candidates? }` per non-empty text piece. */
    async *#run(prompt, o, what) {
      const e = this.#claim(what);
      const tokens = [];
      let text = '';
      try {
        try {
          e.start(prompt, o.maxTokens, ...o.sampler, o.seed, o.stop);
        } catch (err) {
          rethrow(err);
        }
        let slice = now();
        for (;;) {
          if (o.signal?.aborted) e.cancel();
          let id;
          try {
            id = e.step(o.candidates);
          } catch (err) {
            rethrow(err);
          }
          const piece = e.takeText();
          if (id !== undefined) tokens.push(id);
          if (piece) {
            text += piece;
            const ev = { text: piece, id, index: tokens.length - 1 };
            if (o.candidates > 0 && id !== undefined) ev.candidates = this.#candidates(e.lastDistribution());
            yield ev;
          }
          if (id === undefined) break;
          if (now() - slice > SLICE_MS) {
            await nextTask();
            slice = now();
          }
        }
        return { text, tokens, stopReason: e.stopReason() };
      } finally {
        this.#release();
      }
    }

    #candidates(triples) {
      const out = [];
      for (let i = 0; i + 2 < triples.length; i += 3) {
        const id = triples[i];
        out.push({ id, text: this.#e.tokenText(id), prob: triples[i + 1], keptProb: triples[i + 2] });
      }
      return out;
    }

    /** Text -> token ids (BOS first when the model's tokenizer adds one). */
    encode(text) {
      if (typeof text !== 'string') fail(`invalid text for encode: expected a string, got ${describe(text)}`);
      try {
        return Array.from(this.#engine().encode(text));
      } catch (e) {
        rethrow(e);
      }
    }

    /** Token ids -> text (special tokens skipped). */
    decode(ids) {
      const v = idsOf(ids, 'decode');
      try {
        return this.#engine().decode(v);
      } catch (e) {
        rethrow(e);
      }
    }

    /** The model description, the same object as `tinygpt info` prints. */
    info() {
      return this.#engine().info();
    }

    /**
     * The next token's most likely candidates after `promptOrIds`: `[{ id, text, prob, keptProb }]`,
     * `prob` from the model (temperature 1, no filter), `keptProb` what sampling with these
     * options draws from (0 = filtered out). `options.top` candidates (default 20).
     */
    nextTokenDistribution(promptOrIds, options) {
      const o = optionsObject(options, DISTRIBUTION_KEYS, 'nextTokenDistribution');
      const top = o.top === undefined ? 20 : uint('top', o.top);
      const s = samplerArgs(o);
      const text = typeof promptOrIds === 'string';
      const ids = text ? null : idsOf(promptOrIds, 'nextTokenDistribution');
      if (ids && ids.length === 0) fail('invalid token ids for nextTokenDistribution: the array is empty');
      const e = this.#claim('nextTokenDistribution');
      try {
        return this.#candidates(text ? e.distribution(promptOrIds, ...s, top) : e.distributionIds(ids, ...s, top));
      } catch (err) {
        rethrow(err);
      } finally {
        this.#release();
      }
    }

    /**
     * Decode speed: `n` single-token steps from position 0 with fixed token ids (the pattern
     * of `tinygpt bench`; works without a tokenizer). Returns `{ tokens, seconds, tokensPerSecond }`.
     */
    benchDecode(n = 128) {
      uint('n', n);
      const e = this.#claim('benchDecode');
      try {
        e.benchPrepare(n);
        const t0 = now();
        e.benchSteps(n);
        const seconds = (now() - t0) / 1000;
        return { tokens: n, seconds, tokensPerSecond: n / seconds };
      } catch (err) {
        rethrow(err);
      } finally {
        this.#release();
      }
    }

    /** Frees the model's memory now (otherwise the garbage collector does it). */
    free() {
      if (this.#busy) fail(`free: this TinyGpt is busy with ${this.#busy}`);
      this.#e?.free();
      this.#e = null;
    }

  }

  if (typeof Symbol.dispose === 'symbol') {
    TinyGpt.prototype[Symbol.dispose] = function dispose() {
      this.free();
    };
  }
  return TinyGpt;
}
