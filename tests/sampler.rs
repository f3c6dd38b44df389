//! Sampler behaviour through the public API: filters against naive reference
//! implementations (sort `(p, id)` pairs, walk them), sampled frequencies against the
//! processed distribution (chi-square), determinism, the repetition penalty, bad settings,
//! and hostile logits.

use tinygpt::sampler::{
    distribution, sample_with_coin, scratch_len, Pcg32, Sampler, SamplerConfig, DEFAULT_SEED,
};
use tinygpt::Error;

// ---- helpers --------------------------------------------------------------------------------

/// Settings with every filter and the penalty off, temperature 1.
fn plain() -> SamplerConfig {
    SamplerConfig {
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
        min_p: 0.0,
        ..SamplerConfig::default()
    }
}

/// `(probs_out, kept_out)` of [`distribution`].
fn dist(logits: &[f32], recent: &[u32], cfg: &SamplerConfig) -> (Vec<f32>, Vec<f32>) {
    let mut probs = vec![f32::NAN; logits.len()];
    let mut kept = vec![f32::NAN; logits.len()];
    distribution(logits, recent, cfg, &mut probs, &mut kept).expect("distribution");
    (probs, kept)
}

/// Random logits; `coarse` rounds them to a few levels so that ties are common.
fn random_logits(rng: &mut Pcg32, n: usize, coarse: bool) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let x = rng.next_f32() * 8.0 - 4.0;
            if coarse {
                x.round()
            } else {
                x
            }
        })
        .collect()
}

/// Ids sorted by probability descending, ties by id ascending: "most likely first".
fn ranked(probs: &[f32]) -> Vec<usize> {
    let mut ids: Vec<usize> = (0..probs.len()).collect();
    ids.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    ids
}

/// Naive reference of steps 5–7 on the step-4 probabilities: which ids survive.
fn reference_kept(probs: &[f32], cfg: &SamplerConfig) -> Vec<bool> {
    let order = ranked(probs);
    let n = probs.len();
    // 5. top-k
    let k = if cfg.top_k > 0 && cfg.top_k < n {
        cfg.top_k
    } else {
        n
    };
    let cand = &order[..k];
    // 6. top-p over the top-k set; target p * (its mass) with top-k on, else p.
    let mut m = cand.len();
    if cfg.top_p < 1.0 {
        let target = if k < n {
            cfg.top_p * cand.iter().map(|&i| probs[i]).sum::<f32>()
        } else {
            cfg.top_p
        };
        let mut cum = 0.0f32;
        for (j, &i) in cand.iter().enumerate() {
            cum += probs[i];
            if cum >= target {
                m = j + 1;
                break;
            }
        }
    }
    // 7. min-p
    let max = probs.iter().cloned().fold(0.0f32, f32::max);
    let mut keep = vec![false; n];
    for &i in &cand[..m] {
        keep[i] = probs[i] > 0.0 && probs[i] >= cfg.min_p * max;
    }
    keep
}

fn kept_ids(kept: &[f32]) -> Vec<bool> {
    kept.iter().map(|&q| q > 0.0).collect()
}

/// A random valid configuration; each filter on about half the time.
fn random_config(rng: &mut Pcg32, n: usize) -> SamplerConfig {
    let mut c = plain();
    c.temperature = 0.05 + 3.0 * rng.next_f32();
    if rng.next_u32().is_multiple_of(2) {
        c.top_k = 1 + rng.next_u32() as usize % (n + 2);
    }
    if rng.next_u32().is_multiple_of(2) {
        c.top_p = rng.next_f32().max(1e-4);
    }
    if rng.next_u32().is_multiple_of(2) {
        c.min_p = rng.next_f32() * 0.5;
    }
    c
}

/// Chi-square critical values at significance 0.001 for 1..=30 degrees of freedom (the
/// upper 0.1% point of the chi-square distribution; standard table values, recomputed
/// from the regularised incomplete gamma function).
const CHI2_CRIT_0_001: [f64; 30] = [
    10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322, 26.124, 27.877, 29.588, 31.264, 32.909,
    34.528, 36.123, 37.697, 39.252, 40.790, 42.312, 43.820, 45.315, 46.797, 48.268, 49.728, 51.179,
    52.620, 54.052, 55.476, 56.892, 58.301, 59.703,
];

