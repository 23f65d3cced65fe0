#!/usr/bin/python3
"""Writes tests/data/forward-stories260K.json: the NumPy reference's logits
for stories260K (read straight from llama2.c's .bin, no GGUF involved), so
that the forward tests have reference numbers without NumPy.

  record_stories260K.py STORIES260K.BIN > tests/data/forward-stories260K.json
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama2c import read_llama2c    # noqa: E402
from transformer import forward     # noqa: E402

TOKENS = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315]


def main():
    meta, w = read_llama2c(sys.argv[1])
    out = forward(meta, w, TOKENS)["logits"]
    rec = {
        "provenance": "tests/reference/record_stories260K.py on "
                      "llama2c-stories260K/stories260K.bin (float64 NumPy %s, "
                      "tests/reference/transformer.py), logits rounded to float32"
                      % np.__version__,
        "tokens": TOKENS,
        "argmax": [int(i) for i in out.argmax(axis=1)],
        "last_logits": [float(np.float32(x)) for x in out[-1]],
    }
    json.dump(rec, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
