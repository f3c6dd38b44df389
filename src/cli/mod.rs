//! The `tinygpt` command line (std shell): argument parsing, file I/O, JSON output.
//!
//! Owns: turning flags into core calls and core results into stdout/stderr. Every error
//! becomes one line on stderr and a documented exit code; no model logic lives here.

use std::io::Write;
use std::prelude::rust_2021::*;
use std::{format, vec};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::format::{AlignedBytes, DType, Model};
use crate::session::{state_bytes, Session, SessionOptions};

/// Exit codes, documented in `--help` and the README.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Bad command-line usage (unknown flag, missing value) — clap's own code.
    pub const USAGE: u8 = 2;
    /// A file could not be read or written (missing, a directory, permissions).
    pub const IO: u8 = 3;
    /// A model file is invalid (bad magic, truncated, corrupted, unsupported).
    pub const MODEL: u8 = 4;
    /// Invalid input or settings (prompt too long, token id out of range, bad sampler value).
    pub const INPUT: u8 = 5;
    /// A checkpoint could not be converted (unsupported architecture, missing tensor).
    pub const CONVERT: u8 = 6;
}

const AFTER_HELP: &str = "Exit codes: 0 ok, 2 usage, 3 file I/O, 4 invalid model file, 5 invalid input or settings, 6 conversion failed.\n\
Without a subcommand, `generate` runs: `tinygpt -p \"The jury said\"`.";

#[derive(Parser)]
#[command(name = "tinygpt", version, about = "A tiny GPT runtime: int8 weights, no allocator, runs anywhere.", after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Generate text from a prompt, streaming it to stdout (the default subcommand).
    Generate(GenerateArgs),
    /// Convert a Hugging Face model directory or a llama2.c .bin into a .tgpt model.
    Convert(ConvertArgs),
    /// Print the token ids of a text as JSON: {"tokens": [...]}.
    Encode(EncodeArgs),
    /// Print the text of comma-separated token ids.
    Decode(DecodeArgs),
    /// Perplexity of a text file, as JSON.
    #[command(long_about = EVAL_HELP)]
    Eval(EvalArgs),
    /// Print the logits after every token of a sequence, as JSON.
    Logits(LogitsArgs),
    /// Describe a model as JSON: architecture, hyper-parameters, sizes.
    Info(ModelArg),
    /// Measure prefill and decode speed (JSON).
    Bench(BenchArgs),
}

const EVAL_HELP: &str = "Perplexity of a text file, as JSON {\"tokens\": N, \"nll\": mean_nll_in_nats, \"ppl\": perplexity}.\n\n\
Rule: the text is encoded without BOS; the token list is split into non-overlapping windows of the model's \
context length (the last window may be shorter); each window is evaluated independently from an empty cache; \
every token after the first of its window is predicted; nll is the mean negative log-likelihood (natural log) \
over all predicted tokens, and ppl = exp(nll). \"tokens\" counts all encoded tokens, \"predicted\" the predicted ones.";

#[derive(Args)]
struct GenerateArgs {
    #[command(flatten)]
    m: ModelArg,
    /// The prompt (empty: start from the BOS / end-of-text token).
    #[arg(short, long, default_value = "")]
    prompt: String,
    /// Maximum number of new tokens.
    #[arg(short = 'n', long = "max-tokens", default_value_t = 128)]
    max_tokens: usize,
    /// Sampling temperature; 0 = greedy (always the most likely token).
    #[arg(long, default_value_t = 0.8)]
    temperature: f32,
    /// Keep only the K most likely tokens (0 = off).
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Keep the smallest set of most likely tokens whose probability reaches P (1 = off).
    #[arg(long, default_value_t = 0.9)]
    top_p: f32,
    /// Drop tokens less likely than P times the most likely one (0 = off).
    #[arg(long, default_value_t = 0.0)]
    min_p: f32,
    /// Penalise tokens seen in the last 64 (CTRL-style; 1 = off).
    #[arg(long, default_value_t = 1.0)]
    repeat_penalty: f32,
    /// Random seed: the same seed and settings give the same text on every platform.
    #[arg(long, default_value_t = crate::sampler::DEFAULT_SEED)]
    seed: u64,
    /// Stop when this string appears (repeatable; not included in the output).
    #[arg(long)]
    stop: Vec<String>,
    /// Print one JSON object {"tokens", "text", "stop_reason"} (generated tokens and text only)
    /// instead of streaming the prompt and its continuation.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    t: ThreadsArg,
}

