//! Session and forward-pass behaviour on random-weight models of both families.

use tinygpt::format::writer::{random_weights, write_model};
use tinygpt::*;

fn cfg(arch: Arch, dtype: DType) -> Config {
    let llama = arch == Arch::Llama;
    Config {
        arch,
        dtype,
        group_size: if dtype == DType::Q8 { 32 } else { 0 },
        dim: 64,
        hidden_dim: if llama { 172 } else { 256 },
        n_layers: 2,
        n_heads: 4,
        n_kv_heads: if llama { 2 } else { 4 },
        head_size: 16,
        vocab_size: 97,
        seq_len: 40,
        norm: if llama { Norm::RmsNorm } else { Norm::LayerNorm },
        norm_eps: 1e-5,
        act: if llama { Activation::SwiGlu } else { Activation::GeluTanh },
        pos: if llama { Position::Rope } else { Position::Learned },
        rope_theta: 10000.0,
        tied: !llama,
        bias: !llama,
    }
}

fn build(c: &Config) -> AlignedBytes {
    let w = random_weights(&Config { dtype: DType::F32, ..*c }, 7);
    AlignedBytes::new(&write_model(c, &w, &[]).unwrap())
}

fn run_steps(bytes: &[u8], toks: &[u32], opts: SessionOptions) -> Vec<Vec<f32>> {
    let m = Model::from_bytes(bytes).unwrap();
    let mut ws = vec![0u8; state_bytes(m.config(), &opts).unwrap()];
    let mut s = Session::new(m, &mut ws, opts).unwrap();
    toks.iter().map(|&t| s.step(t).unwrap().to_vec()).collect()
}

const TOKS: [u32; 21] = [5, 17, 3, 96, 0, 44, 44, 12, 80, 1, 2, 3, 4, 5, 6, 60, 61, 62, 9, 9, 9];

#[test]
fn batched_prefill_equals_stepping_bit_for_bit() {
    for arch in [Arch::Gpt2, Arch::Llama] {
        for dtype in [DType::F32, DType::Q8] {
            let c = cfg(arch, dtype);
            let bytes = build(&c);
            let steps = run_steps(bytes.as_slice(), &TOKS, SessionOptions::default());
            let m = Model::from_bytes(bytes.as_slice()).unwrap();
            let opts = SessionOptions { batch: 8, ..Default::default() };
            let mut ws = vec![0u8; state_bytes(m.config(), &opts).unwrap()];
            let mut s = Session::new(m, &mut ws, opts).unwrap();
            let mut all = Vec::new();
            s.forward_each(&TOKS, &mut |_, l| all.push(l.to_vec())).unwrap();
            assert_eq!(all.len(), TOKS.len());
            for (a, b) in all.iter().zip(&steps) {
                assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()), "{arch:?} {dtype:?}");
            }
            s.reset();
            let last = s.prefill(&TOKS).unwrap().to_vec();
            assert_eq!(last, *steps.last().unwrap());
        }
    }
}

#[test]
fn int8_logits_track_f32_logits() {
    for arch in [Arch::Gpt2, Arch::Llama] {
        let f = run_steps(build(&cfg(arch, DType::F32)).as_slice(), &TOKS, SessionOptions::default());
        let q = run_steps(build(&cfg(arch, DType::Q8)).as_slice(), &TOKS, SessionOptions::default());
        let mut agree = 0;
        for (a, b) in f.iter().zip(&q) {
            let am = a.iter().enumerate().max_by(|x, y| x.1.total_cmp(y.1)).unwrap().0;
            let bm = b.iter().enumerate().max_by(|x, y| x.1.total_cmp(y.1)).unwrap().0;
            agree += (am == bm) as usize;
            let err = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            let spread = a.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!(err < 0.1 * spread.max(1.0), "{arch:?}: int8 error {err} vs logit scale {spread}");
        }
        assert!(agree * 10 >= TOKS.len() * 8, "{arch:?}: top-1 agreement {agree}/{}", TOKS.len());
    }
}

