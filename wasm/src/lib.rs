//! tinygpt's JavaScript shim (wasm-bindgen): one [`Engine`] per loaded model.
//!
//! Owns: copying a model's bytes into aligned wasm memory, keeping the model, its session
//! and its workspace alive between JS calls, a token-at-a-time driver around the core's
//! generation loop (so JavaScript can stream, yield to its event loop and stop between
//! tokens), and turning [`tinygpt::Error`] into JS `Error`s at the boundary.
//!
//! Must not: contain model logic, or panic on anything JavaScript passes in. The public
//! JavaScript API (`TinyGpt`, argument checking, async iteration) is `npm/src/tinygpt.js`;
//! this file is the engine under it and is not a public interface.
//!
//! Everything that decides *which* tokens come out is the core's: prompt encoding, prefill
//! and the validation of settings and stop strings run through
//! [`tinygpt::generate::generate`] itself (asked for zero new tokens), then each
//! [`Engine::step`] does exactly what one iteration of the core's loop does (sample, EOS,
//! stream-decode, stop strings, feed the token back).

use std::ptr::NonNull;

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;

use tinygpt::format::ParseOptions;
use tinygpt::generate::{Event, GenerateOptions, Generation};
use tinygpt::sampler::{distribution, SamplerConfig};
use tinygpt::tokenizer::StreamDecoder;
use tinygpt::{state_bytes, Error, Model, Session, SessionOptions};

// ---- errors at the boundary ------------------------------------------------------------------

/// The JS option that a core setting name corresponds to.
fn js_setting(name: &'static str) -> &'static str {
    match name {
        "top_p" => "topP",
        "top_k" => "topK",
        "min_p" => "minP",
        "repeat_penalty" => "repeatPenalty",
        "repeat_last_n" => "repeatLastN",
        "max_tokens" => "maxTokens",
        other => other,
    }
}

/// A core error as a JS `Error` (sampler settings named as the JS options are).
fn js_err(e: Error) -> JsError {
    match e {
        Error::InvalidSetting { name, allowed } => {
            JsError::new(&format!("invalid {}: must be {allowed}", js_setting(name)))
        }
        e => JsError::new(&e.to_string()),
    }
}

/// A zeroed buffer of `n` elements, or an error instead of an allocation failure (a hostile
/// model header can ask for any workspace size).
fn zeroed<T: Clone + Default>(n: usize, what: &str) -> Result<Vec<T>, JsError> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| {
        JsError::new(&format!(
            "out of memory: the {what} needs {} bytes",
            n.saturating_mul(core::mem::size_of::<T>())
        ))
    })?;
    v.resize(n, T::default());
    Ok(v)
}

// ---- owned memory the session borrows ----------------------------------------------------------

/// A heap slice leaked for the life of an [`Engine`] (so the session can borrow it with a
/// `'static` lifetime across JS calls) and freed when this guard drops.
struct Leaked<T: 'static>(NonNull<[T]>);

impl<T> Leaked<T> {
    fn new(v: Vec<T>) -> Self {
        Leaked(NonNull::from(Box::leak(v.into_boxed_slice())))
    }
}

impl<T> Drop for Leaked<T> {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `Box::leak` in `new` and is freed only here, once.
        // `Engine::drop` has already dropped the session and model, the only borrowers.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

// ---- one generation in progress ----------------------------------------------------------------

/// The core's resumable generation plus the text released since the last `takeText`.
struct Run {
    gen: Generation,
    text: String,
}

/// Appends released text to `text` and records the generated id in `id`.
fn collect<'a>(text: &'a mut String, id: &'a mut Option<u32>) -> impl FnMut(Event<'_>) -> bool + 'a {
    move |e| {
        match e {
            Event::Text(t) => text.push_str(t),
            Event::Token(t) => *id = Some(t),
        }
        true
    }
}

/// The JS-side settings of one call, as the core's types.
fn sampler_config(
    temperature: f32,
    top_k: u32,
    top_p: f32,
    min_p: f32,
    repeat_penalty: f32,
    seed: u64,
) -> SamplerConfig {
    SamplerConfig {
        temperature,
        top_k: top_k as usize,
        top_p,
        min_p,
        repeat_penalty,
        seed,
        ..SamplerConfig::default()
    }
}