/// Pearson's statistic of `counts` against `expected` probabilities, and its degrees of
/// freedom (cells with expected probability > 0, minus one). Panics if a cell with
/// probability 0 was drawn, or if an expected count is below 5 (the test would be invalid).
fn chi_square(counts: &[u64], expected: &[f32], draws: u64) -> (f64, usize) {
    let mut stat = 0.0f64;
    let mut cells = 0;
    for (&c, &q) in counts.iter().zip(expected) {
        if q == 0.0 {
            assert_eq!(c, 0, "a token with probability 0 was drawn");
            continue;
        }
        let e = q as f64 * draws as f64;
        assert!(
            e >= 5.0,
            "expected count {e} too small for the chi-square test"
        );
        stat += (c as f64 - e).powi(2) / e;
        cells += 1;
    }
    (stat, cells - 1)
}

// ---- settings -------------------------------------------------------------------------------

#[test]
fn invalid_settings_are_rejected_everywhere() {
    let d = SamplerConfig::default();
    let bad = [
        (
            SamplerConfig {
                temperature: f32::NAN,
                ..d
            },
            "temperature",
        ),
        (
            SamplerConfig {
                temperature: -1.0,
                ..d
            },
            "temperature",
        ),
        (
            SamplerConfig {
                temperature: f32::INFINITY,
                ..d
            },
            "temperature",
        ),
        (SamplerConfig { top_p: 0.0, ..d }, "top_p"),
        (SamplerConfig { top_p: 1.5, ..d }, "top_p"),
        (
            SamplerConfig {
                top_p: f32::NAN,
                ..d
            },
            "top_p",
        ),
        (SamplerConfig { min_p: 1.0, ..d }, "min_p"),
        (SamplerConfig { min_p: -0.1, ..d }, "min_p"),
        (
            SamplerConfig {
                min_p: f32::NAN,
                ..d
            },
            "min_p",
        ),
        (
            SamplerConfig {
                repeat_penalty: 0.0,
                ..d
            },
            "repeat_penalty",
        ),
        (
            SamplerConfig {
                repeat_penalty: -2.0,
                ..d
            },
            "repeat_penalty",
        ),
        (
            SamplerConfig {
                repeat_penalty: f32::NAN,
                ..d
            },
            "repeat_penalty",
        ),
        (
            SamplerConfig {
                repeat_penalty: f32::INFINITY,
                ..d
            },
            "repeat_penalty",
        ),
    ];
    for (cfg, want) in bad {
        let is_named = |e: Error| matches!(e, Error::InvalidSetting { name, .. } if name == want);
        assert!(is_named(Sampler::new(cfg).unwrap_err()), "{cfg:?}");
        let mut s = Sampler::new(d).unwrap();
        assert!(is_named(s.set_config(cfg).unwrap_err()));
        assert_eq!(*s.config(), d, "a rejected config must not be applied");
        let (mut p, mut k) = ([0.0; 3], [0.0; 3]);
        assert!(is_named(
            distribution(&[1.0, 2.0, 3.0], &[], &cfg, &mut p, &mut k).unwrap_err()
        ));
        let mut scratch = [0.0; 3];
        let e = sample_with_coin(&mut [1.0, 2.0, 3.0], &[], &cfg, 0.5, &mut scratch).unwrap_err();
        assert!(is_named(e));
    }
    let msg = Sampler::new(SamplerConfig { top_p: 2.0, ..d })
        .unwrap_err()
        .to_string();
    assert_eq!(msg, "invalid top_p: must be a number in (0, 1] (1 = off)");
}

#[test]
fn bad_coin_is_rejected() {
    for coin in [-0.1, 1.0, 2.0, f32::NAN, f32::INFINITY] {
        let e = sample_with_coin(&mut [1.0, 2.0], &[], &plain(), coin, &mut [0.0; 2]).unwrap_err();
        assert!(
            matches!(e, Error::InvalidSetting { name: "coin", .. }),
            "{coin}"
        );
    }
}

