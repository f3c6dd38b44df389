// Node entry point (package.json `exports` condition "node"): reads the wasm and the
// built-in model from the package's files. Of the two wasm builds it loads the relaxed-SIMD
// one where Node's engine runs it as specified (Node >= 22 on current V8), else the simd128
// one; `TINYGPT_WASM=simd128|relaxed` overrides (see detect.js).
import { readFile } from 'node:fs/promises';
import { chooseBuild } from './detect.js';
import { createTinyGpt, DEFAULTS } from './tinygpt.js';

const file = (name) => readFile(new URL(`../pkg/${name}`, import.meta.url));

export const TinyGpt = createTinyGpt({
  async init() {
    const relaxed = chooseBuild(process.env.TINYGPT_WASM) === 'relaxed';
    const engine = relaxed ? await import('../pkg/tinygpt_wasm_relaxed.js') : await import('../pkg/tinygpt_wasm.js');
    await engine.default({ module_or_path: await file(relaxed ? 'tinygpt_wasm_relaxed_bg.wasm' : 'tinygpt_wasm_bg.wasm') });
    return engine;
  },
  async builtinBytes() {
    return file('tinygpt.tgpt');
  },
});
export { DEFAULTS };
export default TinyGpt;
