"""Reference for the differential tests: the encoder and decoder of
llama2.c's run.c (karpathy/llama2.c, MIT), restated in Python, with a
llama2.c tokenizer.bin (tok512.bin). Reads NDJSON {"text": ...} lines on
stdin and writes {"tokens": [...], "text": ...}: BOS, the dummy-prefix
space token for a non-empty text, each UTF-8 character's token or its
bytes (+3, the byte tokens' ids), then the best-scoring adjacent pair merged
(leftmost on ties) until none is a token; and run.c's decoding of those
tokens (the leading space of the piece after BOS dropped)."""
import json
import struct
import sys


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    pos = 4  # max_token_length
    vocab, scores = [], []
    while pos < len(data):
        score, n = struct.unpack_from("<fI", data, pos)
        pos += 8
        vocab.append(data[pos:pos + n])
        scores.append(score)
        pos += n
    return vocab, scores


def encode(text, vocab, scores, lookup):
    tokens = [1]
    if text:
        tokens.append(lookup[b" "])
    raw = text.encode("utf-8")
    i = 0
    while i < len(raw):
        j = i + 1
        while j < len(raw) and (raw[j] & 0xC0) == 0x80 and j - i < 4:
            j += 1
        piece = raw[i:j]
        if piece in lookup:
            tokens.append(lookup[piece])
        else:
            tokens.extend(b + 3 for b in piece)
        i = j
    while True:
        best, best_id, best_idx = -1e10, -1, -1
        for k in range(1, len(tokens) - 1):
            merged = lookup.get(vocab[tokens[k]] + vocab[tokens[k + 1]], -1)
            if merged != -1 and scores[merged] > best:
                best, best_id, best_idx = scores[merged], merged, k
        if best_idx == -1:
            return tokens
        tokens[best_idx:best_idx + 2] = [best_id]


def decode(tokens, vocab):
    out, prev = b"", tokens[0]
    for t in tokens[1:]:
        piece = vocab[t]
        if prev == 1 and piece.startswith(b" "):
            piece = piece[1:]
        if len(piece) == 6 and piece.startswith(b"<0x") and piece.endswith(b">"):
            piece = bytes([int(piece[3:5], 16)])
        out += piece
        prev = t
    return out.decode("utf-8", errors="replace")


def main():
    vocab, scores = load(sys.argv[1])
    lookup = {}
    for i, v in enumerate(vocab):
        lookup.setdefault(v, i)
    for line in sys.stdin:
        tokens = encode(json.loads(line)["text"], vocab, scores, lookup)
        sys.stdout.write(json.dumps({"tokens": tokens, "text": decode(tokens, vocab)}) + "\n")


main()
