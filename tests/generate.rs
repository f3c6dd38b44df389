//! The generation loop on the built-in model: stop reasons, stop strings, cancellation,
//! step-wise generation equal to the one-call form, context limits.

use tinygpt::generate::{generate, Event, GenerateOptions, Generation, StopReason};
use tinygpt::sampler::SamplerConfig;
use tinygpt::*;

fn session_run(opts: &GenerateOptions<'_>, prompt: &str, ctx: usize) -> (Vec<u32>, String, StopReason) {
    let m = builtin::model().unwrap();
    let so = SessionOptions { ctx, batch: 8, ..Default::default() };
    let mut ws = vec![0u8; state_bytes(m.config(), &so).unwrap()];
    let mut s = Session::new(m, &mut ws, so).unwrap();
    let mut buf = vec![0u32; prompt.len() + 8];
    let (mut toks, mut text) = (Vec::new(), String::new());
    let o = generate(&mut s, prompt, opts, &mut buf, &mut |e| {
        match e {
            Event::Text(t) => text.push_str(t),
            Event::Token(id) => toks.push(id),
        }
        true
    })
    .unwrap();
    assert_eq!(o.generated, toks.len());
    (toks, text, o.stop_reason)
}

fn opts(max: usize, stop: &'static [&'static str], temp: f32) -> GenerateOptions<'static> {
    GenerateOptions { max_tokens: max, stop, sampler: SamplerConfig { temperature: temp, ..Default::default() } }
}

#[test]
fn stepwise_equals_one_call_and_text_matches_tokens() {
    let o = opts(40, &[], 0.8);
    let (toks, text, r) = session_run(&o, "The jury said", 256);
    assert_eq!(r, StopReason::MaxTokens);
    let m = builtin::model().unwrap();
    let mut ws = vec![0u8; state_bytes(m.config(), &SessionOptions::default()).unwrap()];
    let mut s = Session::new(m, &mut ws, SessionOptions::default()).unwrap();
    let mut buf = [0u32; 32];
    let mut g = Generation::start(&mut s, "The jury said", &o, &mut buf).unwrap();
    let (mut t2, mut x2) = (Vec::new(), String::new());
    loop {
        let r = g
            .step(&mut s, &mut |e| {
                match e {
                    Event::Text(t) => x2.push_str(t),
                    Event::Token(id) => t2.push(id),
                }
                true
            })
            .unwrap();
        if r.is_some() {
            break;
        }
    }
    assert_eq!((toks.clone(), text.clone()), (t2, x2));
    // decoding the ids gives the same text
    let mut out = [0u8; 4096];
    let dec = tinygpt::tokenizer::decode_into(m.tokenizer(), &toks, true, &mut out).unwrap();
    assert_eq!(dec, text);
}

#[test]
fn stop_string_cuts_text_before_it() {
    let (_, full, _) = session_run(&opts(60, &[], 0.0), "The jury said", 256);
    let cut = full.find("\"door").expect("greedy text contains \"door");
    let (_, text, r) = session_run(&opts(60, &["\"door"], 0.0), "The jury said", 256);
    assert_eq!(r, StopReason::StopString);
    assert_eq!(text, full[..cut]);
}

#[test]
fn context_full_is_a_clean_stop() {
    let (toks, _, r) = session_run(&opts(100, &[], 0.8), "The jury said", 12);
    assert_eq!(r, StopReason::ContextFull);
    assert!(toks.len() <= 12);
}

#[test]
fn cancel_stops_after_the_current_token() {
    let m = builtin::model().unwrap();
    let mut ws = vec![0u8; state_bytes(m.config(), &SessionOptions::default()).unwrap()];
    let mut s = Session::new(m, &mut ws, SessionOptions::default()).unwrap();
    let mut buf = [0u32; 32];
    let mut n = 0;
    let o = generate(&mut s, "In the morning", &opts(50, &[], 0.8), &mut buf, &mut |e| {
        if let Event::Token(_) = e {
            n += 1;
            return n < 5;
        }
        true
    })
    .unwrap();
    assert_eq!((o.stop_reason, o.generated), (StopReason::Cancelled, 5));
}

#[test]
fn bad_settings_and_prompts_are_errors() {
    let m = builtin::model().unwrap();
    let so = SessionOptions { ctx: 8, ..Default::default() };
    let mut ws = vec![0u8; state_bytes(m.config(), &so).unwrap()];
    let mut s = Session::new(m, &mut ws, so).unwrap();
    let mut buf = vec![0u32; 4096];
    let mut sink = |_: Event<'_>| true;
    let long = "word ".repeat(50);
    assert!(matches!(generate(&mut s, &long, &opts(5, &[], 0.8), &mut buf, &mut sink), Err(Error::PromptTooLong { .. })));
    let bad = GenerateOptions { sampler: SamplerConfig { temperature: -1.0, ..Default::default() }, ..opts(5, &[], 0.8) };
    assert!(matches!(generate(&mut s, "hi", &bad, &mut buf, &mut sink), Err(Error::InvalidSetting { .. })));
    assert!(matches!(generate(&mut s, "hi", &opts(5, &[""], 0.8), &mut buf, &mut sink), Err(Error::InvalidSetting { .. })));
    // an empty prompt starts from the end-of-text token and still works
    assert!(generate(&mut s, "", &opts(3, &[], 0.8), &mut buf, &mut sink).is_ok());
    // and the session is still usable after errors
    assert!(generate(&mut s, "The", &opts(3, &[], 0.8), &mut buf, &mut sink).is_ok());
}
