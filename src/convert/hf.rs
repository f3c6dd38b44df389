//! Hugging Face checkpoints: a directory with `config.json` and safetensors weights
//! (`model.safetensors`, or shards listed in `model.safetensors.index.json`), for the
//! `GPT2LMHeadModel` and `LlamaForCausalLM` classes.
//!
//! Owns: reading `config.json` into a [`Config`] and the tensors into f32 [`Weights`] in HF
//! orientation `(out_features, in_features)`. GPT-2's `Conv1D` layers store `(in, out)` and are
//! transposed here; Llama's `q_proj`/`k_proj` are already in the "rotate half" row order the
//! runtime uses, so they go in unchanged. Must not: quantize (that is `format::writer`).

use std::collections::{BTreeSet, HashMap};
use std::format;
use std::fs;
use std::io::Read;
use std::path::Path;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use safetensors::{Dtype, SafeTensors};
use serde_json::{Map, Value};

use super::error::{invalid, ConvertError};
use super::progress::Progress;
use super::{tie_if_equal, Imported, TokenizerSource};
use crate::format::writer::{LayerWeights, Weights};
use crate::format::{Activation, Arch, Config, DType, Norm, Position};

type Result<T> = core::result::Result<T, ConvertError>;

const CONFIG: &str = "config.json";
const SINGLE: &str = "model.safetensors";
const INDEX: &str = "model.safetensors.index.json";

// ---- entry point -------------------------------------------------------------------------

/// Imports a Hugging Face model directory: `config.json` plus `model.safetensors` or a sharded
/// `model.safetensors.index.json`. The tokenizer is `tokenizer.json` (and
/// `tokenizer_config.json` when present) from the same directory, or
/// [`TokenizerSource::None`] when the directory has no `tokenizer.json`.
///
/// Supported classes: `GPT2LMHeadModel` and `LlamaForCausalLM` (from `architectures`, or from
/// `model_type` when `architectures` is absent). Tensors may be F32, F16 or BF16.
///
/// # Errors
/// A [`ConvertError`] naming the file and what is wrong: unreadable files, an unsupported
/// architecture or option, a missing tensor, an unsupported dtype, a shape that does not match
/// the config.
pub fn import_hf_dir(dir: &Path, progress: bool) -> Result<Imported> {
    let json = read_text(&dir.join(CONFIG), CONFIG)?;
    let root: Value = serde_json::from_str(&json).map_err(|e| invalid(CONFIG, format!("invalid JSON: {e}")))?;
    let obj = root.as_object().ok_or_else(|| invalid(CONFIG, "expected a JSON object"))?;
    let cfg = JsonCfg { obj };
    let arch = cfg.architecture()?;

    let mut store = Store::open(dir, progress)?;
    let (config, weights) = match arch.as_str() {
        "GPT2LMHeadModel" => gpt2(&cfg, &mut store)?,
        "LlamaForCausalLM" => llama(&cfg, &mut store)?,
        _ => return Err(ConvertError::UnsupportedArch { file: CONFIG.into(), arch }),
    };
    let tokenizer = hf_tokenizer_in(dir)?;
    Ok(Imported { config, weights, tokenizer })
}

/// `tokenizer.json` (+ `tokenizer_config.json`) from `dir`, or `None` when there is none.
pub(crate) fn hf_tokenizer_in(dir: &Path) -> Result<TokenizerSource> {
    let tj = dir.join("tokenizer.json");
    if !tj.is_file() {
        return Ok(TokenizerSource::None);
    }
    let tokenizer_json = read_text(&tj, "tokenizer.json")?;
    let tc = dir.join("tokenizer_config.json");
    let tokenizer_config_json = if tc.is_file() { Some(read_text(&tc, "tokenizer_config.json")?) } else { None };
    Ok(TokenizerSource::HfJson { tokenizer_json, tokenizer_config_json })
}

