#!/usr/bin/python3
"""Records the NumPy reference's logits for a model and a token sequence as
test data, so that the forward tests have reference numbers where NumPy is
absent. The file holds the command that made it.

  record_reference.py (--model M.gguf | --llama2c M.bin) --tokens JSON \\
      --made-by "how the model file was made" > tests/data/forward-X.json
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_reader import read_gguf   # noqa: E402
from llama2c import read_llama2c    # noqa: E402
from transformer import forward     # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--model")
    src.add_argument("--llama2c")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--made-by", required=True)
    a = ap.parse_args()
    meta, w = read_gguf(a.model) if a.model else read_llama2c(a.llama2c)
    tokens = json.loads(a.tokens)
    out = forward(meta, w, tokens)["logits"]
    rec = {
        "provenance": "tests/reference/record_reference.py (float64 NumPy %s, "
                      "tests/reference/transformer.py) on a model made by: %s; "
                      "logits rounded to float32" % (np.__version__, a.made_by),
        "tokens": tokens,
        "argmax": [int(i) for i in out.argmax(axis=1)],
        "last_logits": [float(np.float32(x)) for x in out[-1]],
    }
    json.dump(rec, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