// ---- the engine -------------------------------------------------------------------------------

/// The name of the int8 kernel set this build runs: `"simd128"`, or `"simd128-relaxed"` for
/// the build with the `relaxed` feature (`TinyGpt.kernels()`).
#[wasm_bindgen]
pub fn kernels() -> String {
    tinygpt::kernels::best().name.into()
}

/// A loaded model with its session. Not a public API: use `TinyGpt` from the npm package.
#[wasm_bindgen]
pub struct Engine {
    // Borrowers first; `Drop` clears them before the buffers below are freed.
    run: Option<Run>,
    session: Option<Session<'static, 'static>>,
    /// `[id, prob, keptProb]` triples of the last distribution computed.
    dist: Vec<f64>,
    /// Three vocabulary-sized scratch buffers for distributions.
    scratch: Vec<f32>,
    _workspace: Leaked<u8>,
    _bytes: Leaked<u128>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.run = None;
        self.session = None;
    }
}

/// Session settings: the model's whole context, f32 KV cache (the CLI's), prefill in
/// batches of 16 (the forward pass gives the same result for any batch size).
fn session_options() -> SessionOptions {
    SessionOptions { batch: 16, ..SessionOptions::default() }
}

impl Engine {
    fn session(&mut self) -> &mut Session<'static, 'static> {
        // Always `Some` outside `drop`.
        self.session.as_mut().expect("engine session")
    }

    fn model(&self) -> Model<'static> {
        *self.session.as_ref().expect("engine session").model()
    }

    /// A prompt buffer for `text`: room for the tokenizer's merge scratch (a few slots per
    /// byte), and at least the context, so "prompt too long" reports the real count.
    fn prompt_buf(&self, text: &str) -> Result<Vec<u32>, JsError> {
        let ctx = self.model().config().seq_len;
        zeroed(text.len().saturating_mul(4).saturating_add(64).max(ctx + 1), "prompt buffer")
    }

    /// Writes the distribution of `logits` (the next token's, `recent` the history) as
    /// `[id, prob, keptProb]` triples of the `top_n` most likely tokens into `self.dist`.
    fn fill_dist(
        dist: &mut Vec<f64>,
        scratch: &mut [f32],
        logits: &[f32],
        recent: &[u32],
        cfg: &SamplerConfig,
        top_n: usize,
    ) -> Result<(), JsError> {
        let n = logits.len();
        let (raw, rest) = scratch.split_at_mut(n);
        let (tmp, kept) = rest.split_at_mut(n);
        // `prob`: the model's distribution (repetition penalty applied, temperature 1, no
        // filter); `keptProb`: what the sampler draws from with the caller's settings.
        let plain = SamplerConfig { temperature: 1.0, top_k: 0, top_p: 1.0, min_p: 0.0, ..*cfg };
        distribution(logits, recent, &plain, raw, tmp).map_err(js_err)?;
        distribution(logits, recent, cfg, tmp, kept).map_err(js_err)?;
        let by_prob = |a: &u32, b: &u32| raw[*b as usize].total_cmp(&raw[*a as usize]).then(a.cmp(b));
        let mut ids: Vec<u32> = (0..n as u32).collect();
        let k = top_n.min(n);
        if k == 0 {
            ids.clear();
        } else if k < n {
            ids.select_nth_unstable_by(k - 1, by_prob);
            ids.truncate(k);
        }
        ids.sort_unstable_by(by_prob);
        dist.clear();
        for id in ids {
            let i = id as usize;
            dist.extend_from_slice(&[id as f64, raw[i] as f64, kept[i] as f64]);
        }
        Ok(())
    }
}

