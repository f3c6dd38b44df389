//! Builders (std only): tokenizer files -> the tokenizer section `Tokenizer::parse` reads.
//!
//! All the precomputation the core refuses to do at load time happens here: token texts with
//! the byte-level mapping / `▁` / `<0xNN>` undone, the byte and character tables, the merge
//! table keyed by left token (llama2.c's scores turned into ranks over every pair whose
//! concatenation is a token), the sorted added-token list, and flags that let the encoder cut
//! long SentencePiece text into words without changing the result.
//!
//! Sources: HF `tokenizer.json` (byte-level BPE like GPT-2, or SentencePiece-style BPE like
//! Llama-2) with an optional `tokenizer_config.json`; llama2.c's `tokenizer.bin`; OpenAI's
//! GPT-2 `encoder.json` + `vocab.bpe`. Anything else is refused with an error that names what
//! is unsupported.

// Std-only builders, outside the panic-free core (see "Panics" in the crate docs): they run
// at convert time on tokenizer files, never at load or run time. Bad files get typed errors
// (tests/convert.rs), but the lints below are not enforced here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "std-only, convert-time code; excluded from the panic-free core"
)]

use std::borrow::ToOwned;
use std::collections::{HashMap, HashSet};
use std::format;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use serde_json::Value;

use super::format::*;

type Res<T> = core::result::Result<T, String>;

// ---- the section writer -------------------------------------------------------------------

/// Everything a tokenizer section holds, before serialization.
struct Spec {
    kind: u32,
    flags: u32,
    /// Per id: the raw bytes it decodes to.
    texts: Vec<Vec<u8>>,
    /// Per id: TF_* flags.
    tflags: Vec<u8>,
    bos: u32,
    eos: u32,
    unk: u32,
    byte_ids: [u32; 256],
    /// (code point, id)
    chars: Vec<(u32, u32)>,
    /// (left, right) -> (rank, result)
    merges: HashMap<(u32, u32), (u32, u32)>,
    /// ids of added tokens
    added: Vec<u32>,
}

impl Spec {
    fn new(kind: u32, n_tokens: usize) -> Spec {
        Spec {
            kind,
            flags: 0,
            texts: vec![Vec::new(); n_tokens],
            tflags: vec![0; n_tokens],
            bos: NONE,
            eos: NONE,
            unk: NONE,
            byte_ids: [NONE; 256],
            chars: Vec::new(),
            merges: HashMap::new(),
            added: Vec::new(),
        }
    }

    fn serialize(mut self, vocab_size: usize) -> core::result::Result<Vec<u8>, String> {
        let n = self.texts.len();
        if n > vocab_size {
            return Err(format!(
                "the tokenizer defines {n} tokens but the model's vocabulary has only {vocab_size}"
            ));
        }
        if vocab_size > MAX_TOKENS {
            return Err(format!("vocabulary size {vocab_size} is above the format's 2^30"));
        }
        let pool_len: usize = self.texts.iter().map(Vec::len).sum();
        if pool_len > u32::MAX as usize {
            return Err("token texts exceed 4 GiB".into());
        }
        self.chars.sort_unstable();
        self.chars.dedup_by_key(|c| c.0);
        let mut merges: Vec<(u32, u32, u32, u32)> =
            self.merges.iter().map(|(&(l, r), &(rk, res))| (l, r, rk, res)).collect();
        merges.sort_unstable();
        {
            let texts = &self.texts;
            self.added.sort_by(|a, b| texts[*a as usize].cmp(&texts[*b as usize]));
            self.added.dedup_by(|a, b| texts[*a as usize] == texts[*b as usize]);
        }
        let layout = Layout::new(n, pool_len, self.chars.len(), merges.len(), self.added.len())
            .ok_or("section too large")?;
        let mut out = vec![0u8; layout.end];
        let put = |out: &mut Vec<u8>, at: usize, v: u32| {
            out[at..at + 4].copy_from_slice(&v.to_le_bytes());
        };
        out[..4].copy_from_slice(&MAGIC);
        put(&mut out, H_VERSION, VERSION);
        put(&mut out, H_KIND, self.kind);
        put(&mut out, H_FLAGS, self.flags);
        put(&mut out, H_N_TOKENS, n as u32);
        put(&mut out, H_BOS, self.bos);
        put(&mut out, H_EOS, self.eos);
        put(&mut out, H_UNK, self.unk);
        let longest = self.texts.iter().map(Vec::len).max().unwrap_or(0);
        put(&mut out, H_MAX_TOKEN_BYTES, longest as u32);
        put(&mut out, H_N_MERGES, merges.len() as u32);
        put(&mut out, H_N_CHARS, self.chars.len() as u32);
        put(&mut out, H_N_ADDED, self.added.len() as u32);
        put(&mut out, H_POOL_LEN, pool_len as u32);
        let mut off = 0usize;
        for (i, t) in self.texts.iter().enumerate() {
            put(&mut out, layout.tok_off + 4 * i, off as u32);
            out[layout.pool + off..layout.pool + off + t.len()].copy_from_slice(t);
            off += t.len();
        }
        put(&mut out, layout.tok_off + 4 * n, off as u32);
        out[layout.tok_flags..layout.tok_flags + n].copy_from_slice(&self.tflags);
        for (b, &id) in self.byte_ids.iter().enumerate() {
            put(&mut out, layout.byte_ids + 4 * b, id);
        }
        for (i, &(cp, id)) in self.chars.iter().enumerate() {
            put(&mut out, layout.chars + CHAR_ENTRY * i, cp);
            put(&mut out, layout.chars + CHAR_ENTRY * i + 4, id);
        }
        let mut k = 0usize;
        for left in 0..=n {
            put(&mut out, layout.merge_off + 4 * left, k as u32);
            while k < merges.len() && merges[k].0 as usize == left {
                let (_, r, rk, res) = merges[k];
                let at = layout.merges + MERGE_ENTRY * k;
                put(&mut out, at, r);
                put(&mut out, at + 4, rk);
                put(&mut out, at + 8, res);
                k += 1;
            }
        }
        for (i, &id) in self.added.iter().enumerate() {
            put(&mut out, layout.added + 4 * i, id);
        }
        Ok(out)
    }
}

