//! Unit tests of the tokenizer view over small sections made by the std builders.
#![cfg(feature = "std")]

use std::string::{String, ToString};
use std::vec::Vec;
use std::{format, vec};

use super::build::{from_llama2c_bin, from_tokenizer_json};
use super::format::*;
use super::*;

/// A llama2.c tokenizer.bin: <unk>, BOS, EOS, the 256 byte tokens, then `extra` (text, score).
fn llama2c(extra: &[(&str, f32)]) -> Vec<u8> {
    let mut toks: Vec<(String, f32)> = vec![("<unk>".into(), 0.0), ("\n<s>\n".into(), 0.0), ("\n</s>\n".into(), 0.0)];
    for b in 0..256 {
        toks.push((format!("<0x{b:02X}>"), 0.0));
    }
    for (t, s) in extra {
        toks.push(((*t).into(), *s));
    }
    let mut out = Vec::new();
    out.extend_from_slice(&16u32.to_le_bytes());
    for (t, s) in &toks {
        out.extend_from_slice(&s.to_le_bytes());
        out.extend_from_slice(&(t.len() as u32).to_le_bytes());
        out.extend_from_slice(t.as_bytes());
    }
    out
}

fn enc(t: &Tokenizer<'_>, s: &str) -> Vec<u32> {
    let mut out = [0u32; 64];
    let n = t.encode(s, &mut out).unwrap();
    out[..n].to_vec()
}

const SP: u32 = 259; // " "
const A: u32 = 260;
const B: u32 = 261;
const AB: u32 = 262;
const BA: u32 = 263;

#[test]
fn llama2c_merges_the_highest_score_leftmost_first() {
    let bin = llama2c(&[(" ", -1.0), ("a", -1.0), ("b", -1.0), ("ab", -5.0), ("ba", -5.0)]);
    let blob = from_llama2c_bin(&bin, 264).unwrap();
    let t = Tokenizer::parse(&blob, 264).unwrap();
    assert_eq!(enc(&t, "aba"), [1, SP, AB, A]); // tie: leftmost
    let bin = llama2c(&[(" ", -1.0), ("a", -1.0), ("b", -1.0), ("ab", -5.0), ("ba", -4.0)]);
    let blob = from_llama2c_bin(&bin, 264).unwrap();
    let t = Tokenizer::parse(&blob, 264).unwrap();
    assert_eq!(enc(&t, "aba"), [1, SP, A, BA]); // higher score wins
    assert_eq!(enc(&t, ""), [1]); // no dummy prefix for empty text
    assert_eq!(enc(&t, "c"), [1, SP, 3 + b'c' as u32]); // byte fallback: byte + 3
}

#[test]
fn llama2c_ignores_scores_at_or_below_minus_1e10() {
    let bin = llama2c(&[(" ", -1.0), ("a", -1.0), ("b", -1.0), ("ab", -1e10), ("ba", f32::NAN)]);
    let blob = from_llama2c_bin(&bin, 264).unwrap();
    let t = Tokenizer::parse(&blob, 264).unwrap();
    assert_eq!(enc(&t, "abab"), [1, SP, A, B, A, B]);
}

#[test]
fn llama2c_vocab_size_must_match_the_file() {
    let bin = llama2c(&[(" ", -1.0)]);
    assert!(from_llama2c_bin(&bin, 260).is_ok());
    assert!(from_llama2c_bin(&bin, 259).unwrap_err().contains("after 259 tokens"));
    assert!(from_llama2c_bin(&bin, 261).unwrap_err().contains("truncated"));
    assert!(from_llama2c_bin(&bin[..100], 260).is_err());
}

fn small() -> Vec<u8> {
    from_llama2c_bin(&llama2c(&[(" ", -1.0), ("a", -1.0), ("b", -1.0), ("ab", -5.0), ("ba", -4.0)]), 264).unwrap()
}

