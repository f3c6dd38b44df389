//! The committed built-in model loads with the current reader and its generated consts match
//! the library's own arithmetic.
#![cfg(tinygpt_builtin)]

use tinygpt::builtin;
use tinygpt::*;

#[test]
fn builtin_model_loads_and_consts_match() {
    let m = builtin::model().expect("the committed models/tinygpt.tgpt must load with the current reader");
    let c = m.config();
    assert_eq!(builtin::MODEL_BYTES, builtin::MODEL.len());
    assert_eq!(
        (builtin::DIM, builtin::HIDDEN_DIM, builtin::N_LAYERS, builtin::N_HEADS, builtin::N_KV_HEADS),
        (c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads)
    );
    assert_eq!((builtin::HEAD_SIZE, builtin::VOCAB_SIZE, builtin::SEQ_LEN), (c.head_size, c.vocab_size, c.seq_len));
    assert_eq!(builtin::STATE_BYTES, state_bytes(c, &SessionOptions::default()).unwrap());
    assert_eq!(
        builtin::STATE_BYTES_F16_KV,
        state_bytes(c, &SessionOptions { kv: KvDtype::F16, ..Default::default() }).unwrap()
    );
    assert_eq!(builtin::MODEL.as_ptr() as usize % 64, 0);
    for ctx in [1usize, 17, 128, c.seq_len] {
        for (f16, kv) in [(false, KvDtype::F32), (true, KvDtype::F16)] {
            let want = state_bytes(c, &SessionOptions { ctx, kv, ..Default::default() }).unwrap();
            assert_eq!(builtin::state_bytes_for(ctx, f16), want, "ctx {ctx} f16 {f16}");
        }
    }
    assert_eq!(builtin::state_bytes_for(0, false), 0);
    assert_eq!(builtin::state_bytes_for(c.seq_len + 1, false), 0);
    assert_eq!(builtin::state_bytes_for(c.seq_len, false), builtin::STATE_BYTES);
}

#[test]
fn builtin_model_runs_in_a_static_sized_workspace() {
    static mut WS: [u8; builtin::STATE_BYTES] = [0; builtin::STATE_BYTES];
    // SAFETY: only this test touches WS, once.
    let ws = unsafe { &mut *core::ptr::addr_of_mut!(WS) };
    let mut s = Session::new(builtin::model().unwrap(), ws, SessionOptions::default()).unwrap();
    let logits = s.step(1).unwrap();
    assert_eq!(logits.len(), builtin::VOCAB_SIZE);
    assert!(logits.iter().all(|v| v.is_finite()));
}
