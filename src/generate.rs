//! Generation: prompt → prefill → sample / decode loop → streamed text, in the core.
//!
//! Owns: the loop that glues a [`Session`], a [`Sampler`] and a [`StreamDecoder`], stop
//! conditions (max tokens, EOS, stop strings, full context, caller cancel) and holding back
//! text that may be the start of a stop string. Must not: allocate; every buffer is the
//! session's workspace, the caller's prompt buffer, or a fixed array here.

// Panic-free core: see "Panics" in the crate docs (src/lib.rs).
use crate::error::{Error, Result};
use crate::sampler::{Sampler, SamplerConfig};
use crate::session::Session;
use crate::tokenizer::StreamDecoder;

/// Longest stop string, in bytes.
pub const MAX_STOP_BYTES: usize = 64;
/// Most stop strings per generation.
pub const MAX_STOPS: usize = 8;
/// Bytes of text held back while it may still become a stop string.
const HOLD: usize = 4 * MAX_STOP_BYTES;

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// `max_tokens` new tokens were generated.
    MaxTokens,
    /// The model produced its end-of-sequence token (not emitted).
    Eos,
    /// A stop string appeared in the text (the text before it is emitted, the rest not).
    StopString,
    /// The context window is full.
    ContextFull,
    /// The caller's callback asked to stop.
    Cancelled,
}

impl StopReason {
    /// Stable name used in JSON (`"max_tokens"`, `"eos"`, `"stop"`, `"context_full"`,
    /// `"cancelled"`).
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::MaxTokens => "max_tokens",
            StopReason::Eos => "eos",
            StopReason::StopString => "stop",
            StopReason::ContextFull => "context_full",
            StopReason::Cancelled => "cancelled",
        }
    }
}

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct GenerateOptions<'s> {
    /// New tokens to generate at most.
    pub max_tokens: usize,
    /// Stop strings (each 1..=[`MAX_STOP_BYTES`] bytes, at most [`MAX_STOPS`]).
    pub stop: &'s [&'s str],
    /// Sampler settings (temperature 0 = greedy).
    pub sampler: SamplerConfig,
}

/// The result of a generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// Tokens in the prompt (BOS included).
    pub prompt_tokens: usize,
    /// New tokens generated (an EOS is not counted).
    pub generated: usize,
}

type Stop = heapless::String<MAX_STOP_BYTES>;

/// Text held back while it could still be the start of a stop string. Owns copies of the
/// stop strings (at most `MAX_STOPS × MAX_STOP_BYTES` bytes), so a [`Generation`] borrows
/// nothing from its options.
struct Holdback {
    stops: heapless::Vec<Stop, MAX_STOPS>,
    buf: [u8; HOLD],
    len: usize,
}

impl Holdback {
    fn new(stops: &[&str]) -> Result<Self> {
        let mut own = heapless::Vec::new();
        for s in stops {
            if s.is_empty() {
                return Err(Error::InvalidSetting { name: "stop", allowed: "strings of 1 to 64 bytes" });
            }
            let st: Stop = heapless::String::try_from(*s)
                .map_err(|_| Error::InvalidSetting { name: "stop", allowed: "strings of 1 to 64 bytes" })?;
            own.push(st).map_err(|_| Error::InvalidSetting { name: "stop", allowed: "at most 8 stop strings" })?;
        }
        Ok(Holdback { stops: own, buf: [0; HOLD], len: 0 })
    }

    fn held(&self) -> &str {
        // Only whole chars are ever appended, so the buffer is valid UTF-8; `len <= HOLD`.
        self.buf.get(..self.len).and_then(|b| core::str::from_utf8(b).ok()).unwrap_or("")
    }

    /// Emits the first `n` held bytes (a char boundary; at most all of them).
    fn release(&mut self, n: usize, emit: &mut dyn FnMut(&str)) {
        let n = n.min(self.len);
        if n == 0 {
            return;
        }
        emit(self.buf.get(..n).and_then(|b| core::str::from_utf8(b).ok()).unwrap_or(""));
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }

