//! tinygpt on a microcontroller: the built-in model read in place from flash, the whole
//! runtime state in one `static` buffer, no heap.
//!
//! There is deliberately no `#[global_allocator]`: if anything in the core used `alloc`,
//! this would not link. Output and the exit code go over semihosting on Cortex-M and the
//! UART / sifive_test device on RISC-V; `cargo run --release` runs it in QEMU (see
//! .cargo/config.toml).
//!
//! It generates `demo::MAX_TOKENS` tokens for `demo::PROMPT` twice (greedy, then seeded
//! sampling), printing the text as it streams and one machine-readable line per run,
//! `TOKENS <run>: <id> <id> ...`, then the stack high-water mark and `RESULT ok`.
//! This binary uses an f32 KV cache; `tinygpt-firmware-f16` is the same with an f16 one.
#![no_std]
#![no_main]

use tinygpt::{builtin::STATE_BYTES, KvDtype, SessionOptions};

/// The session's workspace (KV cache, activations, logits, sampler scratch), sized by the
/// const `tinygpt`'s build script computes for the built-in model. Zeroed `.bss` in RAM.
static mut WORKSPACE: [u8; STATE_BYTES] = [0; STATE_BYTES];

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    // SAFETY: the entry point runs once, and this is the only reference ever made to WORKSPACE.
    let ws = unsafe { &mut *core::ptr::addr_of_mut!(WORKSPACE) };
    tinygpt_firmware::app::main(ws, SessionOptions { kv: KvDtype::F32, ..SessionOptions::default() })
}