fn put(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn parse_checks_the_header() {
    let good = small();
    assert!(Tokenizer::parse(&good, 264).is_ok());
    assert!(Tokenizer::parse(&good, 263).is_err()); // more tokens than the model's vocabulary
    let cases: [(usize, u32, &str); 7] = [
        (0, 0x4B4F_5458, "magic"),
        (H_VERSION, 2, "version"),
        (H_KIND, 3, "kind"),
        (H_FLAGS, 1 << 31, "flags"),
        (H_BOS, 264, "BOS"),
        (H_MAX_TOKEN_BYTES, 1, "max_token_bytes"),
        (H_RESERVED, 1, "reserved"),
    ];
    for (at, v, what) in cases {
        let mut b = good.clone();
        put(&mut b, at, v);
        match Tokenizer::parse(&b, 264) {
            Err(Error::BadTokenizer(why)) => assert!(why.contains(what), "{what}: {why}"),
            other => panic!("{what}: {other:?}"),
        }
    }
    let mut b = good.clone();
    b.push(0);
    assert!(Tokenizer::parse(&b, 264).is_err()); // trailing byte
    let mut b = good.clone();
    put(&mut b, H_FLAGS, F_ADD_BOS);
    put(&mut b, H_BOS, NONE);
    assert!(Tokenizer::parse(&b, 264).is_err()); // add_bos without BOS
}

#[test]
fn parse_checks_the_tables() {
    let good = small();
    let h = |b: &[u8], at: usize| u32_at(b, at).unwrap() as usize;
    let l = Layout::new(h(&good, H_N_TOKENS), h(&good, H_POOL_LEN), h(&good, H_N_CHARS), h(&good, H_N_MERGES), h(&good, H_N_ADDED)).unwrap();
    assert_eq!(l.end, good.len());
    // an out-of-range id in each table
    for at in [l.byte_ids, l.chars + 4, l.merges, l.merges + 8, l.added] {
        let mut b = good.clone();
        put(&mut b, at, 9999);
        assert!(Tokenizer::parse(&b, 264).is_err(), "offset {at}");
    }
    // unsorted characters
    let mut b = good.clone();
    let first = h(&b, l.chars);
    put(&mut b, l.chars + CHAR_ENTRY, first as u32);
    assert!(Tokenizer::parse(&b, 264).is_err());
    // a rank of NONE
    let mut b = good.clone();
    put(&mut b, l.merges + 4, NONE);
    assert!(Tokenizer::parse(&b, 264).is_err());
    // token offsets out of order
    let mut b = good.clone();
    put(&mut b, l.tok_off + 4, 1000);
    assert!(Tokenizer::parse(&b, 264).is_err());
    // unknown token flags
    let mut b = good.clone();
    b[l.tok_flags] = 0x80;
    assert!(Tokenizer::parse(&b, 264).is_err());
}

#[test]
fn empty_section_is_no_tokenizer() {
    let t = Tokenizer::parse(&[], 10).unwrap();
    assert_eq!(t.kind(), TokenizerKind::None);
    assert_eq!((t.bos_id(), t.eos_id(), t.add_bos(), t.vocab_size()), (None, None, false, 10));
    assert!(t.encode("x", &mut [0; 4]).is_err());
}

#[test]
fn added_tokens_are_matched_longest_first() {
    let mut vocab = serde_json::Map::new();
    for (i, c) in super::build::tests_support::byte_level_symbols().into_iter().enumerate() {
        vocab.insert(c, (i as u32).into());
    }
    let j = serde_json::json!({
        "added_tokens": [
            {"id": 256, "content": "<|a|>", "special": true},
            {"id": 257, "content": "<|a|>b", "special": false},
            {"id": 258, "content": "<|", "special": false}
        ],
        "model": {"type": "BPE", "vocab": vocab, "merges": []},
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false},
        "decoder": {"type": "ByteLevel"}
    });
    let blob = from_tokenizer_json(&j.to_string(), 259).unwrap();
    let t = Tokenizer::parse(&blob, 259).unwrap();
    let x = |c: char| t.byte_id(c as u8);
    assert_eq!(enc(&t, "<|a|>bc<|a|>c"), [257, x('c'), 256, x('c')]);
    assert_eq!(enc(&t, "<|x"), [258, x('x')]);
    assert_eq!(t.special_id("<|a|>"), Some(256));
    assert_eq!(t.special_id("<|a"), None);
    assert!(t.is_special(256) && !t.is_special(257));
}

#[test]
fn byte_level_texts_undo_the_byte_mapping() {
    let syms = super::build::tests_support::byte_level_symbols();
    assert_eq!(syms[b' ' as usize], "\u{120}"); // Ġ
    assert_eq!(syms[b'\n' as usize], "\u{10A}"); // Ċ
    assert_eq!(syms[b'A' as usize], "A");
    assert_eq!(syms[0xAD], "\u{143}"); // soft hyphen is not printable in GPT-2's table
}
