"""A minimal GGUF v3 writer with ggml's reference quantizers (Q8_0, Q4_0),
for test fixtures made without llorch's own writer."""
import struct

import numpy as np

_TYPE_IDS = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 8, "BF16": 30}


def _fp16_bytes(a):
    return np.asarray(a, dtype="<f2").tobytes()


def quantize(ttype, x):
    """x (rows, n) float -> bytes of ggml type ttype, as ggml's *_ref do."""
    x = np.asarray(x, dtype=np.float32)
    if ttype == "F32":
        return x.astype("<f4").tobytes()
    if ttype == "F16":
        return x.astype("<f2").tobytes()
    if ttype == "BF16":
        u = x.view(np.uint32).astype(np.uint64)
        # round to nearest even
        r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")
        return r.tobytes()
    b = x.reshape(-1, 32)
    if ttype == "Q8_0":
        amax = np.abs(b).max(axis=1)
        d = (amax / 127).astype(np.float32)
        inv = np.where(d != 0, 1 / np.where(d != 0, d, 1), 0).astype(np.float32)
        q = np.round(b * inv[:, None])
        # numpy rounds half to even, ggml's roundf half away from zero
        v = b * inv[:, None]
        q = np.where(np.abs(v - np.trunc(v)) == 0.5, np.trunc(v) + np.sign(v), q)
        out = np.zeros(len(b), dtype=[("d", "<f2"), ("q", "i1", 32)])
        out["d"] = d
        out["q"] = q.astype(np.int8)
        return out.tobytes()
    if ttype == "Q4_0":
        idx = np.abs(b).argmax(axis=1)
        mx = b[np.arange(len(b)), idx]
        d = (mx / -8).astype(np.float32)
        inv = np.where(d != 0, 1 / np.where(d != 0, d, 1), 0).astype(np.float32)
        q = np.minimum(15, np.trunc(b * inv[:, None] + 8.5)).astype(np.uint8)
        packed = q[:, :16] | (q[:, 16:] << 4)
        out = np.zeros(len(b), dtype=[("d", "<f2"), ("q", "u1", 16)])
        out["d"] = d
        out["q"] = packed
        return out.tobytes()
    raise ValueError(ttype)


def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _kv(key, value):
    if isinstance(value, bool):
        return _str(key) + struct.pack("<I?", 7, value)
    if isinstance(value, int):
        return _str(key) + struct.pack("<Ii", 5, value) if -2**31 <= value < 2**31 \
            else _str(key) + struct.pack("<Iq", 11, value)
    if isinstance(value, float):
        return _str(key) + struct.pack("<If", 6, value)
    if isinstance(value, str):
        return _str(key) + struct.pack("<I", 8) + _str(value)
    raise TypeError(key)


def write_gguf(path, meta, tensors, align=32):
    """tensors: list of (name, ggml type name, numpy array in row-major order,
    i.e. ggml shape reversed)."""
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta))
    for k, v in meta.items():
        head += _kv(k, v)
    blobs, offset = [], 0
    for name, ttype, arr in tensors:
        data = quantize(ttype, arr)
        ne = list(reversed(arr.shape))
        head += _str(name) + struct.pack("<I", len(ne)) + struct.pack("<%dQ" % len(ne), *ne)
        head += struct.pack("<IQ", _TYPE_IDS[ttype], offset)
        pad = (-len(data)) % align
        blobs.append(data + b"\0" * pad)
        offset += len(data) + pad
    head += b"\0" * ((-len(head)) % align)
    with open(path, "wb") as f:
        f.write(head)
        for b in blobs:
            f.write(b)
