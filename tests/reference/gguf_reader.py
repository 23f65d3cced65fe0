"""A small GGUF v2/v3 reader for the reference tests, written from the GGUF
specification (ggml-org/ggml docs/gguf.md) independently of llorch's C reader.

read_gguf(path) -> (metadata dict, {name: numpy float64 array}) where each
tensor is dequantized to float64 in numpy's row-major order, i.e. the ggml
shape reversed: a weight of ggml shape (n_in, n_out) becomes (n_out, n_in).
"""
import struct

import numpy as np

GGUF_MAGIC = b"GGUF"

# metadata value types
_SCALARS = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
    10: "<Q", 11: "<q", 12: "<d",
}
_STRING, _ARRAY = 8, 9

# ggml tensor types: (name, elements per block, bytes per block)
TYPES = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    8: ("Q8_0", 32, 34),
    30: ("BF16", 1, 2),
}


class _Cursor:
    def __init__(self, buf):
        self.buf = buf
        self.pos = 0

    def take(self, fmt):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            raise ValueError("GGUF truncated at byte %d" % self.pos)
        (v,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return v

    def string(self):
        n = self.take("<Q")
        if self.pos + n > len(self.buf):
            raise ValueError("GGUF string runs past the end")
        s = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return s.decode("utf-8", errors="replace")

    def value(self, vtype):
        if vtype in _SCALARS:
            return self.take(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            etype = self.take("<I")
            n = self.take("<Q")
            return [self.value(etype) for _ in range(n)]
        raise ValueError("unknown GGUF value type %d" % vtype)


def _f16(raw):
    return np.frombuffer(raw, dtype="<f2").astype(np.float64)


def dequantize(ttype, raw, count):
    """count values of ggml type ttype from the bytes raw, as float64."""
    if ttype == 0:
        return np.frombuffer(raw, dtype="<f4", count=count).astype(np.float64)
    if ttype == 1:
        return np.frombuffer(raw, dtype="<f2", count=count).astype(np.float64)
    if ttype == 30:
        # bfloat16 is the top half of a float32
        h = np.frombuffer(raw, dtype="<u2", count=count).astype(np.uint32)
        return (h << 16).view(np.float32).astype(np.float64)
    nblocks = count // 32
    if ttype == 8:
        # Q8_0: fp16 scale d, then 32 int8 q; x = d * q
        blk = np.frombuffer(raw, dtype=np.uint8, count=nblocks * 34).reshape(nblocks, 34)
        d = _f16(blk[:, 0:2].tobytes())
        q = blk[:, 2:].view(np.int8).astype(np.float64)
        return (d[:, None] * q).reshape(-1)
    if ttype == 2:
        # Q4_0: fp16 scale d, 16 bytes; value j is the low nibble of byte j,
        # value j + 16 the high nibble; x = d * (nibble - 8)
        blk = np.frombuffer(raw, dtype=np.uint8, count=nblocks * 18).reshape(nblocks, 18)
        d = _f16(blk[:, 0:2].tobytes())
        qs = blk[:, 2:]
        lo = (qs & 0x0F).astype(np.float64) - 8
        hi = (qs >> 4).astype(np.float64) - 8
        return (d[:, None] * np.concatenate([lo, hi], axis=1)).reshape(-1)
    raise ValueError("tensor type %d is not supported by the reference" % ttype)


def read_gguf(path):
    with open(path, "rb") as f:
        buf = memoryview(f.read())
    c = _Cursor(buf)
    if bytes(buf[:4]) != GGUF_MAGIC:
        raise ValueError("%s: not a GGUF file" % path)
    c.pos = 4
    version = c.take("<I")
    if version not in (2, 3):
        raise ValueError("%s: GGUF version %d" % (path, version))
    n_tensors = c.take("<Q")
    n_kv = c.take("<Q")
    meta = {}
    for _ in range(n_kv):
        key = c.string()
        meta[key] = c.value(c.take("<I"))
    infos = []
    for _ in range(n_tensors):
        name = c.string()
        n_dims = c.take("<I")
        ne = [c.take("<Q") for _ in range(n_dims)]
        ttype = c.take("<I")
        offset = c.take("<Q")
        infos.append((name, ne, ttype, offset))
    align = meta.get("general.alignment", 32)
    data_start = (c.pos + align - 1) // align * align
    tensors = {}
    for name, ne, ttype, offset in infos:
        if ttype not in TYPES:
            raise ValueError("tensor %s: type %d not supported here" % (name, ttype))
        _, bsize, bbytes = TYPES[ttype]
        count = int(np.prod(ne))
        nbytes = count // bsize * bbytes
        start = data_start + offset
        raw = buf[start:start + nbytes]
        if len(raw) != nbytes:
            raise ValueError("tensor %s runs past the end of the file" % name)
        tensors[name] = dequantize(ttype, raw, count).reshape(list(reversed(ne)))
    return meta, tensors