#[derive(Args)]
struct ConvertArgs {
    /// A Hugging Face model directory (config.json + safetensors) or a llama2.c .bin file.
    input: PathBuf,
    /// Output .tgpt file (written to a temporary file, then renamed).
    #[arg(short, long)]
    output: PathBuf,
    /// Weight type of the matrices.
    #[arg(long, default_value = "q8", value_parser = ["q8", "f32"])]
    dtype: String,
    /// int8 group size (inputs per scale): 32 or 64 usually; any multiple of 4 in 4..=1024.
    #[arg(long, default_value_t = 32)]
    group_size: usize,
    /// Tokenizer file: llama2.c tokenizer.bin, or a tokenizer.json (overrides the directory's).
    #[arg(long)]
    tokenizer: Option<PathBuf>,
}

#[derive(Args)]
struct EncodeArgs {
    #[command(flatten)]
    m: ModelArg,
    /// The text to encode (BOS is prepended when the model's tokenizer does so).
    #[arg(long)]
    text: String,
}

#[derive(Args)]
struct DecodeArgs {
    #[command(flatten)]
    m: ModelArg,
    /// Comma-separated token ids, e.g. 1,2,3.
    #[arg(long, value_delimiter = ',', required = true)]
    tokens: Vec<u32>,
}

#[derive(Args)]
struct EvalArgs {
    #[command(flatten)]
    m: ModelArg,
    /// The text file to evaluate (UTF-8).
    #[arg(long)]
    text_file: PathBuf,
    #[command(flatten)]
    t: ThreadsArg,
}

#[derive(Args)]
struct ModelArg {
    /// Model file (.tgpt). Defaults to the built-in model.
    #[arg(short, long)]
    model: Option<PathBuf>,
}

#[derive(Args)]
struct LogitsArgs {
    #[command(flatten)]
    m: ModelArg,
    /// Comma-separated token ids, e.g. 1,2,3.
    #[arg(long, value_delimiter = ',', required = true)]
    tokens: Vec<u32>,
}

#[derive(Args)]
struct BenchArgs {
    #[command(flatten)]
    m: ModelArg,
    /// Tokens to decode (after a warm-up).
    #[arg(short = 'n', long, default_value_t = 128)]
    n: usize,
    /// Prompt length for the prefill measurement.
    #[arg(long, default_value_t = 128)]
    prompt_tokens: usize,
    #[command(flatten)]
    t: ThreadsArg,
}

#[derive(Args)]
struct ThreadsArg {
    /// Worker threads for matrix products and attention (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

impl ThreadsArg {
    fn pool(&self) -> Result<(&'static dyn crate::parallel::Parallel, usize), Failure> {
        let n = self.threads.unwrap_or_else(crate::threads::Pool::available);
        if n == 0 || n > 256 {
            return Err(Failure::new(exit::INPUT, "--threads must be between 1 and 256"));
        }
        if n == 1 {
            return Ok((&crate::parallel::Serial, 1));
        }
        let p = crate::threads::Pool::new(n).map_err(|e| Failure::new(exit::IO, format!("cannot start {n} threads: {e}")))?;
        Ok((Box::leak(Box::new(p)), n))
    }
}

/// A CLI failure: the message printed on stderr and the exit code.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    msg: String,
}

impl Failure {
    fn new(code: u8, msg: impl Into<String>) -> Self {
        Failure { code, msg: msg.into() }
    }
}

fn input_err(e: crate::Error) -> Failure {
    Failure::new(exit::INPUT, e.to_string())
}

