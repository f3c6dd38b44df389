//! Proves the failure path the host check relies on: a panic prints `PANIC: ...` and QEMU
//! exits with status 1 (the check runs this and expects exactly that).
#![no_std]
#![no_main]

use tinygpt_firmware::println;

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    println!("panic selftest: panicking on purpose");
    let v = core::hint::black_box(7u32);
    if v == 7 {
        panic!("deliberate panic (selftest)");
    }
    tinygpt_firmware::platform::exit(true)
}