/// Flags that are true of a SentencePiece vocabulary and let the encoder cut text into words.
fn sp_speed_flags(spec: &Spec, pieces: &[(u32, &[u8])], marker: &[u8]) -> u32 {
    let mut flags = 0;
    // no piece has a marker right after a non-marker character
    let crosses = pieces.iter().any(|(_, p)| {
        let mut seen_other = false;
        let mut i = 0;
        while i < p.len() {
            if p[i..].starts_with(marker) {
                if seen_other {
                    return true;
                }
                i += marker.len();
            } else {
                seen_other = true;
                i += 1;
            }
        }
        false
    });
    if !crosses {
        flags |= F_WORDS_AT_MARKER_RUN;
    }
    let mut inert: HashSet<u32> = spec.byte_ids.iter().copied().filter(|&i| i != NONE).collect();
    if spec.unk != NONE {
        inert.insert(spec.unk);
    }
    if !spec.merges.keys().any(|(l, r)| inert.contains(l) || inert.contains(r)) {
        flags |= F_BYTES_INERT;
    }
    flags
}

// ---- byte-level (GPT-2) ---------------------------------------------------------------------

/// GPT-2's byte -> printable character table.
fn bytes_to_unicode() -> [char; 256] {
    let mut map = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..256u32 {
        let printable = (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
        let c = if printable {
            b
        } else {
            n += 1;
            255 + n
        };
        map[b as usize] = char::from_u32(c).unwrap_or('\0');
    }
    map
}

/// An added token as `tokenizer.json` lists it.
struct Added {
    id: u32,
    content: String,
    special: bool,
}

fn n_tokens_of(vocab: &HashMap<String, u32>, added: &[Added]) -> usize {
    let a = vocab.values().copied().max().map_or(0, |m| m as usize + 1);
    let b = added.iter().map(|t| t.id as usize + 1).max().unwrap_or(0);
    a.max(b)
}

fn merge_ids(
    vocab: &HashMap<String, u32>,
    merges: &[(String, String)],
) -> Res<HashMap<(u32, u32), (u32, u32)>> {
    let mut out = HashMap::with_capacity(merges.len());
    for (rank, (a, b)) in merges.iter().enumerate() {
        let id = |s: &str| {
            vocab.get(s).copied().ok_or_else(|| format!("merge {a:?} {b:?}: {s:?} is not in the vocabulary"))
        };
        let (l, r, res) = (id(a)?, id(b)?, id(&format!("{a}{b}"))?);
        // a repeated pair keeps its last rank, as HF's merge map does
        out.insert((l, r), (rank as u32, res));
    }
    Ok(out)
}

fn byte_level_spec(
    vocab: &HashMap<String, u32>,
    merges: &[(String, String)],
    added: &[Added],
) -> Res<Spec> {
    let n = n_tokens_of(vocab, added);
    let mut spec = Spec::new(KIND_BYTE_LEVEL, n);
    let map = bytes_to_unicode();
    let mut unmap: HashMap<char, u8> = HashMap::new();
    for (b, &c) in map.iter().enumerate() {
        unmap.insert(c, b as u8);
    }
    for (piece, &id) in vocab {
        let raw: Option<Vec<u8>> = piece.chars().map(|c| unmap.get(&c).copied()).collect();
        // HF's ByteLevel decoder keeps a token's own UTF-8 when a character is not in the map
        spec.texts[id as usize] = raw.unwrap_or_else(|| piece.as_bytes().to_vec());
    }
    for (b, c) in map.iter().enumerate() {
        spec.byte_ids[b] = *vocab
            .get(&c.to_string())
            .ok_or_else(|| format!("byte-level vocabulary lacks the symbol for byte {b:#04x} ({c:?})"))?;
    }
    spec.merges = merge_ids(vocab, merges)?;
    add_added(&mut spec, added);
    Ok(spec)
}

fn add_added(spec: &mut Spec, added: &[Added]) {
    for t in added {
        spec.texts[t.id as usize] = t.content.as_bytes().to_vec();
        if t.special {
            spec.tflags[t.id as usize] |= TF_SPECIAL;
        }
        if !t.content.is_empty() {
            spec.added.push(t.id);
        }
    }
    if !spec.added.is_empty() {
        spec.flags |= F_MATCH_ADDED;
    }
}

/// Builds a section from OpenAI's GPT-2 files: `encoder.json` (the vocabulary) and `vocab.bpe`
/// (the merges). `<|endoftext|>` is a special token, BOS and EOS; no BOS is added to prompts.
///
/// # Errors
/// A message naming what is malformed.
pub fn from_gpt2_files(encoder_json: &str, vocab_bpe: &str) -> core::result::Result<Vec<u8>, String> {
    let vocab: HashMap<String, u32> =
        serde_json::from_str(encoder_json).map_err(|e| format!("encoder.json: {e}"))?;
    let mut merges = Vec::new();
    for (i, line) in vocab_bpe.lines().enumerate() {
        if line.starts_with("#version") || line.is_empty() {
            continue;
        }
        let (a, b) = line
            .split_once(' ')
            .filter(|(_, b)| !b.contains(' '))
            .ok_or_else(|| format!("vocab.bpe line {}: expected two symbols", i + 1))?;
        merges.push((a.to_owned(), b.to_owned()));
    }
    let eot = vocab.get("<|endoftext|>").copied();
    let added: Vec<Added> = eot
        .map(|id| Added { id, content: "<|endoftext|>".into(), special: true })
        .into_iter()
        .collect();
    let mut spec = byte_level_spec(&vocab, &merges, &added)?;
    spec.bos = eot.unwrap_or(NONE);
    spec.eos = eot.unwrap_or(NONE);
    let n = spec.texts.len();
    spec.serialize(n)
}

// ---- tokenizer.json ---------------------------------------------------------------------------

fn ty(v: &Value) -> &str {
    v.get("type").and_then(Value::as_str).unwrap_or("")
}

/// The leaves of a `Sequence` component (or the component itself).
fn flatten<'v>(v: &'v Value, list_key: &str) -> Vec<&'v Value> {
    if ty(v) == "Sequence" {
        v.get(list_key)
            .and_then(Value::as_array)
            .map(|a| a.iter().flat_map(|x| flatten(x, list_key)).collect())
            .unwrap_or_default()
    } else if v.is_null() {
        Vec::new()
    } else {
        vec![v]
    }
}