// ---- greedy and temperature -----------------------------------------------------------------

#[test]
fn greedy_is_argmax_lowest_id_on_ties() {
    let mut s = Sampler::new(SamplerConfig::greedy()).unwrap();
    let mut scratch = [0.0; 6];
    assert_eq!(
        s.sample(&mut [0.0, 5.0, 1.0, 5.0, -2.0, 4.9], &[], &mut scratch),
        Ok(1)
    );
    assert_eq!(
        s.sample(&mut [-1.0, -1.0, -1.0, -1.0, -1.0, -1.0], &[], &mut scratch),
        Ok(0)
    );
    let (probs, kept) = dist(&[0.0, 5.0, 1.0, 5.0], &[], &SamplerConfig::greedy());
    assert_eq!(probs, [0.0, 1.0, 0.0, 0.0]);
    assert_eq!(kept, [0.0, 1.0, 0.0, 0.0]);
}

#[test]
fn temperature_near_zero_equals_greedy() {
    let mut rng = Pcg32::from_seed(11);
    for round in 0..300 {
        let n = 2 + rng.next_u32() as usize % 200;
        // Distinct logits spaced 0.01 apart, shuffled: at T = 1e-6 every runner-up is at
        // least 1e4 below the max, so exp underflows to exactly 0.
        let mut logits: Vec<f32> = (0..n).map(|i| i as f32 * 0.01 - 1.0).collect();
        for i in (1..n).rev() {
            logits.swap(i, rng.next_u32() as usize % (i + 1));
        }
        let base = if round % 2 == 0 {
            SamplerConfig::default()
        } else {
            plain()
        };
        let greedy = SamplerConfig {
            temperature: 0.0,
            seed: round,
            ..base
        };
        let cold = SamplerConfig {
            temperature: 1e-6,
            seed: round,
            ..base
        };
        let mut scratch = vec![0.0; scratch_len(n)];
        let g = Sampler::new(greedy)
            .unwrap()
            .sample(&mut logits.clone(), &[], &mut scratch)
            .unwrap();
        let mut sampler = Sampler::new(cold).unwrap();
        for _ in 0..20 {
            assert_eq!(
                sampler
                    .sample(&mut logits.clone(), &[], &mut scratch)
                    .unwrap(),
                g
            );
        }
        assert_eq!(dist(&logits, &[], &cold), dist(&logits, &[], &greedy));
    }
}

#[test]
fn softmax_matches_f64_reference() {
    let mut rng = Pcg32::from_seed(5);
    for _ in 0..200 {
        let n = 1 + rng.next_u32() as usize % 300;
        let logits = random_logits(&mut rng, n, false);
        let t = 0.1 + 2.0 * rng.next_f32();
        let (probs, _) = dist(
            &logits,
            &[],
            &SamplerConfig {
                temperature: t,
                ..plain()
            },
        );
        let max = logits
            .iter()
            .cloned()
            .fold(f64::NEG_INFINITY, |m, x| m.max(x as f64));
        let e: Vec<f64> = logits
            .iter()
            .map(|&x| ((x as f64 - max) / t as f64).exp())
            .collect();
        let sum: f64 = e.iter().sum();
        for (p, e) in probs.iter().zip(&e) {
            let want = e / sum;
            assert!(
                (*p as f64 - want).abs() <= 1e-6 * want.max(1e-3),
                "{p} vs {want}"
            );
        }
    }
}

// ---- filters --------------------------------------------------------------------------------

#[test]
fn kept_set_equals_reference_for_random_settings() {
    let mut rng = Pcg32::from_seed(99);
    for round in 0..3000 {
        let n = 1 + rng.next_u32() as usize % 120;
        let logits = random_logits(&mut rng, n, round % 2 == 0);
        let cfg = random_config(&mut rng, n);
        let (probs, kept) = dist(&logits, &[], &cfg);
        assert_eq!(
            kept_ids(&kept),
            reference_kept(&probs, &cfg),
            "round {round} {cfg:?}"
        );
        let total: f32 = kept.iter().sum();
        assert!((total - 1.0).abs() < 1e-5, "kept_out sums to {total}");
    }
}

