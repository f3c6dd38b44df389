//! The firmware example (`examples/cortex-m`) runs in QEMU and produces, token for token, what
//! the host library produces for the same prompt, settings and seed.
//!
//! Both sides run the same code: this file compiles the firmware's `demo.rs` (prompt, token
//! count, sampler settings, the generation call) with `#[path]` and runs it on the host with
//! the host's kernels, while the firmware runs it on an emulated Cortex-M4F (and riscv32imc)
//! with the scalar kernels. The firmware prints `TOKENS <run>: <ids>` per run, which is parsed
//! here and compared with the host's ids.
//!
//! Needs `qemu-system-arm` / `qemu-system-riscv32` and the rustup targets
//! (`scripts/firmware_setup.sh` installs them). Without QEMU each test prints `SKIPPED: ...`
//! and returns; with `TINYGPT_FIRMWARE=require` (CI) a missing emulator is a failure.
#![cfg(all(feature = "std", tinygpt_builtin))]

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tinygpt::{builtin, state_bytes, KvDtype, Session, SessionOptions};

#[path = "../examples/cortex-m/src/demo.rs"]
#[allow(dead_code)]
mod demo;

/// How long one QEMU run may take (it takes well under 5 s).
const QEMU_TIMEOUT: Duration = Duration::from_secs(120);

const ARM: Target = Target {
    triple: "thumbv7em-none-eabihf",
    qemu: "qemu-system-arm",
    qemu_args: &[
        "-cpu",
        "cortex-m4",
        "-machine",
        "mps2-an386",
        "-nographic",
        "-semihosting-config",
        "enable=on,target=native",
        "-kernel",
    ],
};

/// The same Cortex-M4F build's STM32F405 binary, on QEMU's model of that chip (1 MiB flash,
/// 128 KiB SRAM, as on the real part).
const STM32F405: Target = Target {
    triple: "thumbv7em-none-eabihf",
    qemu: "qemu-system-arm",
    qemu_args: &[
        "-cpu",
        "cortex-m4",
        "-machine",
        "netduinoplus2",
        "-nographic",
        "-semihosting-config",
        "enable=on,target=native",
        "-kernel",
    ],
};

const RISCV: Target = Target {
    triple: "riscv32imc-unknown-none-elf",
    qemu: "qemu-system-riscv32",
    qemu_args: &["-machine", "virt", "-cpu", "rv32", "-nographic", "-bios", "none", "-kernel"],
};

/// The session options of each firmware binary.
const F32_FULL: SessionOptions = SessionOptions { ctx: 0, kv: KvDtype::F32, batch: 1 };
const F16_FULL: SessionOptions = SessionOptions { ctx: 0, kv: KvDtype::F16, batch: 1 };
const F16_CTX128: SessionOptions = SessionOptions { ctx: 128, kv: KvDtype::F16, batch: 1 };

struct Target {
    triple: &'static str,
    qemu: &'static str,
    qemu_args: &'static [&'static str],
}

fn firmware_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cortex-m")
}

/// Prints a line that libtest does not capture (a direct write to stderr bypasses it), so a
/// skip or a note shows in a normal `cargo test` run.
fn notice(msg: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(format!("{msg}\n").as_bytes());
}

/// Whether the emulator runs; prints the skip notice (or panics under
/// `TINYGPT_FIRMWARE=require`) when it does not.
fn have_qemu(t: &Target) -> bool {
    let ok = Command::new(t.qemu)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let msg = format!(
            "{} not found: firmware test for {} not run (install: scripts/firmware_setup.sh)",
            t.qemu, t.triple
        );
        assert!(std::env::var("TINYGPT_FIRMWARE").as_deref() != Ok("require"), "{msg} [TINYGPT_FIRMWARE=require]");
        notice(&format!("SKIPPED: {msg}"));
    }
    ok
}

/// Builds the firmware binaries for `t` (release) and returns the folder holding them.
fn build(t: &Target) -> PathBuf {
    let out = cargo_build(t, &["--bins"]);
    assert!(
        out.status.success(),
        "building the firmware for {} failed (is the target installed? scripts/firmware_setup.sh):\n{}",
        t.triple,
        String::from_utf8_lossy(&out.stderr)
    );
    firmware_dir().join("target").join(t.triple).join("release")
}

