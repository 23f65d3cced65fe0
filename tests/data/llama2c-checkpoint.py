#!/usr/bin/env python3
"""Writes a llama2.c legacy (version 0) checkpoint for tests.

usage: llama2c-checkpoint.py OUT DIM HIDDEN N_LAYERS N_HEADS N_KV_HEADS VOCAB SEQ_LEN [SIZE_DELTA]

VOCAB < 0 writes an unshared classifier (wcls), as llama2.c does. Float k of
the file (after the 7-int header) has the value k, so a converted tensor's
first value tells where in the checkpoint it came from. SIZE_DELTA adds
(> 0, zero bytes) or cuts (< 0) bytes at the end, for malformed files.
Plain Python, no numpy.
"""
import struct
import sys


def main():
    if len(sys.argv) not in (9, 10):
        sys.exit(__doc__)
    out = sys.argv[1]
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = (int(a) for a in sys.argv[2:9])
    delta = int(sys.argv[9]) if len(sys.argv) == 10 else 0
    head = dim // heads
    kv_dim = dim * kv_heads // heads
    v = abs(vocab)
    n = (v * dim + layers * dim + layers * dim * dim + 2 * layers * kv_dim * dim
         + layers * dim * dim + layers * dim + 3 * layers * hidden * dim + dim
         + seq_len * head)
    if vocab < 0:
        n += v * dim
    data = struct.pack('<7i', dim, hidden, layers, heads, kv_heads, vocab, seq_len)
    data += struct.pack('<%df' % n, *range(n))
    if delta > 0:
        data += bytes(delta)
    elif delta < 0:
        data = data[:delta]
    with open(out, 'wb') as f:
        f.write(data)


main()
