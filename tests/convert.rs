//! Importer tests: small synthetic checkpoints written here (Hugging Face safetensors in the
//! GPT-2 and Llama layouts, llama2.c `.bin` v0/v1/v2) from known weights in HF orientation;
//! the importer must give those weights back exactly (or, for int8 files, exactly `q * scale`),
//! reject bad files with the right error, never panic, and produce models `write_model` takes.
#![cfg(feature = "std")]

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use safetensors::tensor::TensorView;
use safetensors::Dtype;
use tinygpt::convert::{
    import, import_hf_dir, import_llama2c, parse_llama2c, ConvertError, ConvertOptions, Imported, TokenizerSource,
};
use tinygpt::format::writer::{write_model, LayerWeights, Weights};
use tinygpt::{Activation, Arch, DType, Norm, Position};

// ---- helpers: randomness, temp dirs -------------------------------------------------------

/// xorshift64*: deterministic test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [-1, 1).
    fn f(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.f()).collect()
    }
}

/// A fresh directory under cargo's per-test tmp dir, removed on drop.
struct TmpDir(PathBuf);

impl TmpDir {
    fn new(name: &str) -> TmpDir {
        let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("convert-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TmpDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Rounds every value through `dtype` so the expected f32 values are what the file holds.
fn round_through(v: &mut [f32], dtype: Dtype) {
    for x in v {
        *x = match dtype {
            Dtype::F16 => half::f16::from_f32(*x).to_f32(),
            Dtype::BF16 => half::bf16::from_f32(*x).to_f32(),
            _ => *x,
        }
    }
}

fn round_weights(w: &mut Weights, dtype: Dtype) {
    let mut all: Vec<&mut Vec<f32>> = vec![&mut w.tok_emb, &mut w.final_norm_w];
    all.extend(w.pos_emb.as_mut());
    all.extend(w.final_norm_b.as_mut());
    all.extend(w.lm_head.as_mut());
    for l in &mut w.layers {
        all.extend([
            &mut l.attn_norm_w,
            &mut l.wq,
            &mut l.wk,
            &mut l.wv,
            &mut l.wo,
            &mut l.ffn_norm_w,
            &mut l.w1,
            &mut l.w2,
        ]);
        for o in [
            &mut l.attn_norm_b,
            &mut l.bq,
            &mut l.bk,
            &mut l.bv,
            &mut l.bo,
            &mut l.ffn_norm_b,
            &mut l.b1,
            &mut l.w3,
            &mut l.b3,
            &mut l.b2,
        ] {
            all.extend(o.as_mut());
        }
    }
    for v in all {
        round_through(v, dtype);
    }
}

/// `(rows, cols)` -> `(cols, rows)`, written independently of the importer's.
fn t(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..cols).flat_map(|c| (0..rows).map(move |r| v[r * cols + c])).collect()
}

// ---- helpers: safetensors writing ---------------------------------------------------------

/// One tensor to write: name, dtype, shape, values (encoded to `dtype` on write).
type T = (String, Dtype, Vec<usize>, Vec<f32>);

fn encode(v: &[f32], dtype: Dtype) -> Vec<u8> {
    match dtype {
        Dtype::F32 => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Dtype::F16 => v.iter().flat_map(|x| half::f16::from_f32(*x).to_le_bytes()).collect(),
        Dtype::BF16 => v.iter().flat_map(|x| half::bf16::from_f32(*x).to_le_bytes()).collect(),
        Dtype::F64 => v.iter().flat_map(|x| (*x as f64).to_le_bytes()).collect(),
        Dtype::I32 => v.iter().flat_map(|x| (*x as i32).to_le_bytes()).collect(),
        _ => unimplemented!(),
    }
}

fn write_st(path: &Path, tensors: &[T]) {
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|(_, d, _, v)| encode(v, *d)).collect();
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((n, d, s, _), b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize_to_file(views, &None, path).unwrap();
}

/// Writes `tensors` as `model.safetensors`, or in `shards` files with an index.
fn write_weights(dir: &Path, tensors: &[T], shards: usize) {
    if shards <= 1 {
        return write_st(&dir.join("model.safetensors"), tensors);
    }
    let mut map = serde_json::Map::new();
    for s in 0..shards {
        let file = format!("model-{:05}-of-{:05}.safetensors", s + 1, shards);
        let part: Vec<T> =
            tensors.iter().enumerate().filter(|(i, _)| i % shards == s).map(|(_, t)| t.clone()).collect();
        for (n, ..) in &part {
            map.insert(n.clone(), serde_json::Value::String(file.clone()));
        }
        write_st(&dir.join(&file), &part);
    }
    let index = serde_json::json!({ "metadata": { "total_size": 0 }, "weight_map": map });
    fs::write(dir.join("model.safetensors.index.json"), index.to_string()).unwrap();
}

fn write_config(dir: &Path, cfg: &serde_json::Value) {
    fs::write(dir.join("config.json"), serde_json::to_string_pretty(cfg).unwrap()).unwrap();
}

fn err_of(r: Result<Imported, ConvertError>) -> ConvertError {
    match r {
        Ok(_) => panic!("expected an error, got a model"),
        Err(e) => e,
    }
}

// ---- expected weights ---------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Dims {
    dim: usize,
    hidden: usize,
    layers: usize,
    heads: usize,
    kv_heads: usize,
    head_size: usize,
    vocab: usize,
    seq: usize,
}

const GPT2: Dims = Dims { dim: 16, hidden: 24, layers: 2, heads: 4, kv_heads: 4, head_size: 4, vocab: 40, seq: 12 };
/// GQA (4 query heads over 2 kv heads) with head_size 8 != dim / heads.
const LLAMA: Dims = Dims { dim: 16, hidden: 20, layers: 2, heads: 4, kv_heads: 2, head_size: 8, vocab: 36, seq: 32 };

fn gpt2_weights(rng: &mut Rng, d: Dims, untied: bool) -> Weights {
    let dim = d.dim;
    let layers = (0..d.layers)
        .map(|_| LayerWeights {
            attn_norm_w: rng.vec(dim),
            attn_norm_b: Some(rng.vec(dim)),
            wq: rng.vec(dim * dim),
            bq: Some(rng.vec(dim)),
            wk: rng.vec(dim * dim),
            bk: Some(rng.vec(dim)),
            wv: rng.vec(dim * dim),
            bv: Some(rng.vec(dim)),
            wo: rng.vec(dim * dim),
            bo: Some(rng.vec(dim)),
            ffn_norm_w: rng.vec(dim),
            ffn_norm_b: Some(rng.vec(dim)),
            w1: rng.vec(d.hidden * dim),
            b1: Some(rng.vec(d.hidden)),
            w3: None,
            b3: None,
            w2: rng.vec(dim * d.hidden),
            b2: Some(rng.vec(dim)),
        })
        .collect();
    Weights {
        tok_emb: rng.vec(d.vocab * dim),
        pos_emb: Some(rng.vec(d.seq * dim)),
        layers,
        final_norm_w: rng.vec(dim),
        final_norm_b: Some(rng.vec(dim)),
        lm_head: untied.then(|| rng.vec(d.vocab * dim)),
    }
}

/// The GPT-2 checkpoint of `w`: Conv1D weights stored `(in, out)`, q/k/v fused in `c_attn`,
/// plus the attention-mask buffers real checkpoints carry (which must be ignored).
fn gpt2_tensors(w: &Weights, d: Dims, prefix: &str, dtype: Dtype) -> Vec<T> {
    let (dim, hid) = (d.dim, d.hidden);
    let mut v: Vec<T> = vec![
        (format!("{prefix}wte.weight"), dtype, vec![d.vocab, dim], w.tok_emb.clone()),
        (format!("{prefix}wpe.weight"), dtype, vec![d.seq, dim], w.pos_emb.clone().unwrap()),
        (format!("{prefix}ln_f.weight"), dtype, vec![dim], w.final_norm_w.clone()),
        (format!("{prefix}ln_f.bias"), dtype, vec![dim], w.final_norm_b.clone().unwrap()),
    ];
    if let Some(h) = &w.lm_head {
        v.push(("lm_head.weight".into(), dtype, vec![d.vocab, dim], h.clone()));
    }
    for (i, l) in w.layers.iter().enumerate() {
        let p = format!("{prefix}h.{i}.");
        let qkv: Vec<f32> = [l.wq.clone(), l.wk.clone(), l.wv.clone()].concat(); // (3 dim, dim)
        let qkv_b: Vec<f32> = [l.bq.clone().unwrap(), l.bk.clone().unwrap(), l.bv.clone().unwrap()].concat();
        v.extend([
            (format!("{p}ln_1.weight"), dtype, vec![dim], l.attn_norm_w.clone()),
            (format!("{p}ln_1.bias"), dtype, vec![dim], l.attn_norm_b.clone().unwrap()),
            (format!("{p}attn.c_attn.weight"), dtype, vec![dim, 3 * dim], t(&qkv, 3 * dim, dim)),
            (format!("{p}attn.c_attn.bias"), dtype, vec![3 * dim], qkv_b),
            (format!("{p}attn.c_proj.weight"), dtype, vec![dim, dim], t(&l.wo, dim, dim)),
            (format!("{p}attn.c_proj.bias"), dtype, vec![dim], l.bo.clone().unwrap()),
            (format!("{p}ln_2.weight"), dtype, vec![dim], l.ffn_norm_w.clone()),
            (format!("{p}ln_2.bias"), dtype, vec![dim], l.ffn_norm_b.clone().unwrap()),
            (format!("{p}mlp.c_fc.weight"), dtype, vec![dim, hid], t(&l.w1, hid, dim)),
            (format!("{p}mlp.c_fc.bias"), dtype, vec![hid], l.b1.clone().unwrap()),
            (format!("{p}mlp.c_proj.weight"), dtype, vec![hid, dim], t(&l.w2, dim, hid)),
            (format!("{p}mlp.c_proj.bias"), dtype, vec![dim], l.b2.clone().unwrap()),
            (format!("{p}attn.bias"), Dtype::F32, vec![1, 1, d.seq, d.seq], vec![1.0; d.seq * d.seq]),
            (format!("{p}attn.masked_bias"), Dtype::F32, vec![], vec![-1e4]),
        ]);
    }
    v
}

fn gpt2_config(d: Dims, act: &str, tie: bool) -> serde_json::Value {
    serde_json::json!({
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "activation_function": act,
        "layer_norm_epsilon": 1e-5,
        "n_ctx": d.seq,
        "n_embd": d.dim,
        "n_head": d.heads,
        "n_inner": d.hidden,
        "n_layer": d.layers,
        "n_positions": d.seq,
        "vocab_size": d.vocab,
        "tie_word_embeddings": tie,
        "torch_dtype": "float32",
    })
}

fn llama_weights(rng: &mut Rng, d: Dims, untied: bool, attn_bias: bool, mlp_bias: bool) -> Weights {
    let (dim, hid) = (d.dim, d.hidden);
    let (qd, kvd) = (d.heads * d.head_size, d.kv_heads * d.head_size);
    let any = attn_bias || mlp_bias;
    let mut b = |on: bool, n: usize| {
        if on {
            Some(rng.vec(n))
        } else if any {
            Some(vec![0.0; n])
        } else {
            None
        }
    };
    let biases: Vec<[Option<Vec<f32>>; 7]> = (0..d.layers)
        .map(|_| {
            [
                b(attn_bias, qd),
                b(attn_bias, kvd),
                b(attn_bias, kvd),
                b(attn_bias, dim),
                b(mlp_bias, hid),
                b(mlp_bias, hid),
                b(mlp_bias, dim),
            ]
        })
        .collect();
    let layers = biases
        .into_iter()
        .map(|[bq, bk, bv, bo, b1, b3, b2]| LayerWeights {
            attn_norm_w: rng.vec(dim),
            attn_norm_b: None,
            wq: rng.vec(qd * dim),
            bq,
            wk: rng.vec(kvd * dim),
            bk,
            wv: rng.vec(kvd * dim),
            bv,
            wo: rng.vec(dim * qd),
            bo,
            ffn_norm_w: rng.vec(dim),
            ffn_norm_b: None,
            w1: rng.vec(hid * dim),
            b1,
            w3: Some(rng.vec(hid * dim)),
            b3,
            w2: rng.vec(dim * hid),
            b2,
        })
        .collect();
    Weights {
        tok_emb: rng.vec(d.vocab * dim),
        pos_emb: None,
        layers,
        final_norm_w: rng.vec(dim),
        final_norm_b: None,
        lm_head: untied.then(|| rng.vec(d.vocab * dim)),
    }
}

fn llama_tensors(w: &Weights, d: Dims, dtype: Dtype) -> Vec<T> {
    let (dim, hid) = (d.dim, d.hidden);
    let (qd, kvd) = (d.heads * d.head_size, d.kv_heads * d.head_size);
    let mut v: Vec<T> = vec![
        ("model.embed_tokens.weight".into(), dtype, vec![d.vocab, dim], w.tok_emb.clone()),
        ("model.norm.weight".into(), dtype, vec![dim], w.final_norm_w.clone()),
    ];
    if let Some(h) = &w.lm_head {
        v.push(("lm_head.weight".into(), dtype, vec![d.vocab, dim], h.clone()));
    }
    for (i, l) in w.layers.iter().enumerate() {
        let p = format!("model.layers.{i}.");
        v.extend([
            (format!("{p}input_layernorm.weight"), dtype, vec![dim], l.attn_norm_w.clone()),
            (format!("{p}self_attn.q_proj.weight"), dtype, vec![qd, dim], l.wq.clone()),
            (format!("{p}self_attn.k_proj.weight"), dtype, vec![kvd, dim], l.wk.clone()),
            (format!("{p}self_attn.v_proj.weight"), dtype, vec![kvd, dim], l.wv.clone()),
            (format!("{p}self_attn.o_proj.weight"), dtype, vec![dim, qd], l.wo.clone()),
            (format!("{p}post_attention_layernorm.weight"), dtype, vec![dim], l.ffn_norm_w.clone()),
            (format!("{p}mlp.gate_proj.weight"), dtype, vec![hid, dim], l.w1.clone()),
            (format!("{p}mlp.up_proj.weight"), dtype, vec![hid, dim], l.w3.clone().unwrap()),
            (format!("{p}mlp.down_proj.weight"), dtype, vec![dim, hid], l.w2.clone()),
        ]);
        let bias =
            |name: &str, b: &Option<Vec<f32>>, n: usize| (format!("{p}{name}"), dtype, vec![n], b.clone().unwrap());
        if l.bq.as_ref().is_some_and(|b| b.iter().any(|&x| x != 0.0)) {
            v.extend([
                bias("self_attn.q_proj.bias", &l.bq, qd),
                bias("self_attn.k_proj.bias", &l.bk, kvd),
                bias("self_attn.v_proj.bias", &l.bv, kvd),
                bias("self_attn.o_proj.bias", &l.bo, dim),
            ]);
        }
        if l.b1.as_ref().is_some_and(|b| b.iter().any(|&x| x != 0.0)) {
            v.extend([
                bias("mlp.gate_proj.bias", &l.b1, hid),
                bias("mlp.up_proj.bias", &l.b3, hid),
                bias("mlp.down_proj.bias", &l.b2, dim),
            ]);
        }
    }
    v
}

/// A `LlamaForCausalLM` config.json in the transformers 4.x (`rope_theta` at the top) or
/// 5.x (`rope_parameters`) style.
fn llama_config(d: Dims, v5: bool, theta: f64, tie: bool) -> serde_json::Value {
    let mut c = serde_json::json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "attention_bias": false,
        "attention_dropout": 0.0,
        "head_dim": d.head_size,
        "hidden_act": "silu",
        "hidden_size": d.dim,
        "intermediate_size": d.hidden,
        "max_position_embeddings": d.seq,
        "mlp_bias": false,
        "num_attention_heads": d.heads,
        "num_hidden_layers": d.layers,
        "num_key_value_heads": d.kv_heads,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": tie,
        "vocab_size": d.vocab,
    });
    if v5 {
        c["rope_parameters"] = serde_json::json!({ "rope_theta": theta, "rope_type": "default" });
        c["dtype"] = "float32".into();
    } else {
        c["rope_theta"] = theta.into();
        c["rope_scaling"] = serde_json::Value::Null;
        c["torch_dtype"] = "float32".into();
    }
    c
}