/// Draws many tokens with `cfg` from random logits and checks each lies in `allowed(probs)`.
fn draws_stay_inside(
    cfg_of: impl Fn(usize) -> SamplerConfig,
    allowed: impl Fn(&[f32], &SamplerConfig) -> Vec<bool>,
) {
    let mut rng = Pcg32::from_seed(2024);
    for round in 0..200u64 {
        let n = 2 + rng.next_u32() as usize % 100;
        let logits = random_logits(&mut rng, n, round % 3 == 0);
        let cfg = SamplerConfig {
            seed: round,
            ..cfg_of(n)
        };
        let (probs, _) = dist(&logits, &[], &cfg);
        let ok = allowed(&probs, &cfg);
        let mut s = Sampler::new(cfg).unwrap();
        let mut scratch = vec![0.0; n];
        for _ in 0..200 {
            let id = s.sample(&mut logits.clone(), &[], &mut scratch).unwrap() as usize;
            assert!(ok[id], "drew {id} outside the allowed set, {cfg:?}");
        }
    }
}

#[test]
fn top_k_never_returns_a_token_outside_the_k_most_likely() {
    draws_stay_inside(
        |n| SamplerConfig {
            top_k: 1 + n / 4,
            temperature: 1.5,
            ..plain()
        },
        |probs, cfg| {
            let mut ok = vec![false; probs.len()];
            for &i in &ranked(probs)[..cfg.top_k] {
                ok[i] = true;
            }
            ok
        },
    );
}

#[test]
fn top_p_never_returns_a_token_outside_the_nucleus() {
    draws_stay_inside(
        |_| SamplerConfig {
            top_p: 0.6,
            temperature: 1.5,
            ..plain()
        },
        |probs, cfg| {
            // Smallest set of most likely tokens whose mass reaches p.
            let mut ok = vec![false; probs.len()];
            let mut cum = 0.0f32;
            for &i in &ranked(probs) {
                ok[i] = true;
                cum += probs[i];
                if cum >= cfg.top_p {
                    break;
                }
            }
            ok
        },
    );
}

#[test]
fn min_p_never_returns_a_token_below_the_threshold() {
    draws_stay_inside(
        |_| SamplerConfig {
            min_p: 0.2,
            temperature: 2.0,
            ..plain()
        },
        |probs, cfg| {
            let max = probs.iter().cloned().fold(0.0f32, f32::max);
            probs.iter().map(|&p| p >= cfg.min_p * max).collect()
        },
    );
}

#[test]
fn top_k_ties_keep_lowest_ids() {
    let logits = [1.0, 2.0, 1.0, 2.0, 1.0, 0.0];
    let (_, kept) = dist(
        &logits,
        &[],
        &SamplerConfig {
            top_k: 3,
            ..plain()
        },
    );
    assert_eq!(kept_ids(&kept), [true, true, false, true, false, false]);
}

#[test]
fn top_p_small_keeps_only_the_most_likely() {
    // p below 1/n (llama2.c's cutoff would drop everything here): the top token alone.
    let logits = [0.0f32; 50];
    let (_, kept) = dist(
        &logits,
        &[],
        &SamplerConfig {
            top_p: 0.001,
            ..plain()
        },
    );
    let mut want = vec![0.0; 50];
    want[0] = 1.0;
    assert_eq!(kept, want);
}

// ---- the draw -------------------------------------------------------------------------------

