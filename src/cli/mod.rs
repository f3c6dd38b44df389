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
use crate::session::{state_bytes, KvDtype, Session, SessionOptions};

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
    /// Print the logits after every token of a sequence, as JSON.
    Logits(LogitsArgs),
    /// Describe a model as JSON: architecture, hyper-parameters, sizes.
    Info(ModelArg),
    /// Measure prefill and decode speed (JSON).
    Bench(BenchArgs),
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

fn model_err(e: crate::Error) -> Failure {
    Failure::new(exit::MODEL, format!("invalid model: {e}"))
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
    let c = m.config();
    let ctx = SessionOptions::default();
    let sb = state_bytes(c, &ctx).map_err(model_err)?;
    let sb16 = state_bytes(c, &SessionOptions { kv: KvDtype::F16, ..ctx }).map_err(model_err)?;
    Ok(json!({
        "architecture": match c.arch { crate::Arch::Gpt2 => "gpt2", crate::Arch::Llama => "llama" },
        "dtype": match c.dtype { DType::F32 => "f32", DType::Q8 => "q8" },
        "group_size": c.group_size,
        "dim": c.dim,
        "hidden_dim": c.hidden_dim,
        "n_layers": c.n_layers,
        "n_heads": c.n_heads,
        "n_kv_heads": c.n_kv_heads,
        "head_size": c.head_size,
        "vocab_size": c.vocab_size,
        "seq_len": c.seq_len,
        "norm": format!("{:?}", c.norm).to_lowercase(),
        "norm_eps": c.norm_eps,
        "activation": format!("{:?}", c.act).to_lowercase(),
        "position": format!("{:?}", c.pos).to_lowercase(),
        "rope_theta": c.rope_theta,
        "tied_embeddings": c.tied,
        "bias": c.bias,
        "model_bytes": m.bytes().len(),
        "weight_bytes": m.weight_bytes(),
        "tokenizer_bytes": m.tokenizer_bytes(),
        "state_bytes": sb,
        "state_bytes_f16_kv": sb16,
    }))
}

fn cmd_info(a: &ModelArg) -> Result<(), Failure> {
    let l = load(a)?;
    let m = l.model()?;
    print_json(&info_json(&m)?)
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
    let pre_opts = SessionOptions { ctx: need, batch: 32, ..Default::default() };
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
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { exit::OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let r = match &cli.cmd {
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

#[allow(dead_code)]
fn _path_used(_: &Path) {}