/// `cargo build --release --target <t> <extra>` in the firmware's folder.
fn cargo_build(t: &Target, extra: &[&str]) -> std::process::Output {
    let dir = firmware_dir();
    let target_dir = dir.join("target");
    Command::new("cargo")
        .current_dir(&dir)
        .args(["build", "--release", "--target", t.triple])
        .args(extra)
        // The firmware is its own workspace with its own target folder; host-only settings
        // of the outer build (e.g. RUSTFLAGS="-C target-cpu=native") must not leak into it.
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .expect("running cargo")
}

/// Runs one firmware ELF in QEMU with a timeout; returns (exit code, stdout).
fn run_qemu(t: &Target, elf: &Path) -> (i32, String) {
    let log = std::env::temp_dir().join(format!(
        "tinygpt-fw-{}-{}-{}.log",
        std::process::id(),
        t.triple,
        elf.file_name().unwrap().to_string_lossy()
    ));
    let mut child = Command::new(t.qemu)
        .args(t.qemu_args)
        .arg(elf)
        .stdin(Stdio::null())
        .stdout(File::create(&log).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting qemu");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > QEMU_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} timed out after {:?}:\n{}",
                elf.display(),
                QEMU_TIMEOUT,
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    println!("{} ({}) in {:.2} s:\n{text}", elf.display(), t.qemu, start.elapsed().as_secs_f64());
    (status.code().unwrap_or(-1), text)
}

/// The `TOKENS <run>: ...` and `STOP <run>: <reason> ...` lines.
fn parse(text: &str) -> (BTreeMap<String, Vec<u32>>, BTreeMap<String, String>) {
    let mut tokens = BTreeMap::new();
    let mut stops = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("TOKENS ") {
            let (name, ids) = rest.split_once(':').expect("TOKENS <run>: <ids>");
            let ids = ids.split_whitespace().map(|s| s.parse().expect("a token id")).collect();
            assert!(tokens.insert(name.to_string(), ids).is_none(), "two TOKENS lines for {name}");
        } else if let Some(rest) = line.strip_prefix("STOP ") {
            let (name, why) = rest.split_once(':').expect("STOP <run>: <reason>");
            let reason = why.split_whitespace().next().unwrap_or("").to_string();
            stops.insert(name.to_string(), reason);
        }
    }
    (tokens, stops)
}

/// The host's result: the same `demo::generate` calls through the library, on the host.
fn host(opts: SessionOptions) -> (BTreeMap<String, Vec<u32>>, BTreeMap<String, String>) {
    let model = builtin::model().unwrap();
    let mut ws = vec![0u8; state_bytes(model.config(), &opts).unwrap()];
    let mut session = Session::new(model, &mut ws, opts).unwrap();
    let mut tokens = BTreeMap::new();
    let mut stops = BTreeMap::new();
    for r in &demo::RUNS {
        let g = demo::generate(&mut session, r, &mut |_| {}).unwrap();
        tokens.insert(r.name.to_string(), g.tokens[..g.n].to_vec());
        stops.insert(r.name.to_string(), g.stop_reason.to_string());
    }
    (tokens, stops)
}

/// The `REJECTED <name>: <error>` lines `tinygpt-firmware-hostile` prints for
/// `demo::HOSTILE`, as the host library gives them (the same `demo::reject_hostile_inputs`).
fn host_rejections(opts: SessionOptions) -> Vec<String> {
    let model = builtin::model().unwrap();
    let mut ws = vec![0u8; state_bytes(model.config(), &opts).unwrap()];
    let mut session = Session::new(model, &mut ws, opts).unwrap();
    let mut lines = Vec::new();
    demo::reject_hostile_inputs(&mut session, &mut |name, e| lines.push(format!("REJECTED {name}: {e}")))
        .unwrap_or_else(|name| panic!("host: hostile input {name} was not rejected as expected"));
    lines
}

/// Runs `bin` and checks: exit status 0, `RESULT ok`, no `PANIC`/`ERROR` line, and the
/// tokens and stop reasons of every run equal the host's.
fn check_firmware(t: &Target, bin_dir: &Path, bin: &str, opts: SessionOptions) {
    let (code, text) = run_qemu(t, &bin_dir.join(bin));
    assert!(!text.contains("PANIC"), "{bin}: the panic handler was reached:\n{text}");
    assert!(!text.contains("ERROR"), "{bin}: reported an error:\n{text}");
    assert_eq!(code, 0, "{bin}: QEMU exit status (0 = semihosting/sifive_test success):\n{text}");
    assert!(text.lines().any(|l| l == "RESULT ok"), "{bin}: no `RESULT ok` line:\n{text}");
    assert!(text.lines().any(|l| l.starts_with("STACK high-water: ")), "{bin}: no stack high-water line");
    let (fw_tokens, fw_stops) = parse(&text);
    let (host_tokens, host_stops) = host(opts);
    assert_eq!(fw_tokens.len(), demo::RUNS.len(), "{bin}: one TOKENS line per run expected:\n{text}");
    for r in &demo::RUNS {
        let (fw, h) = (&fw_tokens[r.name], &host_tokens[r.name]);
        assert_eq!(fw, h, "{bin} ({}, {:?} KV): firmware tokens differ from the host's", r.name, opts.kv);
        assert_eq!(fw_stops.get(r.name), host_stops.get(r.name), "{bin} ({}): stop reason", r.name);
        assert!(!fw.is_empty(), "{bin} ({}): no tokens generated", r.name);
    }
}

