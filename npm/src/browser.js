// Browser / bundler entry point (package.json `exports` condition "default"): fetches the
// wasm and, on `TinyGpt.builtin()` only, the built-in model, next to this module.
// Bundlers (webpack 5, Vite, esbuild with a file loader) turn `new URL(..., import.meta.url)`
// into asset URLs.
import init, * as engine from '../pkg/tinygpt_wasm.js';
import { createTinyGpt, DEFAULTS } from './tinygpt.js';

export const TinyGpt = createTinyGpt({
  async init() {
    await init({ module_or_path: new URL('../pkg/tinygpt_wasm_bg.wasm', import.meta.url) });
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