#[test]
fn sample_draws_from_exactly_the_distribution() {
    // For any coin, sample_with_coin is the inverse CDF (id order) of distribution's kept_out,
    // and leaves probs_out in `logits`.
    let mut rng = Pcg32::from_seed(3);
    for round in 0..2000 {
        let n = 1 + rng.next_u32() as usize % 80;
        let logits = random_logits(&mut rng, n, round % 2 == 0);
        let cfg = random_config(&mut rng, n);
        let recent: Vec<u32> = (0..rng.next_u32() % 8)
            .map(|_| rng.next_u32() % n as u32)
            .collect();
        let cfg = SamplerConfig {
            repeat_penalty: 1.3,
            ..cfg
        };
        let (probs, kept) = dist(&logits, &recent, &cfg);
        for coin in [0.0, rng.next_f32(), rng.next_f32(), 0.999_999_94] {
            let mut work = logits.clone();
            let id = sample_with_coin(&mut work, &recent, &cfg, coin, &mut vec![0.0; n]).unwrap();
            let mut cdf = 0.0f32;
            let mut want = None;
            for (i, &q) in kept.iter().enumerate() {
                if q > 0.0 {
                    cdf += q;
                    want = Some(i);
                    if coin < cdf {
                        break;
                    }
                }
            }
            assert_eq!(Some(id as usize), want);
            assert_eq!(work, probs);
        }
    }
}

/// Draws `draws` tokens and returns the counts per id.
fn histogram(cfg: SamplerConfig, logits: &[f32], recent: &[u32], draws: u64) -> Vec<u64> {
    let mut s = Sampler::new(cfg).unwrap();
    let mut counts = vec![0u64; logits.len()];
    let mut work = logits.to_vec();
    let mut scratch = vec![0.0; logits.len()];
    for _ in 0..draws {
        work.copy_from_slice(logits);
        counts[s.sample(&mut work, recent, &mut scratch).unwrap() as usize] += 1;
    }
    counts
}

/// The sampled frequencies match `kept_out`: Pearson's chi-square statistic over the kept
/// tokens, with 200k draws, stays below the critical value for significance 0.001 (a correct
/// sampler fails this for a given seed with probability 0.1%; the seeds are fixed, so the
/// outcome is reproducible). `chi_square_has_power` shows the same check rejects a wrong
/// distribution.
#[test]
fn sampled_frequencies_match_the_distribution_chi_square() {
    const DRAWS: u64 = 200_000;
    let logits = [
        2.0, 1.5, 1.5, 1.0, 0.7, 0.5, 0.2, 0.0, -0.3, -1.0, -2.0, -5.0, 1.2, 0.9,
    ];
    let cases = [
        plain(),
        SamplerConfig {
            temperature: 0.8,
            top_p: 0.9,
            ..plain()
        },
        SamplerConfig {
            temperature: 1.3,
            top_k: 8,
            top_p: 0.95,
            min_p: 0.05,
            ..plain()
        },
        SamplerConfig {
            temperature: 1.0,
            repeat_penalty: 1.8,
            ..plain()
        },
    ];
    for (i, cfg) in cases.into_iter().enumerate() {
        let cfg = SamplerConfig {
            seed: 1000 + i as u64,
            ..cfg
        };
        let recent = [0u32, 3, 9];
        let (_, kept) = dist(&logits, &recent, &cfg);
        let counts = histogram(cfg, &logits, &recent, DRAWS);
        let (stat, df) = chi_square(&counts, &kept, DRAWS);
        let crit = CHI2_CRIT_0_001[df - 1];
        assert!(
            stat < crit,
            "case {i}: chi2 = {stat:.2} >= {crit} (df {df}), {cfg:?}"
        );
    }
}

#[test]
fn chi_square_has_power() {
    // Draws with the penalty on, tested against the distribution without it: must fail.
    const DRAWS: u64 = 200_000;
    let logits = [2.0, 1.5, 1.5, 1.0, 0.7, 0.5];
    let with = SamplerConfig {
        repeat_penalty: 1.1,
        ..plain()
    };
    let (_, wrong) = dist(&logits, &[0], &plain());
    let counts = histogram(with, &logits, &[0], DRAWS);
    let (stat, df) = chi_square(&counts, &wrong, DRAWS);
    assert!(stat > CHI2_CRIT_0_001[df - 1], "chi2 {stat} should reject");
}

// ---- determinism ----------------------------------------------------------------------------

