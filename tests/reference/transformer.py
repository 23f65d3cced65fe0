"""Reference forward passes in float64 NumPy, written from the papers and the
original model code, not from llorch's C:

- GPT-2 (Radford et al. 2019; OpenAI gpt-2 src/model.py): learned position
  embeddings, pre-LayerNorm blocks with bias, fused QKV, GELU with the tanh
  approximation, final LayerNorm, classifier = output or token embedding.
- Llama (Touvron et al. 2023; facebookresearch/llama model.py): RMSNorm,
  rotary embeddings applied as complex multiplication of adjacent pairs
  (2i, 2i+1) (the layout GGUF llama files keep), grouped-query attention by
  repeating K/V heads, SwiGLU feed-forward w2(silu(w1 x) * w3 x).

The whole sequence is computed at once with a causal mask (the C code works
incrementally over a KV cache): a different route to the same numbers.

forward(meta, tensors, tokens[, kv_type]) returns {name: array}: "embd", "output_norm",
"logits" are (n_pos, dim); the per-layer ones (n_layer, n_pos, dim).
"""
import numpy as np

LAYER_NAMES = ("attn_norm", "attn_out", "ffn_norm", "ffn_out", "layer_out")


def _layer_norm(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def _rms_norm(x, g, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def _causal_attention(q, k, v):
    """q (H, T, d), k/v (H, T, d) -> (T, H*d)"""
    d = q.shape[-1]
    s = q @ k.transpose(0, 2, 1) / np.sqrt(d)
    t = s.shape[-1]
    s = np.where(np.tril(np.ones((t, t), dtype=bool)), s, -np.inf)
    s = np.exp(s - s.max(-1, keepdims=True))
    s /= s.sum(-1, keepdims=True)
    o = s @ v                                   # (H, T, d)
    return o.transpose(1, 0, 2).reshape(t, -1)


def _heads(x, n):
    """(T, n*d) -> (n, T, d)"""
    t = x.shape[0]
    return x.reshape(t, n, -1).transpose(1, 0, 2)


def _rope(x, pos, rope_dim, base):
    """x (H, T, d): the first rope_dim values of each head, as complex numbers
    x[2i] + j x[2i+1], are multiplied by exp(j pos base^(-2i/rope_dim))."""
    freqs = base ** (-np.arange(0, rope_dim, 2) / rope_dim)        # (rope_dim/2)
    ang = np.outer(pos, freqs)                                    # (T, rope_dim/2)
    rot = np.exp(1j * ang)
    xr = x[..., :rope_dim]
    xc = xr[..., 0::2] + 1j * xr[..., 1::2]
    yc = xc * rot[None, :, :]
    y = np.empty_like(xr)
    y[..., 0::2] = yc.real
    y[..., 1::2] = yc.imag
    return np.concatenate([y, x[..., rope_dim:]], axis=-1)


def _hp(meta, arch, key, default=None):
    v = meta.get("%s.%s" % (arch, key), default)
    if v is None:
        raise KeyError("%s.%s missing" % (arch, key))
    return v


def _cached(x, kv_type):
    """x as a KV cache of kv_type holds it: 'f16' rounds to half precision
    (through float32, as the C code computes it); 'q8_0' to blocks of 32
    along the last axis (within a head: head sizes are multiples of 32),
    d = amax / 127 and x * (1 / d) rounded to the nearest integer, ties to
    even, all in float32, then d rounded to half precision; 'f32' keeps
    it."""
    if kv_type == "f16":
        return x.astype(np.float32).astype(np.float16).astype(x.dtype)
    if kv_type == "q8_0":
        x32 = x.astype(np.float32)
        b = x32.reshape(x32.shape[:-1] + (-1, 32))
        d = np.abs(b).max(axis=-1, keepdims=True) / np.float32(127)
        inv = np.zeros_like(d)
        np.divide(np.float32(1), d, out=inv, where=d != 0)
        q = np.rint(b * inv)
        dq = q * d.astype(np.float16).astype(np.float32)
        return dq.reshape(x32.shape).astype(x.dtype)
    return x


def forward(meta, w, tokens, kv_type="f32"):
    arch = meta["general.architecture"]
    n_layer = _hp(meta, arch, "block_count")
    n_head = _hp(meta, arch, "attention.head_count")
    n_head_kv = _hp(meta, arch, "attention.head_count_kv", n_head)
    tokens = np.asarray(tokens)
    pos = np.arange(len(tokens))
    acts = {n: [] for n in LAYER_NAMES}
    out = {}

    def lin(x, name, bias=True):
        y = x @ w[name + ".weight"].T
        if bias and name + ".bias" in w:
            y = y + w[name + ".bias"]
        return y

    if arch == "gpt2":
        eps = _hp(meta, arch, "attention.layer_norm_epsilon", 1e-5)
        x = w["token_embd.weight"][tokens] + w["position_embd.weight"][pos]
        out["embd"] = x.copy()
        for i in range(n_layer):
            b = "blk.%d." % i
            h = _layer_norm(x, w[b + "attn_norm.weight"], w[b + "attn_norm.bias"], eps)
            acts["attn_norm"].append(h)
            qkv = lin(h, b + "attn_qkv")
            e = x.shape[1]
            kvd = (qkv.shape[1] - e) // 2
            q, k, v = qkv[:, :e], qkv[:, e:e + kvd], qkv[:, e + kvd:]
            rep = n_head // n_head_kv
            k = np.repeat(_heads(_cached(k, kv_type), n_head_kv), rep, axis=0)
            v = np.repeat(_heads(_cached(v, kv_type), n_head_kv), rep, axis=0)
            a = lin(_causal_attention(_heads(q, n_head), k, v), b + "attn_output")
            acts["attn_out"].append(a)
            x = x + a
            h = _layer_norm(x, w[b + "ffn_norm.weight"], w[b + "ffn_norm.bias"], eps)
            acts["ffn_norm"].append(h)
            f = lin(_gelu_tanh(lin(h, b + "ffn_up")), b + "ffn_down")
            acts["ffn_out"].append(f)
            x = x + f
            acts["layer_out"].append(x.copy())
        h = _layer_norm(x, w["output_norm.weight"], w["output_norm.bias"], eps)
    elif arch == "llama":
        eps = _hp(meta, arch, "attention.layer_norm_rms_epsilon", 1e-5)
        base = _hp(meta, arch, "rope.freq_base", 10000.0)
        e = w["token_embd.weight"].shape[1]
        hd = e // n_head
        rope_dim = _hp(meta, arch, "rope.dimension_count", hd)
        x = w["token_embd.weight"][tokens].copy()
        out["embd"] = x.copy()
        for i in range(n_layer):
            b = "blk.%d." % i
            h = _rms_norm(x, w[b + "attn_norm.weight"], eps)
            acts["attn_norm"].append(h)
            q = _rope(_heads(lin(h, b + "attn_q"), n_head), pos, rope_dim, base)
            k = _cached(_rope(_heads(lin(h, b + "attn_k"), n_head_kv), pos, rope_dim, base),
                        kv_type)
            v = _cached(_heads(lin(h, b + "attn_v"), n_head_kv), kv_type)
            rep = n_head // n_head_kv
            k = np.repeat(k, rep, axis=0)
            v = np.repeat(v, rep, axis=0)
            a = lin(_causal_attention(q, k, v), b + "attn_output")
            acts["attn_out"].append(a)
            x = x + a
            h = _rms_norm(x, w[b + "ffn_norm.weight"], eps)
            acts["ffn_norm"].append(h)
            g = lin(h, b + "ffn_gate")
            f = lin(g / (1 + np.exp(-g)) * lin(h, b + "ffn_up"), b + "ffn_down")
            acts["ffn_out"].append(f)
            x = x + f
            acts["layer_out"].append(x.copy())
        h = _rms_norm(x, w["output_norm.weight"], eps)
    else:
        raise ValueError("architecture %s not in the reference" % arch)
    out["output_norm"] = h
    cls = w["output.weight"] if "output.weight" in w else w["token_embd.weight"]
    out["logits"] = h @ cls.T
    for n in LAYER_NAMES:
        out[n] = np.stack(acts[n])
    return out