/// Loaded model bytes, aligned, owned.
struct Loaded {
    bytes: Bytes,
    path: String,
}

enum Bytes {
    Owned(AlignedBytes),
    #[allow(dead_code)]
    Static(&'static [u8]),
}

fn load(m: &ModelArg) -> Result<Loaded, Failure> {
    match &m.model {
        Some(p) => {
            if p.is_dir() {
                return Err(Failure::new(exit::IO, format!("{}: is a directory, expected a .tgpt model file (convert a checkpoint with `tinygpt convert`)", p.display())));
            }
            let bytes = AlignedBytes::read(p).map_err(|e| Failure::new(exit::IO, format!("{}: {e}", p.display())))?;
            Ok(Loaded { bytes: Bytes::Owned(bytes), path: p.display().to_string() })
        }
        #[cfg(tinygpt_builtin)]
        None => Ok(Loaded { bytes: Bytes::Static(crate::builtin::MODEL), path: "built-in model".into() }),
        #[cfg(not(tinygpt_builtin))]
        None => Err(Failure::new(exit::IO, "no model given (-m MODEL) and this build has no built-in model")),
    }
}

impl Loaded {
    fn model(&self) -> Result<Model<'_>, Failure> {
        let b = match &self.bytes {
            Bytes::Owned(a) => a.as_slice(),
            Bytes::Static(s) => s,
        };
        Model::from_bytes(b).map_err(|e| Failure::new(exit::MODEL, format!("{}: {e}", self.path)))
    }
}

fn print_json(v: &serde_json::Value) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, v).map_err(|e| Failure::new(exit::IO, format!("stdout: {e}")))?;
    writeln!(out).map_err(|e| Failure::new(exit::IO, format!("stdout: {e}")))
}

fn cmd_logits(a: &LogitsArgs) -> Result<(), Failure> {
    let l = load(&a.m)?;
    let m = l.model()?;
    let ctx = a.tokens.len().clamp(1, m.config().seq_len);
    let opts = SessionOptions { ctx, batch: 16, ..Default::default() };
    let mut ws = vec![0u8; state_bytes(m.config(), &opts).map_err(input_err)?];
    let mut s = Session::new(m, &mut ws, opts).map_err(input_err)?;
    let mut rows: Vec<Vec<f32>> = Vec::with_capacity(a.tokens.len());
    s.forward_each(&a.tokens, &mut |_, l| rows.push(l.to_vec())).map_err(input_err)?;
    print_json(&json!({ "logits": rows }))
}

fn info_json(m: &Model<'_>) -> Result<serde_json::Value, Failure> {
    let mut text = String::new();
    crate::info::write_json(m, &mut text).map_err(|_| Failure::new(exit::IO, "info: formatting failed"))?;
    serde_json::from_str(&text).map_err(|e| Failure::new(exit::IO, format!("info: {e}")))
}

fn cmd_info(a: &ModelArg) -> Result<(), Failure> {
    let l = load(a)?;
    let m = l.model()?;
    print_json(&info_json(&m)?)
}

/// Prompt tokens per forward pass: 32 per thread (a prefill batch is split across threads
/// by tokens, and the batch kernels work on blocks of 32 tokens).
fn prefill_batch(threads: usize) -> usize {
    32 * threads.clamp(1, 8)
}

