//! Shared pieces of the fuzz targets: tiny valid models of every shape the format supports,
//! the fixture tokenizers (built once per process), targeted mutations of a model file, and
//! "interesting value" pickers for integers and floats.
//!
//! Nothing here is fuzzed itself; the targets in `fuzz_targets/` are. The unit test at the
//! bottom writes the committed seed corpora (`seeds/`) when `TINYGPT_WRITE_SEEDS=1`.

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use tinygpt::format::writer::{random_weights, write_model};
use tinygpt::format::AlignedBytes;
use tinygpt::session::{state_bytes, KvDtype, Session, SessionOptions};
use tinygpt::tokenizer::build::{from_gpt2_files, from_llama2c_bin, from_tokenizer_json, from_tokenizer_json_with_config};
use tinygpt::tokenizer::Tokenizer;
use tinygpt::{Activation, Arch, Config, DType, Model, Norm, Position};

// ---- fixtures (compiled in, so a target needs no files at run time) -------------------------

const GPT2_TINY_JSON: &str = include_str!("../../tests/fixtures/hf/gpt2_tiny/tokenizer.json");
const LLAMA_TINY_JSON: &str = include_str!("../../tests/fixtures/hf/llama_tiny/tokenizer.json");
const LLAMA_TINY_CONFIG: &str = include_str!("../../tests/fixtures/hf/llama_tiny/tokenizer_config.json");
const LLAMA_TINY_BIN: &[u8] = include_bytes!("../../tests/fixtures/hf/llama_tiny/tokenizer.bin");
const GPT2_ENCODER: &str = include_str!("../../tests/fixtures/tokenizer/gpt2/encoder.json");
const GPT2_BPE: &str = include_str!("../../tests/fixtures/tokenizer/gpt2/vocab.bpe");
const LLAMA2_VOCAB: &str = include_str!("../../tests/fixtures/tokenizer/llama2/vocab.txt");
const LLAMA2_MERGES: &[u8] = include_bytes!("../../tests/fixtures/tokenizer/llama2/merges.bin");
const LLAMA2_TEMPLATE: &str = include_str!("../../tests/fixtures/tokenizer/llama2/template.json");
const LLAMA2_META_SPLIT: &str = include_str!("../../tests/fixtures/tokenizer/llama2/template_meta_always_split.json");
const LLAMA2_META_FIRST: &str = include_str!("../../tests/fixtures/tokenizer/llama2/template_meta_first_nosplit.json");
const LLAMA2_CONFIG: &str = include_str!("../../tests/fixtures/tokenizer/tokenizer_config.json");

/// A fixture tokenizer section and what the targets need to know about it.
#[derive(Clone)]
pub struct TokFixture {
    /// Name, for messages.
    pub name: &'static str,
    /// The section bytes (as `tokenizer::build` writes them).
    pub section: Vec<u8>,
    /// The model vocabulary it was built for.
    pub vocab: usize,
    /// Byte-level BPE: `decode(encode(s)) == s` for every string.
    pub byte_level: bool,
    /// SentencePiece with HF Metaspace `prepend_scheme`: a leading space of the text is
    /// absorbed into the prepended marker (HF behaviour), so the round trip drops it.
    pub metaspace: bool,
    /// The space marker `▁` in the input text decodes as a plain space.
    pub meta_marker: bool,
}

impl TokFixture {
    /// The parsed view (the section is valid: built by the builders).
    pub fn tok(&self) -> Tokenizer<'_> {
        Tokenizer::parse(&self.section, self.vocab).expect("fixture tokenizer parses")
    }
}

/// [`all_tokenizers`], parsed once.
pub fn all_parsed() -> &'static [Tokenizer<'static>] {
    static T: OnceLock<Vec<Tokenizer<'static>>> = OnceLock::new();
    T.get_or_init(|| all_tokenizers().iter().map(|f| f.tok()).collect())
}

fn sp_json(template: &str) -> String {
    let vocab: Vec<&str> = LLAMA2_VOCAB.split('\n').collect();
    let ids: Vec<usize> = LLAMA2_MERGES.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]) as usize).collect();
    let mut t: serde_json::Value = serde_json::from_str(template).unwrap();
    let map: serde_json::Map<String, serde_json::Value> =
        vocab.iter().enumerate().map(|(i, v)| (v.to_string(), serde_json::Value::from(i))).collect();
    t["model"]["vocab"] = serde_json::Value::Object(map);
    t["model"]["merges"] = serde_json::Value::Array(
        ids.chunks_exact(2).map(|p| serde_json::Value::from(format!("{} {}", vocab[p[0]], vocab[p[1]]))).collect(),
    );
    serde_json::to_string(&t).unwrap()
}

