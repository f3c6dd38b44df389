//! Property tests (proptest): tokenizer round trips on the fixture vocabularies, hostile
//! model files (every truncation, byte flips), the sampler on any logits, and the workspace
//! size arithmetic on huge header values.
//!
//! `PROPTEST_CASES` sets the number of cases of every property (proptest's default: 256).
#![cfg(feature = "std")]

use std::path::PathBuf;
use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::Value;
use tinygpt::format::layout;
use tinygpt::format::writer::{random_weights, write_model};
use tinygpt::format::ParseOptions;
use tinygpt::sampler::{distribution, sample_with_coin, Sampler, SamplerConfig};
use tinygpt::session::{state_bytes, KvDtype, Session, SessionOptions};
use tinygpt::tokenizer::build::{from_gpt2_files, from_llama2c_bin, from_tokenizer_json, from_tokenizer_json_with_config};
use tinygpt::tokenizer::{decode_into, StreamDecoder, Tokenizer};
use tinygpt::*;

// ---- fixture tokenizers --------------------------------------------------------------------

fn fixture(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn fixture_bytes(rel: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)).unwrap()
}

/// Llama-2's tokenizer.json rebuilt from the compact fixture (as tests/tokenizer_reference.rs).
fn llama2_json(template: &str) -> String {
    let vocab_txt = fixture("tokenizer/llama2/vocab.txt");
    let vocab: Vec<&str> = vocab_txt.split('\n').collect();
    let raw = fixture_bytes("tokenizer/llama2/merges.bin");
    let ids: Vec<usize> = raw.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]) as usize).collect();
    let mut t: Value = serde_json::from_str(&fixture(template)).unwrap();
    t["model"]["vocab"] = Value::Object(vocab.iter().enumerate().map(|(i, v)| (v.to_string(), Value::from(i))).collect());
    t["model"]["merges"] =
        Value::Array(ids.chunks_exact(2).map(|p| Value::from(format!("{} {}", vocab[p[0]], vocab[p[1]]))).collect());
    serde_json::to_string(&t).unwrap()
}

/// A tokenizer and the round-trip rules its documentation gives.
struct Fix {
    name: &'static str,
    section: Vec<u8>,
    vocab: usize,
    /// Byte-level BPE: every string round-trips exactly, special-token texts included.
    byte_level: bool,
    /// HF Metaspace (`PREPEND_UNLESS_MARKER`): a text that starts with a space (or `▁`) gets no
    /// extra marker, so decoding, which strips one leading space, drops it.
    metaspace: bool,
    /// `▁` is the space marker: a `▁` in the text decodes as a space.
    meta_marker: bool,
}

fn fixes() -> &'static [Fix] {
    static F: OnceLock<Vec<Fix>> = OnceLock::new();
    F.get_or_init(|| {
        let f = |name: &'static str, section: std::result::Result<Vec<u8>, String>, vocab: usize, byte_level: bool, metaspace: bool, meta_marker: bool| Fix {
            name,
            section: section.unwrap_or_else(|e| panic!("{name}: {e}")),
            vocab,
            byte_level,
            metaspace,
            meta_marker,
        };
        vec![
            f("gpt2", from_gpt2_files(&fixture("tokenizer/gpt2/encoder.json"), &fixture("tokenizer/gpt2/vocab.bpe")), 50257, true, false, false),
            f("gpt2_tiny", from_tokenizer_json(&fixture("hf/gpt2_tiny/tokenizer.json"), 512), 512, true, false, false),
            f(
                "llama2",
                from_tokenizer_json_with_config(
                    &llama2_json("tokenizer/llama2/template.json"),
                    Some(&fixture("tokenizer/tokenizer_config.json")),
                    32000,
                ),
                32000,
                false,
                false,
                true,
            ),
            f("llama2_meta_split", from_tokenizer_json(&llama2_json("tokenizer/llama2/template_meta_always_split.json"), 32000), 32000, false, true, true),
            f("llama2_meta_first", from_tokenizer_json(&llama2_json("tokenizer/llama2/template_meta_first_nosplit.json"), 32000), 32000, false, true, true),
            f(
                "llama_tiny",
                from_tokenizer_json_with_config(&fixture("hf/llama_tiny/tokenizer.json"), Some(&fixture("hf/llama_tiny/tokenizer_config.json")), 512),
                512,
                false,
                false,
                true,
            ),
            f("llama2c_tiny", from_llama2c_bin(&fixture_bytes("hf/llama_tiny/tokenizer.bin"), 512), 512, false, false, false),
        ]
    })
}