fn lookup_name(name: &str, vocab: &HashMap<String, u32>, added: &[Added]) -> Option<u32> {
    added.iter().find(|t| t.content == name).map(|t| t.id).or_else(|| vocab.get(name).copied())
}

/// What the post-processor does: (BOS prepended, a special token it appends).
fn post_processor(pp: &Value, vocab: &HashMap<String, u32>, added: &[Added]) -> Res<(Option<u32>, Option<u32>)> {
    let mut bos = None;
    let mut trailing = None;
    for p in flatten(pp, "processors") {
        match ty(p) {
            "ByteLevel" => {}
            "TemplateProcessing" => {
                let single = p.get("single").and_then(Value::as_array).ok_or("TemplateProcessing without \"single\"")?;
                let specials = p.get("special_tokens");
                let mut seen_seq = false;
                for item in single {
                    if item.get("Sequence").is_some() {
                        seen_seq = true;
                        continue;
                    }
                    let name = item
                        .pointer("/SpecialToken/id")
                        .and_then(Value::as_str)
                        .ok_or("TemplateProcessing item is neither a Sequence nor a SpecialToken")?;
                    let ids: Vec<u32> = specials
                        .and_then(|s| s.get(name))
                        .and_then(|s| s.get("ids"))
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_u64).map(|x| x as u32).collect())
                        .unwrap_or_default();
                    let id = match ids.as_slice() {
                        [id] => *id,
                        [] => lookup_name(name, vocab, added)
                            .ok_or_else(|| format!("template special token {name:?} is not in the vocabulary"))?,
                        _ => return Err(format!("template special token {name:?} with several ids is unsupported")),
                    };
                    if seen_seq {
                        trailing = Some(id);
                    } else if bos.is_some() {
                        return Err("post_processor adds several special tokens before the text (unsupported)".into());
                    } else {
                        bos = Some(id);
                    }
                }
            }
            other => return Err(format!("unsupported post_processor type {other:?}")),
        }
    }
    Ok((bos, trailing))
}

