//! Golden checks against Hugging Face transformers on the same weights.
//!
//! `tools/fixtures/make_fixtures.py` trained two tiny models (GPT-2 and Llama with GQA and an
//! untied head, BF16 shards), saved them as HF directories and recorded the reference
//! logits, greedy continuation and perplexity. Here they go through our importer and runtime.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tinygpt::convert::{import, ConvertOptions, Imported, TokenizerSource};
use tinygpt::*;

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf").join(name)
}

fn reference(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir(name).join("reference.json")).unwrap()).unwrap()
}

fn tokenizer_blob(imp: &Imported) -> Vec<u8> {
    let v = imp.config.vocab_size;
    match &imp.tokenizer {
        TokenizerSource::HfJson { tokenizer_json, tokenizer_config_json } => {
            tinygpt::tokenizer::build::from_tokenizer_json_with_config(tokenizer_json, tokenizer_config_json.as_deref(), v).unwrap()
        }
        TokenizerSource::Llama2cBin(b) => tinygpt::tokenizer::build::from_llama2c_bin(b, v).unwrap(),
        TokenizerSource::None => Vec::new(),
    }
}

fn convert(input: &Path, tok: Option<&Path>, dtype: DType) -> AlignedBytes {
    let imp = import(input, tok, false).unwrap().with_options(&ConvertOptions { dtype, group_size: 32 }).unwrap();
    let blob = tokenizer_blob(&imp);
    AlignedBytes::new(&imp.write(&blob).unwrap())
}

fn logits_of(bytes: &AlignedBytes, toks: &[u32]) -> Vec<Vec<f32>> {
    let m = Model::from_bytes(bytes.as_slice()).unwrap();
    let opts = SessionOptions { batch: 7, ..Default::default() };
    let mut ws = vec![0u8; state_bytes(m.config(), &opts).unwrap()];
    let mut s = Session::new(m, &mut ws, opts).unwrap();
    let mut out = Vec::new();
    s.forward_each(toks, &mut |_, l| out.push(l.to_vec())).unwrap();
    out
}

