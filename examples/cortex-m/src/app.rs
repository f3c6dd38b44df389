//! The firmware's `main`, shared by the binaries (which differ only in their workspace).

use tinygpt::{builtin, KvDtype, Session, SessionOptions};

use crate::{demo, platform, print, println, stack};

/// Runs the demo in `workspace` with session options `opts` and exits: QEMU's exit status
/// is 0 when everything succeeded, 1 on any error (printed as `ERROR: ...`) or panic.
///
/// Call it first thing from the entry point: it paints the stack for the high-water mark.
pub fn main(workspace: &'static mut [u8], opts: SessionOptions) -> ! {
    stack::paint();
    let ok = match run(workspace, opts) {
        Ok(()) => true,
        Err(e) => {
            println!("\nERROR: {}", e);
            false
        }
    };
    platform::exit(ok)
}

fn run(ws: &'static mut [u8], opts: SessionOptions) -> tinygpt::Result<()> {
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
    let kv_name = if opts.kv == KvDtype::F32 { "f32" } else { "f16" };
    let ctx = if opts.ctx == 0 { c.seq_len } else { opts.ctx };
    println!(
        "workspace {} B in RAM @{:#010x} ({} KV cache, ctx {}; STATE_BYTES {} B, STATE_BYTES_F16_KV {} B)",
        ws.len(),
        ws.as_ptr() as usize,
        kv_name,
        ctx,
        builtin::STATE_BYTES,
        builtin::STATE_BYTES_F16_KV
    );
    let mut session = Session::new(model, ws, opts)?;
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
            "STOP {}: {} (prompt {} tokens, {} generated, {} ms in QEMU)",
            r.name, g.stop_reason, g.prompt_tokens, g.n, ms
        );
    }
    println!("STACK high-water: {} B (of {} B free for the stack)", stack::high_water(), stack::available());
    println!("RESULT ok");
    Ok(())
}

/// The hostile-input self-check (binary `tinygpt-firmware-hostile`): a greedy run, then every
/// input of [`demo::HOSTILE`] (each must come back as its documented error, printed as
/// `REJECTED <name>: <error>`, never reach the panic handler), then the greedy run again,
/// which must give the same tokens. Exits 0 only if all of that holds.
pub fn hostile_main(workspace: &'static mut [u8], opts: SessionOptions) -> ! {
    stack::paint();
    let ok = match hostile(workspace, opts) {
        Ok(ok) => ok,
        Err(e) => {
            println!("\nERROR: {}", e);
            false
        }
    };
    platform::exit(ok)
}

fn hostile(ws: &'static mut [u8], opts: SessionOptions) -> tinygpt::Result<bool> {
    let mut session = Session::new(builtin::model()?, ws, opts)?;
    let Some(r) = demo::RUNS.first() else { return Ok(false) };
    let before = demo::generate(&mut session, r, &mut |_| {})?;
    print!("TOKENS {}:", r.name);
    for t in before.tokens.get(..before.n).unwrap_or(&[]) {
        print!(" {}", t);
    }
    println!();
    if let Err(name) = demo::reject_hostile_inputs(&mut session, &mut |name, e| println!("REJECTED {}: {}", name, e)) {
        println!("ERROR: hostile input `{}` was not rejected with the expected error", name);
        return Ok(false);
    }
    let after = demo::generate(&mut session, r, &mut |_| {})?;
    if after.tokens.get(..after.n) != before.tokens.get(..before.n) {
        println!("ERROR: after the rejected inputs, the {} run gave other tokens", r.name);
        return Ok(false);
    }
    println!("AFTER-REJECTED {}: same {} tokens", r.name, after.n);
    println!("STACK high-water: {} B (of {} B free for the stack)", stack::high_water(), stack::available());
    println!("RESULT ok");
    Ok(true)
}