fn tok(f: &Fix) -> Tokenizer<'_> {
    Tokenizer::parse(&f.section, f.vocab).unwrap()
}

fn encode(t: &Tokenizer<'_>, s: &str, bos: bool) -> Vec<u32> {
    let mut out = vec![0u32; 3 * s.len() + 300];
    let n = t.encode_with(s, bos, &mut out).unwrap_or_else(|e| panic!("encode {s:?}: {e}"));
    out.truncate(n);
    out
}

fn decode(t: &Tokenizer<'_>, ids: &[u32], skip_special: bool) -> String {
    let mut out = vec![0u8; 3 * ids.len() * t.max_token_bytes().max(1) + 16];
    decode_into(t, ids, skip_special, &mut out).unwrap().to_owned()
}

/// What `decode(encode(s))` gives by the documented rules, or None where a special token
/// was matched in a SentencePiece text (HF puts a marker after it: not a round trip).
fn expected_round_trip(f: &Fix, t: &Tokenizer<'_>, s: &str, ids: &[u32]) -> Option<String> {
    if f.byte_level {
        return Some(s.to_owned());
    }
    if ids.iter().any(|&i| t.is_special(i)) {
        return None;
    }
    let mut want = if f.meta_marker { s.replace('\u{2581}', " ") } else { s.to_owned() };
    if f.metaspace && want.starts_with(' ') {
        want.remove(0);
    }
    Some(want)
}

/// Text that stresses tokenizers: words, runs of spaces, newlines, digits, punctuation,
/// contractions, CJK, emoji (4-byte), combining marks, RTL, controls, `▁`, special-token texts.
fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[a-zA-Z]{1,8}",
        2 => "[ ]{1,4}",
        1 => "[\\n\\t\\r]{1,3}",
        1 => "[0-9]{1,6}",
        1 => "[!-/:-@\\[-`{-~]{1,3}",
        1 => prop::sample::select(vec!["'s", "'ll", "'re", "'d", "n't"]).prop_map(str::to_owned),
        1 => "[\u{4e00}-\u{9fff}]{1,4}",
        1 => "[\u{1F300}-\u{1FAFF}]{1,2}",
        1 => "[\u{0300}-\u{036f}]{1,2}",
        1 => "[\u{0590}-\u{06ff}]{1,4}",
        1 => "[\u{0}-\u{1f}\u{7f}-\u{9f}]{1,2}",
        1 => prop::sample::select(vec!["\u{2581}", "<s>", "</s>", "<unk>", "<|endoftext|>", "\u{FFFD}", "\u{FEFF}", "\u{200D}"]).prop_map(str::to_owned),
        1 => any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

fn tok_config() -> ProptestConfig {
    ProptestConfig { cases: ProptestConfig::default().cases.max(4) / 4, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(tok_config())]

    /// GPT-2 byte-level BPE: `decode(encode(s)) == s` for any string (special tokens kept).
    #[test]
    fn byte_level_round_trips_exactly(s in prop_oneof![text(), any::<String>()]) {
        for f in fixes().iter().filter(|f| f.byte_level) {
            let t = tok(f);
            let ids = encode(&t, &s, false);
            prop_assert_eq!(decode(&t, &ids, false), s.clone(), "{}", f.name);
        }
    }

    /// SentencePiece: the round trip is exact up to the documented exceptions (`▁` decodes as
    /// a space; Metaspace drops a leading space; special-token texts are matched as tokens).
    #[test]
    fn sentencepiece_round_trips_up_to_documented_exceptions(s in prop_oneof![text(), any::<String>()]) {
        for f in fixes().iter().filter(|f| !f.byte_level) {
            let t = tok(f);
            let ids = encode(&t, &s, false);
            if let Some(want) = expected_round_trip(f, &t, &s, &ids) {
                prop_assert_eq!(decode(&t, &ids, false), want, "{}", f.name);
            }
        }
    }

    /// The ids never depend on the output buffer's size (fast, stack and in-place merge paths),
    /// and a buffer that is too small is an error, never a truncation.
    #[test]
    fn encoding_does_not_depend_on_the_buffer(s in text(), len in 0usize..64) {
        for f in fixes() {
            let t = tok(f);
            let full = encode(&t, &s, t.add_bos());
            let mut out = vec![0u32; len];
            match t.encode(&s, &mut out) {
                Ok(n) => prop_assert_eq!(&out[..n], &full[..], "{}", f.name),
                Err(Error::PromptTooLong { tokens, max }) => {
                    prop_assert!(full.len() > max && tokens > max && tokens <= full.len(), "{}: {} ids, {tokens} > {max}", f.name, full.len());
                }
                Err(Error::BufferTooSmall { .. }) => {}
                Err(e) => prop_assert!(false, "{}: {e}", f.name),
            }
        }
    }

    /// Streaming decode, fed one id at a time, equals `decode_into`; ids past the vocabulary
    /// are errors that leave the decoder as it was.
    #[test]
    fn stream_decode_equals_decode_into(ids in prop::collection::vec(any::<u32>(), 0..48), skip in any::<bool>()) {
        for f in fixes() {
            let t = tok(f);
            let vocab = f.vocab as u32;
            let ids: Vec<u32> = ids.iter().map(|&i| if i % 17 == 0 { i } else { i % vocab }).collect();
            let valid: Vec<u32> = ids.iter().copied().filter(|&i| i < vocab).collect();
            let mut d = StreamDecoder::new().keep_special(!skip).sequence();
            let mut got = String::new();
            for &i in &ids {
                let r = d.push(&t, i, &mut |s| got.push_str(s));
                prop_assert_eq!(r.is_err(), i >= vocab);
            }
            d.finish(&mut |s| got.push_str(s));
            prop_assert_eq!(got, decode(&t, &valid, skip), "{}", f.name);
        }
    }
}