fn llama2c_bin_full() -> Vec<u8> {
    let toks: Vec<Vec<u8>> = LLAMA2_VOCAB
        .split('\n')
        .enumerate()
        .map(|(i, p)| {
            let p = match i {
                1 => "\n<s>\n",
                2 => "\n</s>\n",
                _ => p,
            };
            p.replace('\u{2581}', " ").into_bytes()
        })
        .collect();
    let mut out = Vec::new();
    out.extend_from_slice(&(toks.iter().map(Vec::len).max().unwrap() as u32).to_le_bytes());
    for (i, t) in toks.iter().enumerate() {
        let score = if i < 259 { 0.0f32 } else { -((i - 259) as f32) };
        out.extend_from_slice(&score.to_le_bytes());
        out.extend_from_slice(&(t.len() as u32).to_le_bytes());
        out.extend_from_slice(t);
    }
    out
}

/// The small fixture tokenizers (vocabulary 512): cheap, used inside models.
pub fn small_tokenizers() -> &'static [TokFixture] {
    static T: OnceLock<Vec<TokFixture>> = OnceLock::new();
    T.get_or_init(|| {
        vec![
            TokFixture {
                name: "gpt2_tiny",
                section: from_tokenizer_json(GPT2_TINY_JSON, 512).unwrap(),
                vocab: 512,
                byte_level: true,
                metaspace: false,
                meta_marker: false,
            },
            TokFixture {
                name: "llama_tiny",
                section: from_tokenizer_json_with_config(LLAMA_TINY_JSON, Some(LLAMA_TINY_CONFIG), 512).unwrap(),
                vocab: 512,
                byte_level: false,
                metaspace: false,
                meta_marker: true,
            },
            TokFixture {
                name: "llama2c_tiny",
                section: from_llama2c_bin(LLAMA_TINY_BIN, 512).unwrap(),
                vocab: 512,
                byte_level: false,
                metaspace: false,
                meta_marker: false,
            },
        ]
    })
}

/// Every fixture tokenizer: the small ones plus the real GPT-2 and Llama-2 vocabularies in
/// each supported SentencePiece flavour (built once per process, a few seconds).
pub fn all_tokenizers() -> &'static [TokFixture] {
    static T: OnceLock<Vec<TokFixture>> = OnceLock::new();
    T.get_or_init(|| {
        let mut v: Vec<TokFixture> = Vec::new();
        v.extend(small_tokenizers().iter().cloned());
        v.push(TokFixture {
            name: "gpt2",
            section: from_gpt2_files(GPT2_ENCODER, GPT2_BPE).unwrap(),
            vocab: 50257,
            byte_level: true,
            metaspace: false,
            meta_marker: false,
        });
        v.push(TokFixture {
            name: "llama2",
            section: from_tokenizer_json_with_config(&sp_json(LLAMA2_TEMPLATE), Some(LLAMA2_CONFIG), 32000).unwrap(),
            vocab: 32000,
            byte_level: false,
            metaspace: false,
            meta_marker: true,
        });
        v.push(TokFixture {
            name: "llama2_meta_split",
            section: from_tokenizer_json(&sp_json(LLAMA2_META_SPLIT), 32000).unwrap(),
            vocab: 32000,
            byte_level: false,
            metaspace: true,
            meta_marker: true,
        });
        v.push(TokFixture {
            name: "llama2_meta_first",
            section: from_tokenizer_json(&sp_json(LLAMA2_META_FIRST), 32000).unwrap(),
            vocab: 32000,
            byte_level: false,
            metaspace: true,
            meta_marker: true,
        });
        v.push(TokFixture {
            name: "llama2c",
            section: from_llama2c_bin(&llama2c_bin_full(), 32000).unwrap(),
            vocab: 32000,
            byte_level: false,
            metaspace: false,
            meta_marker: false,
        });
        v
    })
}

// ---- tiny models ----------------------------------------------------------------------------

/// Number of tiny model shapes [`tiny_config`] knows.
pub const SHAPES: usize = 6;

