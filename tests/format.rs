//! The model parser: round trip, and hostile files (every truncation, many byte flips,
//! targeted header corruption) give typed errors — never a panic.

use tinygpt::format::layout::{self, HEADER_LEN};
use tinygpt::format::writer::{random_weights, write_model};
use tinygpt::format::ParseOptions;
use tinygpt::*;

fn small(dtype: DType) -> Vec<u8> {
    let c = Config {
        arch: Arch::Llama,
        dtype,
        group_size: if dtype == DType::Q8 { 32 } else { 0 },
        dim: 32,
        hidden_dim: 44,
        n_layers: 1,
        n_heads: 2,
        n_kv_heads: 1,
        head_size: 16,
        vocab_size: 20,
        seq_len: 8,
        norm: Norm::RmsNorm,
        norm_eps: 1e-5,
        act: Activation::SwiGlu,
        pos: Position::Rope,
        rope_theta: 10000.0,
        tied: false,
        bias: false,
    };
    write_model(&c, &random_weights(&Config { dtype: DType::F32, ..c }, 1), b"").unwrap()
}

fn runs(bytes: &[u8]) {
    // whatever parsed must also run without panicking
    if let Ok(m) = Model::parse(bytes, ParseOptions { verify_checksum: false }) {
        let opts = SessionOptions { ctx: 2, ..Default::default() };
        let mut ws = vec![0u8; state_bytes(m.config(), &opts).unwrap()];
        let mut s = Session::new(m, &mut ws, opts).unwrap();
        let _ = s.step(1);
    }
}

#[test]
fn valid_model_round_trips() {
    for dtype in [DType::F32, DType::Q8] {
        let b = small(dtype);
        let a = AlignedBytes::new(&b);
        let m = Model::from_bytes(a.as_slice()).unwrap();
        assert_eq!(m.config().dtype, dtype);
        assert_eq!(m.bytes().len(), b.len());
        assert!(m.weight_bytes() > 0 && m.weight_bytes() < b.len());
    }
}

#[test]
fn every_truncation_is_an_error() {
    for dtype in [DType::F32, DType::Q8] {
        let b = small(dtype);
        for n in 0..b.len() {
            let a = AlignedBytes::new(&b[..n]);
            assert!(Model::from_bytes(a.as_slice()).is_err(), "truncated to {n} bytes parsed");
            runs(a.as_slice());
        }
    }
}

#[test]
fn every_single_byte_flip_is_caught_by_the_checksum() {
    let b = small(DType::Q8);
    let mut x = 0x1234_5678u64;
    for i in 0..b.len() {
        let mut c = b.clone();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c[i] ^= (x as u8) | 1;
        let a = AlignedBytes::new(&c);
        assert!(Model::from_bytes(a.as_slice()).is_err(), "flip at {i} not detected");
        runs(a.as_slice());
    }
}

#[test]
fn random_corruption_without_checksum_never_panics() {
    let b = small(DType::Q8);
    let mut x = 0xdead_beefu64;
    for _ in 0..20000 {
        let mut c = b.clone();
        for _ in 0..1 + (x % 4) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // mostly hit the header and directory, where structure lives
            let at = if x.is_multiple_of(3) { (x >> 8) as usize % c.len() } else { (x >> 8) as usize % (HEADER_LEN + 23 * 40) };
            c[at] = (x >> 32) as u8;
        }
        runs(AlignedBytes::new(&c).as_slice());
    }
}

#[test]
fn header_errors_are_typed() {
    let b = small(DType::Q8);
    let set = |at: usize, v: u32| {
        let mut c = b.clone();
        c[at..at + 4].copy_from_slice(&v.to_le_bytes());
        let a = AlignedBytes::new(&c);
        Model::parse(a.as_slice(), ParseOptions { verify_checksum: false }).err()
    };
    assert_eq!(set(0, 0x4c4c4c4c), Some(Error::BadMagic));
    assert_eq!(set(4, 9), Some(Error::UnsupportedVersion(9)));
    assert!(matches!(set(24, 0), Some(Error::BadField { field: "dim", .. })));
    assert!(matches!(set(40, 3), Some(Error::BadField { field: "n_kv_heads", .. })));
    assert!(matches!(set(20, 30), Some(Error::BadField { field: "group_size", .. })));
    assert!(matches!(set(32, u32::MAX), Some(Error::BadField { field: "n_layers", .. })));
    assert!(matches!(set(12, 7), Some(Error::BadField { field: "arch", .. })));
    let a = AlignedBytes::new(&b);
    let mut with_tail = b.clone();
    with_tail.push(0);
    assert!(Model::from_bytes(AlignedBytes::new(&with_tail).as_slice()).is_err());
    // misaligned base
    let mut buf = vec![0u8; b.len() + 1];
    buf[1..].copy_from_slice(a.as_slice());
    let off = if (buf.as_ptr() as usize).is_multiple_of(16) { 1 } else { 0 };
    if !(buf[off..].as_ptr() as usize).is_multiple_of(16) {
        assert!(matches!(Model::from_bytes(&buf[off..off + b.len()]), Err(Error::Misaligned { .. }) | Err(Error::BadMagic)));
    }
    let _ = layout::checksum(&b);
}

