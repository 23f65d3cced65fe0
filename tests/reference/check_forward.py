#!/usr/bin/python3
"""Checks llorch-forward's answers against the NumPy reference.

Reads llorch-forward output lines (NDJSON) on stdin. For each line, runs the
reference forward (transformer.py) over its "tokens" and compares every
activation under "dump" (per name and layer) and the "logits" (last
position, or every position with --all-positions output). The error of a
tensor is max|c - r| / max|r| over all its positions: relative to the
tensor's scale, so values near zero do not blow it up.

Prints one JSON summary per line on stdout; exits 1 when any error is over
--tol, 2 on bad input.

  check_forward.py --model M.gguf [--tol 1e-4] < forward-output.ndjson
  check_forward.py --llama2c stories260K.bin [--tol 1e-5] < ...
"""
import argparse
import base64
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_reader import read_gguf          # noqa: E402
from llama2c import read_llama2c           # noqa: E402
from transformer import LAYER_NAMES, forward   # noqa: E402


def decode(v):
    """llorch's float encodings (llorch(7) FORWARD) to a float64 array."""
    if isinstance(v, str):
        return np.frombuffer(base64.b64decode(v), dtype="<f4").astype(np.float64)

    def one(x):
        if x is None:
            return np.nan
        if x == "inf":
            return np.inf
        if x == "-inf":
            return -np.inf
        return float(x)
    if v and isinstance(v[0], list):
        return np.array([decode(r) for r in v])
    return np.array([one(x) for x in v])


def err(c, r):
    c = np.asarray(c, dtype=np.float64)
    if c.shape != r.shape:
        return float("inf")
    scale = max(np.abs(r).max(), 1e-30)
    return float(np.abs(c - r).max() / scale)


def main():
    ap = argparse.ArgumentParser()
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--model")
    src.add_argument("--llama2c")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--kv-type", choices=("f32", "f16", "q8_0"), default="f32",
                    help="the KV cache type the answers were computed with")
    args = ap.parse_args()
    meta, w = read_gguf(args.model) if args.model else read_llama2c(args.llama2c)
    bad = False
    for line in sys.stdin:
        if not line.strip():
            continue
        o = json.loads(line)
        if "error" in o or "tokens" not in o or "logits" not in o:
            print(json.dumps({"error": "not an answer: " + line[:200]}))
            sys.exit(2)
        toks = o["tokens"]
        ref = forward(meta, w, toks, args.kv_type)
        errs = {}
        for name, val in o.get("dump", {}).items():
            if name in LAYER_NAMES:
                for li, layer in enumerate(val):
                    errs["%s.%d" % (name, li)] = err(decode(layer), ref[name][li])
            else:
                errs[name] = err(decode(val), ref[name])
        lg = decode(o["logits"])
        n_vocab = ref["logits"].shape[1]
        if lg.ndim == 1 and lg.size == n_vocab:
            errs["final_logits"] = err(lg, ref["logits"][-1])
        else:
            errs["final_logits"] = err(lg.reshape(-1, n_vocab), ref["logits"])
        worst = max(errs, key=errs.get)
        summary = {"n_tokens": len(toks), "max_err": errs[worst], "worst": worst,
                   "argmax_equal": bool(np.argmax(lg.reshape(-1, n_vocab)[-1]) ==
                                        np.argmax(ref["logits"][-1])),
                   "tol": args.tol}
        print(json.dumps(summary))
        if not errs[worst] <= args.tol:
            bad = True
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
