//! RISC-V platform for QEMU's `virt` machine: the ns16550 UART at 0x1000_0000 for output,
//! the sifive_test device at 0x10_0000 for the exit code, CLINT `mtime` (10 MHz) as a clock,
//! and the stack bounds riscv-rt's `link.x` defines.

use core::ptr::{read_volatile, write_volatile};

const UART_THR: *mut u8 = 0x1000_0000 as *mut u8; // transmit holding register
const UART_LSR: *const u8 = 0x1000_0005 as *const u8; // line status register
const LSR_THRE: u8 = 1 << 5; // transmit holding register empty
const SIFIVE_TEST: *mut u32 = 0x0010_0000 as *mut u32;
const MTIME: *const u32 = 0x0200_bff8 as *const u32; // low word of CLINT mtime

/// Writes text to the UART (QEMU connects it to stdout with `-nographic`).
pub fn write_str(s: &str) {
    for &b in s.as_bytes() {
        // SAFETY: MMIO registers of the virt machine's UART.
        unsafe {
            while read_volatile(UART_LSR) & LSR_THRE == 0 {}
            write_volatile(UART_THR, b);
        }
    }
}

/// Ends the program: QEMU exits with status 0 (`ok`) or 1.
pub fn exit(ok: bool) -> ! {
    let code: u32 = if ok { 0x5555 } else { (1 << 16) | 0x3333 };
    // SAFETY: the sifive_test device's only register; writing it stops QEMU.
    unsafe { write_volatile(SIFIVE_TEST, code) };
    loop {
        core::hint::spin_loop();
    }
}

/// Milliseconds since reset (low 32 bits of the 10 MHz `mtime`, so it wraps after 7 min).
pub fn millis() -> u32 {
    // SAFETY: read-only MMIO register of the CLINT.
    unsafe { read_volatile(MTIME) / 10_000 }
}

/// The stack region `[bottom, top)`: riscv-rt's `.stack` section, from the end of the heap
/// (`__estack`; the heap is empty) to the top of RAM (`_stack_start`).
pub fn stack_region() -> (usize, usize) {
    extern "C" {
        static __estack: u8;
        static _stack_start: u8;
    }
    // Linker-defined symbols: only their addresses are taken, never their contents.
    (core::ptr::addr_of!(__estack) as usize, core::ptr::addr_of!(_stack_start) as usize)
}

/// The current stack pointer.
#[inline(always)]
pub fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads a register, touches no memory.
    unsafe { core::arch::asm!("mv {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
}