/// Sections may not share bytes: the tokenizer comes after the directory, and each tensor's
/// data and scales after the tokenizer, in directory order (docs/FORMAT.md). Files that break
/// it are rejected even with a valid checksum, so nothing that parses can have two tensors
/// on the same bytes (which `Model::from_bytes_interleaved`'s in-place rewrite relies on).
#[test]
fn overlapping_sections_are_rejected() {
    use layout::ENTRY_LEN;
    // header offsets (docs/FORMAT.md)
    const H_TENSOR_DIR_OFF: usize = 88;
    const H_TOKENIZER_OFF: usize = 96;
    const H_CHECKSUM: usize = 120;
    let b = small(DType::Q8);
    let rd64 = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let with = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut c = b.clone();
        edit(&mut c);
        let sum = layout::checksum(&c);
        c[H_CHECKSUM..H_CHECKSUM + 8].copy_from_slice(&sum.to_le_bytes());
        Model::from_bytes(AlignedBytes::new(&c).as_slice()).err()
    };
    assert_eq!(with(&|_| {}), None, "the unedited file parses");
    let dir = rd64(&b, H_TENSOR_DIR_OFF) as usize;
    // the first present tensor after entry 0 (token embedding) pointed at the embedding's data
    let off = |i: usize| dir + i * ENTRY_LEN + 24;
    let emb = rd64(&b, off(0));
    let second = (1..).find(|&i| rd64(&b, off(i)) != 0).unwrap();
    let r = with(&|c| c[off(second)..off(second) + 8].copy_from_slice(&emb.to_le_bytes()));
    assert!(matches!(r, Some(Error::BadTensor { why, .. }) if why.contains("overlaps")), "{r:?}");
    // the embedding's data pointed at the directory (64-aligned, past the header)
    let r = with(&|c| c[off(0)..off(0) + 8].copy_from_slice(&(dir as u64).to_le_bytes()));
    assert!(matches!(r, Some(Error::BadTensor { why, .. }) if why.contains("overlaps")), "{r:?}");
    // the tokenizer pointed into the directory
    let r = with(&|c| c[H_TOKENIZER_OFF..H_TOKENIZER_OFF + 8].copy_from_slice(&(dir as u64).to_le_bytes()));
    assert!(matches!(r, Some(Error::BadField { field, .. }) if field.contains("tokenizer_off")), "{r:?}");
    // a model with a tokenizer (the built-in one): its first tensor pointed at the tokenizer
    let m = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/tinygpt.tgpt")).unwrap();
    let (mdir, tok) = (rd64(&m, H_TENSOR_DIR_OFF) as usize, rd64(&m, H_TOKENIZER_OFF));
    assert!(tok.is_multiple_of(64) && rd64(&m, 104) > 0);
    let mut c = m.clone();
    c[mdir + 24..mdir + 32].copy_from_slice(&tok.to_le_bytes());
    let sum = layout::checksum(&c);
    c[H_CHECKSUM..H_CHECKSUM + 8].copy_from_slice(&sum.to_le_bytes());
    let r = Model::from_bytes(AlignedBytes::new(&c).as_slice()).err();
    assert!(matches!(r, Some(Error::BadTensor { why, .. }) if why.contains("overlaps")), "{r:?}");
    assert!(Model::from_bytes(AlignedBytes::new(&m).as_slice()).is_ok());
}

/// An f32 model has nothing to interleave: no scratch, whatever its (unvalidated, unused)
/// `group_size` header field says (found by the mutate_model fuzz target: 4 GB of scratch).
#[test]
fn f32_models_interleave_with_no_scratch() {
    let mut b = small(DType::F32);
    b[20..24].copy_from_slice(&0xffff_fff0u32.to_le_bytes()); // group_size
    let sum = layout::checksum(&b);
    b[120..128].copy_from_slice(&sum.to_le_bytes());
    let mut a = AlignedBytes::new(&b);
    let m = Model::from_bytes(a.as_slice()).unwrap();
    assert_eq!(m.interleave_scratch_len(), 0);
    let m = Model::from_bytes_interleaved(a.as_mut_slice(), &mut []).unwrap();
    assert!(m.interleaved());
    runs(a.as_slice());
}