/// Asserts two weight sets are bit-for-bit equal, naming the first difference.
fn assert_weights_eq(got: &Weights, want: &Weights) {
    fn eq(what: &str, g: &[f32], w: &[f32]) {
        assert_eq!(g.len(), w.len(), "{what}: length");
        if let Some(i) = (0..g.len()).find(|&i| g[i].to_bits() != w[i].to_bits()) {
            panic!("{what}[{i}]: got {}, want {}", g[i], w[i]);
        }
    }
    fn opt(what: &str, g: &Option<Vec<f32>>, w: &Option<Vec<f32>>) {
        match (g, w) {
            (Some(g), Some(w)) => eq(what, g, w),
            (None, None) => {}
            _ => panic!("{what}: present {} vs expected {}", g.is_some(), w.is_some()),
        }
    }
    eq("tok_emb", &got.tok_emb, &want.tok_emb);
    opt("pos_emb", &got.pos_emb, &want.pos_emb);
    eq("final_norm_w", &got.final_norm_w, &want.final_norm_w);
    opt("final_norm_b", &got.final_norm_b, &want.final_norm_b);
    opt("lm_head", &got.lm_head, &want.lm_head);
    assert_eq!(got.layers.len(), want.layers.len());
    for (i, (g, w)) in got.layers.iter().zip(&want.layers).enumerate() {
        let n = |s: &str| format!("layer {i} {s}");
        eq(&n("attn_norm_w"), &g.attn_norm_w, &w.attn_norm_w);
        opt(&n("attn_norm_b"), &g.attn_norm_b, &w.attn_norm_b);
        eq(&n("wq"), &g.wq, &w.wq);
        opt(&n("bq"), &g.bq, &w.bq);
        eq(&n("wk"), &g.wk, &w.wk);
        opt(&n("bk"), &g.bk, &w.bk);
        eq(&n("wv"), &g.wv, &w.wv);
        opt(&n("bv"), &g.bv, &w.bv);
        eq(&n("wo"), &g.wo, &w.wo);
        opt(&n("bo"), &g.bo, &w.bo);
        eq(&n("ffn_norm_w"), &g.ffn_norm_w, &w.ffn_norm_w);
        opt(&n("ffn_norm_b"), &g.ffn_norm_b, &w.ffn_norm_b);
        eq(&n("w1"), &g.w1, &w.w1);
        opt(&n("b1"), &g.b1, &w.b1);
        opt(&n("w3"), &g.w3, &w.w3);
        opt(&n("b3"), &g.b3, &w.b3);
        eq(&n("w2"), &g.w2, &w.w2);
        opt(&n("b2"), &g.b2, &w.b2);
    }
}

