// Writes a random-weight Llama checkpoint in Hugging Face layout (config.json,
// model.safetensors, and the tokenizer of tests/fixtures/hf/llama_tiny), for
// `tinygpt convert DIR -o model.tgpt`. A model with a tokenizer that is big enough to take
// a noticeable time per token (the demo's Stop test, the web bench). Deterministic.
//   node tests/web/make_model.mjs OUT_DIR [dim hidden layers heads kv_heads seq_len]
// Defaults: the TinyStories-15M shape with the fixture's 512-token vocabulary:
// 288 768 6 6 6 256.
import { mkdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TOK = join(ROOT, 'tests/fixtures/hf/llama_tiny');
const [out, ...dims] = process.argv.slice(2);
if (!out) {
  console.error('usage: make_model.mjs OUT_DIR [dim hidden layers heads kv_heads seq_len]');
  process.exit(2);
}
const [dim, hidden, layers, heads, kvHeads, seqLen] = dims.length ? dims.map(Number) : [288, 768, 6, 6, 6, 256];
const vocab = 512;
const headDim = dim / heads;

// xorshift32: the same weights on every run
let state = 0x2545f491;
function rand() {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 4294967296;
}

const tensors = [];
const add = (name, shape, fill) => {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = fill();
  tensors.push({ name, shape, data });
};
const weight = (fanIn) => () => (rand() * 2 - 1) * (1.7 / Math.sqrt(fanIn));
const one = () => 1;

add('model.embed_tokens.weight', [vocab, dim], () => (rand() * 2 - 1) * 0.5);
for (let l = 0; l < layers; l++) {
  const p = `model.layers.${l}.`;
  add(`${p}input_layernorm.weight`, [dim], one);
  add(`${p}self_attn.q_proj.weight`, [heads * headDim, dim], weight(dim));
  add(`${p}self_attn.k_proj.weight`, [kvHeads * headDim, dim], weight(dim));
  add(`${p}self_attn.v_proj.weight`, [kvHeads * headDim, dim], weight(dim));
  add(`${p}self_attn.o_proj.weight`, [dim, heads * headDim], weight(dim));
  add(`${p}post_attention_layernorm.weight`, [dim], one);
  add(`${p}mlp.gate_proj.weight`, [hidden, dim], weight(dim));
  add(`${p}mlp.up_proj.weight`, [hidden, dim], weight(dim));
  add(`${p}mlp.down_proj.weight`, [dim, hidden], weight(hidden));
}
add('model.norm.weight', [dim], one);
add('lm_head.weight', [vocab, dim], weight(dim));

// safetensors: u64 header length, JSON header, then the raw little-endian data
const header = { __metadata__: { format: 'pt' } };
let at = 0;
for (const t of tensors) {
  header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [at, at + t.data.byteLength] };
  at += t.data.byteLength;
}
let json = JSON.stringify(header);
json += ' '.repeat((8 - (json.length % 8)) % 8);
const buf = Buffer.alloc(8 + json.length + at);
buf.writeBigUInt64LE(BigInt(json.length), 0);
buf.write(json, 8, 'latin1');
let off = 8 + json.length;
for (const t of tensors) {
  Buffer.from(t.data.buffer).copy(buf, off);
  off += t.data.byteLength;
}

mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'model.safetensors'), buf);
writeFileSync(join(out, 'config.json'), JSON.stringify({
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  attention_bias: false,
  bos_token_id: 1,
  eos_token_id: 2,
  head_dim: headDim,
  hidden_act: 'silu',
  hidden_size: dim,
  intermediate_size: hidden,
  max_position_embeddings: seqLen,
  mlp_bias: false,
  num_attention_heads: heads,
  num_hidden_layers: layers,
  num_key_value_heads: kvHeads,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  tie_word_embeddings: false,
  torch_dtype: 'float32',
  vocab_size: vocab,
}, null, 2));
for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(TOK, f), join(out, f));
console.log(`wrote ${out}: dim ${dim}, hidden ${hidden}, ${layers} layers, ${heads} heads, ctx ${seqLen}, vocab ${vocab}`);
