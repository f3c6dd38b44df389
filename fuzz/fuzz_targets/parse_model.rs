//! Model parser and validator on arbitrary bytes, with the checksum off (so the structural
//! checks behind it are reached). Whatever parses must also run: a few session steps with both
//! kernel tables (which must agree bit for bit), the tokenizer on a short text, `weight_bytes`.
//!
//! Oracles: no panic; a misaligned copy is rejected; parsing with the checksum on succeeds
//! only where parsing without it does, with the same config; the best kernels equal the scalar
//! ones on whatever weights the file holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tinygpt::format::{layout, ParseOptions};
use tinygpt::tokenizer::{decode_into, TokenizerKind};
use tinygpt::Model;
use tinygpt_fuzz::{aligned, run_model, same_bits};

const NO_CHECKSUM: ParseOptions = ParseOptions { verify_checksum: false };

fuzz_target!(|data: &[u8]| {
    let _ = layout::checksum(data);
    let a = aligned(data);
    let parsed = Model::parse(a.as_slice(), NO_CHECKSUM);
    let checked = Model::from_bytes(a.as_slice());
    if let Ok(c) = &checked {
        let p = parsed.as_ref().expect("parses with the checksum but not without it");
        assert_eq!(c.config(), p.config());
    }

    // the same bytes one byte off a 16-byte boundary: never a panic; an error once the
    // header is there (alignment is checked before anything is trusted)
    let mut shifted = vec![0u8; data.len() + 16];
    let base = shifted.as_ptr() as usize;
    let off = (16 - base % 16) % 16 + 1;
    shifted.truncate(off + data.len());
    shifted[off..].copy_from_slice(data);
    if let Ok(m) = Model::parse(&shifted[off..], NO_CHECKSUM) {
        panic!("misaligned model parsed: {:?}", m.config());
    }

    let Ok(m) = parsed else { return };
    let _ = m.weight_bytes();
    let _ = m.tokenizer_bytes();
    let cfg = *m.config();
    let ctx = cfg.seq_len.min(4);
    let steps = [0u16, 1, 2, (cfg.vocab_size as u16).wrapping_sub(1), 3];
    let best = run_model(m, &steps, ctx, 1, false, false);
    if tinygpt::kernels::best().name != "scalar" {
        let scalar = run_model(m, &steps, ctx, 1, false, true);
        assert_eq!(best.len(), scalar.len());
        for (i, (b, s)) in best.iter().zip(&scalar).enumerate() {
            assert!(same_bits(b, s), "step {i}: {} kernels differ from scalar", tinygpt::kernels::best().name);
        }
    }
    // batched prefill and f16 cache
    let _ = run_model(m, &steps, ctx, 3, true, false);

    let tok = m.tokenizer();
    let mut ids = [0u32; 64];
    match tok.encode("Hello, world! \u{4e2d} \u{1F600}", &mut ids) {
        Ok(n) => {
            assert!(tok.kind() != TokenizerKind::None);
            assert!(ids[..n].iter().all(|&i| (i as usize) < cfg.vocab_size));
            let mut out = [0u8; 512];
            let _ = decode_into(tok, &ids[..n], false, &mut out);
        }
        Err(_) => {}
    }
});
