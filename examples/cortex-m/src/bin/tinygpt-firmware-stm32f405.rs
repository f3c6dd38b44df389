//! The firmware sized for a real microcontroller, an STM32F405 (1 MiB flash, 128 KiB SRAM;
//! `memory/stm32f405.x`): an f16 KV cache and a 128-token context instead of the model's
//! full one. If it did not fit, it would not link. QEMU emulates the chip's memory exactly
//! as `-machine netduinoplus2`. Its tokens equal the f16 build's (the context length does
//! not change the arithmetic, only how far it can go).
#![no_std]
#![no_main]

use tinygpt::{KvDtype, SessionOptions};

/// Context length: room for the demo's prompt and tokens, and more.
const CTX: usize = 128;
const OPTS: SessionOptions = SessionOptions { ctx: CTX, kv: KvDtype::F16, batch: 1 };
const WS_BYTES: usize = tinygpt_firmware::builtin_state_bytes(CTX, KvDtype::F16);

/// The session's workspace for `OPTS`. Zeroed `.bss` in RAM.
static mut WORKSPACE: [u8; WS_BYTES] = [0; WS_BYTES];

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    // SAFETY: the entry point runs once, and this is the only reference ever made to WORKSPACE.
    let ws = unsafe { &mut *core::ptr::addr_of_mut!(WORKSPACE) };
    tinygpt_firmware::app::main(ws, OPTS)
}
