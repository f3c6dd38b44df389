//! Cortex-M platform: semihosting for output, the exit code and a clock; the stack bounds
//! cortex-m-rt's `link.x` defines.

use cortex_m as _; // its `critical-section-single-core` implementation, needed by semihosting
use cortex_m_semihosting::{debug, hprint, syscall};

/// Writes text to the host's stdout (semihosting SYS_WRITE).
pub fn write_str(s: &str) {
    hprint!("{}", s);
}

/// Ends the program: QEMU exits with status 0 (`ok`) or 1.
pub fn exit(ok: bool) -> ! {
    debug::exit(if ok { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    loop {
        cortex_m::asm::bkpt();
    }
}

/// Milliseconds since the program started (semihosting SYS_CLOCK: centiseconds of host
/// time, so 10 ms resolution).
pub fn millis() -> u32 {
    // SAFETY: SYS_CLOCK takes no argument and only returns a number.
    let cs = unsafe { syscall!(CLOCK) };
    (cs as u32).wrapping_mul(10)
}

/// The stack region `[bottom, top)`: from the end of `.bss` (cortex-m-rt's `_stack_end`) to
/// the top of RAM (`_stack_start`, the initial stack pointer).
pub fn stack_region() -> (usize, usize) {
    extern "C" {
        static _stack_end: u8;
        static _stack_start: u8;
    }
    // Linker-defined symbols: only their addresses are taken, never their contents.
    (core::ptr::addr_of!(_stack_end) as usize, core::ptr::addr_of!(_stack_start) as usize)
}

/// The current stack pointer.
#[inline(always)]
pub fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads a register, touches no memory.
    unsafe { core::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
}