#[wasm_bindgen]
impl Engine {
    /// Copies `bytes` into aligned memory, validates the model (checksum included) and
    /// allocates its workspace.
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: &Uint8Array) -> Result<Engine, JsError> {
        let len = bytes.length() as usize;
        let mut words = zeroed::<u128>(len.div_ceil(16), "model")?;
        {
            // SAFETY: `words` owns `words.len() * 16 >= len` initialised bytes; u128 has no
            // invalid bit patterns, and the view ends with this block.
            let dst = unsafe { core::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), len) };
            bytes.copy_to(dst);
        }
        let words = Leaked::new(words);
        // SAFETY: the leaked allocation holds at least `len` initialised bytes, is 16-byte
        // aligned (u128), is written only through this one reference (by the interleaving
        // below, before the model borrows it for good), and outlives every borrower
        // (`Engine::drop`).
        let model_bytes: &'static mut [u8] = unsafe { core::slice::from_raw_parts_mut(words.0.as_ptr().cast::<u8>(), len) };
        // The int8 matrices in the layout this build's kernels read fastest
        // (`kernels::best().layout`: four-row interleaved, with the even codes biased for the
        // simd128 set; 15–40% faster than row-major, the same results bit for bit): validated
        // (checksum included), then rewritten in place. The scratch size needs only the
        // structure (the checksum, a pass over every byte, is verified once, by
        // from_bytes_in, which also reports whatever is wrong with the file).
        let scratch_len = Model::parse(model_bytes, ParseOptions { verify_checksum: false })
            .map_or(0, |m| m.interleave_scratch_len());
        let mut scratch = zeroed::<u8>(scratch_len, "interleave scratch")?;
        let model = Model::from_bytes_in(model_bytes, &mut scratch, tinygpt::kernels::best().layout).map_err(js_err)?;
        drop(scratch);
        let opts = session_options();
        let need = state_bytes(model.config(), &opts).map_err(js_err)?;
        let workspace = Leaked::new(zeroed::<u8>(need, "workspace")?);
        // SAFETY: the leaked workspace is borrowed mutably only by this session, which
        // `Engine::drop` drops before the guard frees it.
        let ws: &'static mut [u8] = unsafe { &mut *workspace.0.as_ptr() };
        let session = Session::new(model, ws, opts).map_err(js_err)?;
        let vocab = model.config().vocab_size;
        Ok(Engine {
            run: None,
            session: Some(session),
            dist: Vec::new(),
            scratch: zeroed(vocab.saturating_mul(3), "distribution buffers")?,
            _workspace: workspace,
            _bytes: words,
        })
    }

    /// The model's vocabulary size.
    #[wasm_bindgen(js_name = vocabSize)]
    pub fn vocab_size(&self) -> u32 {
        self.model().config().vocab_size as u32
    }

    /// The model's context length.
    #[wasm_bindgen(js_name = contextLength)]
    pub fn context_length(&self) -> u32 {
        self.model().config().seq_len as u32
    }

    /// The same object as `tinygpt info` prints (same keys, same values; `src/cli/mod.rs`
    /// `info_json` is the reference, and the Node tests compare the two).
    pub fn info(&self) -> Result<JsValue, JsError> {
        let mut text = String::new();
        tinygpt::info::write_json(&self.model(), &mut text).map_err(|_| JsError::new("info: formatting failed"))?;
        js_sys::JSON::parse(&text).map_err(|_| JsError::new("info: invalid JSON"))
    }

    /// Prompt text -> token ids (BOS first if the model's tokenizer adds one).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, JsError> {
        let mut buf = self.prompt_buf(text)?;
        let n = self.model().tokenizer().encode(text, &mut buf).map_err(js_err)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// Token ids -> text, as `tinygpt decode` does it (special tokens skipped; a
    /// SentencePiece leading space is dropped right after BOS).
    pub fn decode(&self, ids: &[u32]) -> Result<String, JsError> {
        let tok = *self.model().tokenizer();
        let mut dec = StreamDecoder::new();
        let mut text = String::new();
        for &id in ids {
            dec.push(&tok, id, &mut |s| text.push_str(s)).map_err(js_err)?;
        }
        dec.finish(&mut |s| text.push_str(s));
        Ok(text)
    }

    /// One token's bytes as text (invalid UTF-8 replaced), for labels; empty when the
    /// model has no tokenizer.
    #[wasm_bindgen(js_name = tokenText)]
    pub fn token_text(&self, id: u32) -> String {
        match self.model().tokenizer().token_bytes(id) {
            Ok(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            Err(_) => String::new(),
        }
    }

    /// Starts a generation from prompt text: encodes, checks every setting, prefills.
    /// Returns the number of prompt tokens. Then call `step` until it returns `undefined`.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        &mut self,
        prompt: &str,
        max_tokens: u32,
        temperature: f32,
        top_k: u32,
        top_p: f32,
        min_p: f32,
        repeat_penalty: f32,
        seed: u64,
        stops: Vec<String>,
    ) -> Result<u32, JsError> {
        let cfg = sampler_config(temperature, top_k, top_p, min_p, repeat_penalty, seed);
        let mut buf = self.prompt_buf(prompt)?;
        self.begin(cfg, max_tokens, stops, |s, opts| Generation::start(s, prompt, opts, &mut buf))
    }

    /// [`Engine::start`] from token ids.
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(js_name = startIds)]
    pub fn start_ids(
        &mut self,
        ids: &[u32],
        max_tokens: u32,
        temperature: f32,
        top_k: u32,
        top_p: f32,
        min_p: f32,
        repeat_penalty: f32,
        seed: u64,
        stops: Vec<String>,
    ) -> Result<u32, JsError> {
        let cfg = sampler_config(temperature, top_k, top_p, min_p, repeat_penalty, seed);
        self.begin(cfg, max_tokens, stops, |s, opts| Generation::start_tokens(s, ids, opts))
    }

    /// Generates one token. Returns its id, or `undefined` once generation has stopped (then
    /// `takeText` has the last text and `stopReason` says why). With `dist_n > 0`, the
    /// distribution the token is drawn from (its `dist_n` most likely candidates) is kept
    /// for `lastDistribution`.
    pub fn step(&mut self, dist_n: u32) -> Result<Option<u32>, JsError> {
        let r = self.step_inner(dist_n as usize);
        if r.is_err() {
            self.run = None; // never leave a half-done step behind
        }
        r
    }

    /// Stops the generation in progress (stop reason "cancelled"), flushing held text.
    pub fn cancel(&mut self) {
        if let Some(run) = self.run.as_mut() {
            let mut id = None;
            run.gen.cancel(&mut collect(&mut run.text, &mut id));
        }
    }

    /// The text released since the last call.
    #[wasm_bindgen(js_name = takeText)]
    pub fn take_text(&mut self) -> String {
        self.run.as_mut().map(|r| core::mem::take(&mut r.text)).unwrap_or_default()
    }

    /// Why the current generation stopped (`"max_tokens"`, `"eos"`, `"stop"`,
    /// `"context_full"`, `"cancelled"`), or `undefined` while it runs.
    #[wasm_bindgen(js_name = stopReason)]
    pub fn stop_reason(&self) -> Option<String> {
        self.run.as_ref().filter(|r| r.gen.is_done()).map(|r| r.gen.outcome().stop_reason.as_str().to_owned())
    }

    /// Ends and forgets the current generation.
    pub fn end(&mut self) {
        self.run = None;
    }

    /// The distribution of the next token after `prompt`, as `[id, prob, keptProb]`
    /// triples of the `top_n` most likely tokens.
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(js_name = distribution)]
    pub fn next_distribution(
        &mut self,
        prompt: &str,
        temperature: f32,
        top_k: u32,
        top_p: f32,
        min_p: f32,
        repeat_penalty: f32,
        top_n: u32,
    ) -> Result<Vec<f64>, JsError> {
        self.start(prompt, 0, temperature, top_k, top_p, min_p, repeat_penalty, 0, Vec::new())?;
        self.dist_now(top_n)
    }

    /// [`Engine::next_distribution`] from token ids.
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(js_name = distributionIds)]
    pub fn next_distribution_ids(
        &mut self,
        ids: &[u32],
        temperature: f32,
        top_k: u32,
        top_p: f32,
        min_p: f32,
        repeat_penalty: f32,
        top_n: u32,
    ) -> Result<Vec<f64>, JsError> {
        self.start_ids(ids, 0, temperature, top_k, top_p, min_p, repeat_penalty, 0, Vec::new())?;
        self.dist_now(top_n)
    }

    /// The distribution kept by the last `step` with `dist_n > 0`: `[id, prob, keptProb]`.
    #[wasm_bindgen(js_name = lastDistribution)]
    pub fn last_distribution(&self) -> Vec<f64> {
        self.dist.clone()
    }

    /// Benchmark set-up, as `tinygpt bench` does it: a few warm-up steps, then a fresh
    /// session. Checks that `n` decode steps fit in the context.
    #[wasm_bindgen(js_name = benchPrepare)]
    pub fn bench_prepare(&mut self, n: u32) -> Result<(), JsError> {
        self.run = None;
        let c = *self.model().config();
        let n = n as usize;
        if n == 0 || n > c.seq_len {
            return Err(JsError::new(&format!(
                "benchDecode: n must be between 1 and the model's context ({})",
                c.seq_len
            )));
        }
        let s = self.session();
        s.reset();
        for i in 0..4.min(n) {
            s.step(bench_token(i, c.vocab_size)).map_err(js_err)?;
        }
        s.reset();
        Ok(())
    }

    /// Runs `n` single-token decode steps from position 0 (time it from JS; call
    /// `benchPrepare` first). Uses the token pattern of `tinygpt bench`.
    #[wasm_bindgen(js_name = benchSteps)]
    pub fn bench_steps(&mut self, n: u32) -> Result<(), JsError> {
        let vocab = self.model().config().vocab_size;
        let s = self.session();
        for i in 0..n as usize {
            s.step(bench_token(i, vocab)).map_err(js_err)?;
        }
        s.reset();
        Ok(())
    }
}