/// Runs `tinygpt-firmware-hostile` and checks: exit status 0, `RESULT ok`, no `PANIC`/`ERROR`
/// line; its greedy tokens are the host's; every input of `demo::HOSTILE` was rejected with
/// exactly the error the host library gives (`REJECTED <name>: <error>` lines, in order);
/// and the session then gave the same tokens again (`AFTER-REJECTED ... same`).
fn check_hostile_firmware(t: &Target, bin_dir: &Path) {
    let bin = "tinygpt-firmware-hostile";
    let (code, text) = run_qemu(t, &bin_dir.join(bin));
    assert!(!text.contains("PANIC"), "{bin}: the panic handler was reached:\n{text}");
    assert!(!text.contains("ERROR"), "{bin}: reported an error:\n{text}");
    assert_eq!(code, 0, "{bin}: QEMU exit status:\n{text}");
    assert!(text.lines().any(|l| l == "RESULT ok"), "{bin}: no `RESULT ok` line:\n{text}");
    let (fw_tokens, _) = parse(&text);
    let (host_tokens, _) = host(F32_FULL);
    let greedy = demo::RUNS[0].name;
    assert_eq!(fw_tokens.get(greedy), host_tokens.get(greedy), "{bin}: greedy tokens differ from the host's");
    let rejected: Vec<&str> = text.lines().filter(|l| l.starts_with("REJECTED ")).collect();
    assert_eq!(rejected, host_rejections(F32_FULL), "{bin}: the hostile inputs' errors differ from the host's");
    assert!(
        text.lines().any(|l| l.starts_with("AFTER-REJECTED ") && l.contains("same")),
        "{bin}: no check that the session still works after the rejected inputs:\n{text}"
    );
}

/// The firmware's hostile-input check, on the host (no QEMU needed): every input of
/// `demo::HOSTILE` is rejected with its documented error, in order, and the session then
/// generates exactly what it generated before.
#[test]
fn host_demo_rejects_hostile_inputs_and_keeps_working() {
    let model = builtin::model().unwrap();
    let mut ws = vec![0u8; state_bytes(model.config(), &F32_FULL).unwrap()];
    let mut session = Session::new(model, &mut ws, F32_FULL).unwrap();
    let before = demo::generate(&mut session, &demo::RUNS[0], &mut |_| {}).unwrap();
    let mut names = Vec::new();
    let mut lines = Vec::new();
    demo::reject_hostile_inputs(&mut session, &mut |name, e| {
        names.push(name);
        lines.push(format!("{name}: {e}"));
    })
    .unwrap_or_else(|name| panic!("hostile input {name} was not rejected as expected"));
    assert_eq!(names, demo::HOSTILE, "every input, in order");
    let vocab_id = format!("token id {} out of range", model.config().vocab_size);
    for (line, want) in lines.iter().zip([
        vocab_id.as_str(),
        "token id 4294967295 out of range",
        "prompt too long",
        "invalid temperature",
        "invalid top_p",
        "invalid stop",
        "workspace too small",
        "context length",
        "truncated",
    ]) {
        assert!(line.to_lowercase().contains(want), "{line:?} should say {want:?}");
    }
    let after = demo::generate(&mut session, &demo::RUNS[0], &mut |_| {}).unwrap();
    assert_eq!(after.tokens[..after.n], before.tokens[..before.n], "the session changed after the rejected inputs");
}