// ---- hostile model files -----------------------------------------------------------------------

/// Offset of the header's checksum (docs/FORMAT.md).
const H_CHECKSUM: usize = 120;
/// Offset of the header's file length (docs/FORMAT.md).
const H_FILE_LEN: usize = 112;

fn cfg(shape: usize, vocab: usize) -> Config {
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
        seq_len: 8,
        norm: Norm::LayerNorm,
        norm_eps: 1e-5,
        act: Activation::GeluTanh,
        pos: Position::Learned,
        rope_theta: 10000.0,
        tied: true,
        bias: true,
    };
    match shape {
        0 => Config { dtype: DType::Q8, group_size: 32, ..base },
        1 => Config {
            arch: Arch::Llama,
            dtype: DType::Q8,
            group_size: 8,
            n_heads: 4,
            n_kv_heads: 2,
            head_size: 4,
            norm: Norm::RmsNorm,
            act: Activation::SwiGlu,
            pos: Position::Rope,
            tied: false,
            bias: false,
            ..base
        },
        _ => Config { pos: Position::Sinusoidal, act: Activation::Relu, head_size: 6, n_heads: 3, n_kv_heads: 1, tied: false, ..base },
    }
}

/// Valid small models: three shapes, the first two with a tokenizer (GPT-2 tiny, llama2.c).
fn models() -> &'static [Vec<u8>] {
    static M: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    M.get_or_init(|| {
        let gpt2 = from_tokenizer_json(&fixture("hf/gpt2_tiny/tokenizer.json"), 512).unwrap();
        let l2c = from_llama2c_bin(&fixture_bytes("hf/llama_tiny/tokenizer.bin"), 512).unwrap();
        [(0, 512, gpt2), (1, 512, l2c), (2, 13, Vec::new())]
            .into_iter()
            .map(|(shape, vocab, tok)| {
                let c = cfg(shape, vocab);
                write_model(&c, &random_weights(&Config { dtype: DType::F32, ..c }, shape as u64), &tok).unwrap()
            })
            .collect()
    })
}

/// Whatever parses must run: a session, three steps, a sample, and the tokenizer.
fn parses_and_runs(bytes: &[u8], verify_checksum: bool) -> bool {
    let a = AlignedBytes::new(bytes);
    let Ok(m) = Model::parse(a.as_slice(), ParseOptions { verify_checksum }) else { return false };
    let opts = SessionOptions { ctx: m.config().seq_len.min(3), batch: 2, kv: KvDtype::F16 };
    let mut ws = vec![0u8; state_bytes(m.config(), &opts).expect("a parsed model has a workspace size")];
    let mut s = Session::new(m, &mut ws, opts).expect("a parsed model starts a session");
    let vocab = m.config().vocab_size as u32;
    s.prefill(&[0, vocab - 1]).expect("prefill of valid ids");
    let logits = s.step(1 % vocab).expect("a step with room left").to_vec();
    let mut sampler = Sampler::new(SamplerConfig::default()).unwrap();
    let (l, recent, scratch) = s.sampling_parts();
    let id = sampler.sample(l, recent, scratch).expect("sampling");
    assert!(id < vocab && logits.len() == vocab as usize);
    let mut ids = [0u32; 64];
    if let Ok(n) = m.tokenizer().encode("Hello \u{4e2d} world", &mut ids) {
        let mut out = [0u8; 512];
        let _ = decode_into(m.tokenizer(), &ids[..n], true, &mut out);
    }
    true
}