#[test]
fn f16_cache_is_close_to_f32_cache() {
    let bytes = build(&cfg(Arch::Llama, DType::F32));
    let a = run_steps(bytes.as_slice(), &TOKS, SessionOptions::default());
    let b = run_steps(bytes.as_slice(), &TOKS, SessionOptions { kv: KvDtype::F16, ..Default::default() });
    for (x, y) in a.iter().zip(&b) {
        let err = x.iter().zip(y).map(|(p, q)| (p - q).abs()).fold(0f32, f32::max);
        assert!(err < 1e-2, "f16 cache error {err}");
    }
    let c = cfg(Arch::Llama, DType::F32);
    let s32 = state_bytes(&c, &SessionOptions::default()).unwrap();
    let s16 = state_bytes(&c, &SessionOptions { kv: KvDtype::F16, ..Default::default() }).unwrap();
    let cache32 = 2 * c.n_layers * c.seq_len * c.kv_dim() * 4;
    assert!(s32 - s16 >= cache32 / 2 - 64, "f16 cache saves half the cache bytes");
}

#[test]
fn bad_tokens_context_and_workspace_are_errors() {
    let bytes = build(&cfg(Arch::Gpt2, DType::Q8));
    let m = Model::from_bytes(bytes.as_slice()).unwrap();
    let opts = SessionOptions { ctx: 4, ..Default::default() };
    let need = state_bytes(m.config(), &opts).unwrap();
    let mut small = vec![0u8; need - 1];
    assert!(matches!(Session::new(m, &mut small, opts), Err(Error::WorkspaceTooSmall { .. })));
    assert!(matches!(
        state_bytes(m.config(), &SessionOptions { ctx: 41, ..Default::default() }),
        Err(Error::BadContext { .. })
    ));
    let mut ws = vec![0u8; need];
    let mut s = Session::new(m, &mut ws, opts).unwrap();
    assert!(matches!(s.step(97), Err(Error::TokenOutOfRange { id: 97, .. })));
    assert!(matches!(s.prefill(&[1, 2, 3, 4, 5]), Err(Error::PromptTooLong { .. })));
    assert!(matches!(s.prefill(&[]), Err(Error::EmptyPrompt)));
    for t in 0..4 {
        s.step(t).unwrap();
    }
    assert!(matches!(s.step(1), Err(Error::ContextFull { ctx: 4 })));
    s.reset();
    assert!(s.step(1).is_ok());
}

#[test]
fn workspace_at_any_alignment_works() {
    let bytes = build(&cfg(Arch::Llama, DType::Q8));
    let want = run_steps(bytes.as_slice(), &TOKS[..5], SessionOptions::default());
    let m = Model::from_bytes(bytes.as_slice()).unwrap();
    let need = state_bytes(m.config(), &SessionOptions::default()).unwrap();
    for off in [1usize, 3, 13, 63] {
        let mut buf = vec![0u8; need + off];
        let mut s = Session::new(m, &mut buf[off..], SessionOptions::default()).unwrap();
        for (i, &t) in TOKS[..5].iter().enumerate() {
            assert_eq!(s.step(t).unwrap().to_vec(), want[i]);
        }
    }
}

#[test]
fn sinusoidal_and_relu_variants_run() {
    let mut c = cfg(Arch::Gpt2, DType::Q8);
    c.pos = Position::Sinusoidal;
    c.act = Activation::Relu;
    let bytes = build(&c);
    let out = run_steps(bytes.as_slice(), &TOKS[..6], SessionOptions::default());
    assert!(out.iter().flatten().all(|v| v.is_finite()));
    assert_ne!(out[0], out[1]);
}

