#!/usr/bin/env python3
"""Pick the grid run with the lowest held-out loss; pack results for transfer.

    grid_select.py RUNS_DIR OUT_DIR
writes OUT_DIR/best.tar (best run: hf/, train_log.json, loss.png),
OUT_DIR/grid.tar (every run's log, train_log.json, loss.png) and
OUT_DIR/grid_summary.json; then checks that the best hf/ directory loads with
this machine's transformers and generates.
"""
import glob
import json
import os
import sys
import tarfile

runs_dir, out_dir = sys.argv[1], sys.argv[2]
summary = []
for p in sorted(glob.glob(os.path.join(runs_dir, "*", "train_log.json"))):
    with open(p) as f:
        log = json.load(f)
    name = os.path.basename(os.path.dirname(p))
    summary.append({
        "run": name, "shape": log["shape"], "params": log["size"]["params"], "int8_bytes": log["size"]["int8_bytes"],
        "dropout": log["args"]["dropout"], "max_steps": log["args"]["max_steps"], "steps": log["steps"],
        "best_step": log["best_step"], "stop_reason": log["stop_reason"], "train_time_s": log["train_time_s"],
        "heldout_loss": log["heldout_eval"]["loss"], "heldout_ppl": log["heldout_eval"]["perplexity"],
    })
summary.sort(key=lambda r: r["heldout_loss"])
for r in summary:
    print(f"[select] {r['run']:12s} loss {r['heldout_loss']:.4f} ppl {r['heldout_ppl']:.2f} steps {r['steps']} best {r['best_step']} "
          f"{r['train_time_s']:.0f}s {r['stop_reason']}", flush=True)
with open(os.path.join(out_dir, "grid_summary.json"), "w") as f:
    json.dump({"best": summary[0]["run"] if summary else None, "runs": summary}, f, indent=1)
with tarfile.open(os.path.join(out_dir, "grid.tar"), "w") as t:
    for p in sorted(glob.glob(os.path.join(runs_dir, "*.log")) + glob.glob(os.path.join(runs_dir, "*", "train_log.json"))
                    + glob.glob(os.path.join(runs_dir, "*", "loss.png"))):
        t.add(p, arcname=os.path.relpath(p, runs_dir))
if not summary:
    sys.exit("[select] no finished run")
best = os.path.join(runs_dir, summary[0]["run"])
with tarfile.open(os.path.join(out_dir, "best.tar"), "w") as t:
    for n in ("hf", "train_log.json", "loss.png"):
        t.add(os.path.join(best, n), arcname=n)
print(f"[select] best: {summary[0]['run']}", flush=True)

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
import transformers
tok = AutoTokenizer.from_pretrained(os.path.join(best, "hf"))
model = AutoModelForCausalLM.from_pretrained(os.path.join(best, "hf"), dtype=torch.float32).eval()
ids = tok("The jury said", return_tensors="pt", add_special_tokens=False).input_ids
out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=30, pad_token_id=tok.eos_token_id)
print(f"[select] transformers {transformers.__version__} load+greedy: {tok.decode(out[0])!r}", flush=True)