/// Reads a UTF-8 text file; errors name it `shown`.
pub(crate) fn read_text(path: &Path, shown: &str) -> Result<String> {
    let bytes = fs::read(path).map_err(|source| ConvertError::Io { path: shown.into(), source })?;
    String::from_utf8(bytes).map_err(|_| invalid(shown, "not valid UTF-8"))
}

// ---- config.json ------------------------------------------------------------------------

/// Typed access to `config.json`; every error names the key.
struct JsonCfg<'a> {
    obj: &'a Map<String, Value>,
}

impl JsonCfg<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.obj.get(key).filter(|v| !v.is_null())
    }

    /// The model class: `architectures[0]`, else derived from `model_type`.
    fn architecture(&self) -> Result<String> {
        let arch = match self.get("architectures") {
            Some(Value::Array(a)) if !a.is_empty() => match &a[0] {
                Value::String(s) => s.clone(),
                _ => return Err(invalid(CONFIG, "\"architectures\" must be a list of strings")),
            },
            Some(Value::Array(_)) | None => match self.get("model_type").and_then(Value::as_str) {
                Some("gpt2") => "GPT2LMHeadModel".into(),
                Some("llama") => "LlamaForCausalLM".into(),
                Some(t) => format!("model_type {t}"),
                None => "(none: config.json has neither architectures nor model_type)".into(),
            },
            Some(_) => return Err(invalid(CONFIG, "\"architectures\" must be a list of strings")),
        };
        match arch.as_str() {
            "GPT2LMHeadModel" | "LlamaForCausalLM" => Ok(arch),
            _ => Err(ConvertError::UnsupportedArch { file: CONFIG.into(), arch }),
        }
    }

    /// A non-negative integer; `default` when the key is absent or null.
    fn usize_or(&self, key: &str, default: Option<usize>) -> Result<usize> {
        match self.get(key) {
            None => default.ok_or_else(|| invalid(CONFIG, format!("missing key \"{key}\""))),
            Some(v) => v
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| invalid(CONFIG, format!("\"{key}\" must be a non-negative integer, found {v}"))),
        }
    }

    /// An optional non-negative integer (absent or null gives `None`).
    fn usize_opt(&self, key: &str) -> Result<Option<usize>> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => self.usize_or(key, None).map(Some),
        }
    }

    fn f64_or(&self, key: &str, default: f64) -> Result<f64> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_f64().ok_or_else(|| invalid(CONFIG, format!("\"{key}\" must be a number, found {v}"))),
        }
    }

    fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => {
                v.as_bool().ok_or_else(|| invalid(CONFIG, format!("\"{key}\" must be true or false, found {v}")))
            }
        }
    }

    fn str_or<'s>(&'s self, key: &str, default: &'s str) -> Result<&'s str> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_str().ok_or_else(|| invalid(CONFIG, format!("\"{key}\" must be a string, found {v}"))),
        }
    }
}

/// Validates a config built from `config.json`, naming the file in the error.
fn checked(cfg: Config) -> Result<Config> {
    cfg.validate().map_err(|e| invalid(CONFIG, format!("model not supported by tinygpt: {e}")))?;
    Ok(cfg)
}

// ---- safetensors store ------------------------------------------------------------------

/// Where one tensor lives: shard, dtype, shape and byte range inside the shard's buffer.
struct TensorRef {
    shard: usize,
    dtype: Dtype,
    shape: Vec<usize>,
    start: usize,
    end: usize,
}

/// All tensors of a checkpoint, one or more safetensors files read into memory.
struct Store {
    /// `(file name, bytes)` per shard.
    shards: Vec<(String, Vec<u8>)>,
    map: HashMap<String, TensorRef>,
    /// The file a missing tensor is reported against (`model.safetensors` or the index).
    listing: &'static str,
    progress: Progress,
}

