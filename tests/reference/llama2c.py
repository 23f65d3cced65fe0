"""Reads a llama2.c checkpoint (.bin, Karpathy's run.c "legacy" format) into
the same (meta, tensors) shape as gguf_reader.read_gguf, so that the
reference forward can run on stories260K without going through any GGUF
converter: header of 7 int32 (dim, hidden_dim, n_layers, n_heads,
n_kv_heads, vocab_size, seq_len; a negative vocab_size means an unshared
classifier follows), then float32 weights in run.c's order."""
import struct

import numpy as np


def read_llama2c(path):
    with open(path, "rb") as f:
        buf = f.read()
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack_from("<7i", buf, 0)
    shared = vocab > 0
    vocab = abs(vocab)
    hd = dim // n_heads
    kv_dim = n_kv * hd
    data = np.frombuffer(buf, dtype="<f4", offset=28).astype(np.float64)
    off = 0

    def take(*shape):
        nonlocal off
        n = int(np.prod(shape))
        a = data[off:off + n].reshape(shape)
        off += n
        return a

    w = {}
    w["token_embd.weight"] = take(vocab, dim)
    rms_att = take(n_layers, dim)
    wq = take(n_layers, dim, dim)
    wk = take(n_layers, kv_dim, dim)
    wv = take(n_layers, kv_dim, dim)
    wo = take(n_layers, dim, dim)
    rms_ffn = take(n_layers, dim)
    w1 = take(n_layers, hidden, dim)
    w2 = take(n_layers, dim, hidden)
    w3 = take(n_layers, hidden, dim)
    w["output_norm.weight"] = take(dim)
    take(seq_len, hd // 2)   # freq_cis_real, unused
    take(seq_len, hd // 2)   # freq_cis_imag, unused
    if not shared:
        w["output.weight"] = take(vocab, dim)
    for i in range(n_layers):
        b = "blk.%d." % i
        w[b + "attn_norm.weight"] = rms_att[i]
        w[b + "attn_q.weight"] = wq[i]
        w[b + "attn_k.weight"] = wk[i]
        w[b + "attn_v.weight"] = wv[i]
        w[b + "attn_output.weight"] = wo[i]
        w[b + "ffn_norm.weight"] = rms_ffn[i]
        w[b + "ffn_gate.weight"] = w1[i]
        w[b + "ffn_down.weight"] = w2[i]
        w[b + "ffn_up.weight"] = w3[i]
    meta = {
        "general.architecture": "llama",
        "llama.block_count": n_layers,
        "llama.attention.head_count": n_heads,
        "llama.attention.head_count_kv": n_kv,
        "llama.attention.layer_norm_rms_epsilon": 1e-5,
        "llama.rope.freq_base": 10000.0,
        "llama.rope.dimension_count": hd,
        "llama.context_length": seq_len,
    }
    return meta, w