/// Builds a section from a Hugging Face `tokenizer.json` (byte-level BPE like GPT-2, or
/// SentencePiece-style BPE with byte fallback like Llama-2). `vocab_size` is the model's: ids
/// the tokenizer does not define are allowed and decode to nothing.
///
/// BOS is the special token the post-processor's template puts before the text (and is then
/// added to prompts), else a token named `<s>`, `<|begin_of_text|>` or `<|endoftext|>`; EOS is
/// a token named `</s>`, `<|end_of_text|>` or `<|endoftext|>`.
///
/// # Errors
/// A message naming what is unsupported (model type, pre-tokenizer, normalizer, decoder,
/// post-processor, added-token options) or malformed.
pub fn from_tokenizer_json(json: &str, vocab_size: usize) -> core::result::Result<Vec<u8>, String> {
    from_tokenizer_json_with_config(json, None, vocab_size)
}

/// [`from_tokenizer_json`], honouring `add_bos_token`, `bos_token` and `eos_token` from a
/// `tokenizer_config.json` when given.
///
/// # Errors
/// As [`from_tokenizer_json`]; also if the config names a token the vocabulary lacks.
pub fn from_tokenizer_json_with_config(
    json: &str,
    tokenizer_config_json: Option<&str>,
    vocab_size: usize,
) -> core::result::Result<Vec<u8>, String> {
    let root: Value = serde_json::from_str(json).map_err(|e| format!("tokenizer.json: {e}"))?;
    let model = root.get("model").ok_or("tokenizer.json has no \"model\"")?;
    let mtype = ty(model);
    if !(mtype == "BPE" || (mtype.is_empty() && model.get("merges").is_some())) {
        return Err(format!("unsupported model type {mtype:?}: only BPE is supported"));
    }
    for (key, ok) in [
        ("dropout", model.get("dropout").is_none_or(Value::is_null)),
        ("continuing_subword_prefix", model.get("continuing_subword_prefix").is_none_or(|v| v.is_null() || v == "")),
        ("end_of_word_suffix", model.get("end_of_word_suffix").is_none_or(|v| v.is_null() || v == "")),
        ("ignore_merges", model.get("ignore_merges").is_none_or(|v| v.is_null() || v == false)),
    ] {
        if !ok {
            return Err(format!("unsupported BPE option {key:?}"));
        }
    }
    let vocab: HashMap<String, u32> = match model.get("vocab") {
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| format!("model.vocab: {e}"))?,
        None => return Err("model has no vocab".into()),
    };
    let merges = parse_merges(model.get("merges"))?;
    let added = parse_added(root.get("added_tokens"))?;

    let pre = root.get("pre_tokenizer").unwrap_or(&Value::Null);
    let pre_list = flatten(pre, "pretokenizers");
    let norm = root.get("normalizer").unwrap_or(&Value::Null);
    let norm_list = flatten(norm, "normalizers");
    let dec = root.get("decoder").unwrap_or(&Value::Null);
    let dec_list = flatten(dec, "decoders");

    let byte_level = pre_list.iter().any(|p| ty(p) == "ByteLevel");
    let mut spec = if byte_level {
        if pre_list.len() != 1 {
            return Err("unsupported pre_tokenizer: ByteLevel combined with other pre-tokenizers".into());
        }
        let p = pre_list[0];
        if p.get("add_prefix_space").and_then(Value::as_bool) == Some(true) {
            return Err("unsupported pre_tokenizer: ByteLevel with add_prefix_space=true".into());
        }
        if p.get("use_regex").and_then(Value::as_bool) == Some(false) {
            return Err("unsupported pre_tokenizer: ByteLevel with use_regex=false".into());
        }
        if let Some(n) = norm_list.first() {
            return Err(format!("unsupported normalizer {:?} with a ByteLevel pre-tokenizer", ty(n)));
        }
        for d in &dec_list {
            if ty(d) != "ByteLevel" {
                return Err(format!("unsupported decoder {:?} with a ByteLevel pre-tokenizer", ty(d)));
            }
        }
        if dec_list.is_empty() {
            return Err("a ByteLevel tokenizer without a ByteLevel decoder is unsupported".into());
        }
        byte_level_spec(&vocab, &merges, &added)?
    } else {
        sentencepiece_spec(model, &vocab, &merges, &added, &pre_list, &norm_list, &dec_list)?
    };

    // BOS / EOS
    let (tpl_bos, trailing) = post_processor(root.get("post_processor").unwrap_or(&Value::Null), &vocab, &added)?;
    if let Some(t) = trailing {
        return Err(format!(
            "unsupported post_processor: it appends token {t} after the text (prompts here never end with a special token)"
        ));
    }
    let named = |names: &[&str]| names.iter().find_map(|n| lookup_name(n, &vocab, &added));
    let mut bos = tpl_bos.or_else(|| named(&["<s>", "<|begin_of_text|>", "<|endoftext|>"]));
    let mut eos = named(&["</s>", "<|end_of_text|>", "<|endoftext|>"]);
    let mut add_bos = tpl_bos.is_some();
    if let Some(cfg) = tokenizer_config_json {
        let cfg: Value = serde_json::from_str(cfg).map_err(|e| format!("tokenizer_config.json: {e}"))?;
        let token_name = |key: &str| -> Option<String> {
            let v = cfg.get(key)?;
            v.as_str().or_else(|| v.get("content").and_then(Value::as_str)).map(str::to_owned)
        };
        if let Some(name) = token_name("bos_token") {
            bos = Some(lookup_name(&name, &vocab, &added).ok_or_else(|| format!("bos_token {name:?} is not in the vocabulary"))?);
        }
        if let Some(name) = token_name("eos_token") {
            eos = Some(lookup_name(&name, &vocab, &added).ok_or_else(|| format!("eos_token {name:?} is not in the vocabulary"))?);
        }
        if let Some(b) = cfg.get("add_bos_token").and_then(Value::as_bool) {
            add_bos = b;
        }
    }
    if add_bos && bos.is_none() {
        return Err("BOS is to be added but no BOS token is known".into());
    }
    spec.bos = bos.unwrap_or(NONE);
    spec.eos = eos.unwrap_or(NONE);
    if add_bos {
        spec.flags |= F_ADD_BOS;
    }
    spec.serialize(vocab_size)
}

