//! The demo run, shared word for word by the firmware and by the host check
//! (`tests/firmware.rs` includes this file with `#[path]`), so both make the same library
//! calls with the same settings and their tokens must agree exactly.
//!
//! Plain `core` + `tinygpt`: no platform code, no allocation.

use tinygpt::generate::{Event, GenerateOptions};
use tinygpt::sampler::SamplerConfig;
use tinygpt::{Result, Session};

/// The prompt.
pub const PROMPT: &str = "The jury said";
/// New tokens per run.
pub const MAX_TOKENS: usize = 32;
/// Room for the prompt's token ids.
pub const PROMPT_CAP: usize = 64;

/// One generation: a name for the `TOKENS <name>:` line and its sampler settings.
#[derive(Clone, Copy)]
pub struct Run {
    /// Label printed on the machine-readable line.
    pub name: &'static str,
    /// Sampler settings.
    pub sampler: SamplerConfig,
}

/// The runs, in order: greedy, then seeded sampling (temperature 0.8, top-p 0.9, seed 42:
/// `SamplerConfig::default()` spelled out, so a change of defaults cannot change the demo).
pub const RUNS: [Run; 2] = [
    Run { name: "greedy", sampler: SamplerConfig::greedy() },
    Run {
        name: "sampled",
        sampler: SamplerConfig {
            temperature: 0.8,
            top_k: 0,
            top_p: 0.9,
            min_p: 0.0,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            seed: 42,
        },
    },
];

/// What one run produced.
pub struct Generated {
    /// Token ids, `tokens[..n]`.
    pub tokens: [u32; MAX_TOKENS],
    /// How many.
    pub n: usize,
    /// Prompt length in tokens.
    pub prompt_tokens: usize,
    /// Why it stopped, as the JSON name (`"max_tokens"`, `"eos"`, ...).
    pub stop_reason: &'static str,
}

/// Generates [`MAX_TOKENS`] tokens for [`PROMPT`] with `run`'s settings through the
/// library's generation loop (`tinygpt::generate::generate`: tokenize, prefill, sample,
/// stream-decode), passing text to `on_text` as it is produced.
/// (A model without a tokenizer cannot take a text prompt: that is an error.)
///
/// # Errors
/// Whatever the library reports (tokenizer, sampler settings, session).
pub fn generate(session: &mut Session<'_, '_>, run: &Run, on_text: &mut dyn FnMut(&str)) -> Result<Generated> {
    let mut out = Generated { tokens: [0; MAX_TOKENS], n: 0, prompt_tokens: 0, stop_reason: "" };
    let opts = GenerateOptions { max_tokens: MAX_TOKENS, stop: &[], sampler: run.sampler };
    let mut prompt_buf = [0u32; PROMPT_CAP];
    let (tokens, n) = (&mut out.tokens, &mut out.n);
    let outcome = tinygpt::generate::generate(session, PROMPT, &opts, &mut prompt_buf, &mut |ev| {
        match ev {
            Event::Text(t) => on_text(t),
            Event::Token(id) => {
                if let Some(slot) = tokens.get_mut(*n) {
                    *slot = id;
                    *n += 1;
                }
            }
        }
        true
    })?;
    out.prompt_tokens = outcome.prompt_tokens;
    out.stop_reason = outcome.stop_reason.as_str();
    Ok(out)
}

/// A prompt of 192 words: more tokens than [`PROMPT_CAP`] slots can hold.
const LONG_PROMPT: &str = concat!(
    "the jury said that the city was in the best of hands and that the election was ",
    "conducted fairly, the jury said that the city was in the best of hands and that ",
    "the election was conducted fairly, the jury said that the city was in the best of ",
    "hands and that the election was conducted fairly, the jury said that the city was ",
    "in the best of hands and that the election was conducted fairly, the jury said ",
    "that the city was in the best of hands and that the election was conducted fairly, ",
    "the jury said that the city was in the best of hands and that the election was ",
    "conducted fairly, the jury said that the city was in the best of hands and that ",
    "the election was conducted fairly, the jury said that the city was in the best of ",
    "hands and that the election was conducted fairly"
);

