//! A whole generation on tiny models with real tokenizers (GPT-2 byte-level, Llama
//! SentencePiece, llama2.c), with arbitrary prompt, sampler settings, stop strings, token
//! budget, prompt buffer, context, batch and KV dtype, and a callback that may cancel.
//!
//! Oracles: no panic; at most `max_tokens` tokens, one `Token` event per generated token; the
//! streamed text never contains a stop string; without stop strings the text is exactly the
//! stream decode of the generated ids; errors only for invalid settings or prompts.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tinygpt::generate::{generate, Event, GenerateOptions, StopReason};
use tinygpt::sampler::SamplerConfig;
use tinygpt::session::{state_bytes, KvDtype, Session, SessionOptions};
use tinygpt::tokenizer::StreamDecoder;
use tinygpt::{AlignedBytes, Error, Model};
use tinygpt_fuzz::{small_tokenizers, tiny_model, F};

/// One tiny model per small fixture tokenizer, each in a different shape.
fn models() -> &'static [AlignedBytes] {
    static M: OnceLock<Vec<AlignedBytes>> = OnceLock::new();
    M.get_or_init(|| {
        small_tokenizers()
            .iter()
            .enumerate()
            .flat_map(|(i, t)| {
                [1usize, 2, 3].map(|shape| AlignedBytes::new(&tiny_model(shape + i, t.vocab, &t.section, 7 * i as u64)))
            })
            .collect()
    })
}

#[derive(Arbitrary, Debug)]
struct Input {
    model: u8,
    prompt: Vec<u8>,
    max_tokens: u8,
    temperature: F,
    top_k: u16,
    top_p: F,
    min_p: F,
    repeat_penalty: F,
    repeat_last_n: u8,
    seed: u64,
    stops: Vec<Vec<u8>>,
    prompt_buf: u16,
    ctx: u8,
    batch: u8,
    kv16: bool,
    cancel_after: Option<u8>,
}

fuzz_target!(|inp: Input| {
    let ms = models();
    let bytes = &ms[inp.model as usize % ms.len()];
    let m = Model::from_bytes(bytes.as_slice()).unwrap();
    let seq = m.config().seq_len;
    let opts = SessionOptions {
        ctx: inp.ctx as usize % (seq + 1),
        batch: inp.batch as usize % 6 + 1,
        kv: if inp.kv16 { KvDtype::F16 } else { KvDtype::F32 },
    };
    let mut ws = vec![0u8; state_bytes(m.config(), &opts).unwrap()];
    let mut s = Session::new(m, &mut ws, opts).unwrap();

    let prompt = String::from_utf8_lossy(&inp.prompt);
    let stops: Vec<String> = inp.stops.iter().take(10).map(|s| String::from_utf8_lossy(s).into_owned()).collect();
    let stop_refs: Vec<&str> = stops.iter().map(String::as_str).collect();
    let sampler = SamplerConfig {
        temperature: inp.temperature.get(),
        top_k: inp.top_k as usize,
        top_p: inp.top_p.get(),
        min_p: inp.min_p.get(),
        repeat_penalty: inp.repeat_penalty.get(),
        repeat_last_n: inp.repeat_last_n as usize,
        seed: inp.seed,
    };
    let max_tokens = inp.max_tokens as usize % 40;
    let gopts = GenerateOptions { max_tokens, stop: &stop_refs, sampler };
    let mut prompt_buf = vec![0u32; inp.prompt_buf as usize % (2 * prompt.len() + 32)];

    let mut text = String::new();
    let mut ids = Vec::new();
    let mut text_after_token = false;
    let r = generate(&mut s, &prompt, &gopts, &mut prompt_buf, &mut |e| match e {
        Event::Text(t) => {
            assert!(!t.is_empty(), "empty Text event");
            text.push_str(t);
            text_after_token = true;
            true
        }
        Event::Token(id) => {
            ids.push(id);
            text_after_token = false;
            inp.cancel_after.map_or(true, |c| ids.len() <= c as usize)
        }
    });
    let _ = text_after_token;
    match r {
        Ok(out) => {
            assert!(sampler.validate().is_ok());
            assert!(out.generated <= max_tokens);
            assert_eq!(out.generated, ids.len());
            assert!(out.prompt_tokens >= 1);
            let vocab = s.model().config().vocab_size;
            assert!(ids.iter().all(|&i| (i as usize) < vocab));
            for st in &stop_refs {
                assert!(!text.contains(st), "stop string {st:?} in the output {text:?}");
            }
            if stop_refs.is_empty() {
                let tok = *s.model().tokenizer();
                let mut want = String::new();
                let mut d = StreamDecoder::new();
                for &i in &ids {
                    d.push(&tok, i, &mut |t| want.push_str(t)).unwrap();
                }
                d.finish(&mut |t| want.push_str(t));
                assert_eq!(text, want, "streamed text != decode of the ids");
                assert_ne!(out.stop_reason, StopReason::StopString);
            }
            if out.stop_reason == StopReason::MaxTokens {
                assert_eq!(out.generated, max_tokens);
            }
        }
        Err(Error::InvalidSetting { .. }) => {
            let stops_ok = stop_refs.len() <= 8 && stop_refs.iter().all(|s| !s.is_empty() && s.len() <= 64);
            assert!(sampler.validate().is_err() || !stops_ok, "InvalidSetting with valid settings");
        }
        Err(Error::PromptTooLong { .. } | Error::BufferTooSmall { .. } | Error::EmptyPrompt) => {}
        Err(e) => panic!("unexpected error: {e}"),
    }
});