fn sequence(seed: u64, len: usize) -> Vec<u32> {
    let logits: Vec<f32> = (0..40).map(|i| ((i * 7) % 13) as f32 * 0.3).collect();
    let mut s = Sampler::new(SamplerConfig {
        seed,
        temperature: 1.5,
        top_p: 0.95,
        ..plain()
    })
    .unwrap();
    let mut scratch = vec![0.0; 40];
    (0..len)
        .map(|_| s.sample(&mut logits.clone(), &[], &mut scratch).unwrap())
        .collect()
}

#[test]
fn same_seed_same_sequence_different_seed_different_sequence() {
    assert_eq!(sequence(7, 500), sequence(7, 500));
    assert_ne!(sequence(7, 500), sequence(8, 500));
    assert_ne!(sequence(DEFAULT_SEED, 500), sequence(DEFAULT_SEED + 1, 500));
}

#[test]
fn default_seed_draws_are_pinned() {
    // Uniform over 16 tokens: every q is exactly 1/16, so the id is the top 4 bits of each
    // PCG output: pcg32-demo's 0xa15c02b7 0x7b47f409 0xba1d3330 0x83d2f293 0xbfa4784b ...
    let mut s = Sampler::new(plain()).unwrap();
    let mut scratch = [0.0; 16];
    let ids: Vec<u32> = (0..6)
        .map(|_| s.sample(&mut [0.25; 16], &[], &mut scratch).unwrap())
        .collect();
    assert_eq!(ids, [0xa, 0x7, 0xb, 0x8, 0xb, 0xc]);
}

#[test]
fn reseed_restarts_and_errors_do_not_consume_coins() {
    let logits = [0.0f32; 16];
    let mut a = Sampler::new(plain()).unwrap();
    let mut b = Sampler::new(plain()).unwrap();
    let mut scratch = [0.0; 16];
    // An error (scratch too small) must not advance the generator.
    assert!(a.sample(&mut logits.clone(), &[], &mut [0.0; 3]).is_err());
    let first = a.sample(&mut logits.clone(), &[], &mut scratch).unwrap();
    assert_eq!(
        first,
        b.sample(&mut logits.clone(), &[], &mut scratch).unwrap()
    );
    // Greedy calls consume one coin too, so switching settings keeps the streams aligned.
    a.set_config(SamplerConfig::greedy()).unwrap();
    a.sample(&mut logits.clone(), &[], &mut scratch).unwrap();
    b.sample(&mut logits.clone(), &[], &mut scratch).unwrap();
    a.set_config(plain()).unwrap();
    assert_eq!(
        a.sample(&mut logits.clone(), &[], &mut scratch).unwrap(),
        b.sample(&mut logits.clone(), &[], &mut scratch).unwrap()
    );
    a.reseed(DEFAULT_SEED);
    assert_eq!(
        a.sample(&mut logits.clone(), &[], &mut scratch).unwrap(),
        first
    );
}

// ---- repetition penalty ---------------------------------------------------------------------

#[test]
fn repetition_penalty_is_ctrl_style_on_the_window_only() {
    let logits = [2.0, -1.0, 0.5, 3.0, -0.5];
    let recent = [3u32, 0, 1, 0, 1]; // window of 4: [0, 1, 0, 1] — token 3 is outside it
    let cfg = SamplerConfig {
        repeat_penalty: 2.0,
        repeat_last_n: 4,
        ..plain()
    };
    let manual = [1.0, -2.0, 0.5, 3.0, -0.5]; // 2/2, -1*2, once each
    assert_eq!(dist(&logits, &recent, &cfg), dist(&manual, &[], &plain()));
    // repeat_last_n = 0: no penalty at all.
    let off = SamplerConfig {
        repeat_last_n: 0,
        ..cfg
    };
    assert_eq!(dist(&logits, &recent, &off), dist(&logits, &[], &plain()));
}