fn parse_merges(v: Option<&Value>) -> Res<Vec<(String, String)>> {
    let arr = v.and_then(Value::as_array).ok_or("model has no merges list")?;
    let mut out = Vec::with_capacity(arr.len());
    for (i, m) in arr.iter().enumerate() {
        let pair = match m {
            Value::String(s) => s
                .split_once(' ')
                .filter(|(_, b)| !b.contains(' '))
                .map(|(a, b)| (a.to_owned(), b.to_owned())),
            Value::Array(a) if a.len() == 2 => match (a[0].as_str(), a[1].as_str()) {
                (Some(x), Some(y)) => Some((x.to_owned(), y.to_owned())),
                _ => None,
            },
            _ => None,
        };
        out.push(pair.ok_or_else(|| format!("merge {i} is not a pair of tokens"))?);
    }
    Ok(out)
}

fn parse_added(v: Option<&Value>) -> Res<Vec<Added>> {
    let Some(arr) = v.and_then(Value::as_array) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for t in arr {
        let id = t.get("id").and_then(Value::as_u64).ok_or("added token without an id")?;
        let content = t.get("content").and_then(Value::as_str).ok_or("added token without content")?;
        for opt in ["single_word", "lstrip", "rstrip"] {
            if t.get(opt).and_then(Value::as_bool) == Some(true) {
                return Err(format!("unsupported added token option {opt}=true (token {content:?})"));
            }
        }
        if id >= MAX_TOKENS as u64 {
            return Err(format!("added token id {id} too large"));
        }
        out.push(Added {
            id: id as u32,
            content: content.to_owned(),
            special: t.get("special").and_then(Value::as_bool).unwrap_or(false),
        });
    }
    Ok(out)
}

