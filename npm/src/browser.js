// Browser / bundler entry point (package.json `exports` condition "default"): fetches the
// wasm and, on `TinyGpt.builtin()` only, the built-in model, next to this module.
// Bundlers (webpack 5, Vite, esbuild with a file loader) turn `new URL(..., import.meta.url)`
// into asset URLs. Of the two wasm builds only one is fetched: the relaxed-SIMD one where
// the engine runs it as specified (tested: Chromium 156), else the simd128
// one; `globalThis.TINYGPT_WASM = 'simd128'` (or `'relaxed'`) before the first load
// overrides (see detect.js).
import { chooseBuild } from './detect.js';
import { createTinyGpt, DEFAULTS } from './tinygpt.js';

export const TinyGpt = createTinyGpt({
  async init() {
    const relaxed = chooseBuild(globalThis.TINYGPT_WASM) === 'relaxed';
    const engine = relaxed ? await import('../pkg/tinygpt_wasm_relaxed.js') : await import('../pkg/tinygpt_wasm.js');
    const url = relaxed ? new URL('../pkg/tinygpt_wasm_relaxed_bg.wasm', import.meta.url) : new URL('../pkg/tinygpt_wasm_bg.wasm', import.meta.url);
    await engine.default({ module_or_path: url });
    return engine;
  },
  async builtinBytes() {
    const url = new URL('../pkg/tinygpt.tgpt', import.meta.url);
    const r = await fetch(url);
    if (!r.ok) throw new Error(`could not fetch the built-in model (${url}): HTTP ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  },
});
export { DEFAULTS };
export default TinyGpt;