#[test]
fn every_truncation_is_rejected_even_with_a_matching_length_field() {
    for b in models() {
        assert!(parses_and_runs(b, true));
        for n in 0..b.len() {
            // as cut
            assert!(!parses_and_runs(&b[..n], false), "truncated to {n} parsed");
            // with file_len (and the checksum) rewritten to match: the structure checks must
            // find the cut
            if n >= 128 {
                let mut c = b[..n].to_vec();
                c[H_FILE_LEN..H_FILE_LEN + 8].copy_from_slice(&(n as u64).to_le_bytes());
                let sum = layout::checksum(&c);
                c[H_CHECKSUM..H_CHECKSUM + 8].copy_from_slice(&sum.to_le_bytes());
                let _ = parses_and_runs(&c, true);
            }
        }
    }
}

proptest! {
    /// Any single-byte change is caught by the checksum (its documented guarantee: a change
    /// confined to one 8-byte word always changes it).
    #[test]
    fn any_byte_flip_fails_the_checksum(m in 0usize..3, at in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let mut b = models()[m].clone();
        let i = at.index(b.len());
        b[i] ^= xor;
        let a = AlignedBytes::new(&b);
        prop_assert!(Model::from_bytes(a.as_slice()).is_err(), "flip at {i} accepted");
    }

    /// Byte flips anywhere, checksum off or rewritten: rejected, or a model that runs.
    #[test]
    fn byte_flips_are_rejected_or_run(
        m in 0usize..3,
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..6),
        header_only in any::<bool>(),
        fix in any::<bool>(),
    ) {
        let mut b = models()[m].clone();
        for (at, xor) in &flips {
            let i = if header_only { at.index(128) } else { at.index(b.len()) };
            b[i] ^= xor;
        }
        if fix {
            let sum = layout::checksum(&b);
            b[H_CHECKSUM..H_CHECKSUM + 8].copy_from_slice(&sum.to_le_bytes());
        }
        let _ = parses_and_runs(&b, fix);
    }
}

// ---- sampler -------------------------------------------------------------------------------

fn logit() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => -20.0f32..20.0,
        1 => any::<f32>(),
        1 => prop::sample::select(vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::MAX, f32::MIN, 0.0, -0.0, 1e-45, f32::MIN_POSITIVE]),
    ]
}

fn valid_settings() -> impl Strategy<Value = SamplerConfig> {
    (
        prop_oneof![Just(0.0f32), Just(1e-30), 0.0f32..5.0, Just(f32::MAX)],
        prop_oneof![Just(0usize), 0usize..70, Just(usize::MAX)],
        prop_oneof![Just(1.0f32), Just(f32::MIN_POSITIVE), 0.0f32..1.0],
        prop_oneof![Just(0.0f32), 0.0f32..1.0, Just(0.999_999_94)],
        prop_oneof![Just(1.0f32), Just(f32::MIN_POSITIVE), 0.01f32..10.0, Just(f32::MAX)],
        0usize..100,
        any::<u64>(),
    )
        .prop_map(|(temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n, seed)| SamplerConfig {
            temperature,
            top_k,
            // (0, 1]: nudge an exact 0 up
            top_p: if top_p > 0.0 { top_p } else { f32::MIN_POSITIVE },
            min_p,
            repeat_penalty,
            repeat_last_n,
            seed,
        })
}

