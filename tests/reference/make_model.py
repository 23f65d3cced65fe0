#!/usr/bin/python3
"""Test fixtures: a random GPT-2- or Llama-shaped GGUF (no tokenizer), or a
llama2.c checkpoint converted to GGUF, written by gguf_writer.py.

  make_model.py random ARCH TYPE OUT.gguf [--seed N] [--untied] ...
  make_model.py llama2c IN.bin OUT.gguf
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_writer import write_gguf   # noqa: E402
from llama2c import read_llama2c     # noqa: E402


def random_model(arch, wtype, seed, n_embd, n_head, n_head_kv, n_layer, n_ff, n_vocab,
                 n_ctx, untied):
    rng = np.random.default_rng(seed)
    kv = n_embd // n_head * n_head_kv
    t = []

    def mat(name, n_out, n_in, ty=wtype):
        t.append((name, ty, rng.normal(0, 0.5 / np.sqrt(n_in), (n_out, n_in))))

    def vec(name, n, mean):
        t.append((name, "F32", mean + rng.normal(0, 0.2, n)))
    mat("token_embd.weight", n_vocab, n_embd)
    if arch == "gpt2":
        mat("position_embd.weight", n_ctx, n_embd, "F32")
    for i in range(n_layer):
        b = "blk.%d." % i
        vec(b + "attn_norm.weight", n_embd, 1.0)
        if arch == "gpt2":
            vec(b + "attn_norm.bias", n_embd, 0.0)
            mat(b + "attn_qkv.weight", n_embd + 2 * kv, n_embd)
            vec(b + "attn_qkv.bias", n_embd + 2 * kv, 0.0)
        else:
            mat(b + "attn_q.weight", n_embd, n_embd)
            mat(b + "attn_k.weight", kv, n_embd)
            mat(b + "attn_v.weight", kv, n_embd)
        mat(b + "attn_output.weight", n_embd, n_embd)
        if arch == "gpt2":
            vec(b + "attn_output.bias", n_embd, 0.0)
        vec(b + "ffn_norm.weight", n_embd, 1.0)
        if arch == "gpt2":
            vec(b + "ffn_norm.bias", n_embd, 0.0)
        else:
            mat(b + "ffn_gate.weight", n_ff, n_embd)
        mat(b + "ffn_up.weight", n_ff, n_embd)
        if arch == "gpt2":
            vec(b + "ffn_up.bias", n_ff, 0.0)
        mat(b + "ffn_down.weight", n_embd, n_ff)
        if arch == "gpt2":
            vec(b + "ffn_down.bias", n_embd, 0.0)
    vec("output_norm.weight", n_embd, 1.0)
    if arch == "gpt2":
        vec("output_norm.bias", n_embd, 0.0)
    if untied:
        mat("output.weight", n_vocab, n_embd)
    meta = {
        "general.architecture": arch,
        "general.name": "random-%s-%s" % (arch, wtype.lower()),
        arch + ".context_length": n_ctx,
        arch + ".embedding_length": n_embd,
        arch + ".block_count": n_layer,
        arch + ".feed_forward_length": n_ff,
        arch + ".attention.head_count": n_head,
        arch + ".attention.head_count_kv": n_head_kv,
    }
    if arch == "gpt2":
        meta["gpt2.attention.layer_norm_epsilon"] = 1e-5
    else:
        meta["llama.attention.layer_norm_rms_epsilon"] = 1e-5
        meta["llama.rope.freq_base"] = 10000.0
        meta["llama.rope.dimension_count"] = n_embd // n_head
    return meta, t


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("random")
    r.add_argument("arch", choices=["gpt2", "llama"])
    r.add_argument("type", choices=["F32", "F16", "BF16", "Q8_0", "Q4_0"])
    r.add_argument("out")
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--embd", type=int, default=64)
    r.add_argument("--head", type=int, default=4)
    r.add_argument("--head-kv", type=int, default=0)
    r.add_argument("--layer", type=int, default=2)
    r.add_argument("--ff", type=int, default=96)
    r.add_argument("--vocab", type=int, default=128)
    r.add_argument("--ctx", type=int, default=64)
    r.add_argument("--untied", action="store_true")
    c = sub.add_parser("llama2c")
    c.add_argument("bin")
    c.add_argument("out")
    a = ap.parse_args()
    if a.cmd == "random":
        meta, t = random_model(a.arch, a.type, a.seed, a.embd, a.head, a.head_kv or a.head,
                               a.layer, a.ff, a.vocab, a.ctx, a.untied)
    else:
        meta, w = read_llama2c(a.bin)
        meta["general.name"] = "stories260K"
        meta["llama.embedding_length"] = w["token_embd.weight"].shape[1]
        meta["llama.feed_forward_length"] = w["blk.0.ffn_up.weight"].shape[0]
        t = [(n, "F32", v) for n, v in w.items()]
    write_gguf(a.out, meta, t)


if __name__ == "__main__":
    main()
