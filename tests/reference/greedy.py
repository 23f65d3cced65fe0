#!/usr/bin/python3
"""Greedy decoding through a running llorch-forward: feeds the growing
sequence one line at a time (as llorch-sample would) and appends the argmax.

  greedy.py STEPS START_IDS_JSON -- llorch-forward -m M.gguf [...]

Prints {"ids": [...], "cached": [...]} (cached: the "stats" of each line,
present when the command has --stats)."""
import json
import subprocess
import sys


def main():
    steps = int(sys.argv[1])
    ids = json.loads(sys.argv[2])
    cmd = sys.argv[sys.argv.index("--") + 1:]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    cached = []
    for _ in range(steps):
        p.stdin.write(json.dumps({"tokens": ids}) + "\n")
        p.stdin.flush()
        line = p.stdout.readline()
        o = json.loads(line)
        if "error" in o:
            print(line, file=sys.stderr)
            sys.exit(1)
        top = o["logits"]
        # --top 1 gives [[id, logit]]; a dense array gives every logit
        if top and isinstance(top[0], list):
            ids.append(top[0][0])
        else:
            ids.append(max(range(len(top)), key=lambda i: (top[i] is not None and
                                                           not isinstance(top[i], str), top[i])))
        if "stats" in o:
            cached.append(o["stats"]["cached"])
    p.stdin.close()
    rc = p.wait()
    print(json.dumps({"ids": ids, "cached": cached}))
    sys.exit(rc)


if __name__ == "__main__":
    main()
