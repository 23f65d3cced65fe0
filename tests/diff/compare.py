"""compare.py FIELD OURS REFERENCE INPUTS [--skip-u2581]: compares FIELD of
the NDJSON lines of OURS and REFERENCE, line by line; prints the number of
inputs and mismatches, and the first few differing inputs. Exit status 1 on
any mismatch. --skip-u2581 leaves out inputs holding U+2581 ('▁'):
SentencePiece reads it as its escaped space, so it decodes as ' ' (the
reference does the same) and cannot round-trip."""
import json
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def main():
    field, ours, ref, inputs = sys.argv[1], load(sys.argv[2]), load(sys.argv[3]), load(sys.argv[4])
    if not len(ours) == len(ref) == len(inputs):
        print(f"line counts differ: ours {len(ours)}, reference {len(ref)}, "
              f"inputs {len(inputs)}")
        return 1
    skip = len(sys.argv) > 5 and sys.argv[5] == "--skip-u2581"
    todo = [i for i in range(len(ref)) if not (skip and "\u2581" in inputs[i]["text"])]
    bad = [i for i in todo if ours[i].get(field) != ref[i].get(field)]
    print(f"{field}: {len(todo)} inputs, {len(bad)} mismatches")
    for i in bad[:5]:
        a, b = ours[i].get(field), ref[i].get(field)
        print(f"  input {i + 1}: {json.dumps(inputs[i]['text'])[:300]}")
        if isinstance(a, list) and isinstance(b, list):
            k = 0
            while k < min(len(a), len(b)) and a[k] == b[k]:
                k += 1
            print(f"    first difference at token {k}: ours {a[k:k + 8]} "
                  f"reference {b[k:k + 8]}")
        else:
            print(f"    ours      {json.dumps(a)[:300]}")
            print(f"    reference {json.dumps(b)[:300]}")
            if "error" in ours[i]:
                print(f"    error: {ours[i]['error']}")
    return 1 if bad else 0


sys.exit(main())
