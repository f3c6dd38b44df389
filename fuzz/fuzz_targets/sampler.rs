//! The sampler with arbitrary logits (NaN, ±inf, subnormals, extremes) and arbitrary settings:
//! `validate`, `Sampler::sample`, `sample_with_coin`, `distribution`.
//!
//! Oracles: no panic; settings that validate always sample; the id is below the vocabulary
//! size and is a token `distribution` keeps (same settings, same coin); the kept
//! distribution is finite, in [0, 1] and sums to 1; greedy picks a maximum of the (penalised)
//! logits; errors only for invalid settings, a too-small scratch, an empty vocabulary, an
//! out-of-range id in the repetition window, or a coin outside [0, 1).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tinygpt::sampler::{distribution, sample_with_coin, Sampler, SamplerConfig};
use tinygpt::Error;
use tinygpt_fuzz::F;

#[derive(Arbitrary, Debug)]
struct Input {
    logits: Vec<F>,
    /// Extra copies of the logits (long vocabularies exercise top-p's pre-filter).
    repeat: u8,
    recent: Vec<u16>,
    temperature: F,
    top_k: u16,
    top_p: F,
    min_p: F,
    repeat_penalty: F,
    repeat_last_n: u8,
    seed: u64,
    coin: F,
    short_scratch: bool,
}

fuzz_target!(|inp: Input| {
    let mut logits: Vec<f32> = inp.logits.iter().map(|f| f.get()).collect();
    let n0 = logits.len();
    for _ in 0..inp.repeat % 8 {
        logits.extend_from_within(..n0);
    }
    let n = logits.len();
    let cfg = SamplerConfig {
        temperature: inp.temperature.get(),
        top_k: inp.top_k as usize,
        top_p: inp.top_p.get(),
        min_p: inp.min_p.get(),
        repeat_penalty: inp.repeat_penalty.get(),
        repeat_last_n: inp.repeat_last_n as usize,
        seed: inp.seed,
    };
    let valid = cfg.validate().is_ok();
    // the window is the last repeat_last_n entries: ids taken modulo n + 1 (one may be out of range)
    let recent: Vec<u32> = inp.recent.iter().map(|&r| (r as usize % (n + 1)) as u32).collect();
    let window = &recent[recent.len().saturating_sub(cfg.repeat_last_n)..];
    let bad_window = window.iter().any(|&r| r as usize >= n);
    let scratch_len = if inp.short_scratch { n.saturating_sub(1) } else { n };
    let expect_ok = valid && n > 0 && !bad_window && !inp.short_scratch;

    // Sampler::new / sample
    match Sampler::new(cfg) {
        Ok(mut s) => {
            assert!(valid);
            let mut l = logits.clone();
            let mut scratch = vec![0f32; scratch_len];
            match s.sample(&mut l, &recent, &mut scratch) {
                Ok(id) => {
                    assert!(expect_ok);
                    assert!((id as usize) < n);
                }
                Err(e) => assert!(!expect_ok, "sample failed: {e}"),
            }
        }
        Err(e) => {
            assert!(!valid);
            assert!(matches!(e, Error::InvalidSetting { .. }));
        }
    }

    // distribution
    let mut probs = vec![0f32; n];
    let mut kept = vec![0f32; if inp.short_scratch { n.saturating_sub(1) } else { n }];
    let dist = distribution(&logits, &recent, &cfg, &mut probs, &mut kept);
    match &dist {
        Ok(()) => {
            assert!(expect_ok);
            let mut sum = 0f64;
            for (&p, &q) in probs.iter().zip(&kept) {
                assert!(p.is_finite() && (0.0..=1.0).contains(&p), "prob {p}");
                assert!(q.is_finite() && (0.0..=1.0).contains(&q), "kept {q}");
                assert!(q == 0.0 || p > 0.0, "kept a token of probability 0");
                sum += q as f64;
            }
            assert!((sum - 1.0).abs() < 1e-3, "kept mass {sum}");
        }
        Err(e) => assert!(!expect_ok, "distribution failed: {e}"),
    }

    // sample_with_coin agrees with distribution
    let coin = inp.coin.get();
    let mut l = logits.clone();
    let mut scratch = vec![0f32; scratch_len];
    match sample_with_coin(&mut l, &recent, &cfg, coin, &mut scratch) {
        Ok(id) => {
            assert!(expect_ok && (0.0..1.0).contains(&coin));
            assert!((id as usize) < n);
            assert!(kept[id as usize] > 0.0, "sampled id {id} has kept probability 0");
            if cfg.temperature == 0.0 {
                // greedy: the lowest id among the maxima of the penalised logits, NaN = -inf
                let mut pen: Vec<f32> = logits.iter().map(|&x| if x.is_nan() { f32::NEG_INFINITY } else { x }).collect();
                if cfg.repeat_penalty != 1.0 {
                    let mut seen = vec![false; n];
                    for &r in window {
                        if !std::mem::replace(&mut seen[r as usize], true) {
                            let x = pen[r as usize];
                            pen[r as usize] = if x > 0.0 { x / cfg.repeat_penalty } else { x * cfg.repeat_penalty };
                        }
                    }
                }
                let mut best = 0;
                for i in 0..n {
                    if pen[i] > pen[best] {
                        best = i;
                    }
                }
                assert_eq!(id as usize, best, "greedy");
            }
        }
        Err(e) => assert!(!expect_ok || !(0.0..1.0).contains(&coin), "sample_with_coin failed: {e}"),
    }
});