/// The imported model must serialize, as F32 and as Q8 with groups of 32 and 64.
fn assert_writes(m: &Imported) {
    write_model(&m.config, &m.weights, &[]).expect("write_model f32");
    for gs in [32, 64] {
        let q = m.clone().with_options(&ConvertOptions { dtype: DType::Q8, group_size: gs }).unwrap();
        assert_eq!((q.config.dtype, q.config.group_size), (DType::Q8, gs));
        write_model(&q.config, &q.weights, &[]).expect("write_model q8");
    }
}

// ---- GPT-2 --------------------------------------------------------------------------------

fn gpt2_case(name: &str, prefix: &str, dtype: Dtype, untied: bool, shards: usize, act: &str) -> Imported {
    let dir = TmpDir::new(name);
    let mut rng = Rng(0x9E37_79B9 ^ name.len() as u64);
    let mut want = gpt2_weights(&mut rng, GPT2, untied);
    round_weights(&mut want, dtype);
    write_weights(dir.path(), &gpt2_tensors(&want, GPT2, prefix, dtype), shards);
    write_config(dir.path(), &gpt2_config(GPT2, act, !untied));
    let m = import_hf_dir(dir.path(), false).unwrap();
    assert_weights_eq(&m.weights, &want);
    let c = m.config;
    assert_eq!(
        (c.arch, c.norm, c.pos, c.bias, c.tied),
        (Arch::Gpt2, Norm::LayerNorm, Position::Learned, true, !untied)
    );
    assert_eq!((c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads), (16, 24, 2, 4, 4));
    assert_eq!((c.head_size, c.vocab_size, c.seq_len, c.norm_eps), (4, 40, 12, 1e-5));
    assert_eq!(c.dtype, DType::F32);
    assert_eq!(m.tokenizer, TokenizerSource::None);
    assert_writes(&m);
    m
}