fn cmd_bench(a: &BenchArgs) -> Result<(), Failure> {
    let l = load(&a.m)?;
    let m = l.model()?;
    let c = *m.config();
    if a.n == 0 || a.prompt_tokens == 0 {
        return Err(Failure::new(exit::INPUT, "-n and --prompt-tokens must be at least 1"));
    }
    let need = a.prompt_tokens.max(a.n + 1);
    if need > c.seq_len {
        return Err(Failure::new(exit::INPUT, format!("bench needs {need} positions but the model's context is {}", c.seq_len)));
    }
    let (par, threads) = a.t.pool()?;
    let toks: Vec<u32> = (0..need).map(|i| ((i * 7919 + 13) % c.vocab_size) as u32).collect();
    let dec_opts = SessionOptions { ctx: need, ..Default::default() };
    let pre_opts = SessionOptions { ctx: need, batch: prefill_batch(threads), ..Default::default() };
    let mut ws = vec![0u8; state_bytes(&c, &pre_opts).map_err(input_err)?];
    // prefill: warm up once, then time the best of 3
    let mut prefill = f64::MAX;
    for i in 0..4 {
        let mut s = Session::new(m, &mut ws, pre_opts).map_err(input_err)?.with_parallel(par);
        let t = Instant::now();
        s.prefill(&toks[..a.prompt_tokens]).map_err(input_err)?;
        if i > 0 {
            prefill = prefill.min(t.elapsed().as_secs_f64());
        }
    }
    // decode: warm up on a few tokens, then time n single-token steps
    let mut dws = vec![0u8; state_bytes(&c, &dec_opts).map_err(input_err)?];
    let mut s = Session::new(m, &mut dws, dec_opts).map_err(input_err)?.with_parallel(par);
    for &t in toks.iter().take(4) {
        s.step(t).map_err(input_err)?;
    }
    s.reset();
    let t = Instant::now();
    for &tok in &toks[..a.n] {
        s.step(tok).map_err(input_err)?;
    }
    let decode = t.elapsed().as_secs_f64();
    print_json(&json!({
        "prefill_tok_s": a.prompt_tokens as f64 / prefill,
        "decode_tok_s": a.n as f64 / decode,
        "model_bytes": m.bytes().len(),
        "state_bytes": state_bytes(&c, &dec_opts).map_err(input_err)?,
        "threads": threads,
        "prompt_tokens": a.prompt_tokens,
        "decode_tokens": a.n,
        "kernels": crate::kernels::best().name,
    }))
}

/// Runs the CLI with the process's arguments; the binary's `main` only calls this.
pub fn run() -> ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // `generate` is the default subcommand: insert it unless a subcommand or top-level
    // flag comes first.
    const SUBS: [&str; 9] = ["generate", "convert", "logits", "encode", "decode", "eval", "bench", "info", "help"];
    let first = args.get(1).and_then(|a| a.to_str()).unwrap_or("");
    if !SUBS.contains(&first) && !matches!(first, "-h" | "--help" | "-V" | "--version") {
        args.insert(1, "generate".into());
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            // --help, --version: clap's own output on stdout
            let _ = e.print();
            return ExitCode::from(exit::OK);
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{}", one_line(&e.render().to_string()));
            return ExitCode::from(exit::USAGE);
        }
    };
    let r = match &cli.cmd {
        Cmd::Generate(a) => cmd_generate(a),
        Cmd::Convert(a) => cmd_convert(a),
        Cmd::Encode(a) => cmd_encode(a),
        Cmd::Decode(a) => cmd_decode(a),
        Cmd::Eval(a) => cmd_eval(a),
        Cmd::Logits(a) => cmd_logits(a),
        Cmd::Info(a) => cmd_info(a),
        Cmd::Bench(a) => cmd_bench(a),
    };
    match r {
        Ok(()) => ExitCode::from(exit::OK),
        Err(f) => {
            let _ = writeln!(std::io::stderr(), "error: {}", f.msg);
            ExitCode::from(f.code)
        }
    }
}

/// Clap's multi-line usage error as the one stderr line every error gets: its lines joined
/// (after a line ending in `:`, with a space, else with `; `), the closing
/// "For more information, try '--help'." shortened to "(try '--help')".
fn one_line(rendered: &str) -> String {
    let mut line = String::new();
    let mut help = false;
    for l in rendered.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if l.starts_with("For more information") {
            help = true;
            continue;
        }
        if !line.is_empty() {
            line.push_str(if line.ends_with(':') { " " } else { "; " });
        }
        line.push_str(l.strip_prefix("Usage: ").map(|u| format!("usage: {u}")).as_deref().unwrap_or(l));
    }
    if help {
        line.push_str(" (try '--help')");
    }
    line
}