/// `<0xNN>` -> NN.
fn byte_piece(p: &str) -> Option<u8> {
    let hex = p.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

fn sentencepiece_spec(
    model: &Value,
    vocab: &HashMap<String, u32>,
    merges: &[(String, String)],
    added: &[Added],
    pre_list: &[&Value],
    norm_list: &[&Value],
    dec_list: &[&Value],
) -> Res<Spec> {
    const META: &str = "\u{2581}";
    let mut flags = 0u32;
    for n in norm_list {
        match ty(n) {
            "Prepend" if n.get("prepend").and_then(Value::as_str) == Some(META) => flags |= F_PREPEND,
            "Replace"
                if n.pointer("/pattern/String").and_then(Value::as_str) == Some(" ")
                    && n.get("content").and_then(Value::as_str) == Some(META) =>
            {
                flags |= F_SPACE_TO_META
            }
            other => return Err(format!("unsupported normalizer {other:?} (only Prepend \"▁\" and Replace \" \" -> \"▁\")")),
        }
    }
    for p in pre_list {
        match ty(p) {
            "Metaspace" => {
                if !norm_list.is_empty() {
                    return Err("unsupported: a Metaspace pre-tokenizer together with a normalizer".into());
                }
                if p.get("replacement").and_then(Value::as_str).is_some_and(|r| r != META) {
                    return Err("unsupported Metaspace replacement (only \"▁\")".into());
                }
                flags |= F_SPACE_TO_META;
                let scheme = p.get("prepend_scheme").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| {
                    if p.get("add_prefix_space").and_then(Value::as_bool) == Some(false) { "never" } else { "always" }.into()
                });
                match scheme.as_str() {
                    "always" => flags |= F_PREPEND | F_PREPEND_UNLESS_MARKER,
                    "first" => flags |= F_PREPEND | F_PREPEND_FIRST_ONLY | F_PREPEND_UNLESS_MARKER,
                    "never" => {}
                    s => return Err(format!("unsupported Metaspace prepend_scheme {s:?}")),
                }
                if p.get("split").and_then(Value::as_bool).unwrap_or(true) {
                    flags |= F_SPLIT_AT_MARKER;
                }
            }
            other => return Err(format!("unsupported pre_tokenizer {other:?}")),
        }
    }
    if flags & F_SPACE_TO_META == 0 {
        return Err("unsupported tokenizer: neither a ByteLevel pre-tokenizer nor SentencePiece-style \
                    spaces (Replace \" \" -> \"▁\" or Metaspace)"
            .into());
    }
    for d in dec_list {
        match ty(d) {
            "Replace" if d.pointer("/pattern/String").and_then(Value::as_str) == Some(META)
                && d.get("content").and_then(Value::as_str) == Some(" ") => {}
            "ByteFallback" | "Fuse" => {}
            "Strip" => {
                let start = d.get("start").and_then(Value::as_u64).unwrap_or(0);
                let stop = d.get("stop").and_then(Value::as_u64).unwrap_or(0);
                let content = d.get("content").and_then(Value::as_str).unwrap_or(" ");
                match (content, start, stop) {
                    (" ", 1, 0) => flags |= F_STRIP_LEADING_SPACE,
                    (_, 0, 0) => {}
                    _ => return Err(format!("unsupported Strip decoder (content {content:?}, start {start}, stop {stop})")),
                }
            }
            "Metaspace" => {
                let never = d.get("prepend_scheme").and_then(Value::as_str) == Some("never")
                    || d.get("add_prefix_space").and_then(Value::as_bool) == Some(false);
                if !never {
                    flags |= F_STRIP_LEADING_SPACE;
                }
            }
            other => return Err(format!("unsupported decoder {other:?} for a SentencePiece-style tokenizer")),
        }
    }
    if dec_list.is_empty() {
        return Err("a SentencePiece-style tokenizer without a decoder is unsupported".into());
    }
    for t in added {
        if t.content.contains(' ') || t.content.contains(META) {
            return Err(format!("unsupported added token {:?}: it contains a space", t.content));
        }
    }

    let n = n_tokens_of(vocab, added);
    let mut spec = Spec::new(KIND_SENTENCEPIECE, n);
    let byte_fallback = model.get("byte_fallback").and_then(Value::as_bool).unwrap_or(false);
    for (piece, &id) in vocab {
        match byte_piece(piece).filter(|_| byte_fallback) {
            Some(b) => {
                spec.texts[id as usize] = vec![b];
                spec.tflags[id as usize] |= TF_BYTE;
            }
            None => spec.texts[id as usize] = piece.replace(META, " ").into_bytes(),
        }
        let mut cs = piece.chars();
        if let (Some(c), None) = (cs.next(), cs.next()) {
            spec.chars.push((c as u32, id));
        }
    }
    if byte_fallback {
        flags |= F_BYTE_FALLBACK;
        for b in 0..256usize {
            spec.byte_ids[b] = *vocab
                .get(&format!("<0x{b:02X}>"))
                .ok_or_else(|| format!("byte_fallback is on but the vocabulary lacks <0x{b:02X}>"))?;
        }
    }
    if let Some(unk) = model.get("unk_token").and_then(Value::as_str) {
        spec.unk = *vocab.get(unk).ok_or_else(|| format!("unk_token {unk:?} is not in the vocabulary"))?;
    }
    if model.get("fuse_unk").and_then(Value::as_bool) == Some(true) {
        flags |= F_FUSE_UNK;
    }
    spec.merges = merge_ids(vocab, merges)?;
    spec.flags = flags;
    add_added(&mut spec, added);
    let pieces: Vec<(u32, &[u8])> = vocab.iter().map(|(p, &id)| (id, p.as_bytes())).collect();
    spec.flags |= sp_speed_flags(&spec, &pieces, META.as_bytes());
    Ok(spec)
}

