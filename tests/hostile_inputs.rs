//! Hostile input on every std surface: the CLI (`tinygpt`, run as a subprocess) and the core
//! APIs it calls. Each bad input must give one `error: ...` line on stderr (usage errors
//! included: clap's message joined into one line), the documented exit code (`cli::exit`:
//! 2 usage, 3 I/O, 4 model, 5 input, 6 convert) and never a panic or backtrace, also with
//! `RUST_BACKTRACE=1` set; `convert` must never leave a partial file.
//!
//! Regression tests for what the fuzzers (`fuzz/`) find live here too.
#![cfg(feature = "std")]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tinygpt::cli::exit;
use tinygpt::format::writer::{random_weights, write_model};
use tinygpt::format::ParseOptions;
use tinygpt::generate::{generate, GenerateOptions};
use tinygpt::sampler::SamplerConfig;
use tinygpt::session::{state_bytes, KvDtype, Session, SessionOptions};
use tinygpt::tokenizer::build::from_tokenizer_json;
use tinygpt::*;

// ---- helpers -----------------------------------------------------------------------------

const BIN: &str = env!("CARGO_BIN_EXE_tinygpt");

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A fresh directory under cargo's per-test tmp dir, removed on drop.
struct TmpDir(PathBuf);

impl TmpDir {
    fn new(name: &str) -> TmpDir {
        let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("hostile-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TmpDir(p)
    }
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    /// Names of the files in the directory, sorted.
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> =
            fs::read_dir(&self.0).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env("RUST_BACKTRACE", "1").output().expect("run tinygpt")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// No panic message, no backtrace.
fn no_panic(o: &Output, what: &str) {
    let e = stderr(o);
    for bad in ["panicked", "backtrace", "RUST_BACKTRACE", "thread 'main'"] {
        assert!(!e.contains(bad), "{what}: stderr mentions {bad:?}:\n{e}");
    }
}

/// Exit `code`, and exactly one stderr line, starting with `error: `; returns that line.
fn one_error(o: &Output, code: u8, what: &str) -> String {
    no_panic(o, what);
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(code as i32), "{what}: exit code; stderr:\n{e}");
    let lines: Vec<&str> = e.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{what}: want one stderr line, got:\n{e}");
    assert!(lines[0].starts_with("error: "), "{what}: {:?}", lines[0]);
    lines[0].to_string()
}

/// A usage error (clap's): exit 2 and, like every error, one `error: ` line; returns it.
fn usage_error(o: &Output, what: &str) -> String {
    one_error(o, exit::USAGE, what)
}

fn ok(o: &Output, what: &str) {
    no_panic(o, what);
    assert!(o.status.success(), "{what}: {}", stderr(o));
}

fn gpt2_tokenizer() -> Vec<u8> {
    let json = fs::read_to_string(fixtures().join("hf/gpt2_tiny/tokenizer.json")).unwrap();
    from_tokenizer_json(&json, 512).unwrap()
}

/// A small GPT-2-style model (vocabulary 512, context `seq_len`) with the gpt2_tiny
/// tokenizer, or without a tokenizer.
fn model_bytes(seq_len: usize, with_tokenizer: bool) -> Vec<u8> {
    let c = Config {
        arch: Arch::Gpt2,
        dtype: DType::Q8,
        group_size: 32,
        dim: 32,
        hidden_dim: 64,
        n_layers: 1,
        n_heads: 2,
        n_kv_heads: 2,
        head_size: 16,
        vocab_size: 512,
        seq_len,
        norm: Norm::LayerNorm,
        norm_eps: 1e-5,
        act: Activation::GeluTanh,
        pos: Position::Learned,
        rope_theta: 10000.0,
        tied: true,
        bias: true,
    };
    let tok = if with_tokenizer { gpt2_tokenizer() } else { Vec::new() };
    write_model(&c, &random_weights(&Config { dtype: DType::F32, ..c }, 3), &tok).unwrap()
}

/// A small valid safetensors file (one f32 tensor), the wrong kind of file for `-m`.
fn safetensors_file() -> Vec<u8> {
    let header = br#"{"wte.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#;
    let mut b = (header.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(header);
    b.extend_from_slice(&[0u8; 16]);
    b
}

/// Writes a model into `dir` and returns its path as a String.
fn write_file(dir: &TmpDir, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    fs::write(&p, bytes).unwrap();
    p.to_string_lossy().into_owned()
}

// ---- files: missing, directories, wrong format ---------------------------------------------

/// Every subcommand that reads a model, with `-m PATH` and its other required arguments.
fn model_commands(model: &str, text_file: &str) -> Vec<Vec<String>> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        s(&["generate", "-m", model, "-p", "hi", "-n", "2"]),
        s(&["-m", model, "-p", "hi", "-n", "2"]),
        s(&["encode", "-m", model, "--text", "hi"]),
        s(&["decode", "-m", model, "--tokens", "1,2"]),
        s(&["logits", "-m", model, "--tokens", "1,2"]),
        s(&["eval", "-m", model, "--text-file", text_file]),
        s(&["info", "-m", model]),
        s(&["bench", "-m", model, "-n", "2", "--prompt-tokens", "2"]),
    ]
}

