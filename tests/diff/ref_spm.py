"""Reference SentencePiece tokenizer for the differential tests: Debian's
python3-sentencepiece with Llama-2's tokenizer.model. Reads NDJSON
{"text": ...} lines on stdin and writes {"tokens": [...], "text": ...}:
BOS then the encoding (as llorch-tokenize does by default for this
vocabulary), and SentencePiece's decoding of those tokens."""
import json
import sys

import sentencepiece


def main():
    sp = sentencepiece.SentencePieceProcessor(model_file=sys.argv[1])
    out = sys.stdout
    for line in sys.stdin:
        ids = sp.encode(json.loads(line)["text"])
        out.write(json.dumps({"tokens": [sp.bos_id()] + ids, "text": sp.decode(ids)}) + "\n")


main()
