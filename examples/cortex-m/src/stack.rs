//! Stack high-water mark: fill the unused stack with a pattern, run, then find the lowest
//! word that no longer holds it.
//!
//! [`paint`] runs first thing in `main`. It fills from the bottom of the stack region up to
//! [`MARGIN`] bytes below its own stack pointer, so it never writes a live frame (it calls
//! nothing while it writes). Everything above that point is counted as used, so the mark
//! is an upper bound by at most the frames of the reset handler and `main`'s prologue, which
//! are above the painted area anyway. A word the program happens to write with the exact
//! pattern value would be missed; the chance is negligible.

use core::ptr::{read_volatile, write_volatile};

use crate::platform;

/// The fill pattern.
pub const PATTERN: u32 = 0xDEAD_57AC;
/// Bytes left unpainted below the stack pointer of [`paint`].
pub const MARGIN: usize = 256;

/// Fills the free stack with [`PATTERN`]. Call once, first thing in `main`.
#[inline(never)]
pub fn paint() {
    let (bottom, _) = platform::stack_region();
    let limit = (platform::stack_pointer() - MARGIN) & !3;
    let mut p = ((bottom + 3) & !3) as *mut u32;
    while (p as usize) < limit {
        // SAFETY: `[bottom, limit)` is stack memory below every live frame (the linker
        // reserves it for the stack and nothing else), 4-byte aligned.
        unsafe {
            write_volatile(p, PATTERN);
            p = p.add(1);
        }
    }
}

/// Bytes of stack used so far: from the top of the stack region down to the lowest word
/// that no longer holds [`PATTERN`].
pub fn high_water() -> usize {
    let (bottom, top) = platform::stack_region();
    let mut p = ((bottom + 3) & !3) as *const u32;
    // SAFETY: reads stack memory between the region's bottom and the first overwritten
    // word, which is below the current stack pointer or the frame of this function.
    while (p as usize) < top && unsafe { read_volatile(p) } == PATTERN {
        p = unsafe { p.add(1) };
    }
    top - p as usize
}

/// Size of the stack region in bytes (all the RAM above `.bss`).
pub fn available() -> usize {
    let (bottom, top) = platform::stack_region();
    top - bottom
}