proptest! {
    /// Any logits (NaN, ±inf, extremes) and any valid settings: a valid id, which the
    /// distribution keeps; the kept distribution sums to 1.
    #[test]
    fn sampler_always_returns_a_kept_valid_id(
        logits in prop::collection::vec(logit(), 1..80),
        cfg in valid_settings(),
        recent in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
        coin in 0.0f32..1.0,
    ) {
        let n = logits.len();
        let recent: Vec<u32> = recent.iter().map(|i| i.index(n) as u32).collect();
        prop_assert!(cfg.validate().is_ok());
        let mut l = logits.clone();
        let mut scratch = vec![0f32; n];
        let id = sample_with_coin(&mut l, &recent, &cfg, coin, &mut scratch).unwrap() as usize;
        prop_assert!(id < n);
        let (mut probs, mut kept) = (vec![0f32; n], vec![0f32; n]);
        distribution(&logits, &recent, &cfg, &mut probs, &mut kept).unwrap();
        prop_assert!(kept[id] > 0.0, "id {id} not kept");
        let sum: f64 = kept.iter().map(|&q| q as f64).sum();
        prop_assert!((sum - 1.0).abs() < 1e-3, "kept mass {sum}");
        prop_assert!(probs.iter().chain(&kept).all(|p| p.is_finite() && (0.0..=1.0).contains(p)));
        let mut s = Sampler::new(cfg).unwrap();
        let mut l = logits.clone();
        prop_assert!((s.sample(&mut l, &recent, &mut scratch).unwrap() as usize) < n);
    }

    /// Any settings at all: validate decides, and the sampler never panics.
    #[test]
    fn sampler_settings_are_validated_not_trusted(
        logits in prop::collection::vec(logit(), 0..16),
        t in any::<f32>(), k in any::<usize>(), p in any::<f32>(), mp in any::<f32>(), rp in any::<f32>(),
        last_n in any::<usize>(),
        recent in prop::collection::vec(any::<u32>(), 0..8),
        coin in any::<f32>(),
    ) {
        let cfg = SamplerConfig { temperature: t, top_k: k, top_p: p, min_p: mp, repeat_penalty: rp, repeat_last_n: last_n, seed: 1 };
        let valid = cfg.validate().is_ok();
        prop_assert_eq!(Sampler::new(cfg).is_ok(), valid);
        let mut l = logits.clone();
        let mut scratch = vec![0f32; logits.len()];
        if let Ok(id) = sample_with_coin(&mut l, &recent, &cfg, coin, &mut scratch) {
            prop_assert!(valid && (id as usize) < logits.len());
        }
    }
}

// ---- workspace size arithmetic -------------------------------------------------------------

/// The workspace size by an independent reading of `src/sizes.rs`'s buffer list, in u128 (so
/// it cannot overflow): what `state_bytes` must return when it returns a size.
fn state_bytes_u128(c: &Config, o: &SessionOptions) -> u128 {
    let u = |v: usize| v as u128;
    let ctx = u(if o.ctx == 0 { c.seq_len } else { o.ctx });
    let b = u(o.batch);
    let (q_dim, kv_dim) = (u(c.n_heads) * u(c.head_size), u(c.n_kv_heads) * u(c.head_size));
    let (qstride, qgroups) = match c.dtype {
        DType::F32 => (0, 0),
        DType::Q8 => {
            let w = u(c.dim).max(u(c.hidden_dim)).max(q_dim);
            let g = w.div_ceil(u(c.group_size));
            (g * u(c.group_size), g)
        }
    };
    let kv_bytes = if o.kv == KvDtype::F32 { 4 } else { 2 };
    let cache = u(c.n_layers) * ctx * kv_dim;
    let bufs: [(u128, u128); 18] = [
        (4, b * u(c.dim)),
        (4, b * u(c.dim)),
        (4, b * q_dim),
        (4, b * u(c.dim)),
        (4, b * u(c.hidden_dim)),
        (4, b * u(c.hidden_dim)),
        (4, b * q_dim),
        (4, b * kv_dim),
        (4, b * kv_dim),
        (4, b * u(c.head_size)),
        // attention scores: a row per head, or with a batch min(batch, 8) slots of 8 rows of
        // scores (ctx) and outputs (head_size), whichever is larger
        (4, (u(c.n_heads) * ctx).max(if b > 1 { b.min(8) * 8 * (ctx + u(c.head_size)) } else { 0 })),
        (1, b * qstride),
        (4, b * qgroups),
        (4, b * u(c.vocab_size)),
        (kv_bytes, cache),
        (kv_bytes, cache),
        (4, ctx),
        (4, u(c.vocab_size)),
    ];
    64 + bufs.iter().map(|&(e, n)| (e * n).div_ceil(64) * 64).sum::<u128>()
}