/// The CLI's flags for a demo run (its other sampler defaults equal the demo's: top-k 0,
/// min-p 0, repeat penalty 1, repeat window 64).
fn cli_flags(r: &demo::Run) -> Vec<String> {
    let s = &r.sampler;
    assert_eq!((s.top_k, s.min_p, s.repeat_penalty, s.repeat_last_n), (0, 0.0, 1.0, 64), "flags below cover the rest");
    let mut v: Vec<String> = ["generate", "-p", demo::PROMPT, "-n"].iter().map(|s| s.to_string()).collect();
    v.push(demo::MAX_TOKENS.to_string());
    for (flag, val) in
        [("--temperature", s.temperature.to_string()), ("--top-p", s.top_p.to_string()), ("--seed", s.seed.to_string())]
    {
        v.push(flag.to_string());
        v.push(val);
    }
    v.push("--json".to_string());
    v
}

/// The host side itself is checked against a second path: the `tinygpt generate --json` CLI
/// (prefill batch 16, its own flag parsing) must give the demo's tokens too.
#[test]
fn host_demo_matches_cli_generate_json() {
    let (host_tokens, host_stops) = host(F32_FULL);
    for r in &demo::RUNS {
        let out = Command::new(env!("CARGO_BIN_EXE_tinygpt")).args(cli_flags(r)).output().unwrap();
        assert!(out.status.success(), "tinygpt {:?}: {}", cli_flags(r), String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON from --json");
        let tokens: Vec<u32> = v["tokens"].as_array().unwrap().iter().map(|t| t.as_u64().unwrap() as u32).collect();
        assert_eq!(tokens, host_tokens[r.name], "{}: CLI tokens differ from the library's", r.name);
        assert_eq!(v["stop_reason"].as_str(), Some(host_stops[r.name].as_str()), "{}: stop reason", r.name);
    }
}

#[test]
fn cortex_m_firmware_matches_host_token_for_token() {
    if !have_qemu(&ARM) {
        return;
    }
    let bins = build(&ARM);
    check_firmware(&ARM, &bins, "tinygpt-firmware", F32_FULL);
    check_firmware(&ARM, &bins, "tinygpt-firmware-f16", F16_FULL);
}

#[test]
fn cortex_m_firmware_rejects_hostile_inputs_without_panicking() {
    if !have_qemu(&ARM) {
        return;
    }
    check_hostile_firmware(&ARM, &build(&ARM));
}

/// The STM32F405 binary is linked with the real chip's memory map (1 MiB flash, 128 KiB
/// RAM). If the built-in model, the code, the workspace (f16 KV, context 128) and the stack
/// fit, it must link and, on QEMU's model of that chip, give the host's tokens. If they do
/// not, the link must fail because a region overflows (not for another reason), and for the
/// region(s) the sizes predict.
#[test]
fn stm32f405_fits_and_matches_host_or_linker_says_why() {
    let out = cargo_build(&STM32F405, &["--features", "stm32f405", "--bin", "tinygpt-firmware-stm32f405"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let model = builtin::model().unwrap();
    let ws = state_bytes(model.config(), &F16_CTX128).unwrap();
    let (flash, ram) = (1usize << 20, 128usize << 10);
    if out.status.success() {
        assert!(builtin::MODEL_BYTES < flash && ws < ram, "linked although the model or workspace alone is too big?");
        if have_qemu(&STM32F405) {
            let bins = firmware_dir().join("target").join(STM32F405.triple).join("release");
            check_firmware(&STM32F405, &bins, "tinygpt-firmware-stm32f405", F16_CTX128);
        }
        return;
    }
    let overflows: Vec<&str> = stderr.lines().filter(|l| l.contains("will not fit in region")).collect();
    assert!(!overflows.is_empty(), "the STM32F405 build failed, but not for lack of room:\n{stderr}");
    if builtin::MODEL_BYTES > flash {
        assert!(stderr.contains("region 'FLASH'"), "model > 1 MiB but no FLASH overflow reported:\n{stderr}");
    }
    if ws > ram {
        assert!(stderr.contains("region 'RAM'"), "workspace > 128 KiB but no RAM overflow reported:\n{stderr}");
    }
    let msg = format!(
        "NOTE: the built-in model does not fit an STM32F405 (model {} B, workspace f16/ctx 128 {} B); linker: {}",
        builtin::MODEL_BYTES,
        ws,
        overflows
            .iter()
            .filter(|l| l.contains("'.rodata'") || l.contains("'.bss'"))
            .map(|l| l.trim().trim_start_matches("rust-lld: error: "))
            .collect::<Vec<_>>()
            .join("; ")
    );
    notice(&msg);
}

#[test]
fn cortex_m_panic_exits_with_failure() {
    // The check above relies on a panic being visible (a `PANIC:` line, exit status 1);
    // this proves it is, with a binary that panics on purpose.
    if !have_qemu(&ARM) {
        return;
    }
    let bins = build(&ARM);
    let (code, text) = run_qemu(&ARM, &bins.join("tinygpt-firmware-panic"));
    assert_eq!(code, 1, "a panic must exit QEMU with status 1:\n{text}");
    assert!(text.contains("PANIC: ") && text.contains("deliberate panic"), "panic message missing:\n{text}");
    assert!(!text.contains("RESULT ok"));
}

#[test]
fn riscv32_firmware_matches_host_token_for_token() {
    if !have_qemu(&RISCV) {
        return;
    }
    let bins = build(&RISCV);
    check_firmware(&RISCV, &bins, "tinygpt-firmware", F32_FULL);
    check_hostile_firmware(&RISCV, &bins);
    let (code, text) = run_qemu(&RISCV, &bins.join("tinygpt-firmware-panic"));
    assert_eq!(code, 1, "a panic must exit QEMU with status 1:\n{text}");
}

// ---- docs/EMBEDDED.md's memory table ---------------------------------------------------

/// A TinyStories (llama2.c) shape: dim, hidden, layers, heads, kv heads, vocab, seq_len.
fn tinystories(
    dim: usize,
    hidden: usize,
    layers: usize,
    heads: usize,
    kv: usize,
    vocab: usize,
    seq: usize,
) -> tinygpt::Config {
    use tinygpt::{Activation, Arch, Config, DType, Norm, Position};
    Config {
        arch: Arch::Llama,
        dtype: DType::Q8,
        group_size: 32,
        dim,
        hidden_dim: hidden,
        n_layers: layers,
        n_heads: heads,
        n_kv_heads: kv,
        head_size: dim / heads,
        vocab_size: vocab,
        seq_len: seq,
        norm: Norm::RmsNorm,
        norm_eps: 1e-5,
        act: Activation::SwiGlu,
        pos: Position::Rope,
        rope_theta: 10000.0,
        tied: true,
        bias: false,
    }
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One table row: model, parameters, flash (q8 file without tokenizer; tokenizer), context,
/// workspace with f32 and f16 KV cache. Sizes come from the library itself: the writer's
/// file length, the parsed model's tokenizer length, and `state_bytes`.
fn memory_row(name: &str, model: &tinygpt::Model<'_>, ctx: usize) -> String {
    let c = model.config();
    let params = c.vocab_size * c.dim
        + c.n_layers * (2 * c.dim * c.q_dim() + 2 * c.dim * c.kv_dim() + 3 * c.dim * c.hidden_dim + 2 * c.dim)
        + c.dim;
    let ws = |kv| state_bytes(c, &SessionOptions { ctx, kv, batch: 1 }).unwrap();
    format!(
        "| {name} | {} | {} | {} | {} | {} | {} |",
        thousands(params),
        thousands(model.bytes().len() - model.tokenizer_bytes()),
        thousands(model.tokenizer_bytes()),
        ctx,
        thousands(ws(KvDtype::F32)),
        thousands(ws(KvDtype::F16)),
    )
}

/// The rows of docs/EMBEDDED.md's memory table are what the library computes today; when
/// the model, the format or the workspace layout changes, this fails and prints the rows to
/// paste.
#[test]
fn embedded_doc_memory_table_is_current() {
    use tinygpt::format::writer::{random_weights, write_model};
    use tinygpt::{AlignedBytes, DType, Model};
    let mut rows = Vec::new();
    let b = builtin::model().unwrap();
    let seq = b.config().seq_len;
    for ctx in [seq, 128, 64, 32] {
        rows.push(memory_row("built-in", &b, ctx.min(seq)));
    }
    for (name, cfg, ctxs) in [
        ("stories260K", tinystories(64, 172, 5, 8, 4, 512, 512), [512, 128]),
        ("stories15M", tinystories(288, 768, 6, 6, 6, 32000, 256), [256, 64]),
    ] {
        let w = random_weights(&tinygpt::Config { dtype: DType::F32, group_size: 0, ..cfg }, 1);
        let file = AlignedBytes::new(&write_model(&cfg, &w, &[]).unwrap());
        let m = Model::from_bytes(file.as_slice()).unwrap();
        for ctx in ctxs {
            rows.push(memory_row(name, &m, ctx));
        }
    }
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/EMBEDDED.md")).unwrap();
    let missing: Vec<&String> = rows.iter().filter(|r| !doc.lines().any(|l| l == r.as_str())).collect();
    assert!(
        missing.is_empty(),
        "docs/EMBEDDED.md's memory table is out of date; the current rows are:\n{}",
        rows.join("\n")
    );
}