// ---- llama2.c tokenizer.bin -------------------------------------------------------------------

/// Builds a section from llama2.c's `tokenizer.bin` (u32 max_token_length, then per token:
/// f32 score, u32 length, bytes). The file does not store its token count, so `vocab_size`
/// (the model's) says how many tokens to read.
///
/// The result encodes exactly as llama2.c's `encode(text, bos=1, eos=0)`: a dummy-prefix space,
/// code points looked up (unknown ones as byte tokens `byte + 3`), then repeatedly the adjacent
/// pair whose concatenation is a token with the highest score (leftmost on ties) is merged.
/// BOS = 1, EOS = 2, BOS added; ids 0, 1, 2 are special and decode to `<unk>`, `<s>`, `</s>`.
/// If two tokens have the same text, the lower id is used (llama2.c's choice is unspecified).
///
/// # Errors
/// A message if the file is truncated, longer than `vocab_size` tokens, or `vocab_size < 259`.
pub fn from_llama2c_bin(bytes: &[u8], vocab_size: usize) -> core::result::Result<Vec<u8>, String> {
    if vocab_size < 259 {
        return Err(format!("llama2.c vocabulary of {vocab_size} tokens: byte fallback needs at least 259"));
    }
    if vocab_size > MAX_TOKENS {
        return Err(format!("vocabulary size {vocab_size} is above the format's 2^30"));
    }
    let mut at = 4usize;
    if bytes.len() < 4 {
        return Err("tokenizer.bin: truncated header".into());
    }
    let mut strings: Vec<&[u8]> = Vec::with_capacity(vocab_size);
    let mut scores: Vec<f32> = Vec::with_capacity(vocab_size);
    for i in 0..vocab_size {
        let head = bytes.get(at..at + 8).ok_or_else(|| format!("tokenizer.bin: truncated at token {i}"))?;
        let score = f32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        at += 8;
        let s = bytes.get(at..at + len).ok_or_else(|| format!("tokenizer.bin: truncated at token {i}"))?;
        at += len;
        strings.push(s);
        scores.push(score);
    }
    if at != bytes.len() {
        return Err(format!(
            "tokenizer.bin has {} bytes after {vocab_size} tokens: is the vocabulary size right?",
            bytes.len() - at
        ));
    }
    let mut spec = Spec::new(KIND_SENTENCEPIECE, vocab_size);
    let mut lookup: HashMap<&[u8], u32> = HashMap::with_capacity(vocab_size);
    for (id, s) in strings.iter().enumerate() {
        lookup.entry(s).or_insert(id as u32);
    }
    for (id, s) in strings.iter().enumerate() {
        let text: Vec<u8> = match (id, std::str::from_utf8(s).ok().and_then(byte_piece)) {
            (0..=2, _) => {
                spec.tflags[id] |= TF_SPECIAL;
                s.iter().copied().filter(|&b| b != b'\n').collect()
            }
            (_, Some(b)) => {
                spec.tflags[id] |= TF_BYTE;
                vec![b]
            }
            _ => s.to_vec(),
        };
        spec.texts[id] = text;
        if let Ok(st) = std::str::from_utf8(s) {
            let mut cs = st.chars();
            if let (Some(c), None) = (cs.next(), cs.next()) {
                if lookup.get(s) == Some(&(id as u32)) {
                    spec.chars.push((c as u32, id as u32));
                }
            }
        }
    }
    for b in 0..256 {
        spec.byte_ids[b] = b as u32 + 3;
    }
    // ranks: distinct scores, highest first; pairs are every split of a token into two tokens
    let usable = |s: f32| s > -1e10f32; // llama2.c starts its search at best_score = -1e10
    let norm = |s: f32| if s == 0.0 { 0.0f32 } else { s };
    let mut distinct: Vec<f32> = scores.iter().copied().filter(|&s| usable(s)).map(norm).collect();
    distinct.sort_by(|a, b| b.total_cmp(a));
    distinct.dedup();
    let rank_of: HashMap<u32, u32> = distinct.iter().enumerate().map(|(i, s)| (s.to_bits(), i as u32)).collect();
    for (c, s) in strings.iter().enumerate() {
        let c = c as u32;
        if s.len() < 2 || lookup.get(s) != Some(&c) || !usable(scores[c as usize]) {
            continue;
        }
        let rank = rank_of[&norm(scores[c as usize]).to_bits()];
        for k in 1..s.len() {
            if let (Some(&l), Some(&r)) = (lookup.get(&s[..k]), lookup.get(&s[k..])) {
                spec.merges.insert((l, r), (rank, c));
            }
        }
    }
    spec.bos = 1;
    spec.eos = 2;
    spec.unk = 0;
    spec.added = vec![0, 1, 2];
    spec.flags = F_ADD_BOS | F_PREPEND | F_BYTE_FALLBACK | F_STRIP_LEADING_SPACE;
    let pieces: Vec<(u32, &[u8])> = strings.iter().enumerate().map(|(i, s)| (i as u32, *s)).collect();
    spec.flags |= sp_speed_flags(&spec, &pieces, b" ");
    spec.serialize(vocab_size)
}