/// The largest config `Config::validate` accepts (every limit at its maximum).
fn max_config() -> Config {
    Config {
        arch: Arch::Llama,
        dtype: DType::Q8,
        group_size: 1024,
        dim: 1 << 16,
        hidden_dim: 1 << 19,
        n_layers: 1 << 10,
        n_heads: 4096,
        n_kv_heads: 4096,
        head_size: 64,
        vocab_size: 1 << 22,
        seq_len: 1 << 20,
        norm: Norm::RmsNorm,
        norm_eps: 1e-5,
        act: Activation::SwiGlu,
        pos: Position::Rope,
        rope_theta: 10000.0,
        tied: false,
        bias: true,
    }
}

#[test]
fn the_largest_valid_config_has_an_exact_size_and_one_more_is_an_error() {
    let c = max_config();
    c.validate().unwrap();
    for kv in [KvDtype::F32, KvDtype::F16] {
        for batch in [1, 4096] {
            let o = SessionOptions { ctx: 0, kv, batch };
            let want = state_bytes_u128(&c, &o);
            match state_bytes(&c, &o) {
                Ok(v) => assert_eq!(v as u128, want),
                Err(e) => {
                    assert!(matches!(e, Error::Overflow { .. }), "{e}");
                    assert!(want > usize::MAX as u128, "overflow reported for {want}");
                }
            }
        }
    }
    // each limit plus one is a BadField, not a size
    let over: [(&str, Config); 7] = [
        ("dim", Config { dim: (1 << 16) + 1, ..c }),
        ("hidden_dim", Config { hidden_dim: (1 << 19) + 1, ..c }),
        ("n_layers", Config { n_layers: (1 << 10) + 1, ..c }),
        ("n_heads", Config { n_heads: 4097, n_kv_heads: 1, ..c }),
        ("head_size", Config { head_size: (1 << 16) + 1, n_heads: 1, n_kv_heads: 1, ..c }),
        ("vocab_size", Config { vocab_size: (1 << 22) + 1, ..c }),
        ("seq_len", Config { seq_len: (1 << 20) + 1, ..c }),
    ];
    for (field, c) in over {
        let e = c.validate().unwrap_err();
        assert!(matches!(e, Error::BadField { field: f, .. } if f == field), "{field}: {e}");
        assert!(state_bytes(&c, &SessionOptions::default()).is_err(), "{field}");
    }
}

fn huge() -> impl Strategy<Value = usize> {
    prop_oneof![
        3 => 0usize..=64,
        2 => (0u32..=63).prop_map(|k| 1usize << k),
        2 => (0u32..=63).prop_map(|k| (1usize << k).wrapping_sub(1)),
        1 => (0u32..=63).prop_map(|k| (1usize << k) + 1),
        1 => any::<usize>(),
        1 => Just(usize::MAX),
    ]
}

proptest! {
    /// Any header values, however huge: `validate` rejects them or `state_bytes` returns the
    /// exact size (or `Overflow` where it does not fit); never a panic, never a wrapped size.
    #[test]
    fn state_bytes_never_overflows_silently(
        dims in prop::array::uniform9(huge()),
        ctx in huge(), batch in huge(), q8 in any::<bool>(), f16 in any::<bool>(), near_max in any::<bool>(),
    ) {
        let base = if near_max { max_config() } else { cfg(1, 512) };
        let pick = |v: usize, d: usize| if v.is_multiple_of(3) { d } else { v };
        let c = Config {
            dtype: if q8 { DType::Q8 } else { DType::F32 },
            group_size: pick(dims[0], base.group_size),
            dim: pick(dims[1], base.dim),
            hidden_dim: pick(dims[2], base.hidden_dim),
            n_layers: pick(dims[3], base.n_layers),
            n_heads: pick(dims[4], base.n_heads),
            n_kv_heads: pick(dims[5], base.n_kv_heads),
            head_size: pick(dims[6], base.head_size),
            vocab_size: pick(dims[7], base.vocab_size),
            seq_len: pick(dims[8], base.seq_len),
            ..base
        };
        let o = SessionOptions { ctx, batch, kv: if f16 { KvDtype::F16 } else { KvDtype::F32 } };
        match state_bytes(&c, &o) {
            Ok(v) => {
                prop_assert!(c.validate().is_ok());
                prop_assert_eq!(v as u128, state_bytes_u128(&c, &o));
            }
            Err(Error::Overflow { .. }) => prop_assert!(state_bytes_u128(&c, &o) > usize::MAX as u128),
            Err(Error::BadField { .. }) => prop_assert!(c.validate().is_err()),
            Err(Error::BadContext { .. } | Error::InvalidSetting { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected {e}"),
        }
    }
}