fn cmd_generate(a: &GenerateArgs) -> Result<(), Failure> {
    use crate::generate::{generate, Event, GenerateOptions};
    let l = load(&a.m)?;
    let m = l.model()?;
    let (par, threads) = a.t.pool()?;
    let sampler = crate::sampler::SamplerConfig {
        temperature: a.temperature,
        top_k: a.top_k,
        top_p: a.top_p,
        min_p: a.min_p,
        repeat_penalty: a.repeat_penalty,
        repeat_last_n: 64,
        seed: a.seed,
    };
    sampler.validate().map_err(input_err)?;
    let stops: Vec<&str> = a.stop.iter().map(String::as_str).collect();
    let opts = GenerateOptions { max_tokens: a.max_tokens, stop: &stops, sampler };
    let sopts = SessionOptions { batch: prefill_batch(threads), ..Default::default() };
    let mut ws = vec![0u8; state_bytes(m.config(), &sopts).map_err(input_err)?];
    let mut s = Session::new(m, &mut ws, sopts).map_err(input_err)?.with_parallel(par);
    let mut prompt_buf = vec![0u32; a.prompt.len() + 16];
    let mut text = String::new();
    let mut tokens = Vec::new();
    let mut out = std::io::stdout().lock();
    let mut io_err = None;
    let json = a.json;
    if !json {
        // echo the prompt, then stream the continuation after it
        let _ = out.write_all(a.prompt.as_bytes()).and_then(|_| out.flush());
    }
    let outcome = generate(&mut s, &a.prompt, &opts, &mut prompt_buf, &mut |e| {
        match e {
            Event::Text(t) => {
                if json {
                    text.push_str(t);
                } else if let Err(e) = out.write_all(t.as_bytes()).and_then(|_| out.flush()) {
                    io_err = Some(e);
                    return false;
                }
            }
            Event::Token(id) => tokens.push(id),
        }
        true
    })
    .map_err(input_err)?;
    if let Some(e) = io_err {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(Failure::new(exit::IO, format!("stdout: {e}")));
        }
        return Ok(());
    }
    if json {
        drop(out);
        print_json(&json!({ "tokens": tokens, "text": text, "stop_reason": outcome.stop_reason.as_str() }))
    } else {
        let _ = writeln!(out);
        Ok(())
    }
}

fn conv_err(e: crate::convert::ConvertError) -> Failure {
    Failure::new(exit::CONVERT, e.to_string())
}

fn cmd_convert(a: &ConvertArgs) -> Result<(), Failure> {
    use crate::convert::{import, ConvertOptions, TokenizerSource};
    if !a.input.exists() {
        return Err(Failure::new(exit::IO, format!("{}: no such file or directory", a.input.display())));
    }
    if let Some(t) = &a.tokenizer {
        if !t.exists() {
            return Err(Failure::new(exit::IO, format!("{}: no such file or directory", t.display())));
        }
    }
    let dtype = if a.dtype == "f32" { DType::F32 } else { DType::Q8 };
    let imported = import(&a.input, a.tokenizer.as_deref(), true).map_err(conv_err)?;
    let imported = imported.with_options(&ConvertOptions { dtype, group_size: a.group_size }).map_err(conv_err)?;
    let vocab = imported.config.vocab_size;
    let tok = match &imported.tokenizer {
        TokenizerSource::None => {
            eprintln!("warning: no tokenizer found (tokenizer.json, or --tokenizer FILE); the model will only accept token ids");
            Vec::new()
        }
        TokenizerSource::HfJson { tokenizer_json, tokenizer_config_json } => {
            crate::tokenizer::build::from_tokenizer_json_with_config(tokenizer_json, tokenizer_config_json.as_deref(), vocab)
                .map_err(|e| Failure::new(exit::CONVERT, format!("tokenizer.json: {e}")))?
        }
        TokenizerSource::Llama2cBin(b) => crate::tokenizer::build::from_llama2c_bin(b, vocab)
            .map_err(|e| Failure::new(exit::CONVERT, format!("tokenizer.bin: {e}")))?,
    };
    let bytes = imported.write(&tok).map_err(conv_err)?;
    // check what we wrote reads back before it replaces anything
    let check = AlignedBytes::new(&bytes);
    Model::from_bytes(check.as_slice()).map_err(|e| Failure::new(exit::CONVERT, format!("internal error: written model does not load: {e}")))?;
    write_atomic(&a.output, &bytes)?;
    eprintln!("wrote {} ({} bytes)", a.output.display(), bytes.len());
    Ok(())
}