#[test]
fn repetition_penalty_lowers_the_chance_of_repeated_tokens() {
    let logits = [1.0, 2.0, -0.5, 1.5, 0.0];
    for repeated in 0..5u32 {
        let cfg = SamplerConfig {
            repeat_penalty: 1.5,
            ..plain()
        };
        let (with, _) = dist(&logits, &[repeated], &cfg);
        let (without, _) = dist(&logits, &[repeated], &plain());
        let r = repeated as usize;
        if logits[r] == 0.0 {
            // A zero logit is unchanged; the others' penalties raise its share.
            assert!(with[r] >= without[r]);
        } else {
            assert!(
                with[r] < without[r],
                "token {r}: {} !< {}",
                with[r],
                without[r]
            );
        }
        // And in the draws: fewer picks of the repeated token.
        let n = 20_000;
        let c_with = histogram(SamplerConfig { seed: 5, ..cfg }, &logits, &[repeated], n)[r];
        let c_without = histogram(
            SamplerConfig { seed: 5, ..plain() },
            &logits,
            &[repeated],
            n,
        )[r];
        if logits[r] != 0.0 {
            assert!(c_with < c_without, "token {r}: {c_with} !< {c_without}");
        }
    }
    // A penalty below 1 encourages.
    let (more, _) = dist(
        &logits,
        &[1],
        &SamplerConfig {
            repeat_penalty: 0.5,
            ..plain()
        },
    );
    let (base, _) = dist(&logits, &[1], &plain());
    assert!(more[1] > base[1]);
}

#[test]
fn out_of_range_ids_in_the_window_are_rejected() {
    let cfg = SamplerConfig {
        repeat_last_n: 2,
        ..plain()
    };
    let mut scratch = [0.0; 4];
    let e = sample_with_coin(&mut [0.0; 4], &[1, 4], &cfg, 0.5, &mut scratch).unwrap_err();
    assert_eq!(e, Error::TokenOutOfRange { id: 4, vocab: 4 });
    // Outside the window it does not matter.
    assert!(sample_with_coin(&mut [0.0; 4], &[99, 1, 2], &cfg, 0.5, &mut scratch).is_ok());
}

// ---- hostile input --------------------------------------------------------------------------

#[test]
fn empty_logits_and_small_buffers_are_errors() {
    let mut s = Sampler::new(plain()).unwrap();
    let e = s.sample(&mut [], &[], &mut [0.0; 4]).unwrap_err();
    assert!(matches!(e, Error::InvalidSetting { name: "logits", .. }));
    let e = s.sample(&mut [1.0; 5], &[], &mut [0.0; 4]).unwrap_err();
    assert_eq!(
        e,
        Error::BufferTooSmall {
            what: "sampler scratch",
            needed: 5
        }
    );
    let (mut a, mut b) = ([0.0; 5], [0.0; 4]);
    let e = distribution(&[1.0; 5], &[], &plain(), &mut a, &mut b).unwrap_err();
    assert!(matches!(e, Error::BufferTooSmall { needed: 5, .. }));
    let e = distribution(&[], &[], &plain(), &mut a, &mut b).unwrap_err();
    assert!(matches!(e, Error::InvalidSetting { name: "logits", .. }));
    // Larger buffers are fine; entries past the vocabulary are untouched.
    let (mut p, mut k) = ([7.0; 6], [7.0; 6]);
    distribution(&[1.0, 1.0], &[], &plain(), &mut p, &mut k).unwrap();
    assert_eq!(p, [0.5, 0.5, 7.0, 7.0, 7.0, 7.0]);
    assert_eq!(k, [0.5, 0.5, 7.0, 7.0, 7.0, 7.0]);
}

#[test]
fn nan_counts_as_negative_infinity() {
    let nan = [f32::NAN, 1.0, f32::NAN, 0.5];
    let neg = [f32::NEG_INFINITY, 1.0, f32::NEG_INFINITY, 0.5];
    for cfg in [plain(), SamplerConfig::default(), SamplerConfig::greedy()] {
        assert_eq!(dist(&nan, &[0], &cfg), dist(&neg, &[0], &cfg));
    }
}