fn ref_tokens(r: &Value) -> Vec<u32> {
    r["tokens"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect()
}

fn ref_logits(r: &Value) -> Vec<Vec<f32>> {
    r["logits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect())
        .collect()
}

fn std_dev(rows: &[Vec<f32>]) -> f64 {
    let all: Vec<f64> = rows.iter().flatten().map(|&v| v as f64).collect();
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    (all.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / all.len() as f64).sqrt()
}

fn log_softmax(l: &[f32]) -> Vec<f64> {
    let max = l.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    let lse = max + l.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln();
    l.iter().map(|&v| v as f64 - lse).collect()
}

fn argmax(l: &[f32]) -> usize {
    l.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0
}

fn check_f32(name: &str, ours: &[Vec<f32>], refl: &[Vec<f32>]) {
    let tol = 1e-3 * std_dev(refl);
    assert_eq!(ours.len(), refl.len());
    for (i, (a, b)) in ours.iter().zip(refl).enumerate() {
        let err = a.iter().zip(b).map(|(x, y)| (x - y).abs() as f64).fold(0.0, f64::max);
        assert!(err <= tol, "{name}: position {i}: max |logit - ref| = {err} > {tol}");
    }
}

fn check_q8(name: &str, ours: &[Vec<f32>], refl: &[Vec<f32>]) -> (f64, f64) {
    let mut agree = 0;
    let mut kl = 0.0;
    for (a, b) in ours.iter().zip(refl) {
        agree += (argmax(a) == argmax(b)) as usize;
        let (la, lb) = (log_softmax(a), log_softmax(b));
        kl += lb.iter().zip(&la).map(|(p, q)| p.exp() * (p - q)).sum::<f64>();
    }
    let top1 = agree as f64 / ours.len() as f64;
    let kl = kl / ours.len() as f64;
    assert!(top1 >= 0.95, "{name}: int8 top-1 agreement {top1} < 0.95");
    assert!(kl <= 0.02, "{name}: int8 mean KL(ref||ours) {kl} > 0.02 nats");
    (top1, kl)
}

#[test]
fn gpt2_f32_logits_match_transformers() {
    let r = reference("gpt2_tiny");
    let ours = logits_of(&convert(&dir("gpt2_tiny"), None, DType::F32), &ref_tokens(&r));
    check_f32("gpt2 f32", &ours, &ref_logits(&r));
}

#[test]
fn llama_f32_logits_match_transformers() {
    let r = reference("llama_tiny");
    let ours = logits_of(&convert(&dir("llama_tiny"), None, DType::F32), &ref_tokens(&r));
    check_f32("llama f32", &ours, &ref_logits(&r));
}

/// The reference sequence's logits plus the `q8_check` windows (float16 logits of
/// full-context windows of eval.txt): 48 + 4 × 64 positions, enough that a few near-ties
/// (reference margins of ~0.02 logits in these tiny models) do not decide the verdict.
fn q8_positions(name: &str, r: &Value) -> Vec<(Vec<u32>, Vec<Vec<f32>>)> {
    let mut out = vec![(ref_tokens(r), ref_logits(r))];
    let q = &r["q8_check"];
    let raw = std::fs::read(dir(name).join(q["logits_file"].as_str().unwrap())).unwrap();
    let vals: Vec<f32> = raw.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect();
    let vocab = out[0].1[0].len();
    let mut at = 0;
    for w in q["windows"].as_array().unwrap() {
        let toks: Vec<u32> = w.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        let rows = (0..toks.len()).map(|i| vals[at + i * vocab..at + (i + 1) * vocab].to_vec()).collect();
        at += toks.len() * vocab;
        out.push((toks, rows));
    }
    assert_eq!(at, vals.len());
    out
}

#[test]
fn int8_logits_agree_with_transformers() {
    for name in ["gpt2_tiny", "llama_tiny"] {
        let r = reference(name);
        let bytes = convert(&dir(name), None, DType::Q8);
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for (toks, refl) in q8_positions(name, &r) {
            ours.extend(logits_of(&bytes, &toks));
            theirs.extend(refl);
        }
        let (top1, kl) = check_q8(name, &ours, &theirs);
        eprintln!("{name} int8 (group 32): top-1 {top1:.3}, mean KL {kl:.5} nats over {} positions", ours.len());
    }
}

#[test]
fn llama2c_checkpoints_give_the_same_logits_as_the_hf_directory() {
    let r = reference("llama_tiny");
    let toks = ref_tokens(&r);
    let d = dir("llama_tiny");
    let hf = logits_of(&convert(&d, None, DType::F32), &toks);
    let v0 = logits_of(&convert(&d.join("llama2c_v0.bin"), Some(&d.join("tokenizer.bin")), DType::F32), &toks);
    for (a, b) in hf.iter().zip(&v0) {
        let err = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(err < 1e-4, "llama2.c v0 vs HF: {err}");
    }
    check_f32("llama2.c v0", &v0, &ref_logits(&r));
    // the int8 export (group size 4) dequantized: close to the reference
    let v2 = logits_of(&convert(&d.join("llama2c_v2_q80.bin"), Some(&d.join("tokenizer.bin")), DType::F32), &toks);
    let (top1, kl) = check_q8("llama2.c v2 q80", &v2, &ref_logits(&r));
    eprintln!("llama2.c v2: top-1 {top1:.3}, KL {kl:.5}");
}

fn tinygpt() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tinygpt"))
}

fn write_model(name: &str, dtype: DType) -> PathBuf {
    let bytes = convert(&dir(name), None, dtype);
    let p = std::env::temp_dir().join(format!("tinygpt-golden-{name}-{dtype:?}-{}.tgpt", std::process::id()));
    std::fs::write(&p, bytes.as_slice()).unwrap();
    p
}

#[test]
fn cli_greedy_generation_reproduces_transformers() {
    for name in ["gpt2_tiny", "llama_tiny"] {
        let r = reference(name);
        let g = &r["greedy"];
        let want: Vec<u64> = g["generated"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        let model = write_model(name, DType::F32);
        let out = tinygpt()
            .args(["generate", "-m"])
            .arg(&model)
            .args(["-p", g["prompt"].as_str().unwrap(), "--temperature", "0", "--json", "-n"])
            .arg(want.len().to_string())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let j: Value = serde_json::from_slice(&out.stdout).unwrap();
        let got: Vec<u64> = j["tokens"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        assert_eq!(got, want, "{name}: greedy tokens differ from transformers");
        assert_eq!(j["text"].as_str().unwrap(), g["text"].as_str().unwrap());
        assert_eq!(j["stop_reason"], "max_tokens");
        // encode agrees with the reference tokenizer on the prompt
        let out = tinygpt().args(["encode", "-m"]).arg(&model).args(["--text", g["prompt"].as_str().unwrap()]).output().unwrap();
        let j: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(j["tokens"], g["prompt_tokens"]);
        let _ = std::fs::remove_file(model);
    }
}

#[test]
fn cli_eval_matches_transformers_perplexity() {
    for name in ["gpt2_tiny", "llama_tiny"] {
        let r = reference(name);
        let e = &r["eval"];
        let model = write_model(name, DType::F32);
        let out = tinygpt()
            .args(["eval", "-m"])
            .arg(&model)
            .arg("--text-file")
            .arg(dir(name).join(e["file"].as_str().unwrap()))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let j: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(j["tokens"], e["tokens"]);
        assert_eq!(j["predicted"], e["predicted"]);
        let (ours, theirs) = (j["ppl"].as_f64().unwrap(), e["ppl"].as_f64().unwrap());
        let rel = (ours - theirs).abs() / theirs;
        assert!(rel < 0.005, "{name}: ppl {ours} vs transformers {theirs} ({rel:.2e} relative)");
        let _ = std::fs::remove_file(model);
    }
}

#[test]
fn cli_logits_json_shape() {
    let model = write_model("gpt2_tiny", DType::Q8);
    let out = tinygpt().args(["logits", "-m"]).arg(&model).args(["--tokens", "1,2,3"]).output().unwrap();
    assert!(out.status.success());
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = j["logits"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.as_array().unwrap().len() == 512));
    let _ = std::fs::remove_file(model);
}