/// A tiny but complete config of shape `shape % SHAPES` with vocabulary `vocab`: between them
/// the shapes use every norm, activation, position encoding, dtype (with Q8 group sizes that
/// take both the AVX2 and the scalar-only path), tied and untied heads, biases, GQA, and a
/// head size that is not `dim / n_heads`.
pub fn tiny_config(shape: usize, vocab: usize) -> Config {
    let base = Config {
        arch: Arch::Gpt2,
        dtype: DType::F32,
        group_size: 0,
        dim: 16,
        hidden_dim: 24,
        n_layers: 1,
        n_heads: 2,
        n_kv_heads: 2,
        head_size: 8,
        vocab_size: vocab,
        seq_len: 12,
        norm: Norm::LayerNorm,
        norm_eps: 1e-5,
        act: Activation::GeluTanh,
        pos: Position::Learned,
        rope_theta: 10000.0,
        tied: true,
        bias: true,
    };
    match shape % SHAPES {
        // GPT-2, f32
        0 => base,
        // GPT-2, Q8 with a group of 32 (> dim: padded rows; the AVX2 path)
        1 => Config { dtype: DType::Q8, group_size: 32, n_layers: 2, ..base },
        // Llama: RMSNorm, SwiGLU, RoPE, GQA, untied, Q8 group 8 (scalar path, several groups)
        2 => Config {
            arch: Arch::Llama,
            dtype: DType::Q8,
            group_size: 8,
            n_heads: 4,
            n_kv_heads: 2,
            head_size: 4,
            hidden_dim: 20,
            norm: Norm::RmsNorm,
            act: Activation::SwiGlu,
            pos: Position::Rope,
            tied: false,
            bias: false,
            ..base
        },
        // sinusoidal positions, ReLU, head_size * n_heads != dim, untied, f32
        3 => Config { pos: Position::Sinusoidal, act: Activation::Relu, head_size: 6, n_heads: 3, n_kv_heads: 1, tied: false, ..base },
        // exact GELU, RMSNorm with biases, learned positions, Q8 group 4
        4 => Config { act: Activation::GeluErf, norm: Norm::RmsNorm, dtype: DType::Q8, group_size: 4, ..base },
        // Llama f32, MQA, 2 layers, odd hidden width
        _ => Config {
            arch: Arch::Llama,
            n_layers: 2,
            n_heads: 2,
            n_kv_heads: 1,
            hidden_dim: 19,
            norm: Norm::RmsNorm,
            act: Activation::SwiGlu,
            pos: Position::Rope,
            rope_theta: 500000.0,
            tied: false,
            bias: false,
            ..base
        },
    }
}

/// A valid model file of shape `shape` carrying `tokenizer` (may be empty).
pub fn tiny_model(shape: usize, vocab: usize, tokenizer: &[u8], seed: u64) -> Vec<u8> {
    let c = tiny_config(shape, vocab);
    let w = random_weights(&Config { dtype: DType::F32, ..c }, seed);
    write_model(&c, &w, tokenizer).expect("tiny model writes")
}

/// The base models of the structure-aware target: every shape, without a tokenizer (small
/// vocabulary) and with each small fixture tokenizer (vocabulary 512).
pub fn base_models() -> &'static [Vec<u8>] {
    static M: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    M.get_or_init(|| {
        let mut v = Vec::new();
        for shape in 0..SHAPES {
            v.push(tiny_model(shape, 11, &[], shape as u64));
            let t = &small_tokenizers()[shape % small_tokenizers().len()];
            v.push(tiny_model(shape, t.vocab, &t.section, 100 + shape as u64));
        }
        v
    })
}

/// Copies into a 16-byte aligned buffer, as a loader would.
pub fn aligned(b: &[u8]) -> AlignedBytes {
    AlignedBytes::new(b)
}

// ---- running whatever parsed -----------------------------------------------------------------

/// Largest workspace a target allocates (bigger requests are valid but skipped).
pub const MAX_WS: usize = 32 << 20;

/// Runs a parsed model for up to `steps.len()` tokens (ids taken modulo `vocab + 2`, so some are
/// out of range) with the given kernels; returns the logits after each successful step.
/// Every error is allowed; a panic is the bug.
pub fn run_model(m: Model<'_>, steps: &[u16], ctx: usize, batch: usize, kv16: bool, scalar: bool) -> Vec<Vec<f32>> {
    let opts = SessionOptions { ctx, batch, kv: if kv16 { KvDtype::F16 } else { KvDtype::F32 } };
    let Ok(need) = state_bytes(m.config(), &opts) else { return Vec::new() };
    if need > MAX_WS {
        return Vec::new();
    }
    let mut ws = vec![0u8; need];
    let Ok(mut s) = Session::new(m, &mut ws, opts) else { return Vec::new() };
    if scalar {
        s = s.with_kernels(tinygpt::kernels::scalar());
    }
    let vocab = m.config().vocab_size;
    let mut out = Vec::new();
    for &t in steps {
        let id = (t as usize % (vocab + 2)) as u32;
        match s.step(id) {
            Ok(l) => {
                assert_eq!(l.len(), vocab);
                out.push(l.to_vec());
            }
            Err(_) => {
                assert!(id as usize >= vocab || s.pos() >= s.ctx(), "step({id}) failed on a valid id with room left");
            }
        }
    }
    out
}