/// The hostile inputs [`reject_hostile_inputs`] feeds the library, in order: a name for the
/// `REJECTED <name>:` line each produces.
pub const HOSTILE: [&str; 9] = [
    "token-id-at-vocab-size",
    "token-id-u32-max",
    "prompt-too-long",
    "temperature-nan",
    "top-p-above-1",
    "empty-stop-string",
    "workspace-too-small",
    "context-above-the-model",
    "truncated-model",
];

/// Feeds `session` the [`HOSTILE`] inputs (an out-of-range token id, a prompt too long for
/// its buffer, invalid sampler settings and stop strings, a workspace too small, a context
/// longer than the model's, a truncated model file). Each must come back as the documented
/// error, passed to `rejected(name, error)`; none may panic. The session stays usable (the
/// caller checks that with another generation).
///
/// # Errors
/// The name of the first input that was not rejected with the expected error.
pub fn reject_hostile_inputs(
    session: &mut Session<'_, '_>,
    rejected: &mut dyn FnMut(&'static str, &tinygpt::Error),
) -> core::result::Result<(), &'static str> {
    use tinygpt::{Error, Model, SessionOptions};
    let model = *session.model();
    let vocab = model.config().vocab_size as u32;
    let gen = |session: &mut Session<'_, '_>, prompt: &str, sampler: SamplerConfig, stop: &[&str]| {
        let opts = GenerateOptions { max_tokens: MAX_TOKENS, stop, sampler };
        let mut prompt_buf = [0u32; PROMPT_CAP];
        tinygpt::generate::generate(session, prompt, &opts, &mut prompt_buf, &mut |_| true).map(|_| ())
    };
    let greedy = SamplerConfig::greedy();
    let mut tiny_ws = [0u8; 256];
    let too_long_ctx = SessionOptions { ctx: model.config().seq_len + 1, ..SessionOptions::default() };
    let bytes = model.bytes();
    for (i, &name) in HOSTILE.iter().enumerate() {
        let (result, expected): (Result<()>, fn(&Error) -> bool) = match i {
            0 => (session.step(vocab).map(|_| ()), |e| matches!(e, Error::TokenOutOfRange { .. })),
            1 => (session.step(u32::MAX).map(|_| ()), |e| matches!(e, Error::TokenOutOfRange { .. })),
            2 => (gen(session, LONG_PROMPT, greedy, &[]), |e| matches!(e, Error::PromptTooLong { .. })),
            3 => (
                gen(session, PROMPT, SamplerConfig { temperature: f32::NAN, ..greedy }, &[]),
                |e| matches!(e, Error::InvalidSetting { name: "temperature", .. }),
            ),
            4 => (
                gen(session, PROMPT, SamplerConfig { temperature: 0.8, top_p: 1.5, ..greedy }, &[]),
                |e| matches!(e, Error::InvalidSetting { name: "top_p", .. }),
            ),
            5 => (gen(session, PROMPT, greedy, &[""]), |e| matches!(e, Error::InvalidSetting { name: "stop", .. })),
            6 => (
                Session::new(model, &mut tiny_ws, SessionOptions::default()).map(|_| ()),
                |e| matches!(e, Error::WorkspaceTooSmall { .. }),
            ),
            7 => (tinygpt::state_bytes(model.config(), &too_long_ctx).map(|_| ()), |e| matches!(e, Error::BadContext { .. })),
            _ => (
                Model::from_bytes(bytes.get(..bytes.len() / 2).unwrap_or(&[])).map(|_| ()),
                |e| matches!(e, Error::Truncated { .. }),
            ),
        };
        match result {
            Err(e) if expected(&e) => rejected(name, &e),
            _ => return Err(name),
        }
    }
    Ok(())
}
