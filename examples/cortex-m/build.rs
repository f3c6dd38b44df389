//! Build script for the firmware: gives each binary its board's memory layout.
//!
//! cortex-m-rt's `link.x` (and riscv-rt's) does `INCLUDE memory.x`. Each board's layout is
//! kept in `memory/<board>.x`; this script copies it into `OUT_DIR/<board>/memory.x` and puts
//! that folder on the linker's search path of the binaries built for that board, so one
//! `cargo build` links the mps2-an386 binaries and the STM32F405 one with different memory
//! maps. (There is deliberately no `memory.x` in this folder: rustc runs the linker here, and
//! the linker looks in its working directory before the search path.)
//!
//! It also adds the runtime's linker script, for binaries only (never for the host):
//! Cortex-M: `-Tlink.x` with `--nmagic` (sections need not be page aligned in the file, so
//! nothing is padded); RISC-V: `-Tmemory.x` first (it defines the REGION_* aliases), then
//! `-Tlink.x`.
use std::{
    env, fs,
    path::{Path, PathBuf},
};

/// Binary name and its board's `memory/<board>.x`, for Cortex-M.
const ARM_BINS: [(&str, &str); 5] = [
    ("tinygpt-firmware", "mps2-an386"),
    ("tinygpt-firmware-f16", "mps2-an386"),
    ("tinygpt-firmware-panic", "mps2-an386"),
    ("tinygpt-firmware-hostile", "mps2-an386"),
    ("tinygpt-firmware-stm32f405", "stm32f405"),
];

fn board_dir(out: &Path, board: &str) -> PathBuf {
    let dir = out.join(board);
    fs::create_dir_all(&dir).unwrap();
    fs::copy(format!("memory/{board}.x"), dir.join("memory.x")).unwrap();
    println!("cargo:rerun-if-changed=memory/{board}.x");
    dir
}

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed=build.rs");
    match env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default().as_str() {
        "arm" => {
            for (bin, board) in ARM_BINS {
                let dir = board_dir(&out, board);
                println!("cargo:rustc-link-arg-bin={bin}=-L{}", dir.display());
            }
            println!("cargo:rustc-link-arg-bins=--nmagic");
            println!("cargo:rustc-link-arg-bins=-Tlink.x");
        }
        "riscv32" => {
            let dir = board_dir(&out, "riscv-virt");
            println!("cargo:rustc-link-search={}", dir.display());
            println!("cargo:rustc-link-arg-bins=-Tmemory.x");
            println!("cargo:rustc-link-arg-bins=-Tlink.x");
        }
        _ => {}
    }
}