#[test]
fn positive_infinity_ties_share_the_mass() {
    let logits = [1.0, f32::INFINITY, 0.0, f32::INFINITY, f32::NAN];
    let (probs, kept) = dist(&logits, &[], &plain());
    assert_eq!(probs, [0.0, 0.5, 0.0, 0.5, 0.0]);
    assert_eq!(kept, [0.0, 0.5, 0.0, 0.5, 0.0]);
    let counts = histogram(plain(), &logits, &[], 2000);
    assert_eq!(counts[0] + counts[2] + counts[4], 0);
    assert!(counts[1] > 800 && counts[3] > 800);
    // Greedy and top-k 1 take the lowest id.
    assert_eq!(
        dist(&logits, &[], &SamplerConfig::greedy()).1,
        [0.0, 1.0, 0.0, 0.0, 0.0]
    );
    assert_eq!(
        dist(
            &logits,
            &[],
            &SamplerConfig {
                top_k: 1,
                ..plain()
            }
        )
        .1,
        [0.0, 1.0, 0.0, 0.0, 0.0]
    );
}

#[test]
fn all_negative_infinity_or_nan_gives_id_zero() {
    for logits in [
        [f32::NEG_INFINITY; 4],
        [f32::NAN; 4],
        [f32::NAN, f32::NEG_INFINITY, f32::NAN, f32::NEG_INFINITY],
    ] {
        for cfg in [plain(), SamplerConfig::default(), SamplerConfig::greedy()] {
            let mut s = Sampler::new(cfg).unwrap();
            for _ in 0..10 {
                assert_eq!(s.sample(&mut logits.clone(), &[1, 2], &mut [0.0; 4]), Ok(0));
            }
            assert_eq!(dist(&logits, &[], &cfg).1, [1.0, 0.0, 0.0, 0.0]);
        }
    }
}

#[test]
fn hostile_logits_always_give_a_kept_valid_id() {
    let palette = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        f32::MAX,
        f32::MIN,
        1e-45,
        -1e-45,
        1e30,
        -1e30,
    ];
    let mut rng = Pcg32::from_seed(666);
    for round in 0..5000 {
        let n = 1 + rng.next_u32() as usize % 64;
        let logits: Vec<f32> = (0..n)
            .map(|_| {
                let r = rng.next_u32() as usize;
                if r.is_multiple_of(3) {
                    palette[r / 3 % palette.len()]
                } else {
                    rng.next_f32() * 100.0 - 50.0
                }
            })
            .collect();
        let mut cfg = random_config(&mut rng, n);
        match round % 4 {
            0 => cfg.temperature = 0.0,
            1 => cfg.temperature = 1e-30,
            2 => cfg.repeat_penalty = 1e-30,
            _ => cfg.repeat_penalty = 1e30,
        }
        let recent: Vec<u32> = (0..4).map(|_| rng.next_u32() % n as u32).collect();
        let (probs, kept) = dist(&logits, &recent, &cfg);
        assert!(probs
            .iter()
            .chain(&kept)
            .all(|x| x.is_finite() && *x >= 0.0));
        for coin in [0.0, rng.next_f32(), 0.999_999_94] {
            let id = sample_with_coin(&mut logits.clone(), &recent, &cfg, coin, &mut vec![0.0; n])
                .unwrap();
            assert!((id as usize) < n);
            assert!(
                kept[id as usize] > 0.0,
                "round {round}: drew {id} with kept_out 0"
            );
        }
    }
}

#[test]
fn huge_vocabulary() {
    let n = 1 << 20;
    let mut rng = Pcg32::from_seed(1);
    let logits = random_logits(&mut rng, n, true); // nine levels: ~100k-way ties
    let mut scratch = vec![0.0; scratch_len(n)];
    for cfg in [
        SamplerConfig::default(),
        SamplerConfig {
            top_k: 1000,
            ..SamplerConfig::default()
        },
        plain(),
    ] {
        let (_, kept) = dist(&logits, &[], &cfg);
        assert_eq!(
            kept_ids(&kept),
            reference_kept(&dist(&logits, &[], &cfg).0, &cfg)
        );
        let mut s = Sampler::new(cfg).unwrap();
        for _ in 0..3 {
            let id = s
                .sample(&mut logits.clone(), &[5, 6], &mut scratch)
                .unwrap() as usize;
            assert!(id < n && kept[id] > 0.0);
        }
    }
}
