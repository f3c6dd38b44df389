#!/usr/bin/env python3
"""Sample generations from a trained Hugging Face model directory.

    python3 tools/train/sample.py models/hf models/samples.txt

Loads the directory with transformers (AutoModelForCausalLM + AutoTokenizer),
so it also checks that the saved model loads. For each prompt: greedy decoding
and three samples at temperature 0.8, top-p 0.9 (seeds 1, 2, 3). Prompts are
encoded without BOS; 60 new tokens; generation stops at <|endoftext|>.
"""
import sys

import torch

PROMPTS = ["The jury said", "In the morning", "She looked at", "It was", "The government of the United States"]
MAX_NEW = 60


def write_samples(model_dir, out_path, prompts=PROMPTS, n_sampled=3):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    eos = tok.convert_tokens_to_ids("<|endoftext|>")
    lines = [
        f"# Samples from {model_dir} ({sum(p.numel() for p in model.parameters()):,} params, f32, transformers)",
        f"# prompts encoded without BOS; {MAX_NEW} new tokens max; stops at <|endoftext|>",
        "",
    ]
    for prompt in prompts:
        ids = tok(prompt, return_tensors="pt", add_special_tokens=False).input_ids
        assert ids[0, 0].item() != eos, "no BOS expected"
        attn = torch.ones_like(ids)
        runs = [("greedy", dict(do_sample=False))]
        runs += [(f"T=0.8 top_p=0.9 seed={s}", dict(do_sample=True, temperature=0.8, top_p=0.9, top_k=0, seed=s)) for s in range(1, n_sampled + 1)]
        lines.append(f"=== prompt: {prompt!r}")
        for label, kw in runs:
            seed = kw.pop("seed", 0)
            torch.manual_seed(seed)
            with torch.no_grad():
                out = model.generate(ids, attention_mask=attn, max_new_tokens=MAX_NEW, eos_token_id=eos,
                                     pad_token_id=eos, **kw)
            text = tok.decode(out[0], skip_special_tokens=False)
            lines.append(f"--- {label}")
            lines.append(text)
        lines.append("")
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    print(f"[sample] wrote {out_path}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: sample.py MODEL_DIR OUT.txt")
    write_samples(sys.argv[1], sys.argv[2])
