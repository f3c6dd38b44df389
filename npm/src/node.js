// Node entry point (package.json `exports` condition "node"): reads the wasm and the
// built-in model from the package's files.
import { readFile } from 'node:fs/promises';
import init, * as engine from '../pkg/tinygpt_wasm.js';
import { createTinyGpt, DEFAULTS } from './tinygpt.js';

const file = (name) => readFile(new URL(`../pkg/${name}`, import.meta.url));

export const TinyGpt = createTinyGpt({
  async init() {
    await init({ module_or_path: await file('tinygpt_wasm_bg.wasm') });
    return engine;
  },
  async builtinBytes() {
    return file('tinygpt.tgpt');
  },
});
export { DEFAULTS };
export default TinyGpt;