#[test]
fn threads_give_identical_results() {
    use tinygpt::threads::Pool;
    let pool: &'static Pool = Box::leak(Box::new(Pool::new(3).unwrap()));
    for arch in [Arch::Gpt2, Arch::Llama] {
        let mut c = cfg(arch, DType::Q8);
        // big enough that the work is actually split
        c.dim = 256;
        c.hidden_dim = 700;
        c.n_heads = 8;
        c.n_kv_heads = if arch == Arch::Llama { 4 } else { 8 };
        c.head_size = 32;
        c.vocab_size = 1000;
        let bytes = build(&c);
        let m = Model::from_bytes(bytes.as_slice()).unwrap();
        for batch in [1usize, 5] {
            let opts = SessionOptions { batch, ..Default::default() };
            let mut ws1 = vec![0u8; state_bytes(m.config(), &opts).unwrap()];
            let mut ws2 = ws1.clone();
            let mut a = Session::new(m, &mut ws1, opts).unwrap();
            let mut b = Session::new(m, &mut ws2, opts).unwrap().with_parallel(pool);
            let (mut la, mut lb) = (Vec::new(), Vec::new());
            a.forward_each(&TOKS, &mut |_, l| la.push(l.to_vec())).unwrap();
            b.forward_each(&TOKS, &mut |_, l| lb.push(l.to_vec())).unwrap();
            assert_eq!(la, lb, "{arch:?} batch {batch}");
            assert_eq!(a.step(3).unwrap().to_vec(), b.step(3).unwrap().to_vec());
        }
    }
}

/// Batched prefill (the block attention kernel) gives the logits of stepping one token at a
/// time, bit for bit, with several query heads per KV head (grouped-query attention), for
/// f32 and f16 caches, prompts that cross block boundaries, and a session that continues
/// after a first prompt (blocks that start at a later position).
#[test]
fn gqa_prefill_equals_stepping_for_both_caches() {
    for (n_heads, n_kv_heads) in [(8usize, 2usize), (8, 4), (4, 4), (6, 1)] {
        let mut c = cfg(Arch::Llama, DType::Q8);
        c.n_heads = n_heads;
        c.n_kv_heads = n_kv_heads;
        c.head_size = 8;
        c.dim = n_heads * 8;
        let bytes = build(&c);
        for kv in [KvDtype::F32, KvDtype::F16] {
            let steps = run_steps(bytes.as_slice(), &TOKS, SessionOptions { kv, ..Default::default() });
            let m = Model::from_bytes(bytes.as_slice()).unwrap();
            for batch in [2usize, 5, 16] {
                let opts = SessionOptions { kv, batch, ..Default::default() };
                let mut ws = vec![0u8; state_bytes(m.config(), &opts).unwrap()];
                let mut s = Session::new(m, &mut ws, opts).unwrap();
                let mut all = Vec::new();
                s.forward_each(&TOKS, &mut |_, l| all.push(l.to_vec())).unwrap();
                for (i, (a, b)) in all.iter().zip(&steps).enumerate() {
                    assert!(
                        a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
                        "heads {n_heads}/{n_kv_heads} {kv:?} batch {batch}: token {i}"
                    );
                }
                // a prompt in two parts: the second part's blocks start at position 7
                s.reset();
                s.prefill(&TOKS[..7]).unwrap();
                let last = s.prefill(&TOKS[7..]).unwrap().to_vec();
                assert!(last.iter().zip(steps.last().unwrap()).all(|(x, y)| x.to_bits() == y.to_bits()), "{kv:?} batch {batch}: two-part prompt");
            }
        }
    }
}

