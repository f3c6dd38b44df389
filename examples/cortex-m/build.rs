//! Build script for the firmware: puts the right `memory.x` where the linker finds it.
//!
//! - Copies `memory.x` (Cortex-M, mps2-an386) or `memory-riscv.x` (riscv32, QEMU virt) into
//!   `OUT_DIR` and adds `OUT_DIR` to the link search path. Copying (rather than
//!   relying on the crate root being the linker's working directory) makes the build work
//!   from any directory, and `rerun-if-changed` relinks when the file is edited.
//! - Adds the runtime's linker script: cortex-m-rt's `link.x` (which INCLUDEs `memory.x`)
//!   with `--nmagic` (sections need not be page aligned in the file, so flash is not padded);
//!   for riscv-rt, `memory-riscv.x` first (it defines the REGION_* aliases `link.x` uses).
//!   Only for binaries of this package, so `cargo build` for the host is never affected.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    // Distinct names: rustc runs the linker in this folder, where a `-T` or INCLUDE of a bare
    // name would also find the other file.
    let mem = if arch == "riscv32" { "memory-riscv.x" } else { "memory.x" };
    fs::copy(mem, out.join(mem)).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=memory-riscv.x");
    println!("cargo:rerun-if-changed=build.rs");
    match arch.as_str() {
        "arm" => {
            println!("cargo:rustc-link-arg-bins=--nmagic");
            println!("cargo:rustc-link-arg-bins=-Tlink.x");
        }
        "riscv32" => {
            println!("cargo:rustc-link-arg-bins=-Tmemory-riscv.x");
            println!("cargo:rustc-link-arg-bins=-Tlink.x");
        }
        _ => {}
    }
}