/// Bit-for-bit equality of two logit rows, NaN equal to any NaN (payloads may differ).
pub fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

// ---- interesting values --------------------------------------------------------------------

/// An integer for a header or table field: mostly boundary values and small changes of the
/// original, sometimes raw.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Val {
    /// 0
    Zero,
    /// 1
    One,
    /// `u32::MAX` (the tokenizer's NONE)
    Max,
    /// `u32::MAX - k`
    NearMax(u8),
    /// A small number.
    Small(u8),
    /// `1 << k` (k mod 32)
    Pow2(u8),
    /// `1 << k` plus or minus one
    Pow2Off(u8, bool),
    /// The original value plus a small signed delta.
    Delta(i8),
    /// The original value times two.
    Double,
    /// The original value halved.
    Half,
    /// Any value.
    Raw(u32),
}

impl Val {
    /// The value to write over `orig`.
    pub fn apply(self, orig: u32) -> u32 {
        match self {
            Val::Zero => 0,
            Val::One => 1,
            Val::Max => u32::MAX,
            Val::NearMax(k) => u32::MAX - k as u32,
            Val::Small(k) => k as u32,
            Val::Pow2(k) => 1u32 << (k % 32),
            Val::Pow2Off(k, up) => {
                let p = 1u32 << (k % 32);
                if up {
                    p.wrapping_add(1)
                } else {
                    p.wrapping_sub(1)
                }
            }
            Val::Delta(d) => orig.wrapping_add(d as i32 as u32),
            Val::Double => orig.wrapping_mul(2),
            Val::Half => orig / 2,
            Val::Raw(v) => v,
        }
    }
}

/// Interesting f32 values: every class of non-finite and extreme number, and the boundaries
/// of the sampler's settings.
pub const SPECIAL_F32: [f32; 24] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    0.9,
    0.999_999_9,
    1.000_000_1,
    2.0,
    1e-45,
    -1e-45,
    1e-30,
    1e30,
    -1e30,
    f32::MAX,
    f32::MIN,
    f32::MIN_POSITIVE,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    -f32::NAN,
    f32::EPSILON,
    100.0,
    -100.0,
];

/// A float from fuzz input: a special value, or raw bits.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum F {
    /// One of [`SPECIAL_F32`].
    Special(u8),
    /// A plain small number `k / 16`.
    Small(i8),
    /// Any bit pattern.
    Bits(u32),
}

impl F {
    /// The value.
    pub fn get(self) -> f32 {
        match self {
            F::Special(i) => SPECIAL_F32[i as usize % SPECIAL_F32.len()],
            F::Small(k) => k as f32 / 16.0,
            F::Bits(b) => f32::from_bits(b),
        }
    }
}

// ---- llama2.c checkpoints -----------------------------------------------------------------------

/// The header values of a llama2.c checkpoint.
#[derive(Debug, Clone, Copy)]
pub struct L2cHeader {
    /// 0, 1 or 2.
    pub version: u32,
    /// dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (v0: negative = unshared
    /// classifier), seq_len.
    pub p: [i32; 7],
    /// Shared classifier flag (versions 1 and 2).
    pub shared: u8,
    /// Group size (version 2).
    pub gs: i32,
}

impl L2cHeader {
    /// Whether the classifier is shared.
    pub fn is_shared(&self) -> bool {
        if self.version == 0 {
            self.p[5] > 0
        } else {
            self.shared == 1
        }
    }

    /// Header bytes.
    pub fn header(&self) -> Vec<u8> {
        let mut h = Vec::new();
        if self.version == 0 {
            for v in self.p {
                h.extend_from_slice(&v.to_le_bytes());
            }
            return h;
        }
        h.extend_from_slice(&0x616b_3432u32.to_le_bytes());
        h.extend_from_slice(&(self.version as i32).to_le_bytes());
        for v in self.p {
            h.extend_from_slice(&v.to_le_bytes());
        }
        h.push(self.shared);
        if self.version == 2 {
            h.extend_from_slice(&self.gs.to_le_bytes());
        }
        h.resize(256, 0);
        h
    }