fn run_all(cmds: &[Vec<String>]) -> Vec<(String, Output)> {
    cmds.iter()
        .map(|c| {
            let args: Vec<&str> = c.iter().map(String::as_str).collect();
            (c.join(" "), run(&args))
        })
        .collect()
}

#[test]
fn missing_model_file_is_an_io_error() {
    let d = TmpDir::new("missing");
    let text = write_file(&d, "t.txt", b"hello world, hello world");
    let missing = d.join("nope.tgpt").to_string_lossy().into_owned();
    for (what, o) in run_all(&model_commands(&missing, &text)) {
        let line = one_error(&o, exit::IO, &what);
        assert!(line.contains("nope.tgpt"), "{what}: {line}");
    }
}

#[test]
fn directory_as_model_is_an_io_error() {
    let d = TmpDir::new("dir");
    let text = write_file(&d, "t.txt", b"hello world, hello world");
    let dir = d.path().to_string_lossy().into_owned();
    for (what, o) in run_all(&model_commands(&dir, &text)) {
        let line = one_error(&o, exit::IO, &what);
        assert!(line.contains("directory"), "{what}: {line}");
    }
}

#[test]
fn wrong_format_is_a_model_error() {
    let d = TmpDir::new("format");
    let text = write_file(&d, "t.txt", b"hello world, hello world");
    let good = model_bytes(32, true);
    let mut corrupted = good.clone();
    let mid = corrupted.len() / 2;
    corrupted[mid] ^= 0x10; // a weight byte: only the checksum can notice
    let mut bad_version = good.clone();
    bad_version[4] = 9;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "truncated"),
        ("text", b"this is not a model, just some text\n".to_vec(), "bad magic"),
        ("json", br#"{"model": "gpt2", "vocab_size": 512}"#.to_vec(), "bad magic"),
        ("png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89".to_vec(), "bad magic"),
        ("safetensors", safetensors_file(), "bad magic"),
        ("gguf", [&b"GGUF\x03\0\0\0"[..], &[0u8; 300][..]].concat(), "bad magic"),
        ("magic only", b"TGPT".to_vec(), "truncated"),
        ("truncated header", good[..100].to_vec(), "truncated"),
        ("truncated body", good[..good.len() - 1].to_vec(), "truncated"),
        ("half", good[..good.len() / 2].to_vec(), "truncated"),
        ("trailing bytes", [&good[..], b"junk"].concat(), "trailing"),
        ("corrupted", corrupted, "checksum"),
        ("future version", bad_version, "version"),
    ];
    for (name, bytes, want) in cases {
        let m = write_file(&d, &format!("{}.tgpt", name.replace(' ', "_")), &bytes);
        for (what, o) in run_all(&model_commands(&m, &text)) {
            let line = one_error(&o, exit::MODEL, &format!("{name}: {what}"));
            assert!(line.contains(want), "{name}: {what}: {line}");
        }
    }
}

#[test]
fn eval_text_file_errors() {
    let d = TmpDir::new("evaltext");
    let m = write_file(&d, "m.tgpt", &model_bytes(32, true));
    let dir = d.path().to_string_lossy().into_owned();
    let missing = d.join("nope.txt").to_string_lossy().into_owned();
    one_error(&run(&["eval", "-m", &m, "--text-file", &missing]), exit::IO, "missing text file");
    one_error(&run(&["eval", "-m", &m, "--text-file", &dir]), exit::IO, "directory as text file");
    let bad = write_file(&d, "bad.txt", b"caf\xe9 \xff\xfe");
    let o = run(&["eval", "-m", &m, "--text-file", &bad]);
    no_panic(&o, "invalid UTF-8 text");
    assert!(!o.status.success());
    let one = write_file(&d, "one.txt", b"a");
    one_error(&run(&["eval", "-m", &m, "--text-file", &one]), exit::INPUT, "one-token text");
}

// ---- flags ---------------------------------------------------------------------------------------