impl Store {
    /// Reads `model.safetensors`, or every shard named by `model.safetensors.index.json`.
    fn open(dir: &Path, progress: bool) -> Result<Store> {
        let (listing, names): (&'static str, Vec<String>) = if dir.join(SINGLE).is_file() {
            (SINGLE, vec![SINGLE.to_string()])
        } else if dir.join(INDEX).is_file() {
            (INDEX, shard_names(&read_text(&dir.join(INDEX), INDEX)?)?)
        } else {
            let hint = if dir.join("pytorch_model.bin").exists() {
                " (pytorch_model.bin is not supported; re-save with safe_serialization=True)"
            } else {
                ""
            };
            return Err(ConvertError::Input {
                path: dir.display().to_string(),
                why: format!("no {SINGLE} or {INDEX} in this directory{hint}"),
            });
        };

        let mut total = 0u64;
        for n in &names {
            let p = dir.join(n);
            let meta = fs::metadata(&p).map_err(|source| ConvertError::Io { path: n.clone(), source })?;
            total = total.saturating_add(meta.len());
        }
        let mut bar = Progress::new(progress, total, "reading", true);
        let mut shards = Vec::with_capacity(names.len());
        for n in names {
            let bytes = read_with_progress(&dir.join(&n), &n, &mut bar)?;
            shards.push((n, bytes));
        }
        drop(bar);

        let mut map = HashMap::new();
        for (i, (name, bytes)) in shards.iter().enumerate() {
            let (n, meta) = SafeTensors::read_metadata(bytes)
                .map_err(|e| invalid(name, format!("not a valid safetensors file: {e}")))?;
            let base = n.checked_add(8).ok_or_else(|| invalid(name, "header length overflows"))?;
            for (tname, info) in meta.tensors() {
                let (s, e) = info.data_offsets;
                let start = base.checked_add(s).ok_or_else(|| invalid(name, "tensor offset overflows"))?;
                let end = base.checked_add(e).ok_or_else(|| invalid(name, "tensor offset overflows"))?;
                if start > end || end > bytes.len() {
                    return Err(invalid(name, format!("tensor \"{tname}\" lies outside the file")));
                }
                let r = TensorRef { shard: i, dtype: info.dtype, shape: info.shape.clone(), start, end };
                if map.insert(tname.clone(), r).is_some() {
                    return Err(invalid(name, format!("tensor \"{tname}\" appears in more than one shard")));
                }
            }
        }
        let count = map.len() as u64;
        Ok(Store { shards, map, listing, progress: Progress::new(progress, count, "converting", false) })
    }

    fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// Tensor `name` as f32, after checking its shape is `shape`.
    fn get(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let r = self
            .map
            .get(name)
            .ok_or_else(|| ConvertError::MissingTensor { file: self.listing.into(), name: name.into() })?;
        let (file, bytes) = &self.shards[r.shard];
        if r.shape != shape {
            return Err(ConvertError::Shape {
                file: file.clone(),
                name: name.into(),
                expected: shape.to_vec(),
                found: r.shape.clone(),
            });
        }
        let raw = bytes
            .get(r.start..r.end)
            .ok_or_else(|| invalid(file, format!("tensor \"{name}\" lies outside the file")))?;
        let out = to_f32(raw, r.dtype).ok_or_else(|| ConvertError::UnsupportedDtype {
            file: file.clone(),
            name: name.into(),
            dtype: format!("{:?}", r.dtype),
        })?;
        // read_metadata checked numel * size == byte length, so the count matches the shape.
        self.progress.inc(1);
        Ok(out)
    }

