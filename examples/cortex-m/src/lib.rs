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
