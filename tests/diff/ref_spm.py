"""Reference SentencePiece encoder for the differential tests: Debian's
python3-sentencepiece with Llama-2's tokenizer.model. Reads NDJSON
{"text": ...} lines on stdin, writes {"tokens": [...]} lines (BOS first, as
llorch-tokenize does by default for this vocabulary)."""
import json
import sys

import sentencepiece


def main():
    sp = sentencepiece.SentencePieceProcessor(model_file=sys.argv[1])
    out = sys.stdout
    for line in sys.stdin:
        text = json.loads(line)["text"]
        out.write(json.dumps({"tokens": [sp.bos_id()] + sp.encode(text)}) + "\n")


main()