    /// Tensor `name` if present (shape-checked), else `None`.
    fn get_opt(&mut self, name: &str, shape: &[usize]) -> Result<Option<Vec<f32>>> {
        if self.has(name) {
            self.get(name, shape).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// The distinct shard file names in an index's `weight_map`, sorted.
fn shard_names(index_json: &str) -> Result<Vec<String>> {
    let v: Value = serde_json::from_str(index_json).map_err(|e| invalid(INDEX, format!("invalid JSON: {e}")))?;
    let map = v
        .get("weight_map")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid(INDEX, "missing \"weight_map\" object"))?;
    let mut names = BTreeSet::new();
    for (tensor, file) in map {
        let f = file.as_str().ok_or_else(|| invalid(INDEX, format!("weight_map[\"{tensor}\"] must be a file name")))?;
        if f.is_empty() || f.contains('/') || f.contains('\\') || f == "." || f == ".." {
            return Err(invalid(INDEX, format!("weight_map[\"{tensor}\"] = \"{f}\" is not a plain file name")));
        }
        names.insert(f.to_string());
    }
    if names.is_empty() {
        return Err(invalid(INDEX, "\"weight_map\" is empty"));
    }
    Ok(names.into_iter().collect())
}

/// Reads a whole file in chunks, advancing `bar` by bytes.
pub(crate) fn read_with_progress(path: &Path, shown: &str, bar: &mut Progress) -> Result<Vec<u8>> {
    let io = |source| ConvertError::Io { path: shown.into(), source };
    let mut f = fs::File::open(path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    let mut buf = vec![0u8; 1 << 22];
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        out.extend_from_slice(&buf[..n]);
        bar.inc(n as u64);
    }
    Ok(out)
}

/// Little-endian F32/F16/BF16 bytes to f32; `None` for any other dtype.
fn to_f32(raw: &[u8], dtype: Dtype) -> Option<Vec<f32>> {
    Some(match dtype {
        Dtype::F32 => raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        Dtype::F16 => raw.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        Dtype::BF16 => raw.chunks_exact(2).map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        _ => return None,
    })
}

/// `(rows, cols)` row-major to `(cols, rows)` row-major.
fn transpose(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    debug_assert_eq!(v.len(), rows * cols);
    let mut out = vec![0f32; v.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = v[r * cols + c];
        }
    }
    out
}

// ---- GPT-2 ------------------------------------------------------------------------------

/// `GPT2LMHeadModel`: LayerNorm, biases everywhere, learned positions, GELU/ReLU MLP, heads of
/// `n_embd / n_head`. Defaults for absent keys are `GPT2Config`'s.
fn gpt2(j: &JsonCfg, st: &mut Store) -> Result<(Config, Weights)> {
    let dim = j.usize_or("n_embd", Some(768))?;
    let n_layers = j.usize_or("n_layer", Some(12))?;
    let n_heads = j.usize_or("n_head", Some(12))?;
    let seq_len = match j.usize_opt("n_positions")? {
        Some(n) => n,
        None => j.usize_or("n_ctx", Some(1024))?,
    };
    let vocab_size = j.usize_or("vocab_size", Some(50257))?;
    let hidden_dim = match j.usize_opt("n_inner")? {
        Some(n) => n,
        None => dim.checked_mul(4).ok_or_else(|| invalid(CONFIG, "4 * n_embd overflows"))?,
    };
    let eps = j.f64_or("layer_norm_epsilon", 1e-5)?;
    let act =
        match j.str_or("activation_function", "gelu_new")? {
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "gelu" => Activation::GeluErf,
            "relu" => Activation::Relu,
            other => return Err(invalid(
                CONFIG,
                format!(
                    "unsupported activation_function \"{other}\" (supported: gelu_new, gelu_pytorch_tanh, gelu, relu)"
                ),
            )),
        };
    if !j.bool_or("scale_attn_weights", true)? {
        return Err(invalid(CONFIG, "scale_attn_weights = false is not supported"));
    }
    if j.bool_or("scale_attn_by_inverse_layer_idx", false)? {
        return Err(invalid(CONFIG, "scale_attn_by_inverse_layer_idx = true is not supported"));
    }
    if j.bool_or("add_cross_attention", false)? {
        return Err(invalid(CONFIG, "add_cross_attention = true is not supported"));
    }
    if n_heads == 0 || dim % n_heads != 0 {
        return Err(invalid(CONFIG, format!("n_embd {dim} is not a multiple of n_head {n_heads}")));
    }
    let cfg = checked(Config {
        arch: Arch::Gpt2,
        dtype: DType::F32,
        group_size: 0,
        dim,
        hidden_dim,
        n_layers,
        n_heads,
        n_kv_heads: n_heads,
        head_size: dim / n_heads,
        vocab_size,
        seq_len,
        norm: Norm::LayerNorm,
        norm_eps: eps as f32,
        act,
        pos: Position::Learned,
        rope_theta: 10000.0,
        tied: true,
        bias: true,
    })?;

    // GPT2LMHeadModel saves `transformer.`-prefixed names; the original hub files have none.
    let p = if st.has("transformer.wte.weight") { "transformer." } else { "" };
    let tok_emb = st.get(&format!("{p}wte.weight"), &[vocab_size, dim])?;
    let pos_emb = st.get(&format!("{p}wpe.weight"), &[seq_len, dim])?;
    let mut layers = Vec::with_capacity(n_layers);
    for l in 0..n_layers {
        let h = format!("{p}h.{l}.");
        let mut get = |name: &str, shape: &[usize]| st.get(&format!("{h}{name}"), shape);
        let attn_norm_w = get("ln_1.weight", &[dim])?;
        let attn_norm_b = get("ln_1.bias", &[dim])?;
        // Conv1D stores (in, out); c_attn's out is [q | k | v].
        let qkv = transpose(&get("attn.c_attn.weight", &[dim, 3 * dim])?, dim, 3 * dim);
        let qkv_b = get("attn.c_attn.bias", &[3 * dim])?;
        let dd = dim * dim;
        let wo = transpose(&get("attn.c_proj.weight", &[dim, dim])?, dim, dim);
        let bo = get("attn.c_proj.bias", &[dim])?;
        let ffn_norm_w = get("ln_2.weight", &[dim])?;
        let ffn_norm_b = get("ln_2.bias", &[dim])?;
        let w1 = transpose(&get("mlp.c_fc.weight", &[dim, hidden_dim])?, dim, hidden_dim);
        let b1 = get("mlp.c_fc.bias", &[hidden_dim])?;
        let w2 = transpose(&get("mlp.c_proj.weight", &[hidden_dim, dim])?, hidden_dim, dim);
        let b2 = get("mlp.c_proj.bias", &[dim])?;
        layers.push(LayerWeights {
            attn_norm_w,
            attn_norm_b: Some(attn_norm_b),
            wq: qkv[..dd].to_vec(),
            bq: Some(qkv_b[..dim].to_vec()),
            wk: qkv[dd..2 * dd].to_vec(),
            bk: Some(qkv_b[dim..2 * dim].to_vec()),
            wv: qkv[2 * dd..].to_vec(),
            bv: Some(qkv_b[2 * dim..].to_vec()),
            wo,
            bo: Some(bo),
            ffn_norm_w,
            ffn_norm_b: Some(ffn_norm_b),
            w1,
            b1: Some(b1),
            w3: None,
            b3: None,
            w2,
            b2: Some(b2),
        });
    }
    let final_norm_w = st.get(&format!("{p}ln_f.weight"), &[dim])?;
    let final_norm_b = st.get(&format!("{p}ln_f.bias"), &[dim])?;
    // GPT-2 always ties the head to wte in transformers; an explicit, different lm_head with
    // tie_word_embeddings = false is kept.
    let lm_head =
        if j.bool_or("tie_word_embeddings", true)? { None } else { st.get_opt("lm_head.weight", &[vocab_size, dim])? };
    let lm_head = tie_if_equal(&tok_emb, lm_head);
    let cfg = Config { tied: lm_head.is_none(), ..cfg };
    let w =
        Weights { tok_emb, pos_emb: Some(pos_emb), layers, final_norm_w, final_norm_b: Some(final_norm_b), lm_head };
    Ok((cfg, w))
}

// ---- Llama ------------------------------------------------------------------------------

/// `rope_theta` from `rope_parameters` (transformers 5.x) or the top level (4.x), rejecting
/// any RoPE scaling other than `default`.
fn rope_theta(j: &JsonCfg) -> Result<f64> {
    let mut theta = j.f64_or("rope_theta", 10000.0)?;
    for key in ["rope_scaling", "rope_parameters"] {
        let Some(v) = j.get(key) else { continue };
        let o = v.as_object().ok_or_else(|| invalid(CONFIG, format!("\"{key}\" must be an object or null")))?;
        let kind = o.get("rope_type").or_else(|| o.get("type")).filter(|t| !t.is_null());
        match kind {
            None => {}
            Some(Value::String(s)) if s == "default" => {}
            Some(t) => {
                let t = t.as_str().map(String::from).unwrap_or_else(|| t.to_string());
                return Err(invalid(
                    CONFIG,
                    format!("unsupported RoPE scaling \"{t}\" in \"{key}\" (only \"default\" is supported)"),
                ));
            }
        }
        if let Some(t) = o.get("rope_theta").filter(|t| !t.is_null()) {
            theta = t
                .as_f64()
                .ok_or_else(|| invalid(CONFIG, format!("\"{key}.rope_theta\" must be a number, found {t}")))?;
        }
    }
    Ok(theta)
}

/// `LlamaForCausalLM`: RMSNorm, SwiGLU, RoPE (rotate-half, weights unchanged), GQA. Defaults
/// for absent keys are `LlamaConfig`'s.
fn llama(j: &JsonCfg, st: &mut Store) -> Result<(Config, Weights)> {
    let dim = j.usize_or("hidden_size", Some(4096))?;
    let hidden_dim = j.usize_or("intermediate_size", Some(11008))?;
    let n_layers = j.usize_or("num_hidden_layers", Some(32))?;
    let n_heads = j.usize_or("num_attention_heads", Some(32))?;
    let n_kv_heads = j.usize_or("num_key_value_heads", Some(n_heads))?;
    let head_size = match j.usize_opt("head_dim")? {
        Some(h) => h,
        None => {
            if n_heads == 0 || dim % n_heads != 0 {
                return Err(invalid(
                    CONFIG,
                    format!("hidden_size {dim} is not a multiple of num_attention_heads {n_heads}"),
                ));
            }
            dim / n_heads
        }
    };
    let vocab_size = j.usize_or("vocab_size", Some(32000))?;
    let seq_len = j.usize_or("max_position_embeddings", Some(2048))?;
    let eps = j.f64_or("rms_norm_eps", 1e-6)?;
    let theta = rope_theta(j)?;
    let act = j.str_or("hidden_act", "silu")?;
    if act != "silu" {
        return Err(invalid(
            CONFIG,
            format!("unsupported hidden_act \"{act}\" (LlamaForCausalLM: only silu is supported)"),
        ));
    }
    let attn_bias = j.bool_or("attention_bias", false)?;
    let mlp_bias = j.bool_or("mlp_bias", false)?;
    let cfg = checked(Config {
        arch: Arch::Llama,
        dtype: DType::F32,
        group_size: 0,
        dim,
        hidden_dim,
        n_layers,
        n_heads,
        n_kv_heads,
        head_size,
        vocab_size,
        seq_len,
        norm: Norm::RmsNorm,
        norm_eps: eps as f32,
        act: Activation::SwiGlu,
        pos: Position::Rope,
        rope_theta: theta as f32,
        tied: true,
        bias: attn_bias || mlp_bias,
    })?;
    let (qd, kvd) = (cfg.q_dim(), cfg.kv_dim());

    let tok_emb = st.get("model.embed_tokens.weight", &[vocab_size, dim])?;
    let mut layers = Vec::with_capacity(n_layers);
    for l in 0..n_layers {
        let h = format!("model.layers.{l}.");
        let mut get = |name: &str, shape: &[usize]| st.get(&format!("{h}{name}"), shape);
        let attn_norm_w = get("input_layernorm.weight", &[dim])?;
        let wq = get("self_attn.q_proj.weight", &[qd, dim])?;
        let wk = get("self_attn.k_proj.weight", &[kvd, dim])?;
        let wv = get("self_attn.v_proj.weight", &[kvd, dim])?;
        let wo = get("self_attn.o_proj.weight", &[dim, qd])?;
        let ffn_norm_w = get("post_attention_layernorm.weight", &[dim])?;
        let w1 = get("mlp.gate_proj.weight", &[hidden_dim, dim])?;
        let w3 = get("mlp.up_proj.weight", &[hidden_dim, dim])?;
        let w2 = get("mlp.down_proj.weight", &[dim, hidden_dim])?;
        // Config.bias covers every linear layer: the side without biases gets zeros.
        let mut bias = |on: bool, name: &str, n: usize| -> Result<Option<Vec<f32>>> {
            match (cfg.bias, on) {
                (false, _) => Ok(None),
                (true, true) => get(name, &[n]).map(Some),
                (true, false) => Ok(Some(vec![0f32; n])),
            }
        };
        let bq = bias(attn_bias, "self_attn.q_proj.bias", qd)?;
        let bk = bias(attn_bias, "self_attn.k_proj.bias", kvd)?;
        let bv = bias(attn_bias, "self_attn.v_proj.bias", kvd)?;
        let bo = bias(attn_bias, "self_attn.o_proj.bias", dim)?;
        let b1 = bias(mlp_bias, "mlp.gate_proj.bias", hidden_dim)?;
        let b3 = bias(mlp_bias, "mlp.up_proj.bias", hidden_dim)?;
        let b2 = bias(mlp_bias, "mlp.down_proj.bias", dim)?;
        layers.push(LayerWeights {
            attn_norm_w,
            attn_norm_b: None,
            wq,
            bq,
            wk,
            bk,
            wv,
            bv,
            wo,
            bo,
            ffn_norm_w,
            ffn_norm_b: None,
            w1,
            b1,
            w3: Some(w3),
            b3,
            w2,
            b2,
        });
    }
    let final_norm_w = st.get("model.norm.weight", &[dim])?;
    // Tied when the config says so (transformers then ignores any saved lm_head) or when the
    // checkpoint has no lm_head.weight.
    let lm_head =
        if j.bool_or("tie_word_embeddings", false)? { None } else { st.get_opt("lm_head.weight", &[vocab_size, dim])? };
    let lm_head = tie_if_equal(&tok_emb, lm_head);
    let cfg = Config { tied: lm_head.is_none(), ..cfg };
    let w = Weights { tok_emb, pos_emb: None, layers, final_norm_w, final_norm_b: None, lm_head };
    Ok((cfg, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_swaps_rows_and_columns() {
        // (2, 3) -> (3, 2)
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(transpose(&v, 2, 3), [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }

    #[test]
    fn half_types_convert_exactly() {
        let f16 = half::f16::from_f32(-1.5).to_le_bytes();
        let bf16 = half::bf16::from_f32(3.25).to_le_bytes();
        assert_eq!(to_f32(&f16, Dtype::F16), Some(vec![-1.5]));
        assert_eq!(to_f32(&bf16, Dtype::BF16), Some(vec![3.25]));
        assert_eq!(to_f32(&[0; 8], Dtype::I64), None);
    }

    #[test]
    fn shard_names_rejects_paths_outside_the_directory() {
        let ok = r#"{"weight_map": {"a": "model-00002-of-00002.safetensors", "b": "model-00001-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}}"#;
        assert_eq!(shard_names(ok).unwrap(), ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]);
        let bad = r#"{"weight_map": {"a": "../secret.safetensors"}}"#;
        assert!(shard_names(bad).unwrap_err().to_string().contains("not a plain file name"));
        assert!(shard_names("{}").is_err());
    }
}