/// Token `i` of `tinygpt bench`'s fixed pattern.
fn bench_token(i: usize, vocab: usize) -> u32 {
    ((i * 7919 + 13) % vocab) as u32
}

impl Engine {
    /// Validates, resets and prefills through the core's `Generation::start*` (`go`), then
    /// keeps the generation for `step`.
    fn begin(
        &mut self,
        cfg: SamplerConfig,
        max_tokens: u32,
        stops: Vec<String>,
        go: impl FnOnce(&mut Session<'static, 'static>, &GenerateOptions<'_>) -> tinygpt::Result<Generation>,
    ) -> Result<u32, JsError> {
        self.run = None;
        let refs: Vec<&str> = stops.iter().map(String::as_str).collect();
        let opts = GenerateOptions { max_tokens: max_tokens as usize, stop: &refs, sampler: cfg };
        let gen = go(self.session(), &opts).map_err(js_err)?;
        let prompt_tokens = gen.outcome().prompt_tokens as u32;
        self.run = Some(Run { gen, text: String::new() });
        Ok(prompt_tokens)
    }

    /// The distribution of the next token in the current session state.
    fn dist_now(&mut self, top_n: u32) -> Result<Vec<f64>, JsError> {
        let cfg = *self.run.as_ref().ok_or_else(|| JsError::new("no prompt"))?.gen.sampler_config();
        self.run = None;
        let (session, dist, scratch) = (
            self.session.as_mut().expect("engine session"),
            &mut self.dist,
            &mut self.scratch,
        );
        let (logits, recent, _) = session.sampling_parts();
        Self::fill_dist(dist, scratch, logits, recent, &cfg, top_n as usize)?;
        Ok(self.dist.clone())
    }

    /// One step of the core's resumable generation (`tinygpt::generate::Generation`).
    fn step_inner(&mut self, dist_n: usize) -> Result<Option<u32>, JsError> {
        let (Some(run), Some(session)) = (self.run.as_mut(), self.session.as_mut()) else {
            return Ok(None);
        };
        if run.gen.is_done() {
            return Ok(None);
        }
        if dist_n > 0 {
            // the distribution this step's token is drawn from: the current logits
            let (logits, recent, _) = session.sampling_parts();
            Self::fill_dist(&mut self.dist, &mut self.scratch, logits, recent, run.gen.sampler_config(), dist_n)?;
        }
        let mut id = None;
        run.gen.step(session, &mut collect(&mut run.text, &mut id)).map_err(js_err)?;
        Ok(id)
    }

}