#[test]
fn bad_sampler_and_thread_values_are_input_errors() {
    let d = TmpDir::new("flags");
    let m = write_file(&d, "m.tgpt", &model_bytes(32, true));
    let long_stop = "x".repeat(65);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--temperature=-1"], "temperature"),
        (vec!["--temperature", "nan"], "temperature"),
        (vec!["--temperature", "inf"], "temperature"),
        (vec!["--top-p", "0"], "top_p"),
        (vec!["--top-p", "1.5"], "top_p"),
        (vec!["--top-p", "NaN"], "top_p"),
        (vec!["--top-p=-0.5"], "top_p"),
        (vec!["--min-p", "1"], "min_p"),
        (vec!["--min-p=-0.1"], "min_p"),
        (vec!["--repeat-penalty", "0"], "repeat_penalty"),
        (vec!["--repeat-penalty", "inf"], "repeat_penalty"),
        (vec!["--threads", "0"], "threads"),
        (vec!["--threads", "100000"], "threads"),
        (vec!["--stop", ""], "stop"),
        (vec!["--stop", &long_stop], "stop"),
        (vec!["--stop", "a", "--stop", "b", "--stop", "c", "--stop", "d", "--stop", "e", "--stop", "f", "--stop", "g", "--stop", "h", "--stop", "i"], "stop"),
    ];
    for (flags, want) in cases {
        let mut args = vec!["generate", "-m", &m, "-p", "Hello", "-n", "3"];
        args.extend(&flags);
        let line = one_error(&run(&args), exit::INPUT, &flags.join(" "));
        assert!(line.contains(want), "{flags:?}: {line}");
    }
    for flags in [["eval", "--threads"], ["bench", "--threads"]] {
        let t = write_file(&d, "t.txt", b"hello world, hello world");
        let mut args = vec![flags[0], "-m", &m, flags[1], "0"];
        if flags[0] == "eval" {
            args.extend(["--text-file", &t]);
        } else {
            args.extend(["-n", "2", "--prompt-tokens", "2"]);
        }
        one_error(&run(&args), exit::INPUT, &args.join(" "));
    }
}

#[test]
fn malformed_flags_are_usage_errors() {
    let d = TmpDir::new("usage");
    let m = write_file(&d, "m.tgpt", &model_bytes(32, true));
    let cases: Vec<Vec<&str>> = vec![
        vec!["decode", "-m", &m, "--tokens", "1,x"],
        vec!["logits", "-m", &m, "--tokens", "1,,2"],
        vec!["logits", "-m", &m, "--tokens", "4294967296"],
        vec!["logits", "-m", &m, "--tokens", "-1"],
        vec!["decode", "-m", &m],
        vec!["generate", "-m", &m, "-n", "-5"],
        vec!["generate", "-m", &m, "--temperature", "warm"],
        vec!["generate", "-m", &m, "--top-k", "1.5"],
        vec!["generate", "-m", &m, "--no-such-flag"],
        vec!["convert", "in"],
        vec!["convert", "in", "-o", "out.tgpt", "--dtype", "int4"],
    ];
    for args in cases {
        usage_error(&run(&args), &args.join(" "));
    }
    // the one line keeps what clap says: the problem, the usage, where to get help
    let line = usage_error(&run(&["generate", "-m", &m, "--no-such-flag"]), "unknown flag");
    assert!(line.contains("'--no-such-flag'") && line.contains("usage: tinygpt generate") && line.ends_with("(try '--help')"), "{line}");
    let line = usage_error(&run(&["convert", "in"]), "convert without -o");
    assert!(line.contains("not provided: --output <OUTPUT>"), "{line}");
    let line = usage_error(&run(&["frobnicate", "-m", &m]), "unknown subcommand");
    assert!(line.contains("'frobnicate'"), "{line}");
    // --help and --version still print clap's full text on stdout
    for flag in ["--help", "--version"] {
        let o = run(&[flag]);
        ok(&o, flag);
        assert!(o.stderr.is_empty() && !o.stdout.is_empty(), "{flag}");
    }
    // a negative number right after a flag: clap reads it as a flag (usage error) unless
    // written `--temperature=-1`; either way a clean error, never a panic
    let o = run(&["generate", "-m", &m, "--temperature", "-1"]);
    no_panic(&o, "--temperature -1");
    assert!(matches!(o.status.code(), Some(c) if c == exit::USAGE as i32 || c == exit::INPUT as i32), "{}", stderr(&o));
}

// ---- ids, prompts, tokenizers ----------------------------------------------------------------

#[test]
fn token_ids_out_of_range_are_input_errors() {
    let d = TmpDir::new("ids");
    let m = write_file(&d, "m.tgpt", &model_bytes(32, true));
    for args in [
        vec!["logits", "-m", &m, "--tokens", "1,512"],
        vec!["logits", "-m", &m, "--tokens", "4294967295"],
        vec!["decode", "-m", &m, "--tokens", "512"],
        vec!["decode", "-m", &m, "--tokens", "1,2,100000"],
    ] {
        let line = one_error(&run(&args), exit::INPUT, &args.join(" "));
        assert!(line.contains("out of range"), "{args:?}: {line}");
    }
    // the largest valid id works
    ok(&run(&["logits", "-m", &m, "--tokens", "511"]), "logits 511");
    ok(&run(&["decode", "-m", &m, "--tokens", "0,511"]), "decode 511");
}

#[test]
fn prompt_longer_than_the_context_is_an_input_error() {
    let d = TmpDir::new("ctx");
    let m = write_file(&d, "m.tgpt", &model_bytes(4, true));
    let long = "the quick brown fox jumps over the lazy dog ".repeat(4);
    let line = one_error(&run(&["-m", &m, "-p", &long, "-n", "2"]), exit::INPUT, "long prompt");
    assert!(line.contains("prompt too long"), "{line}");
    let line = one_error(&run(&["logits", "-m", &m, "--tokens", "1,2,3,4,5"]), exit::INPUT, "5 ids, context 4");
    assert!(line.contains("too long"), "{line}");
    one_error(&run(&["bench", "-m", &m, "-n", "8"]), exit::INPUT, "bench past the context");
    // exactly the context works, and generation stops at the context
    ok(&run(&["logits", "-m", &m, "--tokens", "1,2,3,4"]), "4 ids, context 4");
    let o = run(&["-m", &m, "-p", "the", "-n", "50", "--json"]);
    ok(&o, "generation up to the context");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["stop_reason"], "context_full", "{v}");
}

