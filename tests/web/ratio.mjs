// wasm ÷ native decode speed, measured in alternating pairs within one process: one native
// `tinygpt bench` run (a child process), then one `benchDecode(N)` of the npm package in this
// Node, repeated; the VM's speed drifts between minutes, so only runs close in time are
// compared. Prints one JSON line: the best of each side, their ratio, and the median of the
// per-pair ratios. Never asserts (a benchmark). Run by `scripts/web_bench.sh --rounds`.
// usage: node tests/web/ratio.mjs TINYGPT_BIN MODEL N PAIRS
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const [bin, model, n = '128', pairs = '20'] = process.argv.slice(2);
const N = Number(n);
const { TinyGpt } = await import(join(ROOT, 'npm/src/node.js'));
const g = await TinyGpt.load(readFileSync(model));
const native = () =>
  JSON.parse(execFileSync(bin, ['bench', '-m', model, '-n', String(N), '--prompt-tokens', '16', '--threads', '1'], { encoding: 'utf8' })).decode_tok_s;
g.benchDecode(N); // warm-up (and wasm tier-up)
native();
const rows = [];
for (let i = 0; i < Number(pairs); i++) {
  const a = native();
  const w = g.benchDecode(N).tokensPerSecond;
  rows.push([a, w]);
}
const nb = Math.max(...rows.map((r) => r[0]));
const wb = Math.max(...rows.map((r) => r[1]));
const ratios = rows.map(([a, w]) => w / a).sort((x, y) => x - y);
const median = ratios.length % 2 ? ratios[(ratios.length - 1) / 2] : (ratios[ratios.length / 2 - 1] + ratios[ratios.length / 2]) / 2;
console.log(JSON.stringify({
  runtime: `node ${process.version}`, kernels: await TinyGpt.kernels(), pairs: rows.length, steps: N,
  native_best: Math.round(nb), wasm_best: Math.round(wb), best_ratio: +(wb / nb).toFixed(3),
  pair_ratio_median: +median.toFixed(3), pair_ratio_min: +ratios[0].toFixed(3), pair_ratio_max: +ratios[ratios.length - 1].toFixed(3),
}));
g.free();