#[test]
fn gpt2_with_transformer_prefix_f32() {
    let m = gpt2_case("gpt2-prefix", "transformer.", Dtype::F32, false, 1, "gelu_new");
    assert_eq!(m.config.act, Activation::GeluTanh);
}

#[test]
fn gpt2_without_prefix_f16() {
    let m = gpt2_case("gpt2-noprefix", "", Dtype::F16, false, 1, "gelu");
    assert_eq!(m.config.act, Activation::GeluErf);
}

#[test]
fn gpt2_untied_head_bf16_sharded() {
    let m = gpt2_case("gpt2-untied", "transformer.", Dtype::BF16, true, 3, "relu");
    assert_eq!(m.config.act, Activation::Relu);
    assert!(m.weights.lm_head.is_some());
}

#[test]
fn gpt2_n_inner_null_means_four_times_n_embd() {
    let d = Dims { hidden: 64, ..GPT2 };
    let dir = TmpDir::new("gpt2-ninner");
    let want = gpt2_weights(&mut Rng(5), d, false);
    write_weights(dir.path(), &gpt2_tensors(&want, d, "transformer.", Dtype::F32), 1);
    let mut cfg = gpt2_config(d, "gelu_pytorch_tanh", true);
    cfg["n_inner"] = serde_json::Value::Null;
    cfg.as_object_mut().unwrap().remove("n_positions"); // falls back to n_ctx
    write_config(dir.path(), &cfg);
    let m = import_hf_dir(dir.path(), false).unwrap();
    assert_eq!((m.config.hidden_dim, m.config.seq_len, m.config.act), (64, 12, Activation::GeluTanh));
    assert_weights_eq(&m.weights, &want);
}

#[test]
fn gpt2_lm_head_equal_to_wte_is_tied() {
    let dir = TmpDir::new("gpt2-equalhead");
    let want = gpt2_weights(&mut Rng(6), GPT2, false);
    let mut tensors = gpt2_tensors(&want, GPT2, "transformer.", Dtype::F32);
    tensors.push(("lm_head.weight".into(), Dtype::F32, vec![GPT2.vocab, GPT2.dim], want.tok_emb.clone()));
    write_weights(dir.path(), &tensors, 1);
    write_config(dir.path(), &gpt2_config(GPT2, "gelu_new", false));
    let m = import_hf_dir(dir.path(), false).unwrap();
    assert!(m.config.tied);
    assert!(m.weights.lm_head.is_none());
}

// ---- Llama --------------------------------------------------------------------------------

fn llama_case(name: &str, dtype: Dtype, shards: usize, untied: bool, v5: bool) -> Imported {
    let dir = TmpDir::new(name);
    let mut want = llama_weights(&mut Rng(0xC0FFEE + name.len() as u64), LLAMA, untied, false, false);
    round_weights(&mut want, dtype);
    write_weights(dir.path(), &llama_tensors(&want, LLAMA, dtype), shards);
    write_config(dir.path(), &llama_config(LLAMA, v5, 500000.0, !untied));
    let m = import_hf_dir(dir.path(), false).unwrap();
    assert_weights_eq(&m.weights, &want);
    let c = m.config;
    assert_eq!(
        (c.arch, c.norm, c.pos, c.act, c.bias),
        (Arch::Llama, Norm::RmsNorm, Position::Rope, Activation::SwiGlu, false)
    );
    assert_eq!((c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.head_size), (16, 20, 2, 4, 2, 8));
    assert_eq!((c.vocab_size, c.seq_len, c.norm_eps, c.rope_theta, c.tied), (36, 32, 1e-6, 500000.0, !untied));
    assert_writes(&m);
    m
}

#[test]
fn llama_gqa_tied_f32_config_v4() {
    llama_case("llama-v4", Dtype::F32, 1, false, false);
}

#[test]
fn llama_gqa_untied_bf16_sharded_config_v5() {
    let m = llama_case("llama-v5", Dtype::BF16, 2, true, true);
    assert!(m.weights.lm_head.is_some());
}

#[test]
fn llama_f16_untied() {
    llama_case("llama-f16", Dtype::F16, 1, true, false);
}

#[test]
fn llama_missing_lm_head_means_tied() {
    let dir = TmpDir::new("llama-nohead");
    let want = llama_weights(&mut Rng(11), LLAMA, false, false, false);
    write_weights(dir.path(), &llama_tensors(&want, LLAMA, Dtype::F32), 1);
    write_config(dir.path(), &llama_config(LLAMA, true, 10000.0, false)); // says untied, has no head
    let m = import_hf_dir(dir.path(), false).unwrap();
    assert!(m.config.tied && m.weights.lm_head.is_none());
}

#[test]
fn llama_without_rope_theta_or_head_dim_uses_defaults() {
    let d = Dims { head_size: 4, ..LLAMA };
    let dir = TmpDir::new("llama-defaults");
    let want = llama_weights(&mut Rng(12), d, false, false, false);
    write_weights(dir.path(), &llama_tensors(&want, d, Dtype::F32), 1);
    let mut cfg = llama_config(d, false, 0.0, true);
    let o = cfg.as_object_mut().unwrap();
    o.remove("rope_theta");
    o.remove("head_dim");
    write_config(dir.path(), &cfg);
    let m = import_hf_dir(dir.path(), false).unwrap();
    assert_eq!((m.config.rope_theta, m.config.head_size), (10000.0, 4));
    assert_weights_eq(&m.weights, &want);
}

#[test]
fn llama_attention_bias_only_fills_mlp_biases_with_zeros() {
    let dir = TmpDir::new("llama-attnbias");
    let want = llama_weights(&mut Rng(13), LLAMA, false, true, false);
    write_weights(dir.path(), &llama_tensors(&want, LLAMA, Dtype::F32), 1);
    let mut cfg = llama_config(LLAMA, false, 10000.0, true);
    cfg["attention_bias"] = true.into();
    write_config(dir.path(), &cfg);
    let m = import_hf_dir(dir.path(), false).unwrap();
    assert!(m.config.bias);
    assert_weights_eq(&m.weights, &want);
    assert!(m.weights.layers[0].b1.as_ref().unwrap().iter().all(|&x| x == 0.0));
    assert!(m.weights.layers[0].bq.as_ref().unwrap().iter().any(|&x| x != 0.0));
    assert_writes(&m);
}

#[test]
fn llama_mlp_bias_only_fills_attention_biases_with_zeros() {
    let dir = TmpDir::new("llama-mlpbias");
    let want = llama_weights(&mut Rng(14), LLAMA, false, false, true);
    write_weights(dir.path(), &llama_tensors(&want, LLAMA, Dtype::F32), 1);
    let mut cfg = llama_config(LLAMA, true, 10000.0, true);
    cfg["mlp_bias"] = true.into();
    write_config(dir.path(), &cfg);
    let m = import_hf_dir(dir.path(), false).unwrap();
    assert_weights_eq(&m.weights, &want);
    assert_writes(&m);
}

