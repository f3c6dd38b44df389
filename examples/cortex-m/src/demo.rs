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