#[cfg(test)]
pub(crate) mod tests_support {
    use std::string::{String, ToString};
    use std::vec::Vec;

    /// GPT-2's printable symbol for each byte.
    pub(crate) fn byte_level_symbols() -> Vec<String> {
        super::bytes_to_unicode().iter().map(|c| c.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_pieces() {
        assert_eq!(byte_piece("<0x0A>"), Some(10));
        assert_eq!(byte_piece("<0xff>"), Some(255));
        assert_eq!(byte_piece("<0x0A"), None);
        assert_eq!(byte_piece("<0x0AB>"), None);
        assert_eq!(byte_piece("<s>"), None);
    }

    #[test]
    fn merges_may_be_strings_or_pairs() {
        let v: Value = serde_json::json!(["a b", ["c", "d"]]);
        let m = parse_merges(Some(&v)).unwrap();
        assert_eq!(m, [("a".into(), "b".into()), ("c".into(), "d".into())]);
        let bad: Value = serde_json::json!(["a b c"]);
        assert!(parse_merges(Some(&bad)).is_err());
    }

    #[test]
    fn repeated_merges_keep_their_last_rank() {
        let vocab: HashMap<String, u32> = [("a", 0), ("b", 1), ("ab", 2)].iter().map(|(k, v)| ((*k).into(), *v)).collect();
        let m = merge_ids(&vocab, &[("a".into(), "b".into()), ("a".into(), "b".into())]).unwrap();
        assert_eq!(m[&(0, 1)], (1, 2));
        assert!(merge_ids(&vocab, &[("b".into(), "a".into())]).unwrap_err().contains("\"ba\""));
    }

    #[test]
    fn added_token_options_are_refused_by_name() {
        let v: Value = serde_json::json!([{"id": 5, "content": "<x>", "lstrip": true}]);
        assert!(parse_added(Some(&v)).err().unwrap().contains("lstrip"));
    }
}