#[test]
fn hf_tokenizer_files_are_picked_up_and_can_be_overridden() {
    let dir = TmpDir::new("llama-tok");
    let want = llama_weights(&mut Rng(15), LLAMA, false, false, false);
    write_weights(dir.path(), &llama_tensors(&want, LLAMA, Dtype::F32), 1);
    write_config(dir.path(), &llama_config(LLAMA, true, 10000.0, true));
    fs::write(dir.path().join("tokenizer.json"), r#"{"model":{"type":"BPE"}}"#).unwrap();
    fs::write(dir.path().join("tokenizer_config.json"), r#"{"bos_token":"<s>"}"#).unwrap();
    let m = import(dir.path(), None, true).unwrap();
    assert_eq!(
        m.tokenizer,
        TokenizerSource::HfJson {
            tokenizer_json: r#"{"model":{"type":"BPE"}}"#.into(),
            tokenizer_config_json: Some(r#"{"bos_token":"<s>"}"#.into()),
        }
    );
    let tb = dir.path().join("tokenizer.bin");
    fs::write(&tb, [1u8, 2, 3]).unwrap();
    let m = import(dir.path(), Some(&tb), false).unwrap();
    assert_eq!(m.tokenizer, TokenizerSource::Llama2cBin(vec![1, 2, 3]));
}

// ---- HF errors ----------------------------------------------------------------------------

/// A valid Llama directory whose files a test then breaks.
fn llama_dir(name: &str) -> (TmpDir, Vec<T>, serde_json::Value) {
    let dir = TmpDir::new(name);
    let want = llama_weights(&mut Rng(21), LLAMA, true, false, false);
    let tensors = llama_tensors(&want, LLAMA, Dtype::F32);
    let cfg = llama_config(LLAMA, false, 10000.0, false);
    write_weights(dir.path(), &tensors, 1);
    write_config(dir.path(), &cfg);
    import_hf_dir(dir.path(), false).expect("the unbroken directory imports");
    (dir, tensors, cfg)
}

#[test]
fn missing_tensor_is_named() {
    let (dir, mut tensors, _) = llama_dir("err-missing");
    tensors.retain(|(n, ..)| n != "model.layers.1.mlp.up_proj.weight");
    write_weights(dir.path(), &tensors, 1);
    let e = err_of(import_hf_dir(dir.path(), false));
    assert!(matches!(&e, ConvertError::MissingTensor { name, .. } if name == "model.layers.1.mlp.up_proj.weight"));
    assert_eq!(e.to_string(), "model.safetensors: missing tensor \"model.layers.1.mlp.up_proj.weight\"");
    // and in a sharded checkpoint, against the index
    fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    write_weights(dir.path(), &tensors, 2);
    let e = err_of(import_hf_dir(dir.path(), false));
    assert_eq!(e.to_string(), "model.safetensors.index.json: missing tensor \"model.layers.1.mlp.up_proj.weight\"");
}

#[test]
fn unsupported_architecture_is_named() {
    let (dir, _, mut cfg) = llama_dir("err-arch");
    cfg["architectures"] = serde_json::json!(["MistralForCausalLM"]);
    write_config(dir.path(), &cfg);
    let e = err_of(import_hf_dir(dir.path(), false));
    assert_eq!(
        e.to_string(),
        "config.json: unsupported architecture \"MistralForCausalLM\" (supported: GPT2LMHeadModel, LlamaForCausalLM)"
    );
    // without `architectures`, model_type decides
    cfg.as_object_mut().unwrap().remove("architectures");
    cfg["model_type"] = "llama".into();
    write_config(dir.path(), &cfg);
    assert!(import_hf_dir(dir.path(), false).is_ok());
    cfg["model_type"] = "mistral".into();
    write_config(dir.path(), &cfg);
    assert!(matches!(err_of(import_hf_dir(dir.path(), false)), ConvertError::UnsupportedArch { .. }));
}

#[test]
fn unsupported_dtype_is_named() {
    for (dtype, shown) in [(Dtype::F64, "F64"), (Dtype::I32, "I32")] {
        let (dir, mut tensors, _) = llama_dir("err-dtype");
        tensors.iter_mut().find(|t| t.0 == "model.norm.weight").unwrap().1 = dtype;
        write_weights(dir.path(), &tensors, 1);
        let e = err_of(import_hf_dir(dir.path(), false));
        assert!(matches!(&e, ConvertError::UnsupportedDtype { name, .. } if name == "model.norm.weight"), "{e}");
        assert_eq!(
            e.to_string(),
            format!("model.safetensors: tensor \"model.norm.weight\" has unsupported dtype {shown} (supported: F32, F16, BF16)")
        );
    }
}

#[test]
fn wrong_shape_is_named() {
    let (dir, mut tensors, _) = llama_dir("err-shape");
    let q = tensors.iter_mut().find(|t| t.0 == "model.layers.0.self_attn.q_proj.weight").unwrap();
    q.2 = vec![LLAMA.dim, LLAMA.heads * LLAMA.head_size]; // transposed
    write_weights(dir.path(), &tensors, 1);
    let e = err_of(import_hf_dir(dir.path(), false));
    assert_eq!(
        e.to_string(),
        "model.safetensors: tensor \"model.layers.0.self_attn.q_proj.weight\" has shape [16, 32], expected [32, 16]"
    );
}

#[test]
fn unsupported_options_are_rejected() {
    let cases: [(&str, serde_json::Value, &str); 5] = [
        (
            "rope_scaling",
            serde_json::json!({"rope_type": "llama3", "factor": 8.0}),
            "unsupported RoPE scaling \"llama3\"",
        ),
        (
            "rope_parameters",
            serde_json::json!({"rope_theta": 1e4, "rope_type": "yarn"}),
            "unsupported RoPE scaling \"yarn\"",
        ),
        ("hidden_act", "gelu".into(), "unsupported hidden_act \"gelu\""),
        ("num_key_value_heads", 3.into(), "model not supported by tinygpt"),
        ("hidden_size", (-16).into(), "\"hidden_size\" must be a non-negative integer"),
    ];
    for (key, val, msg) in cases {
        let (dir, _, mut cfg) = llama_dir("err-opts");
        cfg[key] = val;
        write_config(dir.path(), &cfg);
        let e = err_of(import_hf_dir(dir.path(), false)).to_string();
        assert!(e.starts_with("config.json: ") && e.contains(msg), "{key}: {e}");
    }
    // a default rope type is fine in either place
    let (dir, _, mut cfg) = llama_dir("ok-opts");
    cfg["rope_scaling"] = serde_json::json!({"type": "default"});
    write_config(dir.path(), &cfg);
    assert!(import_hf_dir(dir.path(), false).is_ok());
    // GPT-2 activation
    let dir = TmpDir::new("err-gpt2-act");
    let w = gpt2_weights(&mut Rng(3), GPT2, false);
    write_weights(dir.path(), &gpt2_tensors(&w, GPT2, "", Dtype::F32), 1);
    write_config(dir.path(), &gpt2_config(GPT2, "swish", true));
    let e = err_of(import_hf_dir(dir.path(), false)).to_string();
    assert!(e.starts_with("config.json: unsupported activation_function \"swish\""), "{e}");
}

#[test]
fn corrupt_files_give_errors_not_panics() {
    let (dir, _, cfg) = llama_dir("err-corrupt");
    let st = dir.path().join("model.safetensors");
    let good = fs::read(&st).unwrap();
    for cut in [0, 7, 8, 20, good.len() / 2, good.len() - 1] {
        fs::write(&st, &good[..cut]).unwrap();
        let e = err_of(import_hf_dir(dir.path(), false)).to_string();
        assert!(e.starts_with("model.safetensors: not a valid safetensors file"), "{cut}: {e}");
    }
    // a header that claims an enormous length
    let mut huge = good.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    fs::write(&st, &huge).unwrap();
    assert!(import_hf_dir(dir.path(), false).is_err());
    fs::write(&st, &good).unwrap();
    // broken config.json
    fs::write(dir.path().join("config.json"), "{ not json").unwrap();
    let e = err_of(import_hf_dir(dir.path(), false)).to_string();
    assert!(e.starts_with("config.json: invalid JSON"), "{e}");
    write_config(dir.path(), &cfg);
    // no weights at all
    fs::remove_file(&st).unwrap();
    fs::write(dir.path().join("pytorch_model.bin"), b"PK\x03\x04").unwrap();
    let e = err_of(import_hf_dir(dir.path(), false)).to_string();
    assert!(
        e.contains("no model.safetensors or model.safetensors.index.json") && e.contains("pytorch_model.bin"),
        "{e}"
    );
    // no config.json
    let empty = TmpDir::new("err-empty");
    assert!(matches!(err_of(import_hf_dir(empty.path(), false)), ConvertError::Io { .. }));
}

#[test]
fn import_dispatch_rejects_other_inputs() {
    let dir = TmpDir::new("dispatch");
    let e = err_of(import(&dir.path().join("nope"), None, false));
    assert!(matches!(e, ConvertError::Io { .. }), "{e}");
    let st = dir.path().join("model.safetensors");
    fs::write(&st, b"x").unwrap();
    assert!(matches!(err_of(import(&st, None, false)), ConvertError::Input { .. }));
    let pt = dir.path().join("pytorch_model.bin");
    fs::write(&pt, b"PK\x03\x04rest").unwrap();
    assert!(err_of(import(&pt, None, false)).to_string().contains("PyTorch"));
    let gg = dir.path().join("m.bin");
    fs::write(&gg, b"GGUF\x03\0\0\0").unwrap();
    assert!(err_of(import(&gg, None, false)).to_string().contains("GGUF"));
}

#[test]
fn bad_group_sizes_are_rejected() {
    let m = gpt2_case("gpt2-opts", "", Dtype::F32, false, 1, "gelu_new");
    for gs in [0, 2, 30, 1028, 4096] {
        let e = m.clone().with_options(&ConvertOptions { dtype: DType::Q8, group_size: gs }).unwrap_err();
        assert!(matches!(e, ConvertError::Options(_)), "{gs}: {e}");
    }
    for gs in [4, 32, 48, 64, 1024] {
        assert!(m.clone().with_options(&ConvertOptions { dtype: DType::Q8, group_size: gs }).is_ok(), "{gs}");
    }
    let f = m.with_options(&ConvertOptions { dtype: DType::F32, group_size: 30 }).unwrap();
    assert_eq!((f.config.dtype, f.config.group_size), (DType::F32, 0));
}

// ---- llama2.c -----------------------------------------------------------------------------

/// llama2.c dims: head_size 8 (so the RoPE permutation is not its own inverse), GQA.
const L2C: Dims = Dims { dim: 32, hidden: 40, layers: 2, heads: 4, kv_heads: 2, head_size: 8, vocab: 24, seq: 16 };

/// Meta row for HF row `r` of a projection with heads of `hs` rows: HF keeps pair halves
/// `(i, i + hs/2)`, Meta interleaves them `(2i, 2i + 1)`.
fn meta_row(r: usize, hs: usize) -> usize {
    let (h, i) = (r / hs, r % hs);
    h * hs + if i < hs / 2 { 2 * i } else { 2 * (i - hs / 2) + 1 }
}

/// HF-orientation rows -> Meta rows (what llama2.c files hold).
fn to_meta(w: &[f32], hs: usize, cols: usize) -> Vec<f32> {
    let rows = w.len() / cols;
    let mut out = vec![0.0; w.len()];
    for r in 0..rows {
        let m = meta_row(r, hs);
        out[m * cols..(m + 1) * cols].copy_from_slice(&w[r * cols..(r + 1) * cols]);
    }
    out
}

fn i32s(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Q8_0 as llama2.c's export.py: groups over the flattened tensor, scale = max|w| / 127.
fn q80(w: &[f32], gs: usize) -> (Vec<i8>, Vec<f32>) {
    let mut q = Vec::new();
    let mut s = Vec::new();
    for g in w.chunks(gs) {
        let scale = g.iter().fold(0f32, |m, x| m.max(x.abs())) / 127.0;
        s.push(scale);
        q.extend(g.iter().map(|x| (x / scale).round() as i8));
    }
    (q, s)
}

/// Writes the llama2.c file of HF-orientation weights `w` (Llama layout, no biases);
/// `version` 0, 1 or 2. Returns the bytes and, for v2, the dequantized `q * s` of each
/// matrix in file (Meta) layout keyed by name.
fn llama2c_bytes(w: &Weights, d: Dims, version: u32, gs: usize) -> (Vec<u8>, HashMap<String, Vec<f32>>) {
    let (dim, hs, l) = (d.dim, d.head_size, d.layers);
    let shared = w.lm_head.is_none();
    let params =
        [dim as i32, d.hidden as i32, l as i32, d.heads as i32, d.kv_heads as i32, d.vocab as i32, d.seq as i32];
    let mut deq = HashMap::new();
    let mut out = Vec::new();
    let meta_q: Vec<Vec<f32>> = w.layers.iter().map(|x| to_meta(&x.wq, hs, dim)).collect();
    let meta_k: Vec<Vec<f32>> = w.layers.iter().map(|x| to_meta(&x.wk, hs, dim)).collect();
    let mut mats: Vec<(String, Vec<f32>)> = vec![("tok".into(), w.tok_emb.clone())];
    for (i, m) in meta_q.iter().enumerate() {
        mats.push((format!("wq{i}"), m.clone()));
    }
    for (i, m) in meta_k.iter().enumerate() {
        mats.push((format!("wk{i}"), m.clone()));
    }
    for (name, get) in [
        ("wv", (|x: &LayerWeights| x.wv.clone()) as fn(&LayerWeights) -> Vec<f32>),
        ("wo", |x| x.wo.clone()),
        ("w1", |x| x.w1.clone()),
        ("w2", |x| x.w2.clone()),
        ("w3", |x| x.w3.clone().unwrap()),
    ] {
        for (i, x) in w.layers.iter().enumerate() {
            mats.push((format!("{name}{i}"), get(x)));
        }
    }
    if let Some(h) = &w.lm_head {
        mats.push(("wcls".into(), h.clone()));
    }
    let norms = |out: &mut Vec<u8>| {
        for x in &w.layers {
            out.extend(f32s(&x.attn_norm_w));
        }
        for x in &w.layers {
            out.extend(f32s(&x.ffn_norm_w));
        }
        out.extend(f32s(&w.final_norm_w));
    };
    match version {
        0 => {
            let mut p = params;
            if !shared {
                p[5] = -p[5];
            }
            out.extend(i32s(&p));
            let get = |n: &str| mats.iter().find(|(m, _)| m == n).unwrap().1.clone();
            out.extend(f32s(&get("tok")));
            for x in &w.layers {
                out.extend(f32s(&x.attn_norm_w));
            }
            for n in ["wq", "wk", "wv", "wo"] {
                for i in 0..l {
                    out.extend(f32s(&get(&format!("{n}{i}"))));
                }
            }
            for x in &w.layers {
                out.extend(f32s(&x.ffn_norm_w));
            }
            for n in ["w1", "w2", "w3"] {
                for i in 0..l {
                    out.extend(f32s(&get(&format!("{n}{i}"))));
                }
            }
            out.extend(f32s(&w.final_norm_w));
            // freq_cis_real, freq_cis_imag: (seq_len, head_size / 2) each, as model.py makes them
            for f in [f32::cos as fn(f32) -> f32, f32::sin] {
                for pos in 0..d.seq {
                    for i in 0..hs / 2 {
                        let freq = 1.0 / 10000f32.powf((2 * i) as f32 / hs as f32);
                        out.extend(f(pos as f32 * freq).to_le_bytes());
                    }
                }
            }
            if !shared {
                out.extend(f32s(&get("wcls")));
            }
        }
        _ => {
            out.extend(0x616b_3432u32.to_le_bytes());
            out.extend((version as i32).to_le_bytes());
            out.extend(i32s(&params));
            out.push(shared as u8);
            if version == 2 {
                out.extend((gs as i32).to_le_bytes());
            }
            out.resize(256, 0);
            norms(&mut out);
            for (name, m) in &mats {
                if version == 1 {
                    out.extend(f32s(m));
                } else {
                    let (q, s) = q80(m, gs);
                    out.extend(q.iter().map(|&b| b as u8));
                    out.extend(f32s(&s));
                    let dq: Vec<f32> = q.iter().enumerate().map(|(i, &b)| b as f32 * s[i / gs]).collect();
                    deq.insert(name.clone(), dq);
                }
            }
        }
    }
    (out, deq)
}

fn llama2c_want(rng: &mut Rng, untied: bool) -> Weights {
    llama_weights(rng, L2C, untied, false, false)
}

fn check_llama2c_config(m: &Imported, tied: bool) {
    let c = m.config;
    assert_eq!(
        (c.arch, c.norm, c.act, c.pos, c.bias, c.tied),
        (Arch::Llama, Norm::RmsNorm, Activation::SwiGlu, Position::Rope, false, tied)
    );
    assert_eq!((c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.head_size), (32, 40, 2, 4, 2, 8));
    assert_eq!((c.vocab_size, c.seq_len, c.norm_eps, c.rope_theta), (24, 16, 1e-5, 10000.0));
}

#[test]
fn llama2c_v0_and_v1_give_back_the_hf_weights_exactly() {
    for (version, untied) in [(0, false), (0, true), (1, false), (1, true)] {
        let want = llama2c_want(&mut Rng(100 + version as u64), untied);
        let (bytes, _) = llama2c_bytes(&want, L2C, version, 0);
        let dir = TmpDir::new(&format!("l2c-v{version}-{untied}"));
        let bin = dir.path().join("model.bin");
        fs::write(&bin, &bytes).unwrap();
        let m = import_llama2c(&bin, None, false).unwrap();
        check_llama2c_config(&m, !untied);
        assert_weights_eq(&m.weights, &want);
        assert_eq!(m.tokenizer, TokenizerSource::None);
        assert_writes(&m);
    }
}

#[test]
fn llama2c_v2_dequantizes_to_q_times_scale() {
    for (untied, gs) in [(false, 32), (true, 16)] {
        let want = llama2c_want(&mut Rng(200 + gs as u64), untied);
        let (bytes, deq) = llama2c_bytes(&want, L2C, 2, gs);
        let dir = TmpDir::new(&format!("l2c-v2-{gs}"));
        let bin = dir.path().join("model.bin");
        fs::write(&bin, &bytes).unwrap();
        let tok = dir.path().join("tokenizer.bin");
        fs::write(&tok, b"\x05\0\0\0tokens").unwrap();
        let m = import_llama2c(&bin, Some(&tok), false).unwrap();
        check_llama2c_config(&m, !untied);
        assert_eq!(m.tokenizer, TokenizerSource::Llama2cBin(b"\x05\0\0\0tokens".to_vec()));
        let (hs, dim) = (L2C.head_size, L2C.dim);
        // exactly q * s, with wq/wk rows taken from the Meta rows of the file
        let exact = |got: &[f32], name: &str, permuted: bool| {
            let dq = &deq[name];
            for (r, row) in got.chunks(dim).enumerate() {
                let src = if permuted { meta_row(r, hs) } else { r };
                assert_eq!(row, &dq[src * dim..(src + 1) * dim], "{name} row {r}");
            }
        };
        exact(&m.weights.tok_emb, "tok", false);
        for (i, l) in m.weights.layers.iter().enumerate() {
            exact(&l.wq, &format!("wq{i}"), true);
            exact(&l.wk, &format!("wk{i}"), true);
            assert_eq!(l.wv, deq[&format!("wv{i}")]);
            assert_eq!(l.wo, deq[&format!("wo{i}")]);
            assert_eq!(l.w1, deq[&format!("w1{i}")]);
            assert_eq!(l.w2, deq[&format!("w2{i}")]);
            assert_eq!(l.w3.as_ref().unwrap(), &deq[&format!("w3{i}")]);
            // norms stay f32, exact
            assert_eq!(l.attn_norm_w, want.layers[i].attn_norm_w);
            assert_eq!(l.ffn_norm_w, want.layers[i].ffn_norm_w);
        }
        assert_eq!(m.weights.lm_head.is_some(), untied);
        if untied {
            assert_eq!(m.weights.lm_head.as_ref().unwrap(), &deq["wcls"]);
        }
        // and within half a quantization step of the original HF weights
        let close = |got: &[f32], orig: &[f32], what: &str| {
            let amax = orig.iter().fold(0f32, |a, x| a.max(x.abs()));
            for (g, o) in got.iter().zip(orig) {
                assert!((g - o).abs() <= amax / 127.0 * 0.5 + 1e-6, "{what}: {g} vs {o}");
            }
        };
        for (g, w) in m.weights.layers.iter().zip(&want.layers) {
            close(&g.wq, &w.wq, "wq");
            close(&g.wk, &w.wk, "wk");
            close(&g.w2, &w.w2, "w2");
        }
        assert_writes(&m);
    }
}

/// The permutation is in the right direction: attention scores computed llama2.c's way
/// (interleaved-pair RoPE on the file's Meta-layout wq/wk, run.c) equal those computed Hugging
/// Face's way (rotate-half RoPE on the imported rows).
#[test]
fn llama2c_permutation_preserves_rope_attention_scores() {
    let want = llama2c_want(&mut Rng(300), false);
    let (bytes, _) = llama2c_bytes(&want, L2C, 0, 0);
    let m = parse_llama2c(&bytes, "mem.bin").unwrap();
    let (dim, hs) = (L2C.dim, L2C.head_size);
    let matvec = |w: &[f32], x: &[f32]| -> Vec<f32> {
        w.chunks(dim).map(|r| r.iter().zip(x).map(|(a, b)| a * b).sum()).collect()
    };
    let theta = |i: usize| 1.0 / 10000f64.powf((2 * i) as f64 / hs as f64);
    let rope_meta = |v: &mut [f32], pos: usize| {
        for h in v.chunks_mut(hs) {
            for i in 0..hs / 2 {
                let (s, c) = (pos as f64 * theta(i)).sin_cos();
                let (a, b) = (h[2 * i] as f64, h[2 * i + 1] as f64);
                h[2 * i] = (a * c - b * s) as f32;
                h[2 * i + 1] = (a * s + b * c) as f32;
            }
        }
    };
    let rope_hf = |v: &mut [f32], pos: usize| {
        for h in v.chunks_mut(hs) {
            for i in 0..hs / 2 {
                let (s, c) = (pos as f64 * theta(i)).sin_cos();
                let (a, b) = (h[i] as f64, h[i + hs / 2] as f64);
                h[i] = (a * c - b * s) as f32;
                h[i + hs / 2] = (a * s + b * c) as f32;
            }
        }
    };
    let scores = |wq: &[f32], wk: &[f32], rope: &dyn Fn(&mut [f32], usize)| -> Vec<f32> {
        let mut rng = Rng(7);
        let (x1, x2) = (rng.vec(dim), rng.vec(dim));
        let mut q = matvec(wq, &x1);
        let mut k = matvec(wk, &x2);
        rope(&mut q, 5);
        rope(&mut k, 2);
        let group = L2C.heads / L2C.kv_heads;
        (0..L2C.heads)
            .map(|h| {
                let kh = h / group;
                q[h * hs..(h + 1) * hs].iter().zip(&k[kh * hs..(kh + 1) * hs]).map(|(a, b)| a * b).sum()
            })
            .collect()
    };
    for (l, w) in m.1.layers.iter().enumerate() {
        let meta_q = to_meta(&want.layers[l].wq, hs, dim);
        let meta_k = to_meta(&want.layers[l].wk, hs, dim);
        let reference = scores(&meta_q, &meta_k, &rope_meta);
        let ours = scores(&w.wq, &w.wk, &rope_hf);
        for (a, b) in reference.iter().zip(&ours) {
            assert!((a - b).abs() < 1e-4, "layer {l}: {reference:?} vs {ours:?}");
        }
        // the unpermuted file rows would not match: the test can tell the directions apart
        let wrong = scores(&meta_q, &meta_k, &rope_hf);
        assert!(reference.iter().zip(&wrong).any(|(a, b)| (a - b).abs() > 1e-3));
    }
}

#[test]
fn llama2c_truncated_and_padded_files_are_errors_never_panics() {
    for (version, gs) in [(0, 0), (1, 0), (2, 16)] {
        let want = llama2c_want(&mut Rng(400), true);
        let (bytes, _) = llama2c_bytes(&want, L2C, version, gs);
        parse_llama2c(&bytes, "m.bin").unwrap();
        for cut in (0..bytes.len()).step_by(7).chain([bytes.len() - 1]) {
            match parse_llama2c(&bytes[..cut], "m.bin") {
                Err(ConvertError::Truncated { file, .. }) => assert_eq!(file, "m.bin"),
                Err(e) => panic!("v{version} cut {cut}: expected Truncated, got {e}"),
                Ok(_) => panic!("v{version} cut {cut}: accepted"),
            }
        }
        let mut long = bytes.clone();
        long.extend([0u8; 4]);
        let e = parse_llama2c(&long, "m.bin").unwrap_err().to_string();
        assert!(e.starts_with("m.bin: 4 bytes after the end of the llama2.c"), "{e}");
    }
}

#[test]
fn llama2c_bad_headers_are_named() {
    let want = llama2c_want(&mut Rng(500), false);
    let (v0, _) = llama2c_bytes(&want, L2C, 0, 0);
    let (v2, _) = llama2c_bytes(&want, L2C, 2, 16);
    let with = |base: &[u8], at: usize, v: i32| {
        let mut b = base.to_vec();
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        parse_llama2c(&b, "m.bin").unwrap_err().to_string()
    };
    assert_eq!(with(&v0, 20, 0), "m.bin: llama2.c header: vocab_size 0 (must be positive)");
    assert_eq!(with(&v0, 0, -32), "m.bin: llama2.c header: dim -32 (must be positive)");
    assert!(with(&v0, 12, 5).contains("dim 32 is not a multiple of n_heads 5"));
    assert!(with(&v0, 16, 3).contains("n_kv_heads 3 does not divide n_heads 4"));
    assert!(with(&v2, 4, 3).contains("unsupported llama2.c version 3"));
    assert!(with(&v2, 37, 0).contains("group_size 0"));
    assert!(with(&v2, 37, 24).contains("group_size 24 (must be positive and divide dim 32)"));
    assert!(with(&v2, 28, -24).contains("vocab_size -24 (must be positive)"));
    let mut bad_flag = v2.clone();
    bad_flag[36] = 7;
    assert!(parse_llama2c(&bad_flag, "m.bin").unwrap_err().to_string().contains("shared_classifier flag 7"));
    // garbage of every small length: errors only
    let mut rng = Rng(501);
    for n in 0..300 {
        let b: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        assert!(parse_llama2c(&b, "g.bin").is_err());
    }
}

#[test]
fn llama2c_through_import_dispatch() {
    let want = llama2c_want(&mut Rng(600), false);
    let (bytes, _) = llama2c_bytes(&want, L2C, 1, 0);
    let dir = TmpDir::new("l2c-dispatch");
    let bin = dir.path().join("stories.bin");
    fs::write(&bin, &bytes).unwrap();
    let tok = dir.path().join("tokenizer.bin");
    fs::write(&tok, [9u8; 5]).unwrap();
    let m = import(&bin, Some(&tok), true).unwrap(); // progress on: must not disturb anything
    assert_eq!(m.tokenizer, TokenizerSource::Llama2cBin(vec![9; 5]));
    assert_weights_eq(&m.weights, &want);
    let m = import(&bin, None, false).unwrap();
    assert_eq!(m.tokenizer, TokenizerSource::None);
}