    /// Body size in bytes the header implies for sane (positive, divisible) values, by the
    /// layout in `src/convert/llama2c.rs`; None if it is not sane or too big.
    pub fn body_len(&self) -> Option<usize> {
        let p = self.p.map(|v| v.unsigned_abs() as u64);
        let (d, hd, l, nh, nkv, vocab, seq) = (p[0], p[1], p[2], p[3], p[4], p[5], p[6]);
        if nh == 0 || d % nh != 0 || nkv == 0 {
            return None;
        }
        let kv = d / nh * nkv;
        let tok = vocab.checked_mul(d)?;
        let norms = l.checked_mul(2)?.checked_mul(d)?.checked_add(d)?;
        let layer = d.checked_mul(d)?.checked_mul(2)?.checked_add(d.checked_mul(kv)?.checked_mul(2)?)?.checked_add(d.checked_mul(hd)?.checked_mul(3)?)?;
        let mats = l.checked_mul(layer)?.checked_add(tok)?.checked_add(if self.is_shared() { 0 } else { tok })?;
        let body = match self.version {
            0 => norms.checked_add(mats)?.checked_add(seq.checked_mul(d / nh)?)?.checked_mul(4)?,
            1 => norms.checked_add(mats)?.checked_mul(4)?,
            _ => {
                let gs = self.gs.max(1) as u64;
                norms.checked_mul(4)?.checked_add(mats)?.checked_add((mats / gs).checked_mul(4)?)?
            }
        };
        (body <= 1 << 22).then_some(body as usize)
    }
}

// ---- seeds -------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `seeds/parse_model` (valid tiny models) and `seeds/llama2c` (tiny llama2.c
    /// checkpoints of versions 0, 1, 2)
    /// when `TINYGPT_WRITE_SEEDS=1`.
    #[test]
    fn write_seeds() {
        if std::env::var_os("TINYGPT_WRITE_SEEDS").is_none() {
            return;
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
        let dir = root.join("parse_model");
        std::fs::create_dir_all(&dir).unwrap();
        for shape in 0..SHAPES {
            std::fs::write(dir.join(format!("shape{shape}.tgpt")), tiny_model(shape, 11, &[], shape as u64)).unwrap();
        }
        // one with a (small) tokenizer
        let t = &small_tokenizers()[2];
        std::fs::write(dir.join("llama2c_tok.tgpt"), tiny_model(2, t.vocab, &t.section, 9)).unwrap();

        // llama2.c: versions 0 (shared and not), 1, 2; small dims, a simple body pattern
        let dir = root.join("llama2c");
        std::fs::create_dir_all(&dir).unwrap();
        let heads = [
            L2cHeader { version: 0, p: [8, 12, 1, 2, 1, 7, 4], shared: 0, gs: 0 },
            L2cHeader { version: 0, p: [8, 12, 1, 2, 2, -7, 4], shared: 0, gs: 0 },
            L2cHeader { version: 1, p: [8, 12, 2, 2, 1, 5, 4], shared: 1, gs: 0 },
            L2cHeader { version: 2, p: [8, 12, 1, 2, 1, 5, 4], shared: 0, gs: 4 },
        ];
        for (i, h) in heads.iter().enumerate() {
            let mut f = h.header();
            let n = h.body_len().unwrap();
            f.extend((0..n).map(|k| if k % 4 == 3 { 0x3c } else { (k * 7) as u8 }));
            std::fs::write(dir.join(format!("v{}_{i}.bin", h.version)), f).unwrap();
        }
    }

    #[test]
    fn base_models_parse_and_run() {
        for (i, b) in base_models().iter().enumerate() {
            let a = aligned(b);
            let m = Model::from_bytes(a.as_slice()).unwrap_or_else(|e| panic!("base model {i}: {e}"));
            let rows = run_model(m, &[1, 2, 3], 0, 1, false, false);
            assert_eq!(rows.len(), 3, "base model {i}");
        }
    }
}
#[cfg(test)]
mod seed_check {
    #[test]
    fn llama2c_seeds_import() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/llama2c");
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let b = std::fs::read(&p).unwrap();
            let r = tinygpt::convert::parse_llama2c(&b, "seed");
            assert!(r.is_ok(), "{}: {:?}", p.display(), r.err().map(|e| e.to_string()));
        }
    }
}
