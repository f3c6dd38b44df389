//! Shared parts of the tinygpt firmware binaries: the platform layer (output, exit, clock,
//! stack bounds) for Cortex-M (semihosting) and RISC-V (QEMU virt UART), the stack
//! high-water mark, the panic handler, and the demo itself (`demo.rs`, which the host check
//! `tests/firmware.rs` compiles too).
#![no_std]

#[cfg_attr(target_arch = "arm", path = "platform_arm.rs")]
#[cfg_attr(target_arch = "riscv32", path = "platform_riscv.rs")]
pub mod platform;

pub mod app;
pub mod demo;
pub mod stack;

use core::fmt;

/// The program's text output (semihosting stdout on Cortex-M, the UART on RISC-V).
pub struct Out;

impl fmt::Write for Out {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        platform::write_str(s);
        Ok(())
    }
}

/// Prints to [`Out`].
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {{ let _ = core::fmt::Write::write_fmt(&mut $crate::Out, format_args!($($arg)*)); }};
}

/// Prints a line to [`Out`].
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => {{ $crate::print!($($arg)*); $crate::print!("\n"); }};
}

/// Any panic prints `PANIC: <message and location>` and exits with failure (QEMU exit code
/// 1). The host check asserts that a normal run never prints it.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!("\nPANIC: {}", info);
    platform::exit(false)
}

/// Workspace bytes for the built-in model with context `ctx` and a `kv` cache, at compile
/// time (batch 1). `tinygpt::builtin` only has consts for the full context, so this repeats
/// `session::plan`'s arithmetic for an int8 model over the build script's consts; if it ever
/// came out too small, `Session::new` would refuse with `WorkspaceTooSmall` (never UB), and
/// the host check would fail.
pub const fn builtin_state_bytes(ctx: usize, kv: tinygpt::KvDtype) -> usize {
    use tinygpt::builtin::*;
    use tinygpt::sizes::{ws_total, WsDims};
    let q_dim = N_HEADS * HEAD_SIZE;
    let mut w = if DIM > HIDDEN_DIM { DIM } else { HIDDEN_DIM };
    if q_dim > w {
        w = q_dim;
    }
    let groups = w.div_ceil(GROUP_SIZE);
    let d = WsDims {
        dim: DIM as u64,
        hidden_dim: HIDDEN_DIM as u64,
        n_layers: N_LAYERS as u64,
        q_dim: q_dim as u64,
        kv_dim: (N_KV_HEADS * HEAD_SIZE) as u64,
        head_size: HEAD_SIZE as u64,
        n_heads: N_HEADS as u64,
        vocab_size: VOCAB_SIZE as u64,
        ctx: ctx as u64,
        batch: 1,
        kv_bytes: match kv {
            tinygpt::KvDtype::F32 => 4,
            tinygpt::KvDtype::F16 => 2,
        },
        qstride: (groups * GROUP_SIZE) as u64,
        qgroups: groups as u64,
    };
    match ws_total(&d) {
        Some(n) => n as usize,
        None => panic!("workspace size overflows"),
    }
}