    /// Adds text; returns true when a stop string completed (text before it emitted, the
    /// stop string and anything after it dropped).
    fn push(&mut self, text: &str, emit: &mut dyn FnMut(&str)) -> bool {
        if self.stops.is_empty() {
            emit(text);
            return false;
        }
        for c in text.chars() {
            let mut enc = [0u8; 4];
            let e = c.encode_utf8(&mut enc).as_bytes();
            if self.len + e.len() > HOLD {
                // cannot be part of a stop string that long: release the oldest chars
                let held = self.held();
                let cut = held.char_indices().map(|(i, _)| i).find(|&i| i >= e.len()).unwrap_or(self.len);
                self.release(cut, emit);
            }
            // room by the release above: `len + e.len() <= HOLD`
            if let Some(dst) = self.buf.get_mut(self.len..self.len + e.len()) {
                dst.copy_from_slice(e);
                self.len += e.len();
            }
            let held = self.held();
            if let Some(s) = self.stops.iter().find(|s| held.ends_with(s.as_str())) {
                let keep = self.len - s.len();
                self.release(keep, emit);
                self.len = 0;
                return true;
            }
        }
        // release everything that cannot start a stop string
        let held = self.held();
        let keep_from = held
            .char_indices()
            .map(|(i, _)| i)
            .find(|&i| held.get(i..).is_some_and(|tail| self.stops.iter().any(|s| s.as_str().starts_with(tail))))
            .unwrap_or(self.len);
        self.release(keep_from, emit);
        false
    }

    fn flush(&mut self, emit: &mut dyn FnMut(&str)) {
        let n = self.len;
        self.release(n, emit);
    }
}

/// What the generation loop reports to its caller, in order: the text released for each
/// new token (zero or more `Text` events: empty text is never sent; a multi-byte character
/// split across tokens, or text that may begin a stop string, is held until it is
/// complete), then one `Token` event with its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A piece of generated text (always whole UTF-8 characters).
    Text(&'a str),
    /// A generated token id (after its text).
    Token(u32),
}

/// A generation in progress, advanced one token at a time with [`Generation::step`]: what a
/// caller uses that must yield between tokens (an async iterator, a UI with a Stop button).
/// [`generate`] is `start` plus `step` until done.
pub struct Generation {
    sampler: Sampler,
    hold: Holdback,
    dec: StreamDecoder,
    eos: Option<u32>,
    max_tokens: usize,
    prompt_tokens: usize,
    generated: usize,
    done: Option<StopReason>,
}

impl Generation {
    /// Encodes `prompt` into `prompt_buf`, resets the session and prefills it.
    ///
    /// # Errors
    /// Tokenizer errors, [`Error::PromptTooLong`], [`Error::EmptyPrompt`], invalid sampler
    /// settings or stop strings.
    pub fn start(session: &mut Session<'_, '_>, prompt: &str, opts: &GenerateOptions<'_>, prompt_buf: &mut [u32]) -> Result<Self> {
        // validate settings before any work
        Sampler::new(opts.sampler)?;
        Holdback::new(opts.stop)?;
        let tok = *session.model().tokenizer();
        let mut n = tok.encode(prompt, prompt_buf)?;
        if n == 0 {
            // An empty prompt starts from BOS (or, failing that, EOS: the document separator).
            let start = tok.bos_id().or(tok.eos_id()).ok_or(Error::EmptyPrompt)?;
            let slot = prompt_buf.first_mut().ok_or(Error::BufferTooSmall { what: "prompt", needed: 1 })?;
            *slot = start;
            n = 1;
        }
        let prompt = prompt_buf.get(..n).ok_or(Error::BufferTooSmall { what: "prompt", needed: n })?;
        Self::start_tokens(session, prompt, opts)
    }

    /// Resets the session and prefills it with `prompt` token ids.
    ///
    /// # Errors
    /// As [`Generation::start`].
    pub fn start_tokens(session: &mut Session<'_, '_>, prompt: &[u32], opts: &GenerateOptions<'_>) -> Result<Self> {
        let sampler = Sampler::new(opts.sampler)?;
        let hold = Holdback::new(opts.stop)?;
        session.reset();
        session.prefill(prompt)?;
        Ok(Generation {
            sampler,
            hold,
            dec: StreamDecoder::new(),
            eos: session.model().tokenizer().eos_id(),
            max_tokens: opts.max_tokens,
            prompt_tokens: prompt.len(),
            generated: 0,
            done: None,
        })
    }

    /// The sampler settings in use.
    pub fn sampler_config(&self) -> &SamplerConfig {
        self.sampler.config()
    }

    /// The outcome so far (`stop_reason` is meaningful once [`Generation::is_done`]).
    pub fn outcome(&self) -> Outcome {
        Outcome {
            stop_reason: self.done.unwrap_or(StopReason::MaxTokens),
            prompt_tokens: self.prompt_tokens,
            generated: self.generated,
        }
    }

