//! tinygpt on a microcontroller: the built-in model read in place from flash, the whole
//! runtime state in one `static` buffer, no heap.
//!
//! There is deliberately no `#[global_allocator]`: if anything in the core used `alloc`,
//! this would not link. Output (and the exit code) go over semihosting on Cortex-M and the
//! UART on RISC-V; `cargo run --release` runs it in QEMU (see .cargo/config.toml).
//!
//! It generates [`demo::MAX_TOKENS`] tokens for [`demo::PROMPT`] twice (greedy, then seeded
//! sampling), printing the text as it streams and one machine-readable line per run:
//! `TOKENS <run>: <id> <id> ...`, then the stack high-water mark and `RESULT ok`.
#![no_std]
#![no_main]

use tinygpt::{builtin, KvDtype, Session, SessionOptions};
use tinygpt_firmware::{demo, platform, println, print, stack};

/// KV-cache storage, and the workspace size for the model's full context, from the consts
/// `tinygpt`'s build script generates for the built-in model.
#[cfg(not(feature = "kv-f16"))]
const KV: (KvDtype, &str, usize) = (KvDtype::F32, "f32", builtin::STATE_BYTES);
#[cfg(feature = "kv-f16")]
const KV: (KvDtype, &str, usize) = (KvDtype::F16, "f16", builtin::STATE_BYTES_F16_KV);
const WS_BYTES: usize = KV.2;

/// The session's workspace: KV cache, activations, logits, sampler scratch. In `.bss`.
static mut WORKSPACE: [u8; WS_BYTES] = [0; WS_BYTES];

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    stack::paint();
    let ok = match run() {
        Ok(()) => true,
        Err(e) => {
            println!("\nERROR: {}", e);
            false
        }
    };
    platform::exit(ok)
}

fn run() -> tinygpt::Result<()> {
    // SAFETY: `main` runs once and this is the only reference ever made to WORKSPACE.
    let ws: &'static mut [u8] = unsafe { &mut *core::ptr::addr_of_mut!(WORKSPACE) };
    let model = builtin::model()?;
    let c = model.config();
    println!(
        "tinygpt firmware: model {} B in flash @{:#010x} ({} layers, dim {}, vocab {}, ctx {})",
        builtin::MODEL.len(),
        builtin::MODEL.as_ptr() as usize,
        c.n_layers,
        c.dim,
        c.vocab_size,
        c.seq_len
    );
    println!("workspace {} B in RAM @{:#010x} ({} KV cache)", ws.len(), ws.as_ptr() as usize, KV.1);
    let mut session = Session::new(model, ws, SessionOptions { kv: KV.0, ..SessionOptions::default() })?;
    for r in &demo::RUNS {
        let s = &r.sampler;
        println!(
            "--- {}: temperature {}, top-p {}, top-k {}, seed {}",
            r.name, s.temperature, s.top_p, s.top_k, s.seed
        );
        print!("{}", demo::PROMPT);
        let t0 = platform::millis();
        let g = demo::generate(&mut session, r, &mut |text| print!("{}", text))?;
        let ms = platform::millis().wrapping_sub(t0);
        println!();
        print!("TOKENS {}:", r.name);
        for t in &g.tokens[..g.n] {
            print!(" {}", t);
        }
        println!();
        println!(
            "STOP {}: {} (prompt {} tokens, {} generated, {} ms emulated)",
            r.name, g.stop_reason, g.prompt_tokens, g.n, ms
        );
    }
    println!("STACK high-water: {} B (of {} B free for the stack)", stack::high_water(), stack::available());
    println!("RESULT ok");
    Ok(())
}