/// Writes `bytes` to a temporary file next to `path`, syncs it, then renames it over `path`,
/// so an interrupted conversion never leaves a half-written model under the output name.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let io = |e: std::io::Error| Failure::new(exit::IO, format!("{}: {e}", path.display()));
    if path.is_dir() {
        return Err(Failure::new(exit::IO, format!("{}: is a directory", path.display())));
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| Failure::new(exit::IO, format!("{}: not a file name", path.display())))?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let r = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r.map_err(io)
}

fn cmd_encode(a: &EncodeArgs) -> Result<(), Failure> {
    let l = load(&a.m)?;
    let m = l.model()?;
    let mut buf = vec![0u32; a.text.len() + 16];
    let n = m.tokenizer().encode(&a.text, &mut buf).map_err(input_err)?;
    print_json(&json!({ "tokens": &buf[..n] }))
}

fn cmd_decode(a: &DecodeArgs) -> Result<(), Failure> {
    let l = load(&a.m)?;
    let m = l.model()?;
    let tok = m.tokenizer();
    let mut dec = crate::tokenizer::StreamDecoder::new();
    let mut text = String::new();
    for &id in &a.tokens {
        dec.push(tok, id, &mut |s| text.push_str(s)).map_err(input_err)?;
    }
    dec.finish(&mut |s| text.push_str(s));
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(|e| Failure::new(exit::IO, format!("stdout: {e}")))
}

/// Mean negative log-likelihood under the rule in `EVAL_HELP`: `(tokens, predicted, nll)`.
fn eval_nll(m: Model<'_>, par: &'static dyn crate::parallel::Parallel, text: &str) -> Result<(usize, usize, f64), Failure> {
    let mut buf = vec![0u32; text.len() + 16];
    let n = m.tokenizer().encode_with(text, false, &mut buf).map_err(input_err)?;
    let toks = &buf[..n];
    let ctx = m.config().seq_len;
    let opts = SessionOptions { batch: 32, ..Default::default() };
    let mut ws = vec![0u8; state_bytes(m.config(), &opts).map_err(input_err)?];
    let mut s = Session::new(m, &mut ws, opts).map_err(input_err)?.with_parallel(par);
    let (mut sum, mut count) = (0f64, 0usize);
    for w in toks.chunks(ctx) {
        s.reset();
        s.forward_each(w, &mut |i, logits| {
            if let Some(&next) = w.get(i + 1) {
                let max = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
                let lse = max + logits.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln();
                sum += lse - logits[next as usize] as f64;
                count += 1;
            }
        })
        .map_err(input_err)?;
    }
    Ok((n, count, if count == 0 { f64::NAN } else { sum / count as f64 }))
}

fn cmd_eval(a: &EvalArgs) -> Result<(), Failure> {
    let l = load(&a.m)?;
    let m = l.model()?;
    let (par, _) = a.t.pool()?;
    if a.text_file.is_dir() {
        return Err(Failure::new(exit::IO, format!("{}: is a directory", a.text_file.display())));
    }
    let text = std::fs::read_to_string(&a.text_file).map_err(|e| Failure::new(exit::IO, format!("{}: {e}", a.text_file.display())))?;
    let (tokens, predicted, nll) = eval_nll(m, par, &text)?;
    if predicted == 0 {
        return Err(Failure::new(exit::INPUT, "the text has fewer than 2 tokens: nothing to predict"));
    }
    print_json(&json!({ "tokens": tokens, "predicted": predicted, "nll": nll, "ppl": nll.exp() }))
}
