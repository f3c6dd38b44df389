//! The hostile-input self-check: feeds the library an out-of-range token id, a prompt too
//! long for its buffer, invalid sampler settings and stop strings, a workspace too small, a
//! context longer than the model's and a truncated model file; each must be reported as an
//! error (`REJECTED <name>: <error>`), none may reach the panic handler, and the session must
//! then generate what it generated before (`tests/firmware.rs` compares every line with the
//! host library's). A separate binary, so the demo's footprint stays that of the demo.
#![no_std]
#![no_main]

use tinygpt::{builtin::STATE_BYTES, KvDtype, SessionOptions};

/// The session's workspace (f32 KV cache). Zeroed `.bss` in RAM.
static mut WORKSPACE: [u8; STATE_BYTES] = [0; STATE_BYTES];

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    // SAFETY: the entry point runs once, and this is the only reference ever made to WORKSPACE.
    let ws = unsafe { &mut *core::ptr::addr_of_mut!(WORKSPACE) };
    tinygpt_firmware::app::hostile_main(ws, SessionOptions { kv: KvDtype::F32, ..SessionOptions::default() })
}