#[test]
fn model_without_tokenizer_rejects_text_but_takes_ids() {
    let d = TmpDir::new("notok");
    let m = write_file(&d, "m.tgpt", &model_bytes(16, false));
    let t = write_file(&d, "t.txt", b"hello world, hello world");
    for args in [
        vec!["-m", &m, "-p", "Hello", "-n", "2"],
        vec!["-m", &m, "-n", "2"],
        vec!["encode", "-m", &m, "--text", "Hello"],
        vec!["decode", "-m", &m, "--tokens", "1,2"],
        vec!["eval", "-m", &m, "--text-file", &t],
    ] {
        let line = one_error(&run(&args), exit::INPUT, &args.join(" "));
        assert!(line.contains("no tokenizer"), "{args:?}: {line}");
    }
    ok(&run(&["logits", "-m", &m, "--tokens", "1,2"]), "logits without a tokenizer");
    ok(&run(&["info", "-m", &m]), "info without a tokenizer");
}

#[test]
fn hostile_prompts_never_crash() {
    let d = TmpDir::new("prompts");
    let m = write_file(&d, "m.tgpt", &model_bytes(64, true));
    let ctrl = "a\u{1}b\u{7f}\r\t".repeat(3);
    let long_word = "x".repeat(3000);
    let prompts: Vec<&str> = vec!["", " ", "\n\n\n", &ctrl, "<|endoftext|>", "<|endoftext|><|endoftext|>", "\u{FFFD}\u{202E}\u{1F600}", &long_word];
    for p in prompts {
        let o = run(&["-m", &m, "-p", p, "-n", "3", "--json", "--seed", "1"]);
        no_panic(&o, p);
        match o.status.code() {
            Some(0) => {}
            Some(c) if c == exit::INPUT as i32 => {
                one_error(&o, exit::INPUT, p);
            }
            c => panic!("prompt {p:?}: exit {c:?}: {}", stderr(&o)),
        }
        let o = run(&["encode", "-m", &m, "--text", p]);
        no_panic(&o, p);
    }
}

// ---- convert ---------------------------------------------------------------------------------

fn mistral_dir(d: &TmpDir) -> PathBuf {
    let dir = d.join("mistral");
    fs::create_dir_all(&dir).unwrap();
    let cfg = serde_json::json!({
        "architectures": ["MistralForCausalLM"],
        "model_type": "mistral",
        "hidden_size": 64, "intermediate_size": 172, "num_attention_heads": 4,
        "num_hidden_layers": 2, "num_key_value_heads": 2, "vocab_size": 512,
        "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "sliding_window": 4096
    });
    fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
    dir
}

#[test]
fn convert_unsupported_architecture_is_a_convert_error_and_writes_nothing() {
    let d = TmpDir::new("mistral");
    let dir = mistral_dir(&d);
    let out = d.join("out.tgpt");
    let line = one_error(
        &run(&["convert", dir.to_str().unwrap(), "-o", out.to_str().unwrap()]),
        exit::CONVERT,
        "convert mistral",
    );
    assert!(line.contains("MistralForCausalLM"), "{line}");
    assert_eq!(d.names(), ["mistral"], "convert left files behind");
}