    /// Whether generation has stopped.
    pub fn is_done(&self) -> bool {
        self.done.is_some()
    }

    /// Generates one token (its text and id go to `on`), or finishes: returns
    /// `Some(reason)` once generation has stopped (all remaining text flushed to `on`).
    /// Returning `false` from `on` for a `Token` event stops with [`StopReason::Cancelled`].
    ///
    /// # Errors
    /// Session errors (none are expected after a successful start).
    pub fn step(&mut self, session: &mut Session<'_, '_>, on: &mut dyn FnMut(Event<'_>) -> bool) -> Result<Option<StopReason>> {
        if let Some(r) = self.done {
            return Ok(Some(r));
        }
        if self.generated >= self.max_tokens {
            return Ok(Some(self.finish(StopReason::MaxTokens, on)));
        }
        let id = {
            let (logits, recent, scratch) = session.sampling_parts();
            self.sampler.sample(logits, recent, scratch)?
        };
        if Some(id) == self.eos {
            return Ok(Some(self.finish(StopReason::Eos, on)));
        }
        self.generated += 1;
        let tok = *session.model().tokenizer();
        let mut stopped = false;
        let hold = &mut self.hold;
        self.dec.push(&tok, id, &mut |s| {
            if !stopped {
                stopped = hold.push(s, &mut |r| {
                    if !r.is_empty() {
                        on(Event::Text(r));
                    }
                });
            }
        })?;
        let go = on(Event::Token(id));
        if stopped {
            self.done = Some(StopReason::StopString);
            return Ok(self.done);
        }
        if !go {
            return Ok(Some(self.finish(StopReason::Cancelled, on)));
        }
        if session.pos() >= session.ctx() {
            return Ok(Some(self.finish(StopReason::ContextFull, on)));
        }
        session.step(id)?;
        Ok(None)
    }

    /// Stops now with [`StopReason::Cancelled`], flushing held text to `on`.
    pub fn cancel(&mut self, on: &mut dyn FnMut(Event<'_>) -> bool) -> StopReason {
        match self.done {
            Some(r) => r,
            None => self.finish(StopReason::Cancelled, on),
        }
    }

    /// Flushes what the decoder and the hold-back buffer still hold, and records `reason`.
    fn finish(&mut self, reason: StopReason, on: &mut dyn FnMut(Event<'_>) -> bool) -> StopReason {
        let hold = &mut self.hold;
        let mut stopped = false;
        self.dec.finish(&mut |s| {
            if !stopped {
                stopped = hold.push(s, &mut |r| {
                    if !r.is_empty() {
                        on(Event::Text(r));
                    }
                });
            }
        });
        if !stopped {
            hold.flush(&mut |r| {
                if !r.is_empty() {
                    on(Event::Text(r));
                }
            });
        }
        self.done = Some(reason);
        reason
    }
}

/// Generates text for `prompt`, streaming [`Event`]s to `on`. Return `false` from `on` (for
/// a `Token` event) to stop early with [`StopReason::Cancelled`].
///
/// `prompt_buf` receives the prompt's token ids; it must be long enough for the encoder
/// (see `Tokenizer::encode`). The session is reset first.
///
/// # Errors
/// Tokenizer errors, [`Error::PromptTooLong`] if the prompt does not fit in the context,
/// [`Error::EmptyPrompt`], invalid sampler settings or stop strings.
pub fn generate(
    session: &mut Session<'_, '_>,
    prompt: &str,
    opts: &GenerateOptions<'_>,
    prompt_buf: &mut [u32],
    on: &mut dyn FnMut(Event<'_>) -> bool,
) -> Result<Outcome> {
    let mut g = Generation::start(session, prompt, opts, prompt_buf)?;
    while g.step(session, on)?.is_none() {}
    Ok(g.outcome())
}

/// [`generate`] from token ids instead of text.
///
/// # Errors
/// As [`generate`].
pub fn generate_tokens(
    session: &mut Session<'_, '_>,
    prompt: &[u32],
    opts: &GenerateOptions<'_>,
    on: &mut dyn FnMut(Event<'_>) -> bool,
) -> Result<Outcome> {
    let mut g = Generation::start_tokens(session, prompt, opts)?;
    while g.step(session, on)?.is_none() {}
    Ok(g.outcome())
}