/// A model whose int8 matrices were rewritten in place into the interleaved layouts
/// (`Model::from_bytes_in`, what the npm package runs: `Interleaved` for the relaxed-SIMD
/// build is `QuadsPlain`, the simd128 one's `Quads`; `Interleaved` is kept for any kernel
/// that wants it; here read through the native kernels'
/// scalar fallback) gives the row-major model's logits bit for bit: decode steps,
/// batched prefill, split over threads, both families, tied and untied heads, row counts
/// that are not multiples of four (vocab 97, GQA's kv_dim); and with the bytes interleaved,
/// the checksum no longer matches, so they cannot pass for the file.
#[test]
fn interleaved_model_equals_row_major_bit_for_bit() {
    use tinygpt::threads::Pool;
    let pool: &'static Pool = Box::leak(Box::new(Pool::new(2).unwrap()));
    for (arch, layout) in [Arch::Gpt2, Arch::Llama].into_iter().flat_map(|a| [(a, Layout::Interleaved), (a, Layout::Quads), (a, Layout::QuadsPlain)]) {
        for tied in [true, false] {
            let mut c = cfg(arch, DType::Q8);
            c.tied = tied;
            // the head (1001 x 128) is big enough to be split over the two threads, at row
            // 512 (a multiple of 16: of both layouts' blocks), and ends in a short block of
            // 9 rows (quads: 1001 = 62 * 16 + 9); kv_dim 32 for Llama
            c.dim = 128;
            c.head_size = 32;
            c.n_kv_heads = if arch == Arch::Llama { 1 } else { 4 };
            c.vocab_size = 1001;
            let mut bytes = build(&c);
            let row_major = run_steps(bytes.as_slice(), &TOKS, SessionOptions::default());
            let m0 = Model::from_bytes(bytes.as_slice()).unwrap();
            assert!(!m0.interleaved() && m0.layout() == Layout::RowMajor);
            let need = m0.interleave_scratch_len();
            let before = bytes.as_slice().to_vec();
            let short = Model::from_bytes_in(bytes.as_mut_slice(), &mut vec![0u8; need - 1], layout);
            assert!(matches!(short, Err(Error::BufferTooSmall { .. })), "{short:?}");
            assert_eq!(bytes.as_slice(), &before[..], "nothing rewritten on error");
            // a corrupt file is rejected before anything is rewritten
            let mut bad = AlignedBytes::new(&before);
            let flip = before.len() / 2;
            bad.as_mut_slice()[flip] ^= 0x40;
            let r = Model::from_bytes_in(bad.as_mut_slice(), &mut vec![0u8; need], layout);
            assert!(matches!(r, Err(Error::Checksum { .. })), "{r:?}");
            let mut want = before.clone();
            want[flip] ^= 0x40;
            assert_eq!(bad.as_slice(), &want[..], "nothing rewritten on error");
            let mut scratch = vec![0u8; need];
            // row-major "rewrites" nothing and needs no scratch
            let same = Model::from_bytes_in(bytes.as_mut_slice(), &mut [], Layout::RowMajor).unwrap();
            assert_eq!(same.layout(), Layout::RowMajor);
            assert_eq!(bytes.as_slice(), &before[..]);
            let m = Model::from_bytes_in(bytes.as_mut_slice(), &mut scratch, layout).unwrap();
            assert!(m.interleaved() && m.layout() == layout);
            for (batch, threads) in [(1usize, false), (8, false), (1, true), (5, true)] {
                let opts = SessionOptions { batch, ..Default::default() };
                let mut ws = vec![0u8; state_bytes(m.config(), &opts).unwrap()];
                let mut s = Session::new(m, &mut ws, opts).unwrap();
                if threads {
                    s = s.with_parallel(pool);
                }
                let mut got = Vec::new();
                if batch == 1 {
                    for &t in &TOKS {
                        got.push(s.step(t).unwrap().to_vec());
                    }
                } else {
                    s.forward_each(&TOKS, &mut |_, l| got.push(l.to_vec())).unwrap();
                }
                assert_eq!(got.len(), row_major.len());
                for (a, b) in got.iter().zip(&row_major) {
                    assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()), "{arch:?} {layout:?} tied {tied} batch {batch} threads {threads}");
                }
            }
            assert!(matches!(Model::from_bytes(bytes.as_slice()), Err(Error::Checksum { .. })));
        }
    }
}
