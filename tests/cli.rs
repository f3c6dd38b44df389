//! The CLI contract: JSON shapes of info / bench / generate / encode on the built-in model,
//! sizes that match the file, determinism of seeded generation, and the default subcommand.

use std::process::Command;

use serde_json::Value;

fn run(args: &[&str]) -> (Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tinygpt")).args(args).output().unwrap();
    assert!(out.status.success(), "tinygpt {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    (serde_json::from_str(&text).unwrap_or(Value::Null), text)
}

#[test]
fn info_describes_the_builtin_model_and_sizes_match_the_file() {
    let (j, _) = run(&["info"]);
    for k in [
        "architecture", "dtype", "group_size", "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "head_size",
        "vocab_size", "seq_len", "norm", "norm_eps", "activation", "position", "rope_theta", "tied_embeddings",
        "bias", "model_bytes", "weight_bytes", "tokenizer", "tokenizer_bytes", "state_bytes", "state_bytes_f16_kv",
    ] {
        assert!(j.get(k).is_some(), "info lacks {k}: {j}");
    }
    let file = std::fs::metadata(concat!(env!("CARGO_MANIFEST_DIR"), "/models/tinygpt.tgpt")).unwrap().len();
    assert_eq!(j["model_bytes"].as_u64().unwrap(), file);
    assert_eq!(j["state_bytes"].as_u64().unwrap() as usize, tinygpt::builtin::STATE_BYTES);
    assert!(j["weight_bytes"].as_u64().unwrap() + j["tokenizer_bytes"].as_u64().unwrap() < file);
    assert!(j["weight_bytes"].as_u64().unwrap() <= 2_000_000);
    assert!(j["state_bytes_f16_kv"].as_u64().unwrap() < j["state_bytes"].as_u64().unwrap());
    assert_eq!(j["architecture"], "llama");
    assert_eq!(j["dtype"], "q8");
    assert_eq!(j["tokenizer"]["kind"], "byte_level_bpe");
}

#[test]
fn bench_reports_plausible_numbers() {
    let (j, _) = run(&["bench", "-n", "16", "--prompt-tokens", "32", "--threads", "1"]);
    for k in ["prefill_tok_s", "decode_tok_s", "model_bytes", "state_bytes", "threads"] {
        assert!(j.get(k).is_some(), "bench lacks {k}: {j}");
    }
    assert!(j["decode_tok_s"].as_f64().unwrap() > 1.0);
    assert!(j["prefill_tok_s"].as_f64().unwrap() > 1.0);
    assert_eq!(j["threads"], 1);
    assert_eq!(j["model_bytes"].as_u64().unwrap() as usize, tinygpt::builtin::MODEL_BYTES);
}

#[test]
fn seeded_generation_is_deterministic_and_json_is_well_formed() {
    let args = ["generate", "-p", "The jury said", "-n", "24", "--seed", "7", "--json"];
    let (a, _) = run(&args);
    let (b, _) = run(&args);
    assert_eq!(a, b);
    assert_eq!(a["tokens"].as_array().unwrap().len(), 24);
    assert_eq!(a["stop_reason"], "max_tokens");
    assert!(!a["text"].as_str().unwrap().is_empty());
    let (c, _) = run(&["generate", "-p", "The jury said", "-n", "24", "--seed", "8", "--json"]);
    assert_ne!(a["tokens"], c["tokens"], "different seeds should differ");
}

#[test]
fn default_subcommand_is_generate_and_streams_prompt_plus_text() {
    let (_, text) = run(&["-p", "The jury said", "-n", "8", "--temperature", "0"]);
    let (j, _) = run(&["-p", "The jury said", "-n", "8", "--temperature", "0", "--json"]);
    assert_eq!(text.trim_end_matches('\n'), format!("The jury said{}", j["text"].as_str().unwrap()));
}

#[test]
fn encode_decode_round_trip_and_stop_strings() {
    let (j, _) = run(&["encode", "--text", "The jury said \"no\"."]);
    let ids: Vec<String> = j["tokens"].as_array().unwrap().iter().map(|v| v.to_string()).collect();
    let (_, text) = run(&["decode", "--tokens", &ids.join(",")]);
    assert_eq!(text, "The jury said \"no\".\n");
    let (g, _) = run(&["generate", "-p", "The jury said", "-n", "64", "--temperature", "0", "--json"]);
    let full = g["text"].as_str().unwrap().to_string();
    // stop on a string from the middle of the greedy text
    let cut = full.find(" and").expect("greedy text has ' and'");
    let (s, _) = run(&["generate", "-p", "The jury said", "-n", "64", "--temperature", "0", "--json", "--stop", " and"]);
    assert_eq!(s["stop_reason"], "stop");
    assert_eq!(s["text"].as_str().unwrap(), &full[..cut]);
}
