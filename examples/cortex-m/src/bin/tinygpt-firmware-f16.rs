//! The firmware with an f16 KV cache: the same demo in about half the workspace
//! (`STATE_BYTES_F16_KV`). Its tokens may differ from the f32 build's; the host check
//! compares them with the host library run with `KvDtype::F16`.
#![no_std]
#![no_main]

use tinygpt::{builtin::STATE_BYTES_F16_KV, KvDtype, SessionOptions};

/// The session's workspace with an f16 KV cache. Zeroed `.bss` in RAM.
static mut WORKSPACE: [u8; STATE_BYTES_F16_KV] = [0; STATE_BYTES_F16_KV];

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    // SAFETY: the entry point runs once, and this is the only reference ever made to WORKSPACE.
    let ws = unsafe { &mut *core::ptr::addr_of_mut!(WORKSPACE) };
    tinygpt_firmware::app::main(ws, SessionOptions { kv: KvDtype::F16, ..SessionOptions::default() })
}