#[test]
fn convert_bad_inputs_fail_cleanly() {
    let d = TmpDir::new("convbad");
    let out = d.join("out.tgpt");
    let out = out.to_str().unwrap();
    let missing = d.join("nope");
    one_error(&run(&["convert", missing.to_str().unwrap(), "-o", out]), exit::IO, "missing input");
    let empty = d.join("empty");
    fs::create_dir_all(&empty).unwrap();
    one_error(&run(&["convert", empty.to_str().unwrap(), "-o", out]), exit::CONVERT, "empty directory");
    let junk = write_file(&d, "junk.bin", b"definitely not a checkpoint");
    one_error(&run(&["convert", &junk, "-o", out]), exit::CONVERT, "junk file");
    let gguf = write_file(&d, "m.gguf", b"GGUF\x03\0\0\0");
    one_error(&run(&["convert", &gguf, "-o", out]), exit::CONVERT, "gguf");
    let png = write_file(&d, "m.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    one_error(&run(&["convert", &png, "-o", out]), exit::CONVERT, "png");
    let st = write_file(&d, "model.safetensors", &safetensors_file());
    one_error(&run(&["convert", &st, "-o", out]), exit::CONVERT, "a lone .safetensors file");
    let v0 = fixtures().join("hf/llama_tiny/llama2c_v0.bin");
    let v0 = v0.to_str().unwrap();
    one_error(&run(&["convert", v0, "-o", out, "--group-size", "3"]), exit::CONVERT, "group size 3");
    one_error(&run(&["convert", v0, "-o", out, "--tokenizer", missing.to_str().unwrap()]), exit::IO, "missing tokenizer");
    let bad_tok = write_file(&d, "tokenizer.json", b"{\"model\": 1");
    one_error(&run(&["convert", v0, "-o", out, "--tokenizer", &bad_tok]), exit::CONVERT, "broken tokenizer.json");
    let names = d.names();
    assert!(!names.iter().any(|n| n.contains("out.tgpt")), "left behind: {names:?}");
}

#[test]
fn convert_to_a_missing_directory_fails_and_leaves_nothing() {
    let d = TmpDir::new("convdir");
    let src = fixtures().join("hf/gpt2_tiny");
    let out = d.join("no/such/dir/m.tgpt");
    let line = one_error(&run(&["convert", src.to_str().unwrap(), "-o", out.to_str().unwrap()]), exit::IO, "missing dir");
    assert!(line.contains("m.tgpt"), "{line}");
    assert!(d.names().is_empty(), "{:?}", d.names());
    // an output path that is a directory
    let line = one_error(&run(&["convert", src.to_str().unwrap(), "-o", d.path().to_str().unwrap()]), exit::IO, "dir as output");
    assert!(line.contains("directory"), "{line}");
    assert!(d.names().is_empty(), "{:?}", d.names());
}

#[test]
fn failed_convert_keeps_an_existing_output_intact() {
    let d = TmpDir::new("keep");
    let dir = mistral_dir(&d);
    let out = d.join("out.tgpt");
    fs::write(&out, b"previous contents").unwrap();
    let o = run(&["convert", dir.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    one_error(&o, exit::CONVERT, "convert over an existing file");
    assert_eq!(fs::read(&out).unwrap(), b"previous contents");
    assert_eq!(d.names(), ["mistral", "out.tgpt"]);
}

#[test]
fn convert_is_deterministic_and_reads_back() {
    let d = TmpDir::new("twice");
    let sources = [
        fixtures().join("hf/gpt2_tiny"),
        fixtures().join("hf/llama_tiny"),
        fixtures().join("hf/llama_tiny/llama2c_v0.bin"),
        fixtures().join("hf/llama_tiny/llama2c_v2_q80.bin"),
    ];
    for (i, src) in sources.iter().enumerate() {
        for dtype in ["q8", "f32"] {
            let a = d.join(&format!("{i}-{dtype}-a.tgpt"));
            let b = d.join(&format!("{i}-{dtype}-b.tgpt"));
            for out in [&a, &b] {
                let o = run(&["convert", src.to_str().unwrap(), "-o", out.to_str().unwrap(), "--dtype", dtype]);
                ok(&o, &format!("convert {}", src.display()));
            }
            let (ba, bb) = (fs::read(&a).unwrap(), fs::read(&b).unwrap());
            assert!(ba == bb, "{}: two conversions differ", src.display());
            let al = AlignedBytes::new(&ba);
            let m = Model::from_bytes(al.as_slice()).unwrap();
            assert_eq!(m.bytes().len(), ba.len());
            ok(&run(&["info", "-m", a.to_str().unwrap()]), "info on a converted model");
        }
    }
    // nothing but the outputs
    assert!(d.names().iter().all(|n| n.ends_with(".tgpt") && !n.starts_with('.')), "{:?}", d.names());
}

#[test]
fn killed_convert_never_leaves_a_partial_output() {
    // Kill `convert` at many points of its run: the output name is either absent or a
    // complete, valid model (it is written under a temporary name and renamed).
    let d = TmpDir::new("kill");
    let src = fixtures().join("hf/llama_tiny");
    let out = d.join("m.tgpt");
    let convert = || {
        Command::new(BIN)
            .args(["convert", src.to_str().unwrap(), "-o", out.to_str().unwrap()])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    // how long a whole conversion takes here, so the kills spread over it
    let t0 = std::time::Instant::now();
    assert!(convert().wait().unwrap().success());
    let full = t0.elapsed();
    let (mut absent, mut present) = (0, 0);
    for k in 0..40u32 {
        let _ = fs::remove_file(&out);
        let mut child = convert();
        std::thread::sleep(full * k / 32);
        let _ = child.kill();
        let _ = child.wait();
        match fs::read(&out) {
            Ok(b) => {
                present += 1;
                let a = AlignedBytes::new(&b);
                Model::from_bytes(a.as_slice()).unwrap_or_else(|e| panic!("killed at {k}/32 of the run: partial output: {e}"));
            }
            Err(_) => absent += 1,
        }
    }
    assert!(absent > 0, "no kill landed before the rename: the test did not test anything ({present} complete)");
    // temp files of killed runs may remain (named `.m.tgpt.tmp-PID`), never under the output name
    for n in d.names() {
        assert!(n == "m.tgpt" || n.starts_with(".m.tgpt.tmp-"), "unexpected file {n}");
    }
}

// ---- the core APIs the CLI uses ----------------------------------------------------------------

fn session_model() -> AlignedBytes {
    AlignedBytes::new(&model_bytes(8, true))
}

#[test]
fn session_rejects_bad_options_and_workspaces() {
    let a = session_model();
    let m = Model::from_bytes(a.as_slice()).unwrap();
    let c = *m.config();
    let good = SessionOptions { ctx: 4, ..Default::default() };
    let need = state_bytes(&c, &good).unwrap();
    // too small by one byte, empty, and a misaligned start (the slack absorbs it)
    let mut ws = vec![0u8; need + 1];
    assert!(matches!(Session::new(m, &mut ws[..need - 1], good), Err(Error::WorkspaceTooSmall { .. })));
    assert!(matches!(Session::new(m, &mut [], good), Err(Error::WorkspaceTooSmall { .. })));
    assert!(Session::new(m, &mut ws[1..], good).is_ok());
    for (opts, what) in [
        (SessionOptions { ctx: 9, ..good }, "ctx > seq_len"),
        (SessionOptions { ctx: usize::MAX, ..good }, "ctx = usize::MAX"),
        (SessionOptions { batch: 0, ..good }, "batch 0"),
        (SessionOptions { batch: 4097, ..good }, "batch 4097"),
        (SessionOptions { batch: usize::MAX, kv: KvDtype::F16, ..good }, "batch usize::MAX"),
    ] {
        assert!(state_bytes(&c, &opts).is_err(), "{what}");
        assert!(Session::new(m, &mut ws, opts).is_err(), "{what}");
    }
}

#[test]
fn session_rejects_bad_ids_and_positions() {
    let a = session_model();
    let m = Model::from_bytes(a.as_slice()).unwrap();
    let opts = SessionOptions { ctx: 3, batch: 2, ..Default::default() };
    let mut ws = vec![0u8; state_bytes(m.config(), &opts).unwrap()];
    let mut s = Session::new(m, &mut ws, opts).unwrap();
    assert!(matches!(s.step(512), Err(Error::TokenOutOfRange { id: 512, vocab: 512 })));
    assert!(matches!(s.step(u32::MAX), Err(Error::TokenOutOfRange { .. })));
    assert!(matches!(s.prefill(&[]), Err(Error::EmptyPrompt)));
    assert!(matches!(s.prefill(&[1, 2, 3, 4]), Err(Error::PromptTooLong { .. })));
    assert!(matches!(s.prefill(&[1, 512]), Err(Error::TokenOutOfRange { .. })));
    assert!(matches!(s.forward_each(&[1, 2, 3, 4], &mut |_, _| {}), Err(Error::PromptTooLong { .. })));
    assert_eq!(s.pos(), 0, "failed calls moved the position");
    s.prefill(&[1, 2, 3]).unwrap();
    assert!(matches!(s.step(1), Err(Error::ContextFull { ctx: 3 })));
    assert!(matches!(s.prefill(&[1]), Err(Error::PromptTooLong { .. })));
    s.truncate(usize::MAX);
    assert_eq!(s.pos(), 3);
    s.truncate(1);
    s.step(5).unwrap();
    let (logits, recent, scratch) = s.sampling_parts();
    assert_eq!((logits.len(), recent, scratch.len()), (512, &[1, 5][..], 512));
}

#[test]
fn generate_rejects_bad_settings_and_buffers() {
    let a = session_model();
    let m = Model::from_bytes(a.as_slice()).unwrap();
    let opts = SessionOptions::default();
    let mut ws = vec![0u8; state_bytes(m.config(), &opts).unwrap()];
    let mut s = Session::new(m, &mut ws, opts).unwrap();
    let mut buf = [0u32; 64];
    let base = GenerateOptions { max_tokens: 3, stop: &[], sampler: SamplerConfig::greedy() };
    let mut on = |_: generate::Event<'_>| true;
    // an empty prompt buffer: a prompt with tokens does not fit, an empty one needs one slot
    assert!(matches!(generate(&mut s, "Hello", &base, &mut [], &mut on), Err(Error::PromptTooLong { .. })));
    assert!(matches!(generate(&mut s, "", &base, &mut [], &mut on), Err(Error::BufferTooSmall { .. })));
    // a prompt longer than the context (8)
    let long = "one two three four five six seven eight nine ten";
    assert!(matches!(generate(&mut s, long, &base, &mut buf, &mut on), Err(Error::PromptTooLong { .. })));
    // stop strings: empty, too long, too many
    let sixty_five = "y".repeat(65);
    for stop in [&[""][..], &[sixty_five.as_str()][..], &["a"; 9][..]] {
        let o = GenerateOptions { stop, ..base };
        assert!(matches!(generate(&mut s, "Hi", &o, &mut buf, &mut on), Err(Error::InvalidSetting { name: "stop", .. })));
    }
    // sampler settings
    for sampler in [
        SamplerConfig { temperature: -1.0, ..SamplerConfig::default() },
        SamplerConfig { top_p: 0.0, ..SamplerConfig::default() },
        SamplerConfig { min_p: f32::NAN, ..SamplerConfig::default() },
        SamplerConfig { repeat_penalty: f32::INFINITY, ..SamplerConfig::default() },
    ] {
        let o = GenerateOptions { sampler, ..base };
        assert!(matches!(generate(&mut s, "Hi", &o, &mut buf, &mut on), Err(Error::InvalidSetting { .. })));
    }
    // and it still works afterwards
    let out = generate(&mut s, "Hi", &base, &mut buf, &mut on).unwrap();
    assert_eq!(out.generated, 3);
}

#[test]
fn every_truncation_of_a_model_with_a_tokenizer_is_an_error_or_runs() {
    let b = model_bytes(8, true);
    // truncations: every length near the sections' boundaries, a stride elsewhere
    for n in (0..b.len()).filter(|n| n % 97 == 0 || *n < 400 || b.len() - n < 300) {
        let a = AlignedBytes::new(&b[..n]);
        assert!(Model::parse(a.as_slice(), ParseOptions { verify_checksum: false }).is_err(), "truncated to {n} parsed");
    }
}

/// Small enough for Miri (`scripts/miri.sh` runs the tests named `miri_*`): the unsafe code
/// of the core — the aligned views of `format` (`f32s`/`i8s`), the workspace carving of
/// `Session::new` (from a misaligned start), `SharedMut`, `AlignedBytes` — on tiny f32 and Q8
/// models with both KV dtypes, batched prefill, stepping, sampling and a whole generation
/// with the llama2.c fixture tokenizer.
#[test]
fn miri_tiny_models_parse_run_and_generate() {
    // (dtype, group size, positions, with a tokenizer): Q8 group 32 takes the AVX2 kernel when
    // it is on, group 8 the scalar one; only one model carries a tokenizer (llama2.c's, the
    // cheapest to build under Miri) and runs a generation. That model is f32: its vocabulary
    // is 512, and quantizing a 512-row embedding takes about 3 minutes under Miri.
    for (dtype, gs, pos, with_tok) in [
        (DType::F32, 0, Position::Learned, true),
        (DType::Q8, 32, Position::Rope, false),
        (DType::Q8, 8, Position::Sinusoidal, false),
    ] {
        let (tok, vocab) = if with_tok {
            let bin = fs::read(fixtures().join("hf/llama_tiny/tokenizer.bin")).unwrap();
            (tinygpt::tokenizer::build::from_llama2c_bin(&bin, 512).unwrap(), 512)
        } else {
            (Vec::new(), 16)
        };
        let c = Config {
            arch: Arch::Llama,
            dtype,
            group_size: gs,
            dim: 8,
            hidden_dim: 12,
            n_layers: 1,
            n_heads: 2,
            n_kv_heads: 1,
            head_size: 4,
            vocab_size: vocab,
            seq_len: 6,
            norm: Norm::RmsNorm,
            norm_eps: 1e-5,
            act: Activation::SwiGlu,
            pos,
            rope_theta: 10000.0,
            tied: dtype == DType::F32,
            bias: dtype == DType::Q8,
        };
        let bytes = write_model(&c, &random_weights(&Config { dtype: DType::F32, ..c }, 11), &tok).unwrap();
        let a = AlignedBytes::new(&bytes);
        let m = Model::from_bytes(a.as_slice()).unwrap();
        assert!(m.weight_bytes() > 0);
        let last = vocab as u32 - 1;
        for kv in [KvDtype::F32, KvDtype::F16] {
            let opts = SessionOptions { ctx: 0, batch: 2, kv };
            let need = state_bytes(m.config(), &opts).unwrap();
            let mut ws = vec![0u8; need + 1];
            let mut s = Session::new(m, &mut ws[1..], opts).unwrap();
            let l = s.prefill(&[1, 2, last]).unwrap().to_vec();
            let k = s.step(7).unwrap().to_vec();
            assert_eq!((l.len(), k.len()), (vocab, vocab));
            assert!(l.iter().chain(&k).all(|x| x.is_finite()));
            let mut n = 0;
            s.forward_each(&[3], &mut |_, row| n += row.len()).unwrap();
            assert_eq!(n, vocab);
            if with_tok && kv == KvDtype::F16 {
                let mut buf = [0u32; 32];
                let sampler = SamplerConfig { seed: 3, ..SamplerConfig::default() };
                let o = GenerateOptions { max_tokens: 2, stop: &["zz"], sampler };
                let out = generate(&mut s, "Hi there", &o, &mut buf, &mut |_| true).unwrap();
                assert!(out.generated <= 2);
            }
        }
    }
}

// ---- found by the audit: regressions, fixed in src/ --------------------------------------------

/// A model whose tokenizer section follows the tensor directory (as `write_model` lays it out).
fn llama_tok_model() -> AlignedBytes {
    let json = fs::read_to_string(fixtures().join("hf/llama_tiny/tokenizer.json")).unwrap();
    let tok = from_tokenizer_json(&json, 512).unwrap();
    let c = Config {
        arch: Arch::Llama,
        dtype: DType::F32,
        group_size: 0,
        dim: 16,
        hidden_dim: 24,
        n_layers: 1,
        n_heads: 2,
        n_kv_heads: 1,
        head_size: 8,
        vocab_size: 512,
        seq_len: 8,
        norm: Norm::RmsNorm,
        norm_eps: 1e-5,
        act: Activation::SwiGlu,
        pos: Position::Rope,
        rope_theta: 10000.0,
        tied: false,
        bias: false,
    };
    AlignedBytes::new(&write_model(&c, &random_weights(&c, 5), &tok).unwrap())
}

/// `Model::vector` / `Model::matrix` index the directory with the caller's `layer` without a
/// bound: for `layer >= n_layers` they read whatever follows the directory as a tensor entry and
/// hand out a slice at the offset those bytes say. Here `vector(AttnNormB, n_layers)` reads the
/// tokenizer section's header (bos/eos/unk words) as the entry: dtype 2, cols 512, data offset
/// 2, so it returns a `&[f32]` at an odd address — undefined behaviour from a safe function in
/// release builds (measured: pointer % 4 == 2, len 512); the `debug_assert` in `f32s` fires in
/// debug builds. Larger layers panic on the slice bounds or on `layer * LAYER_SLOTS` overflow.
#[test]
fn vector_and_matrix_past_the_last_layer_are_absent_not_garbage() {
    use tinygpt::format::layout::Slot;
    let a = llama_tok_model();
    let m = Model::from_bytes(a.as_slice()).unwrap();
    let n = m.config().n_layers;
    for layer in [n, n + 1, 1000, usize::MAX / 64] {
        for slot in [Slot::AttnNormW, Slot::AttnNormB, Slot::Bq, Slot::FfnNormW] {
            let r = std::panic::catch_unwind(|| m.vector(slot, layer).map(|v| (v.as_ptr() as usize % 4, v.len())));
            assert!(matches!(r, Ok(None)), "vector({slot:?}, {layer}) = {r:?}, want None");
        }
    }
}


/// `Config::groups` / `row_stride` divide by `group_size`: on a Q8 config that has not been
/// validated (group_size 0) they panic with a division by zero instead of giving an answer
/// or an error. Only reachable by calling them before `validate` (parse and `state_bytes`
/// validate first), but they are public.
#[test]
fn groups_of_an_unvalidated_q8_config_do_not_panic() {
    let c = Config { dtype: DType::Q8, group_size: 0, ..*Model::from_bytes(session_model().as_slice()).unwrap().config() };
    assert!(c.validate().is_err());
    let r = std::panic::catch_unwind(|| (c.groups(10), c.row_stride(10)));
    assert!(r.is_ok(), "groups/row_stride panicked on group_size 0");
}

/// Regression (found by the audit): `Model::matrix` past the last layer (and for absent slots
/// of Q8 models) used to read whatever followed the directory as an entry and build a matrix
/// from it (garbage shapes, slice-bound panics). Now it panics as documented, and
/// `get_matrix` returns `None`.
#[test]
fn matrix_past_the_last_layer_or_absent_panics_as_documented() {
    use tinygpt::format::layout::{Slot, LAYER};
    let json = fs::read_to_string(fixtures().join("hf/llama_tiny/tokenizer.json")).unwrap();
    let tok = from_tokenizer_json(&json, 512).unwrap();
    let c = Config { dtype: DType::Q8, group_size: 4, ..*Model::from_bytes(llama_tok_model().as_slice()).unwrap().config() };
    let a = AlignedBytes::new(&write_model(&c, &random_weights(&Config { dtype: DType::F32, ..c }, 5), &tok).unwrap());
    let m = Model::from_bytes(a.as_slice()).unwrap();
    let n = c.n_layers;
    std::panic::set_hook(Box::new(|_| {}));
    let mut returned = Vec::new();
    for layer in [n, n + 1, n + 7, 100] {
        for slot in LAYER {
            if let Ok(rows) = std::panic::catch_unwind(|| m.matrix(slot, layer).rows()) {
                returned.push(format!("{slot:?}@{layer}: {rows} rows"));
            }
        }
    }
    // an absent slot of a present layer (Llama has no biases): also the documented panic
    let r = std::panic::catch_unwind(|| m.matrix(Slot::Bq, 0).rows());
    let _ = std::panic::take_hook();
    assert!(returned.is_empty(), "matrix() past the last layer returned: {returned:?}");
    assert!(r.is_err(), "matrix(Bq, 0) of a model without biases returned a {}-row matrix", r.unwrap());
    for layer in [n, n + 1, 100] {
        assert!(LAYER.iter().all(|&s| m.get_matrix(s, layer).is_none() && m.vector(s, layer).is_none()));
    }
    assert!(m.get_matrix(Slot::Bq, 0).is_none() && m.get_matrix(Slot::TokEmb, 1).is_none());
    assert!(m.get_matrix(Slot::Wq, 0).is_some() && m.vector(Slot::Wq, 0).is_none());
}
